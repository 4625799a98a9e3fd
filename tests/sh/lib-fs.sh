# tests/sh/lib-fs.sh - for the filesystem tests: real quorumfs mounts on a
# cluster of lib.sh.  Source it after lib.sh.
#
# fs_mount NAME [-o options]: mount the cluster at $T_DIR/NAME (nodes from
# NODES unless the options say nodes=), in the foreground as a child of
# the test, its log in $T_DIR/NAME.fs.log; waits until it is mounted.
# Every mount is unmounted at exit (fs_finish runs before t_finish), and a
# sanitizer report in a mount's log fails the test: plan one more point.

QUORUMFS="$top_builddir/quorumfs"
FS_MOUNTS=""

fs_mounted() { grep -q " $1 fuse.quorumfs " /proc/mounts; }

fs_mount() {
	local name=$1; shift
	local mnt="$T_DIR/$name" opts="nodes=$NODES"
	mkdir -p "$mnt"
	case "$*" in *nodes=*) opts="" ;; esac
	"$QUORUMFS" -f ${opts:+-o "$opts"} "$@" "$mnt" \
		2>>"$T_DIR/$name.fs.log" &
	echo $! > "$T_DIR/$name.fs.pid"
	FS_MOUNTS="$FS_MOUNTS $name"
	wait_until 20 fs_mounted "$mnt" || {
		sed 's/^/# /' "$T_DIR/$name.fs.log"; return 1; }
}

# fs_umount NAME: unmount and wait for the process to exit.
fs_umount() {
	local mnt="$T_DIR/$1" pid
	pid=$(cat "$T_DIR/$1.fs.pid" 2>/dev/null)
	if fs_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt"
	fi
	[ -n "$pid" ] || return 0
	wait_until 20 proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$T_DIR/$1.fs.pid"
	return 0
}

fs_finish() {
	local m
	cd /
	for m in $FS_MOUNTS; do fs_umount "$m"; done
	T_COUNT=$((T_COUNT + 1))
	if check_logs "$T_DIR"/*.fs.log; then
		echo "ok $T_COUNT - no sanitizer reports in the mounts' logs"
	else
		echo "not ok $T_COUNT - no sanitizer reports in the mounts' logs"
		T_FAILED=$((T_FAILED + 1))
	fi
	t_finish
}
trap fs_finish EXIT

# errno_is NAME 'python statement': it fails with errno NAME (e.g. ENOTEMPTY).
errno_is() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
want, stmt = sys.argv[1], sys.argv[2]
try:
    exec(stmt)
except OSError as e:
    got = errno.errorcode.get(e.errno, str(e.errno))
    if got != want:
        print("got", got, "-", e)
    sys.exit(got != want)
print("no error")
sys.exit(1)
PY
}

# fs_counter NAME: the sum over the nodes of a coordinator's counter.
fs_counter() {
	"$QUORUMCTL" stats | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'
}
# fs_requests NAME OPCODE FROM: the FUSE requests of that kind in the log
# of mount NAME (mounted with -d) after its line FROM (fs_log_lines).
fs_requests() {
	tail -n "+$(($3 + 1))" "$T_DIR/$1.fs.log" | grep -c "opcode: $2 "
}
fs_log_lines() { wc -l < "$T_DIR/$1.fs.log"; }
# fs_creates DIR PREFIX N: N new files made with O_EXCL, 100 bytes each.
fs_creates() {
	python3 - "$@" <<'PY'
import os, sys
d, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    fd = os.open(os.path.join(d, "%s%03d" % (prefix, i)),
                 os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"x" * 100)
    os.close(fd)
PY
}

# elapsed_ms COMMAND...: run it, print how long it took (ms); its status.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
