#!/usr/bin/env bash
# A node whose disk fills up: the cluster goes on writing at W=2, a W=3
# write fails saying why, the node stays up and takes writes again once
# space is freed, without a restart; restarted, it opens its store (the
# writes the full disk refused left abandoned appends in LevelDB's log,
# which LevelDB alone would take for corruption: logcut.h), and repair
# gives it what it missed.  Each node's data directory is a 32 MiB tmpfs.
. "$(dirname "$0")/lib.sh"
T_NET=121
plan 13

TMPFS=""
umount_disks() {
	local d
	for d in $TMPFS; do umount -l "$d" 2>/dev/null; done
}
# Detached at once (lazily): the daemons finish on them, and the
# directories left are empty for t_finish to remove.
finish() { umount_disks; t_finish; }
trap finish EXIT
for i in 1 2 3; do
	mkdir -p "$T_DIR/n$i"
	mount -t tmpfs -o size=32m "qfs-full-n$i" "$T_DIR/n$i" ||
		bail "cannot mount a tmpfs (needs root)"
	TMPFS="$TMPFS $T_DIR/n$i"
done
cluster_start 3
Q="$QUORUMCTL"
head -c 100000 /dev/urandom >"$T_DIR/value"

ok "a W=3 write before" "$Q" --w 3 put /before --file "$T_DIR/value"
dd if=/dev/zero of="$T_DIR/n3/junk" bs=1M 2>/dev/null
ok "node 3's disk is full" test "$(df -Pk "$T_DIR/n3" | awk 'NR == 2 { print $4 }')" -eq 0

# 6 MB of writes: more than the zeros node 3's log has written ahead.
puts_ok() {
	local k
	for k in $(seq 1 60); do
		"$Q" --w 2 put "/full/k$k" --file "$T_DIR/value" || return 1
	done
}
ok "60 writes of 100 kB at W=2 succeed while it is full" puts_ok
"$Q" --w 3 put /w3 --file "$T_DIR/value" 2>"$T_DIR/w3.err"
is "$?" 5 "a W=3 write fails with the quorum status"
ok "... and says that node 3's disk is full" grep -q 'No space left on device' "$T_DIR/w3.err"
ok "node 3 is still up" "$Q" --node "$(node_addr 3)" --timeout-ms 2000 status
ok "quorumctl df shows nothing available on node 3" \
	sh -c "'$Q' df | awk '\$1 == \"n3\" { exit !(\$2 == \"0\") }'"

rm "$T_DIR/n3/junk"
w3_ok() { "$Q" --w 3 put /w3 --file "$T_DIR/value"; }
ok "space freed: W=3 writes succeed again, without a restart" wait_until 20 w3_ok

node_kill 3 TERM
ok "restarted, node 3 opens its store" node_start 3
ok "... after leaving out the abandoned appends of the failed writes" \
	grep -q 'abandoned append' "$T_DIR/n3.log"
ok "repair" "$Q" repair
"$Q" check-replicas >"$T_DIR/check.out" 2>&1
tail -1 "$T_DIR/check.out" | sed 's/^/# /'
ok "every key on all three replicas" grep -q ': 0 missing replicas' "$T_DIR/check.out"
