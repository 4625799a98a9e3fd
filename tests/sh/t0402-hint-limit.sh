#!/usr/bin/env bash
# The hints kept for one member are capped (max_hint_bytes), so that a
# member down for long cannot fill its peers' disks: past the cap no hint
# is kept, writes still succeed on their quorum, refusals are counted and
# logged a few lines at most, and once the member is back anti-entropy
# brings it every write no hint carried.
. "$(dirname "$0")/lib.sh"
T_NET=56
plan 8
CAP=16384
cluster_start 3 --timeout-ms 1500 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200 --ae-interval-ms 0 --max-hint-bytes $CAP
Q="$QUORUMCTL"
UP="$(node_addr 1),$(node_addr 2)"
head -c 1000 /dev/zero | tr '\0' v >"$T_DIR/value"

node_kill 3
fails=0
for i in $(seq 1 60); do
	"$Q" --nodes "$UP" --blind put "/cap/k$i" <"$T_DIR/value" 2>>"$T_DIR/put.err" ||
		fails=$((fails + 1))
done
is "$fails" 0 "W=2 writes succeed with n3 down, hints or no hints"
stored=$(stat_sum hints_stored "$UP")
refused=$(stat_sum hints_refused "$UP")
is "$((stored + refused))" 60 "each copy for n3 is kept as a hint or refused ($stored kept, $refused refused)"
ok "the cap refused some ($refused)" test "$refused" -gt 0
# hint_bytes NODE: the bytes of hints NODE keeps for n3
hint_bytes() { "$Q" --node "$(node_addr "$1")" stats | awk '$1 == "hints.n3.bytes" { b = $2 } END { print b + 0 }'; }
ok "no node keeps more than $CAP bytes of hints for n3 ($(hint_bytes 1), $(hint_bytes 2))" \
	test "$(hint_bytes 1)" -le $CAP -a "$(hint_bytes 2)" -le $CAP
lines=$(cat "$T_DIR/n1.log" "$T_DIR/n2.log" | grep -c "no hint kept for n3")
ok "refusals are logged, a few lines in all ($lines)" test "$lines" -ge 1 -a "$lines" -le 4

node_start 3
ok "after n3 is back, the hints kept are delivered and dropped" \
	wait_until 30 sh -c "! '$Q' stats | grep -E 'hints\.n3\.count +[1-9]'"
out=$("$Q" --node "$(node_addr 3)" repair 2>&1)
diag "$out"
# n3 alone (the others hung): its R=1 reads come from its own store.
node_kill 1 STOP; node_kill 2 STOP
missing=0
for i in $(seq 1 60); do
	cmp -s "$T_DIR/value" <("$Q" --node "$(node_addr 3)" --r 1 get "/cap/k$i" 2>/dev/null) ||
		missing=$((missing + 1))
done
node_kill 1 CONT; node_kill 2 CONT
is "$missing" 0 "with hints and one repair, n3 alone serves all 60 writes"
