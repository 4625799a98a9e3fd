#!/usr/bin/env bash
# A real network partition (firewall rules between the nodes' addresses, in
# a network namespace of the test's own): each side keeps taking writes;
# after healing, writes to one key from both sides are siblings, and keys
# written on one side only are not.
[ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
T_NET=42
net_up
plan 10
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
Q="$QUORUMCTL"
A="--nodes $(node_addr 1)"
B="--nodes $(node_addr 2),$(node_addr 3)"

"$Q" put /p/shared before
ok "partition n1 from n2 and n3" partition "1" "2 3"
ok "n1 sees the others go down" \
	wait_until 20 sh -c "'$Q' $A status | grep -qE '^n2 .* (suspect|down) '"
ok "side A (n1 alone) takes a W=1 write" "$Q" $A --r 1 --w 1 put /p/shared from-A
ok "side B (n2, n3) takes a W=2 write" "$Q" $B put /p/shared from-B
ok "side B writes a key of its own" "$Q" $B put /p/only-b b
heal
ok "after healing, n1 sees the others up" \
	wait_until 20 sh -c "'$Q' $A status | grep -qE '^n2 .* up '"
"$Q" --r 3 get /p/shared > "$T_DIR/shared" 2>/dev/null; rc=$?
is "$rc" 4 "the key written on both sides has siblings"
ok "they are the two sides' writes" sh -c "grep -qx from-A '$T_DIR/shared' && grep -qx from-B '$T_DIR/shared' && ! grep -qx before '$T_DIR/shared'"
ok "a key written on one side only has no sibling" "$Q" get /p/only-b
