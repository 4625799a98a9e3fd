#!/usr/bin/env bash
# quorumfs on a 3-node cluster with everyday shell tools: cp -r, cat,
# ls -l, mv, rm, mkdir -p, rmdir, find, diff, tar round trip, sed -i, an
# editor's atomic save, symlinks and fifos, attributes, POSIX errnos,
# EACCES and EPERM from the stored owner and mode (allow_other,
# default_permissions), quorumctl <-> mount, the mount helper form, and a
# clean unmount.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=90
plan 50
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"

mkdir -p "$T_DIR/none"
"$QUORUMFS" -o "nodes=127.0.$T_NET.99:7999,timeout=1" "$T_DIR/none" 2>"$T_DIR/none.err"; rc=$?
ok "no node answering: exit status non-zero" test "$rc" -ne 0
ok "... with a message naming the node" grep -q "cannot mount.*no node answered.*127.0.$T_NET.99:7999" "$T_DIR/none.err"
ok "... and nothing mounted" sh -c "! grep -q '$T_DIR/none ' /proc/mounts"

ok "mount the cluster" fs_mount m
M="$T_DIR/m"
is "$(ps -o comm= -p "$(cat "$T_DIR/m.fs.pid")")" quorumfs \
	"the mount's process is named quorumfs (ps, top, pidof, killall)"

# A tree of files of several sizes, copied in, compared, listed.
src="$T_DIR/src"
mkdir -p "$src/a/b/c" "$src/empty"
for i in $(seq 1 20); do head -c $((i * 997)) /dev/urandom > "$src/a/f$i"; done
echo hello > "$src/a/b/c/deep"
: > "$src/a/zero"
head -c 300000 /dev/urandom > "$src/a/b/big"
ok "cp -r of a tree" cp -r "$src" "$M/tree"
ok "diff -r finds no difference" diff -r "$src" "$M/tree"
ok "cat reads a file back" sh -c "test \"\$(cat '$M/tree/a/b/c/deep')\" = hello"
is "$(find "$M/tree" | wc -l)" "$(find "$src" | wc -l)" "find lists every entry"
is "$(ls "$M/tree/a" | head -3 | tr '\n' ' ')" "b f1 f10 " "ls lists in a stable (byte) order"
is "$(stat -c %s "$M/tree/a/b/big")" 300000 "stat gives the size"
ok "ls -l shows mode, owner and size" sh -c "ls -l '$M/tree/a' | grep -qE '^-rw-r--r-- 1 root root +997 .* f1\$'"

# tar out of the mount and back into it.
ok "tar c of a tree on the mount" tar -C "$M" -cf "$T_DIR/t.tar" tree
mkdir "$M/untar"
ok "tar x onto the mount" tar -C "$M/untar" -xf "$T_DIR/t.tar"
ok "... gives the same tree" diff -r "$src" "$M/untar/tree"

# Renames, removals, directories.
ok "mv renames a file" sh -c "mv '$M/tree/a/f1' '$M/tree/a/g1' && cmp '$M/tree/a/g1' '$src/a/f1' && test ! -e '$M/tree/a/f1'"
ok "mv of a directory copies it (EXDEV)" sh -c "mv '$M/untar/tree/a/b' '$M/moved' && diff -r '$src/a/b' '$M/moved' && test ! -e '$M/untar/tree/a/b'"
ok "mkdir -p makes every level" sh -c "mkdir -p '$M/p/q/r/s' && test -d '$M/p/q/r/s'"
ok "rm -r and rmdir remove a tree" sh -c "rm -r '$M/moved' && rmdir '$M/p/q/r/s' && test ! -e '$M/moved'"
ok "sed -i edits in place" sh -c "printf 'one\ntwo\n' > '$M/s' && sed -i 's/two/three/' '$M/s' && test \"\$(cat '$M/s')\" = 'one
three'"
ok "an editor's atomic save (write a temporary, rename over)" sh -c "printf 'saved\n' > '$M/.s.swp' && mv -f '$M/.s.swp' '$M/s' && test \"\$(cat '$M/s')\" = saved && test ! -e '$M/.s.swp'"
ok "append with >>" sh -c "echo more >> '$M/s' && test \"\$(cat '$M/s')\" = 'saved
more'"
ok "truncate" sh -c "truncate -s 3 '$M/s' && test \"\$(cat '$M/s')\" = sav"

