#!/usr/bin/env bash
# A 3-node cluster: writes read back, siblings from a stale context and
# their resolution, R=W=1, quorum errors with nodes down, nothing hangs.
. "$(dirname "$0")/lib.sh"
T_NET=30
plan 18
cluster_start 3 --timeout-ms 1500
Q="$QUORUMCTL"

# It re-executes itself at start (lib/hugemem.h): under its own name.
is "$(ps -o comm= -p "$(node_pid 1)")" quorumd \
	"the daemon's process is named quorumd (ps, top, pidof, killall)"
# Its threads are named for what they do (top -H, perf).
is "$(cat /proc/"$(node_pid 1)"/task/*/comm | grep -E '^(store-writer|disk-pool|log-filler)$' | sort -u | tr '\n' ' ')" \
	"disk-pool log-filler store-writer " \
	"the daemon's store writer, disk pool and log filler threads are named"

ok "put then get" sh -c "'$Q' put /a hello && test \"\$('$Q' get /a)\" = hello"
ok "binary value round trip" sh -c "head -c 65536 /dev/urandom > '$T_DIR/bin' && '$Q' put -f '$T_DIR/bin' /bin && '$Q' get /bin | cmp - '$T_DIR/bin'"
# A value of 1 MiB or more is a file of its own on each replica (quorumd(8),
# FILES), gone once the key is deleted everywhere.
head -c 2500000 /dev/urandom > "$T_DIR/big"
"$Q" put -f "$T_DIR/big" /big
ok "a 2.5 MB value reads back" sh -c "'$Q' get /big | cmp - '$T_DIR/big'"
ok "each of the 3 replicas holds it as one blob file" \
	wait_until 10 sh -c "test \$(find '$T_DIR'/n[123]/db/blobs -type f | wc -l) = 3"
"$Q" delete /big
ok "deleted on every replica, its blob files are gone" \
	wait_until 10 sh -c "test \$(find '$T_DIR'/n[123]/db/blobs -type f | wc -l) = 0"
ok "R=W=1 works" sh -c "'$Q' --w 1 put /one x && test \"\$('$Q' --r 1 get /one)\" = x"

# Two writers that both read the same version write concurrently.
"$Q" put /s base
"$Q" get --context-out "$T_DIR/ctx" /s >/dev/null
"$Q" --context @"$T_DIR/ctx" put /s left
"$Q" --context @"$T_DIR/ctx" put /s right
"$Q" get /s >"$T_DIR/s.out" 2>/dev/null; rc=$?
is "$rc" 4 "two writes from one stale context leave siblings (exit 4)"
ok "both siblings are shown" sh -c "grep -qx left '$T_DIR/s.out' && grep -qx right '$T_DIR/s.out'"
"$Q" get --context-out "$T_DIR/ctx2" /s >/dev/null 2>&1
"$Q" --context @"$T_DIR/ctx2" put /s merged
is "$("$Q" get /s)" merged "a write with the merged context resolves them"

node_kill 3
ok "with one node of three killed, R=2 W=2 write" "$Q" put /after-kill v
is "$("$Q" get /after-kill)" v "... and read work"
node_kill 2
start=$(date +%s)
"$Q" --blind --timeout-ms 1500 put /nope v 2>"$T_DIR/err"; rc=$?
is "$rc" 5 "with two killed, a write fails with the quorum error"
ok "the error says how many replicas answered" grep -q "of 3 replicas synced it, 2 needed" "$T_DIR/err"
cat "$T_DIR/err" | sed "s/^/# /"
"$Q" --timeout-ms 1500 get /a >/dev/null 2>"$T_DIR/err"; rc=$?
is "$rc" 5 "... and a read too"
ok "within the timeout, not a hang" test $(( $(date +%s) - start )) -le 10
