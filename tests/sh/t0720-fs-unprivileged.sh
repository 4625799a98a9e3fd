#!/usr/bin/env bash
# quorumfs mounted by an unprivileged user (fusermount3 is setuid root on
# Debian): the mount works for that user; another user, root included,
# cannot even list it unless it was mounted with allow_other; with
# allow_other the kernel checks the stored owner and mode
# (default_permissions, which quorumfs always sets).
#
# The test runs in a mount namespace of its own, where it gives /dev/fuse
# the usual 0666 (a container may have left it 0600) and /etc/fuse.conf
# user_allow_other, so the machine's own files are never changed.
[ -n "${QFS_IN_MNTNS:-}" ] || QFS_IN_MNTNS=1 exec unshare --mount --propagation private -- bash "$0" "$@"
T_NET=102
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"

USER_ID=65534 OTHER_ID=65533	# nobody, and a uid no one has
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }

if [ ! -u "$(command -v fusermount3)" ] && [ "${CI:-}" != true ]; then
	echo "1..0 # SKIP fusermount3 is not setuid here: no unprivileged mounts"
	trap - EXIT
	rm -rf "$T_DIR"
	exit 0
fi
plan 18

# /dev/fuse as a distribution ships it, in this namespace only.
if ! as "$USER_ID" test -r /dev/fuse -a -w /dev/fuse; then
	mkdir -p "$T_DIR/dev"
	mount -t tmpfs -o mode=0755 qfs-dev "$T_DIR/dev" &&
		mknod -m 0666 "$T_DIR/dev/fuse" c 10 229 &&
		mount --bind "$T_DIR/dev/fuse" /dev/fuse ||
		bail "cannot give /dev/fuse mode 0666 in the test's namespace"
fi
printf 'user_allow_other\n' >"$T_DIR/fuse.conf"
mount --bind "$T_DIR/fuse.conf" /etc/fuse.conf || bail "cannot set user_allow_other"
# Lift them (lazily: a mount's /dev/fuse may still be open) before the
# test directory is removed.
ns_release() { umount -l /etc/fuse.conf /dev/fuse "$T_DIR/dev" 2>/dev/null; }
trap 'ns_release; fs_finish' EXIT

cluster_start 3
chmod 0711 "$T_DIR"	# mktemp's 0700 would stop the users before the mounts

# user_mount NAME [OPTIONS]: the unprivileged user mounts the cluster at
# $T_DIR/NAME (a directory of its own), as fs_mount does for root.
user_mount() {
	local mnt="$T_DIR/$1" opts="nodes=$NODES${2:+,$2}"
	install -d -o "$USER_ID" -g "$USER_ID" "$mnt"
	as "$USER_ID" "$QUORUMFS" -f -o "$opts" "$mnt" 2>>"$T_DIR/$1.fs.log" &
	echo $! >"$T_DIR/$1.fs.pid"
	FS_MOUNTS="$FS_MOUNTS $1"
	wait_until 20 fs_mounted "$mnt" || { sed 's/^/# /' "$T_DIR/$1.fs.log"; return 1; }
}
mount_opts() { awk -v m="$1" '$2 == m { print $4 }' /proc/mounts; }
U="$T_DIR/u"

ok "an unprivileged user mounts the cluster" user_mount u
is "$(mount_opts "$U" | grep -o 'user_id=[0-9]*')" "user_id=$USER_ID" \
	"... the mount is that user's"
# has_opts MOUNT YES NO: MOUNT's options include YES and not NO.
has_opts() {
	local o; o=$(mount_opts "$1"); echo "$o"
	case ",$o," in *",$3,"*) return 1 ;; esac
	case ",$o," in *",$2,"*) return 0 ;; esac
	return 1
}
ok "... with default_permissions and without allow_other" \
	has_opts "$U" default_permissions allow_other
ok "the user writes a file" as "$USER_ID" sh -c "echo mine > '$U/mine' && chmod 0644 '$U/mine'"
is "$(as "$USER_ID" cat "$U/mine")" mine "... and reads it back"
is "$(as "$USER_ID" stat -c %u "$U/mine")" "$USER_ID" "... it is the user's"
ok "another user cannot list the mount" \
	sh -c "setpriv --reuid=$OTHER_ID --regid=$OTHER_ID --clear-groups ls '$U' 2>&1 | grep -q 'Permission denied'"
ok "... nor read a 0644 file in it" \
	sh -c "setpriv --reuid=$OTHER_ID --regid=$OTHER_ID --clear-groups cat '$U/mine' 2>&1 | grep -q 'Permission denied'"
ok "... nor can root (no allow_other)" sh -c "ls '$U' 2>&1 | grep -q 'Permission denied'"
ok "the user unmounts it" as "$USER_ID" fusermount3 -u "$U"
wait_until 20 proc_gone "$(cat "$T_DIR/u.fs.pid")"

# allow_other, asked for: other users come in, and the mode decides.
ok "the user mounts with allow_other" user_mount o allow_other
O="$T_DIR/o"
ok "... the user keeps a private file" as "$USER_ID" sh -c "echo secret > '$O/private' && chmod 0600 '$O/private'"
is "$(as "$OTHER_ID" cat "$O/mine")" mine "another user reads a 0644 file"
ok "... but not a 0600 one (EACCES from the kernel)" \
	sh -c "setpriv --reuid=$OTHER_ID --regid=$OTHER_ID --clear-groups cat '$O/private' 2>&1 | grep -q 'Permission denied'"
ok "... nor writes the user's file" \
	sh -c "setpriv --reuid=$OTHER_ID --regid=$OTHER_ID --clear-groups sh -c 'echo x >> \"$O/mine\"' 2>&1 | grep -q 'Permission denied'"
ok "the user unmounts it" as "$USER_ID" fusermount3 -u "$O"