# Symlinks, fifos, attributes.
ok "a symlink reads through" sh -c "ln -s tree/a/b/c/deep '$M/link' && test \"\$(readlink '$M/link')\" = tree/a/b/c/deep && test \"\$(cat '$M/link')\" = hello"
ok "a fifo keeps its type" sh -c "mkfifo '$M/fifo' && test -p '$M/fifo'"
ok "chmod, chown and touch -d are kept" sh -c "chmod 0600 '$M/s' && chown 12:34 '$M/s' && touch -d '2001-02-03 04:05:06 UTC' '$M/s' && test \"\$(stat -c '%a %u %g %Y' '$M/s')\" = '600 12 34 981173106'"
ok "... and a directory's mode" sh -c "chmod 0700 '$M/p' && test \"\$(stat -c %a '$M/p')\" = 700"
ok "df works (statfs)" df "$M"

# Errors as a local filesystem gives them.
long=$(printf 'n%.0s' $(seq 1 256))
ok "ENAMETOOLONG for a name of 256 bytes" errno_is ENAMETOOLONG "open('$M/$long', 'w')"
ok "ENOTEMPTY from rmdir of a directory with entries" errno_is ENOTEMPTY "os.rmdir('$M/tree')"
ok "EEXIST from mkdir of an existing name" errno_is EEXIST "os.mkdir('$M/tree')"
ok "ENOTDIR for a file used as a directory" errno_is ENOTDIR "open('$M/s/x', 'w')"
ok "EISDIR from opening a directory for writing" errno_is EISDIR "open('$M/tree', 'w')"
ok "ENOENT for a missing file" errno_is ENOENT "open('$M/nope')"
ok "EPERM for a hard link" errno_is EPERM "os.link('$M/s', '$M/s2')"
ok "EINVAL for a name ending in .~sibling-N" errno_is EINVAL "open('$M/x.~sibling-1', 'w')"
ok "... logged with the reason" grep -q 'reserved for the versions of a file in conflict' "$T_DIR/m.fs.log"

# quorumctl and the mount see the same keys.  A name another client
# writes may be answered missing for as long as the mount's listing of the
# directory and the kernel's negative entry are trusted (entry_timeout, 1 s
# each; fs/dirsnap.h), and the root was listed just above: so within 5 s.
"$Q" put /from-ctl "written by quorumctl"
ok "a key put with quorumctl is a file (within the entry timeouts)" wait_until 5 sh -c "test \"\$(cat '$M/from-ctl')\" = 'written by quorumctl' && test \"\$(stat -c '%a %s' '$M/from-ctl')\" = '644 20'"
ok "a file written on the mount reads back with quorumctl" sh -c "echo via-mount > '$M/tree/mounted' && test \"\$('$Q' get /tree/mounted)\" = via-mount"
ok "rm on the mount deletes the key" sh -c "rm '$M/from-ctl'; '$Q' get /from-ctl; test \$? -eq 3"

# A directory with many entries lists completely.
mkdir "$M/many2"
for i in $(seq 1 300); do echo "$i"; done | sed "s|^|$M/many2/f|" | xargs touch
is "$(ls "$M/many2" | wc -l)" 300 "a directory of 300 files lists them all"

# The mount helper form fstab uses: NODES MOUNTPOINT -o options.
mkdir -p "$T_DIR/helper"
ok "mount.fuse3 NODES MOUNTPOINT -t fuse.quorumfs (fstab's form)" \
	env PATH="$top_builddir:$PATH" mount.fuse3 "$NODES" "$T_DIR/helper" -t fuse.quorumfs -o "r=2,w=2,log=$T_DIR/helper.fs.log"
ok "... shows the same files" cmp "$T_DIR/helper/tree/a/b/big" "$src/a/b/big"
ok "fusermount3 -u unmounts it" sh -c "fusermount3 -u '$T_DIR/helper' && ! grep -q '$T_DIR/helper ' /proc/mounts"

# Another user, through allow_other: the stored owner and mode decide.
printf secret > "$M/private" && chmod 0600 "$M/private"
chmod 0711 "$T_DIR"	# mktemp's 0700 would stop the other user before the mount
ok "mount with allow_other,default_permissions" fs_mount perm -o "nodes=$NODES,allow_other,default_permissions"
ok "EACCES: another user cannot read a 0600 file" sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups cat '$T_DIR/perm/private' 2>&1 | grep -q 'Permission denied'"
ok "... but reads a 0644 one" sh -c "test \"\$(setpriv --reuid=65534 --regid=65534 --clear-groups cat '$T_DIR/perm/tree/a/b/c/deep')\" = hello"
ok "EPERM: another user cannot chmod the file (checked by quorumfs too)" sh -c "setpriv --reuid=65534 --regid=65534 --clear-groups chmod 777 '$T_DIR/perm/private' 2>&1 | grep -q 'not permitted' && test \"\$(stat -c %a '$M/private')\" = 600"
