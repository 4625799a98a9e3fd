#!/usr/bin/env bash
# What a small-file create costs the cluster (issue 5): open(O_CREAT|
# O_EXCL), write, fsync, close is eight FUSE requests of which only FSYNC
# reaches the cluster, as one put; close after it writes nothing more, no
# get reads the file back, and the lookups of the new names are answered
# from the directory's listing (docs/bench-fs.md, "Where a create's time
# goes").  What a close promises stays: a file changed after its fsync, or
# never fsynced, is written by close before close returns, once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=132
plan 13
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"
T=6	# the mount's entry and attribute timeouts (s)

ok "mount with -d (its FUSE requests logged), timeouts $T s" \
	fs_mount m -d -o "entry_timeout=$T,attr_timeout=$T"
M="$T_DIR/m"

# creates DIR PREFIX N MODE: N new files of 4 KiB with O_EXCL; MODE
# fsync: write, fsync, close; late: write, fsync, write again, close;
# close: write, close.
creates() {
	python3 - "$@" <<'PY'
import os, sys
d, prefix, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for i in range(n):
    fd = os.open(os.path.join(d, "%s%03d" % (prefix, i)),
                 os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"%c" % (97 + i % 26) * 4096)
    if mode != "close":
        os.fsync(fd)
    if mode == "late":
        os.write(fd, b"late")
    os.close(fd)
PY
}
# value_is KEY CHAR [TAIL]: quorumctl reads KEY as 4096 bytes of CHAR,
# then TAIL.
value_is() {
	"$Q" get "$1" > "$T_DIR/got" && python3 -c '
import sys
got = open(sys.argv[1], "rb").read()
sys.exit(got != sys.argv[2].encode() * 4096 + sys.argv[3].encode())
' "$T_DIR/got" "$2" "${3:-}"
}
# counters NAME...: the coordinators' counters, summed over the nodes.
counters() { local c; for c in "$@"; do printf '%s ' "$(fs_counter "$c")"; done; }

mkdir "$M/c"
stat "$M/c" >/dev/null

read -r p0 g0 h0 l0 <<<"$(counters puts gets heads lists)"
n0=$(fs_log_lines m); t0=$(date +%s)
creates "$M/c" f 40 fsync
read -r p1 g1 h1 l1 <<<"$(counters puts gets heads lists)"
t1=$(date +%s)
diag "40 creates with fsync: $((p1 - p0)) puts, $((g1 - g0)) gets, $((h1 - h0)) heads, $((l1 - l0)) listings"
ok "40 creates with an fsync each are 40 puts: none at close" \
	test $((p1 - p0)) -eq 40
ok "... and no gets" test $((g1 - g0)) -eq 0
# Per timeout: one name's head and children, then the directory's
# listing, and up to two more heads while a listing is under way (t0646).
w=$(( (t1 - t0) / T + 1 ))
ok "... at most $((3 + w)) heads and $((1 + 2 * w)) listings (lookups from the listing)" \
	test $((h1 - h0)) -le $((3 + w)) -a $((l1 - l0)) -le $((1 + 2 * w))
ok "... each one FSYNC and one FLUSH" \
	test "$(fs_requests m FSYNC "$n0") $(fs_requests m FLUSH "$n0")" = "40 40"
ok "the last file reads back through quorumctl" value_is /c/f039 n

# A change after the fsync, or no fsync at all: close writes it, once.
read -r p0 g0 <<<"$(counters puts gets)"
creates "$M/c" l 5 late
read -r p1 g1 <<<"$(counters puts gets)"
ok "5 creates written again after their fsync are 10 puts, no gets" \
	test "$((p1 - p0)) $((g1 - g0))" = "10 0"
ok "... the last write is what reads back, through quorumctl" \
	value_is /c/l004 e late
read -r p0 g0 <<<"$(counters puts gets)"
creates "$M/c" n 5 close
read -r p1 g1 <<<"$(counters puts gets)"
ok "5 creates closed without fsync are 5 puts, made by close" \
	test $((p1 - p0)) -eq 5
ok "... and no gets" test $((g1 - g0)) -eq 0
ok "... and read back through quorumctl at once" value_is /c/n004 e
