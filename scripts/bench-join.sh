#!/usr/bin/env bash
# bench-join.sh [KEYS] - how long a join and a leave take, and how many key
# states move: 3 nodes (N=3) on 127.0.79.x take KEYS keys (default 20000,
# ~100-byte values, from tests/jepsen/qjepsen), then n4 joins through n1
# (quorumd --seeds) with no other load, then n2 leaves.  Prints the time
# from n4's start to "normal", from "leave" to "left", and the transfers'
# own log lines (ranges, keys moved, ms).  Run from a build directory.
set -eu
KEYS=${1:-20000}
B=${BUILD:-.}
D=$(mktemp -d /tmp/bench-join.XXXXXX)
addr() { echo "127.0.79.$((10 + $1)):$((7000 + $1))"; }
M="n1@$(addr 1),n2@$(addr 2),n3@$(addr 3)"
stop() { for f in "$D"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; }
trap stop EXIT
for i in 1 2 3; do
	"$B/quorumd" --id n$i --data-dir "$D/n$i" --members "$M" --pid-file "$D/n$i.pid" \
		--daemon --insecure --ae-interval-ms 0 2>>"$D/n$i.log"
done
export QUORUM_NODES="$(addr 1),$(addr 2),$(addr 3)"
"$B/quorumctl" --wait 30 wait
sleep 1
"$B/tests/jepsen/qjepsen" run --nodes "$QUORUM_NODES" --history "$D/preload.hist" \
	--keys "$KEYS" --prefix /b --clients 16 --ops $((KEYS / 8)) --mix 0,100,0 \
	--timeout-ms 5000 2>/dev/null
state() { "$B/quorumctl" --node "$(addr 1)" status | awk -v m="$1" '$1 == m { print $10 }'; }
now() { date +%s.%N; }
t0=$(now)
"$B/quorumd" --id n4 --data-dir "$D/n4" --listen "$(addr 4)" --seeds "$(addr 1)" \
	--pid-file "$D/n4.pid" --daemon --insecure --ae-interval-ms 0 2>>"$D/n4.log"
until [ "$(state n4)" = normal ]; do sleep 0.1; done
t1=$(now)
"$B/quorumctl" --node "$(addr 1)" leave n2 >/dev/null
until [ "$(state n2)" = left ]; do sleep 0.1; done
t2=$(now)
"$B/quorumctl" --nodes "$(addr 1),$(addr 3),$(addr 4)" check-replicas | tail -1
awk -v a="$t0" -v b="$t1" -v c="$t2" -v k="$KEYS" 'BEGIN {
	printf "keys %d: join %.2f s (start to normal), leave %.2f s (leave to left)\n", k, b - a, c - b }'
grep -h "transfer: done" "$D"/n*.log | sed 's/^/  /'
stop
trap - EXIT
sleep 1
rm -rf "$D"
