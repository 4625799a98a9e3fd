#!/usr/bin/env bash
# Tombstones are purged only when safe: a key deleted while one replica was
# down keeps its tombstone until that replica holds it too; then it goes
# from every node, and the old copy never comes back.
. "$(dirname "$0")/lib.sh"
T_NET=50
plan 9
cluster_start 3 --timeout-ms 1000 --ae-interval-ms 0 --purge-interval-ms 300 \
	--tombstone-min-age-ms 0 --gossip-interval-ms 100 --phi-threshold 3
Q="$QUORUMCTL"

"$Q" --w 3 put /t/gone "old value" || bail "setup: a W=3 put failed"	# on all three
"$Q" --w 3 put /t/kept "stays" || bail "setup: a W=3 put failed"
node_kill 3
# A strict delete: n3 gets neither the tombstone nor a hint.
ok "delete with n3 down" "$Q" --strict delete /t/gone
# Watch for 2 s (about 6 sweeps): both live replicas keep the tombstone.
ok "the tombstone is not purged while n3 holds the old value" \
	sh -c "end=\$((\$(date +%s) + 2)); while [ \$(date +%s) -lt \$end ]; do test \$('$Q' --nodes $(node_addr 1),$(node_addr 2) dump | grep -c ' /t/gone .*tombstone') -eq 2 || exit 1; done"
node_start 3
ok "n3 comes back still holding the old value" \
	sh -c "'$Q' --node $(node_addr 3) dump | grep ' /t/gone ' | grep -v tombstone"
ok "repair brings n3 the tombstone" sh -c "'$Q' --node $(node_addr 3) repair | grep -q 'repair: [1-9]'"
# Purged: no version left on any node (the key's causal context stays).
ok "then the tombstone is purged from every node" \
	wait_until 20 sh -c "test \$('$Q' dump | grep ' /t/gone' | grep -c tombstone) -eq 0 && test \$('$Q' dump | grep -c ' /t/gone\$') -eq 3"
"$Q" get /t/gone >/dev/null 2>&1; rc=$?
is "$rc" 3 "the key reads as absent"
"$Q" repair >/dev/null
"$Q" get /t/gone >/dev/null 2>&1; rc=$?
is "$rc" 3 "and stays absent after another repair on every node"
ok "a live key is untouched" sh -c "test \"\$('$Q' get /t/kept)\" = stays"
