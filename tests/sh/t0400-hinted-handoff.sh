#!/usr/bin/env bash
# Sloppy quorum and hinted handoff: with a home replica of a key down (and
# known down by the failure detector), writes still reach W replicas through
# a stand-in that keeps a hint; when the replica comes back the hint is
# delivered, and the stand-in drops it once the replica synced it.
. "$(dirname "$0")/lib.sh"
T_NET=40
plan 12
cluster_start 4 --timeout-ms 1500 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200
Q="$QUORUMCTL"

# Every key has 3 home replicas among 4 nodes; stop n4 and wait until the
# others see it down.
node_kill 4
ok "the failure detector marks the killed node down" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 1) status | grep -E '^n4 .* (suspect|down) '"

# Write keys until some have n4 as a home replica: with W=3, a write whose
# home n4 is down succeeds only through a stand-in.
fails=0
for i in $(seq 1 40); do
	"$Q" --w 3 --blind put "/h/k$i" "v$i" 2>>"$T_DIR/put.err" || fails=$((fails + 1))
done
is "$fails" 0 "W=3 writes succeed with one of the key's home replicas down"
stored=$("$Q" stats | awk '$1 == "hints_stored" { s += $2 } END { print s + 0 }')
ok "stand-ins stored hints ($stored)" test "$stored" -gt 0
ok "the backlog for n4 shows in stats" sh -c "'$Q' stats | grep -q 'hints.n4.count'"

# A strict write counts only home replicas: W=3 fails for keys homed on n4.
sfails=0
for i in $(seq 1 20); do
	"$Q" --strict --w 3 --blind put "/strict/k$i" v 2>/dev/null
	[ $? -eq 5 ] && sfails=$((sfails + 1))
done
ok "strict W=3 writes fail for keys whose home n4 is down ($sfails of 20)" \
	test "$sfails" -gt 0 -a "$sfails" -lt 20

node_start 4
ok "after n4 is back, every hint is delivered and dropped" \
	wait_until 30 sh -c "! '$Q' stats | grep -E 'hints\.n4\.count +[1-9]'"
delivered=$("$Q" stats | awk '$1 == "hints_received" { s += $2 } END { print s + 0 }')
is "$delivered" "$stored" "n4 received as many hints as were stored for it"

# Prove n4 itself now holds the writes: with the other three down, n4 is
# the only replica that can answer an R=1 read.
node_kill 1; node_kill 2; node_kill 3
missing=0
for i in $(seq 1 40); do
	got=$("$Q" --node "$(node_addr 4)" --r 1 get "/h/k$i" 2>/dev/null)
	rc=$?
	# keys n4 is not a home replica of cannot be read with all three down
	[ $rc -eq 5 ] && continue
	[ "$got" = "v$i" ] || missing=$((missing + 1))
done
is "$missing" 0 "n4 alone serves every key it is a home replica of"
node_start 1; node_start 2; node_start 3
ok "all keys read back with R=2" sh -c "for i in \$(seq 1 40); do test \"\$('$Q' get /h/k\$i)\" = v\$i || exit 1; done"
ok "a key written while n4 was down has no sibling" sh -c "'$Q' get /h/k1 >/dev/null"
ok "nothing hangs: a status answers" "$Q" status
