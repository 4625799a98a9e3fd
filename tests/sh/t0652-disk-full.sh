#!/usr/bin/env bash
# A node whose disk fills up: the cluster goes on writing at W=2, a W=3
# write fails saying why, the node stays up, logs it, and takes writes
# again once space is freed, without a restart; restarted, it opens its
# store (the writes the full disk refused left abandoned appends in
# LevelDB's log, which LevelDB alone would take for corruption:
# logcut.h), and repair gives it what it missed.  When the disk fills
# while LevelDB writes a table, LevelDB refuses every write after it:
# the node says so and a restart, once space is freed, ends it.  Node 3's
# data directory is a 64 MiB tmpfs, the others' 160 MiB.
. "$(dirname "$0")/lib.sh"
T_NET=121
plan 22

for d in n1:160m n2:160m n3:64m; do
	tmpfs_mount "$T_DIR/${d%:*}" "${d#*:}" || bail "cannot mount a tmpfs (needs root)"
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
# A value of 1 MiB or more is a file of its own (store/blob.h).
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T_DIR/big"
"$Q" --w 3 put /big --file "$T_DIR/big" 2>"$T_DIR/big.err"
ok "a 2 MiB value at W=3 fails: node 3 could not write its file" \
	grep -q 'blobs/.*No space left on device' "$T_DIR/big.err"
ok "... and left no piece of it" \
	sh -c "[ -z \"\$(ls -A '$T_DIR/n3/db/blobs')\" ]"
ok "node 3 is still up" "$Q" --node "$(node_addr 3)" --timeout-ms 2000 status
ok "quorumctl df shows nothing available on node 3" \
	sh -c "'$Q' df | awk '\$1 == \"n3\" { exit !(\$2 == \"0\") }'"

failures() { "$Q" --node "$(node_addr 3)" stats | awk '$1 == "store_write_failures" { print $2 }'; }
ok "its store_write_failures counter counts them ($(failures))" test "$(failures)" -gt 0
ok "node 3 logs that its writes fail, and why" \
	grep -q 'store: writes fail: .*No space left on device' "$T_DIR/n3.log"

rm "$T_DIR/n3/junk"
w3_ok() { "$Q" --w 3 put /w3 --file "$T_DIR/value"; }
ok "space freed: W=3 writes succeed again, without a restart" wait_until 20 w3_ok
ok "... and node 3 logs that they do" grep -q 'store: writes succeed again' "$T_DIR/n3.log"

node_kill 3 TERM
ok "restarted, node 3 opens its store" node_start 3
ok "... after leaving out the abandoned appends of the failed writes" \
	grep -q 'abandoned append' "$T_DIR/n3.log"
ok "repair" "$Q" repair
"$Q" check-replicas >"$T_DIR/check.out" 2>&1
tail -1 "$T_DIR/check.out" | sed 's/^/# /'
ok "every key on all three replicas" grep -q ': 0 missing replicas' "$T_DIR/check.out"

# The disk fills while LevelDB writes a table: leave node 3 about 20 MB,
# less than its 16 MiB memtable's table and log together, and write until
# the table write fails.
avail_mb=$(( $(df -Pk "$T_DIR/n3" | awk 'NR == 2 { print $4 }') / 1024 ))
ls -l "$T_DIR/n3/db" > "$T_DIR/db-before-fill"
dd if=/dev/zero of="$T_DIR/n3/junk" bs=1M count=$((avail_mb - 20)) 2>/dev/null
table_failed() { grep -q 'a table write failed' "$T_DIR/n3.log"; }
fill_until_table_fails() {
	local k
	for k in $(seq 1 400); do
		"$Q" --w 2 put "/more/k$k" --file "$T_DIR/value" >/dev/null 2>&1
		table_failed && return 0
	done
	echo "avail before the fill: $avail_mb MiB; node 3's files then:"; cat "$T_DIR/db-before-fill"
	echo "and now:"; ls -l "$T_DIR/n3/db"; tail -n 30 "$T_DIR/n3/db/LOG"
	return 1
}
ok "a table write fails on the full disk, and node 3 says what that means" \
	fill_until_table_fails
grep 'a table write failed' "$T_DIR/n3.log" | tail -1 | cut -c1-300 | sed 's/^/# /'
rm "$T_DIR/n3/junk"
"$Q" --w 3 put /after-table --file "$T_DIR/value" 2>"$T_DIR/w3b.err"
is "$?" 5 "space freed: W=3 writes still fail (LevelDB keeps its error)"
node_kill 3 TERM
ok "node 3 restarted" node_start 3
# (Once the others see it up again: node_start waits only for it to answer.)
after_table() { "$Q" --w 3 put /after-table --file "$T_DIR/value"; }
ok "... takes writes again" wait_until 20 after_table
