#!/usr/bin/env bash
# Hinted handoff through restarts: with n4 down, a load's writes to keys n4
# is a home replica of are kept by stand-ins as hints.  A stand-in holding
# hints is SIGKILLed and restarted (its hint log survives), then n4 is
# restarted with hints pending for it: every hint is delivered, and before
# any anti-entropy n4 already knows every acknowledged write of its keys.
# The history checks out: nothing acknowledged is lost, siblings are
# concurrent writes, every replica holds the same version sets.
. "$(dirname "$0")/lib.sh"
T_NET=47
plan 22
cluster_start 4 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200 --ae-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"
N4=$(node_addr 4)

# hint_count I: the hints node I holds for n4.
hint_count() {
	"$Q" --node "$(node_addr "$1")" stats 2>/dev/null |
		awk '$1 == "hints.n4.count" { n = $2 } END { print n + 0 }'
}

j_log kill n4
node_kill 4
ok "the failure detector marks n4 down" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 1) status | grep -qE '^n4 .* down '"
j_load load --seed "${JEPSEN_SEED:-470}" --clients 4 --keys 16 \
	--mix 30,55,15 --r 2 --w 3 --seconds 6
ok "the load ran to its end" j_wait load
best=0 held=0
for i in 1 2 3; do
	c=$(hint_count "$i")
	[ "$c" -gt "$held" ] && { best=$i; held=$c; }
done
ok "stand-ins keep hints for n4 (n$best holds $held)" test "$held" -gt 0

j_log kill "n$best"
node_kill "$best"
ok "n$best, holding hints for n4, restarts after a SIGKILL" node_start "$best"
j_log restart "n$best"
is "$(hint_count "$best")" "$held" "its hints for n4 survived the SIGKILL"

j_log restart n4
ok "n4 restarts with hints pending for it" node_start 4
# Cut the delivery short: SIGKILL n4 while hints stream in, start it again.
sleep 0.3
j_log kill n4
left=0
for i in 1 2 3; do left=$((left + $(hint_count "$i"))); done
ok "n4 SIGKILLed again while hints are delivered ($left still pending)" node_kill 4
ok "n4 restarts again" node_start 4
j_log restart n4
ok "every hint for n4 is delivered and dropped" \
	wait_until 60 sh -c "! '$Q' --nodes '$NODES' stats | grep -qE 'hints\.n4\.count +[1-9]'"
"$JEPSEN" dump --node "$N4" >"$T_DIR/n4.handoff"

ok "every node sees every other up" j_settle
ok "anti-entropy then finds nothing to repair: handoff did it all" j_repair_clean 1
ok "every node scanned, every key read with R=3" j_scan
j_checker --rt --holds "$N4=$T_DIR/n4.handoff"
j_check handoff "before any repair n4 knew every acknowledged write of its keys"
j_check lost "no acknowledged write lost"
j_check siblings "every sibling is explained by concurrent writes"
j_check converged "every replica holds the same version set"
j_check rt "reads with R=2 saw every write acknowledged with W=3 before"
j_check_history
