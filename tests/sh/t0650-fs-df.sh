#!/usr/bin/env bash
# df on the mount and `quorumctl df` tell what the cluster can still take,
# from the disks the members gossip: each member's data directory is on a
# file system of its own here (a 64 MiB tmpfs each), so with N=3 every
# byte lands on all three and the cluster's size is one of them.  A file
# written through the mount takes its size from what df shows available,
# and gives it back when removed; with every node stopped, df answers
# from its last figures instead of hanging.  (client/capacity.h; the
# shared-disk arithmetic is test_capacity's.)  And the mount's own local
# buffer: a file too big for a full $TMPDIR fails with ENOSPC, not EIO.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=133
plan 19

for d in tmp:4m n1:64m n2:64m n3:64m; do
	tmpfs_mount "$T_DIR/${d%:*}" "${d#*:}" || bail "cannot mount a tmpfs (needs root)"
done
cluster_start 3
Q="$QUORUMCTL"
ok "mount" fs_mount m
ok "a second mount, with a short request timeout" fs_mount s -o timeout=1
mount_small_tmp() {	# the mount inherits TMPDIR; the test's own stays
	local rc saved=${TMPDIR-}
	export TMPDIR="$T_DIR/tmp"
	fs_mount t; rc=$?
	if [ -n "$saved" ]; then TMPDIR=$saved; else unset TMPDIR; fi
	return $rc
}
ok "a third, its local buffers in a 4 MiB \$TMPDIR" mount_small_tmp
M="$T_DIR/m"
S="$T_DIR/s"
MIB=$((1024 * 1024))

# stat -f: block size, blocks, blocks available (df's figures).
fs_blocks() { stat -f -c '%S %b' "$M"; }
fs_avail() { echo $(( $(stat -f -c '%S * %a' "$M") )); }
all_reported() { [ "$("$Q" df | grep -c '^n[0-9] .* 64M ')" -eq 3 ]; }

ok "quorumctl df: every member reports its 64 MiB disk" wait_until 10 all_reported
"$Q" df >"$T_DIR/df.out" 2>&1
sed 's/^/# /' "$T_DIR/df.out"
ok "... three file systems, none shared" grep -q '3 file systems' "$T_DIR/df.out"
ok "... no member shares one" sh -c "! grep -E '^n[0-9] .* n[0-9]\$' '$T_DIR/df.out'"
is "$(fs_blocks)" "4096 16384" "df on the mount: 64 MiB in 4 KiB blocks (one disk's worth at N=3)"
a0=$(fs_avail)
diag "available before: $a0 bytes"
ok "... most of it available" test "$a0" -gt $((40 * MIB)) -a "$a0" -le $((64 * MIB))

# 16 MiB through the mount: one blob file on each member's disk.
head -c $((16 * MIB)) /dev/urandom >"$T_DIR/big"
ok "16 MiB copied into the mount" cp "$T_DIR/big" "$M/big"
dropped() { [ "$(fs_avail)" -le $((a0 - 15 * MIB)) ]; }
ok "16 MiB written: df's available drops by about as much" wait_until 30 dropped
a1=$(fs_avail)
diag "available after the write: $a1 bytes"
ok "... and removed" rm "$M/big"
# (Against a1, not a0: LevelDB's logs keep zeros written ahead, which
# take a few MiB of each disk meanwhile.)
back() { [ "$(fs_avail)" -ge $((a1 + 14 * MIB)) ]; }
ok "removed: the space comes back" wait_until 30 back
diag "available after the removal: $(fs_avail) bytes"
"$Q" df | sed 's/^/# /'

# A file bigger than the third mount's $TMPDIR: its local buffer spills
# past 8 MiB there and cannot; the writer is told the disk is full.
cp "$T_DIR/big" "$T_DIR/t/big" 2>"$T_DIR/cp.err"
is "$?" 1 "16 MiB through a mount whose \$TMPDIR holds 4 MiB: cp fails"
ok "... with ENOSPC (No space left on device), not EIO" \
	grep -q 'No space left on device' "$T_DIR/cp.err"
ok "... and the mount logs where" grep -q "temporary file in $T_DIR/tmp (the file's local copy): No space" "$T_DIR/t.fs.log"
rm -f "$M/big"

# Every node stopped: df must not hang, and serves its last figures.
stat -f "$S" >/dev/null	# the figures it will fall back on
for i in 1 2 3; do node_kill "$i" STOP; done
sleep 2	# older than the mount's 1 s refresh: this df asks the cluster
start=$(date +%s)
got=$(timeout 30 stat -f -c '%S %b' "$S")
took=$(( $(date +%s) - start ))
for i in 1 2 3; do node_kill "$i" CONT; done
diag "df with every node stopped took ${took}s"
is "$got" "4096 16384" "every node stopped: df answers with the last figures"
ok "... within the client's failover (under 20 s)" test "$took" -lt 20
