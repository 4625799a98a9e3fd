#!/usr/bin/env bash
# Merkle anti-entropy: a replica that missed writes (it was down, and no
# hint was kept for it: strict writes) is brought up to date by
# `quorumctl repair`, and only the keys that differ cross the network.
. "$(dirname "$0")/lib.sh"
T_NET=41
plan 8
cluster_start 3 --timeout-ms 1500 --ae-interval-ms 0
Q="$QUORUMCTL"
N1=$(node_addr 1)

for i in $(seq 1 300); do echo "v$i"; done > "$T_DIR/vals"
ok "300 keys written" sh -c "i=0; while read v; do i=\$((i+1)); '$Q' --blind put /ae/k\$i \$v || exit 1; done < '$T_DIR/vals'"
out=$("$Q" --node "$N1" repair)
ok "a repair of replicas in sync exchanges no key" sh -c "echo '$out' | grep -q 'repair: 0 keys repaired' && ! echo '$out' | grep -qE '[1-9][0-9]* keys pulled'"

node_kill 3
# Strict W=2 writes: n3 gets neither the write nor a hint.
for i in 1 2 3 4 5 6 7 8 9 10; do "$Q" --strict put "/ae/k$i" "new$i"; done
node_start 3
out=$("$Q" --node "$(node_addr 3)" repair)
echo "$out" | sed 's/^/# /'
ok "repair from n3 repaired the 10 keys it missed" sh -c "echo '$out' | grep -q 'repair: 10 keys repaired'"
bytes=$(echo "$out" | sed -n 's/^repair: .* \([0-9]*\) bytes exchanged/\1/p')
ok "and exchanged little: $bytes bytes for 10 keys of 300 (< 64 KiB)" test "$bytes" -lt 65536

# n3 alone now serves the new values.
node_kill 1; node_kill 2
bad=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	[ "$("$Q" --node "$(node_addr 3)" --r 1 get "/ae/k$i" 2>/dev/null)" = "new$i" ] || bad=$((bad + 1))
done
is "$bad" 0 "n3 alone returns the repaired values"
node_start 1; node_start 2
out=$("$Q" --node "$N1" repair)
ok "a second repair finds nothing to do" sh -c "echo '$out' | grep -q 'repair: 0 keys repaired'"
ok "repaired keys read back with no sibling" sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do test \"\$('$Q' get /ae/k\$i)\" = new\$i || exit 1; done"
