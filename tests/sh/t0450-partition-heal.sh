#!/usr/bin/env bash
# A real partition ({n1} | {n2, n3}, firewall rules in a network namespace
# of the test's own) under load on both sides, then healing.  Side A (n1
# alone) takes R=1/W=1 requests, side B (n2, n3) R=2/W=2.  After healing and
# repair: a key written on both sides holds both writes as siblings, and no
# other key does: not one written on one side only, not one written before
# the partition and overwritten on one side.  The clients' histories on
# both sides check out: nothing acknowledged is lost, every sibling is
# explained by concurrent writes, every replica holds the same version sets.
[ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
T_NET=45
net_up
plan 23
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"
A="--nodes $(node_addr 1) --r 1 --w 1"
B="--nodes $(node_addr 2),$(node_addr 3)"
NODES_A=$(node_addr 1)
NODES_B=$(node_addr 2),$(node_addr 3)

for k in both a-then-b b-then-a untouched; do "$Q" put "/p/$k" before; done
j_log partition 1 "|" 2 3
ok "partition n1 from n2 and n3" partition "1" "2 3"
ok "n1 sees the others go down" \
	wait_until 20 sh -c "'$Q' --node $NODES_A status | grep -qE '^n2 .* (suspect|down) '"
ok "n2 sees n1 go down" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 2) status | grep -qE '^n1 .* (suspect|down) '"
ok "side A cannot meet W=2" sh -c "'$Q' --nodes $NODES_A --timeout-ms 1500 put /p/never x; test \$? -eq 5"

# Both sides under load on the same keys, each with its own history.
NODES=$NODES_A j_load sidea --run 1 --seed "${JEPSEN_SEED:-450}" --clients 2 \
	--keys 6 --prefix /pl --r 1 --w 1 --seconds 6
NODES=$NODES_B j_load sideb --run 2 --seed "${JEPSEN_SEED:-450}" --clients 2 \
	--keys 6 --prefix /pl --seconds 6
ok "side A writes the shared key" "$Q" $A put /p/both from-A
ok "side B writes the shared key" "$Q" $B put /p/both from-B
ok "side A writes a key of its own" "$Q" $A put /p/only-a a
ok "side B writes a key of its own" "$Q" $B put /p/only-b b
ok "side A overwrites a key written before" "$Q" $A put /p/a-then-b from-A
ok "side B overwrites a key written before" "$Q" $B put /p/b-then-a from-B
ok "both loads ran to their end" j_wait sidea sideb
NODES=$(node_list)

j_log heal
heal
ok "after healing every node sees every other up" j_settle
ok "anti-entropy on every node" j_repair 1
ok "a second anti-entropy pass finds nothing to repair" j_repair_clean 2

"$Q" --r 3 get /p/both >"$T_DIR/both" 2>/dev/null; rc=$?
is "$rc" 4 "the key written on both sides has siblings"
ok "they are the two sides' writes, and only those" sh -c \
	"grep -qx from-A '$T_DIR/both' && grep -qx from-B '$T_DIR/both' && test \$(grep -cv '^---' '$T_DIR/both') -eq 2"
# No other key of /p has siblings: each reads back as the one value expected.
bad=""
for kv in only-a=a only-b=b a-then-b=from-A b-then-a=from-B untouched=before; do
	got=$("$Q" --r 3 get "/p/${kv%%=*}" 2>/dev/null) || bad="$bad ${kv%%=*}"
	[ "$got" = "${kv#*=}" ] || bad="$bad ${kv%%=*}=$got"
done
is "$bad" "" "no other key has siblings, each holds the one value written last"

ok "every node scanned, every key of the loads read with R=3" j_scan
j_checker --allow-foreign
j_check lost "no acknowledged write of either side lost"
j_check siblings "every sibling is explained by concurrent writes"
j_check converged "every replica holds the same version set, /p keys included"
ok "a write with the context of a read resolves the siblings" sh -c \
	"'$Q' put /p/both merged && test \"\$('$Q' --r 3 get /p/both)\" = merged"
