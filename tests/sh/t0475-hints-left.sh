#!/usr/bin/env bash
# Hints for a member that leaves: with n4 down, writes to keys n4 is a home
# replica of leave hints on stand-ins.  n4 is then decommissioned without
# ever coming back (quorumctl leave, n4 still down).  The hints can never
# reach n4: each stand-in merges them into their keys' owners now and
# drops them once every owner synced them (replication/handoff.c), so the
# backlog for n4 drains to nothing, and every key is on all N members.
. "$(dirname "$0")/lib.sh"
T_NET=52
plan 8
cluster_start 4 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200 --ae-interval-ms 0
Q="$QUORUMCTL"
N1="--node $(node_addr 1)"
UP="$(node_addr 1),$(node_addr 2),$(node_addr 3)"

# hints_for_n4: the hints n1, n2 and n3 hold for n4, summed.
hints_for_n4() {
	local i c=0 n
	for i in 1 2 3; do
		n=$("$Q" --node "$(node_addr "$i")" stats 2>/dev/null |
			awk '$1 == "hints.n4.count" { n = $2 } END { print n + 0 }')
		c=$((c + n))
	done
	echo "$c"
}
ring_state() { "$Q" $N1 status | awk -v m="$1" '$1 == m { print $10 }'; }
is_left() { [ "$(ring_state "$1")" = left ]; }

node_kill 4
wait_until 20 sh -c "'$Q' $N1 status | grep -qE '^n4 .* down '" ||
	bail "n1 never saw n4 go"
fails=0
for i in $(seq 1 60); do
	"$Q" --nodes "$UP" --blind put "/h/k$i" "v$i" || fails=$((fails + 1))
done
is "$fails" 0 "60 writes with n4 down are acknowledged"
held=$(hints_for_n4)
ok "stand-ins hold hints for n4 ($held)" test "$held" -gt 0
ok "quorumctl leave n4, n4 still down" "$Q" $N1 leave n4
ok "n4 ends up left" wait_until 90 is_left n4
no_hints_for_n4() { [ "$(hints_for_n4)" -eq 0 ]; }
ok "the hints for n4 go to the keys' owners and are dropped" \
	wait_until 30 no_hints_for_n4
ok "check-replicas: every key on all N members" "$Q" --nodes "$UP" check-replicas
bad=0
for i in $(seq 1 60); do
	[ "$("$Q" --nodes "$UP" --r 3 get "/h/k$i" 2>/dev/null)" = "v$i" ] || bad=$((bad + 1))
done
is "$bad" 0 "every key reads back its value from all three"
