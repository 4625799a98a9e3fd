#!/usr/bin/env bash
# A node that holds no replica of a key hands a write for it on to a home
# replica, and to the next one when that one is out.  It says the write is
# a retry only when the home it tried may have got it: a copy may then
# exist there.  A write that never left the node (the home was dead, the
# connection to it never opened) is not a retry.  A false retry mark costs
# a retried write's memory: a key remembers the retirements of only 64
# retried writes (store/causal.h), and a dead home the failure detector
# still holds up would have every write forwarded meanwhile push a true
# retry's retirement out (tests/jepsen/README.md, seed 9172).
. "$(dirname "$0")/lib.sh"
T_NET=53
plan 9
JEPSEN="$top_builddir/tests/jepsen/qjepsen"
[ -x "$JEPSEN" ] || bail "$JEPSEN is not built (make check builds it)"
# --phi-threshold 100: a killed node stays up in the others' eyes for tens
# of seconds, as a real failure does for the second or two before the
# failure detector sees it: the forwarding node tries it first.
cluster_start 3 --n 2 --r 1 --w 1 --timeout-ms 2000 --phi-threshold 100 \
	--ae-interval-ms 0
Q="$QUORUMCTL"
K=/f/k
node_holds() {	# node_holds I KEY: node I's own store has KEY
	"$Q" --node "$(node_addr "$1")" dump | awk -v k="$2" '$3 == k { f = 1 } END { exit !f }'
}
# mark I RID: how node I holds the version with request id RID: retry
# (marked as a retried write), plain, or absent.
mark() {
	"$JEPSEN" dump --node "$(node_addr "$1")" >"$T_DIR/dump.n$1" || return 1
	if grep -q "\"rid\":$2,\"retry\":true" "$T_DIR/dump.n$1"; then
		echo retry
	elif grep -q "\"rid\":$2," "$T_DIR/dump.n$1"; then
		echo plain
	else
		echo absent
	fi
}
forwards() {	# forwards I: writes node I has handed on so far
	"$Q" --node "$(node_addr "$1")" stats | awk '$1 == "forwards" { print $2 }'
}
forwarded_past() { [ "$(forwards "$1")" -gt "$2" ]; }

ok "a write to both homes of $K (W=2)" "$Q" --node "$(node_addr 1)" --w 2 --blind put $K v0
homes="" F=""
for i in 1 2 3; do
	if node_holds "$i" $K; then homes="$homes $i"; else F=$i; fi
done
set -- $homes
[ $# -eq 2 ] && [ -n "$F" ] || bail "expected two homes of $K, got:$homes"
A=$1 B=$2
diag "homes of $K: n$A n$B; n$F forwards"

# Which home does n$F try first?  With that one paused, a write through
# n$F waits on it and times out; with the other one paused, it lands.
node_kill "$A" STOP
if "$Q" --node "$(node_addr "$F")" --timeout-ms 1000 --blind put $K order \
	>/dev/null 2>&1; then
	FIRST=$B SECOND=$A
else
	FIRST=$A SECOND=$B
fi
node_kill "$A" CONT
diag "n$F tries n$FIRST first, then n$SECOND"

# n$FIRST dead: the write never leaves n$F for it, and goes on to n$SECOND.
node_kill "$FIRST" || bail "cannot kill n$FIRST"
ok "with n$FIRST dead, a write through n$F is acknowledged" \
	"$Q" --node "$(node_addr "$F")" --blind --request-id 101 put $K unsent
is "$(mark "$SECOND" 101)" plain \
	"n$SECOND holds it as a plain write: n$FIRST never got it"
node_start "$FIRST" || bail "cannot restart n$FIRST"
wait_until 30 cluster_meshed || bail "the nodes did not all reach each other"

# n$FIRST gets the write (paused, its kernel takes the bytes) and dies
# before answering: it may have applied it, so the copy on n$SECOND is a
# retry.
before=$(forwards "$F")
node_kill "$FIRST" STOP
"$Q" --node "$(node_addr "$F")" --timeout-ms 10000 --blind --request-id 102 \
	put $K sent >"$T_DIR/sent.out" 2>&1 &
put_pid=$!
ok "n$F hands the write to n$FIRST" wait_until 10 forwarded_past "$F" "$before"
node_kill "$FIRST" || bail "cannot kill n$FIRST"
wait "$put_pid"
is "$?" 0 "n$FIRST killed with the write unanswered: n$F hands it to n$SECOND, acknowledged"
is "$(mark "$SECOND" 102)" retry \
	"n$SECOND holds it marked as a retry: n$FIRST may hold a copy"
node_start "$FIRST" || bail "cannot restart n$FIRST"
wait_until 30 cluster_meshed || bail "the nodes did not all reach each other"

# Both writes read as written, the retried one once.
"$Q" --r 2 get --siblings-dir "$T_DIR/sib" $K >/dev/null 2>&1
ok "a read finds the write that never left n$F" grep -rqx unsent "$T_DIR/sib"
ok "... and the one n$FIRST got, once" \
	sh -c "test \$(grep -rlx sent '$T_DIR/sib' | wc -l) -eq 1"
