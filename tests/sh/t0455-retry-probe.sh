#!/usr/bin/env bash
# A retried write finds its first attempt: the first send of a write lands
# on one node only (the others cut off), the client sends it again, with
# the same request id marked as a retry, to another node once that is
# back.  That coordinator asks the replicas first, finds the version,
# and passes that very version on rather than naming a second copy
# (replication/coord.c, put_probe_start), so no replica ever holds two
# copies of one write.  When the first attempt is out of reach, the retry
# is written anew and reads still show one version (store/causal.h).
[ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
T_NET=51
net_up
plan 13
# No anti-entropy, and no delivery of the hints a coordinator keeps for
# the replicas it could not reach (three members: no stand-in): only the
# retry's probe may bring the first attempt to the others.
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0 --handoff-interval-ms 600000
Q="$QUORUMCTL"
N1="--node $(node_addr 1)" N2="--node $(node_addr 2)"
sees() {	# sees NODE PEER up|down: NODE's failure detector says so
	local pat; [ "$3" = up ] && pat=up || pat='(suspect|down)'
	"$Q" --node "$(node_addr "$1")" status | grep -qE "^n$2 .* $pat "
}
# versions_on NODE KEY: the dots NODE's own store holds for KEY, one a line.
versions_on() {
	"$Q" --node "$(node_addr "$1")" dump |
		awk -v k="$2" '$3 == k { for (i = 4; i <= NF; i++) print $i }' | sed 's/=.*//'
}

# Killed rather than cut off: a partition leaves the first attempt in n1's
# socket buffers, and TCP delivers it once the network heals.
node_kill 2 && node_kill 3 || bail "cannot kill n2 and n3"
ok "first attempt: n1 alone takes the write (W=1), request id 77" \
	"$Q" $N1 --w 1 --blind --request-id 77 put /r/k first
node_start 2 && node_start 3 || bail "cannot restart n2 and n3"
wait_until 30 cluster_meshed || bail "the nodes did not all reach each other"
is "$(versions_on 2 /r/k)" "" "n2 has not got the first attempt (no repair ran)"
first=$(versions_on 1 /r/k)
ok "the retry, to n2 with request id 77 marked as a retry, is acknowledged" \
	"$Q" $N2 --blind --request-id 77 --retry put /r/k first
ok "n1 holds it as one version" test -n "$first" -a "$(echo "$first" | wc -l)" -eq 1
is "$(versions_on 2 /r/k)" "$first" "n2 holds the first attempt's version ($first), not a copy of its own"
is "$(versions_on 3 /r/k)" "$first" "... and so does n3"
ok "a read of all three replicas finds one version, the value" \
	sh -c "'$Q' --r 3 get /r/k | grep -qx first"

# The first attempt out of reach: the retry is written anew.
partition "1" "2 3" || bail "cannot partition"
wait_until 20 sees 2 1 down || bail "n2 never saw n1 go"
ok "first attempt of request 78 on n1 alone (W=1)" \
	"$Q" $N1 --w 1 --blind --request-id 78 put /r/j first
ok "its retry on n2, n1 unreachable, is written anew (W=2)" \
	"$Q" $N2 --blind --request-id 78 --retry put /r/j first
heal
wait_until 20 sees 2 1 up || bail "n2 never saw n1 again"
"$Q" --r 3 get /r/j > "$T_DIR/j" 2>"$T_DIR/j.err"; rc=$?
is "$rc" 0 "after healing, a read of all three shows the two copies as one version"
is "$(cat "$T_DIR/j")" first "... with the value"
ok "--retry without --request-id: usage error" \
	sh -c "'$Q' --retry put /r/x v; [ \$? -eq 2 ]"
