#!/usr/bin/env bash
# SIGSTOP: a node that hangs (alive, connections open, answering nothing)
# during a write load, then SIGCONT.  The failure detector marks it down,
# clients time out on it and fail over, writes go on through the others;
# once it resumes it works off what queued up meanwhile.  Afterwards every
# acknowledged write is readable, every replica holds the same version
# sets, and every sibling is explained by concurrent writes of the history.
. "$(dirname "$0")/lib.sh"
T_NET=44
plan 19
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"

j_load load --seed "${JEPSEN_SEED:-440}" --clients 4 --keys 12 \
	--mix 30,55,15 --seconds 16
sleep 3
t0=$(j_now)
j_log pause n1
node_kill 1 STOP
ok "n2 sees the hung n1 go down" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 2) status | grep -qE '^n1 .* (suspect|down) '"
sleep 2
t1=$(j_now)
j_log resume n1
node_kill 1 CONT
ok "after SIGCONT n2 sees n1 up again" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 2) status | grep -qE '^n1 .* up '"
sleep 1
t2=$(j_now)
j_log pause n2
node_kill 2 STOP
ok "n3 sees the hung n2 go down" \
	wait_until 20 sh -c "'$Q' --node $(node_addr 3) status | grep -qE '^n2 .* (suspect|down) '"
sleep 2
t3=$(j_now)
j_log resume n2
node_kill 2 CONT
ok "the load ran to its end" j_wait load
n=$(j_acked_between load "$t0" "$t1")
ok "writes were acknowledged while n1 hung ($n)" test "$n" -gt 0
n=$(j_acked_between load "$t2" "$t3")
ok "writes were acknowledged while n2 hung ($n)" test "$n" -gt 0

ok "every node sees every other up" j_settle
ok "anti-entropy on every node" j_repair 1
ok "a second anti-entropy pass finds nothing to repair" j_repair_clean 2
ok "every node scanned, every key read with R=3" j_scan
j_checker --rt
j_check lost "no acknowledged write lost"
j_check siblings "every sibling is explained by concurrent writes"
j_check converged "every replica holds the same version set"
j_check rt "reads with R=2 saw every write acknowledged with W=2 before"
j_check_history
