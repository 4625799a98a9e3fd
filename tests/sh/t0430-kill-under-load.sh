#!/usr/bin/env bash
# SIGKILL under a write load: concurrent clients put, get and delete with
# contexts (N=3, R=2, W=2) while the node every client talks to first is
# killed, and later another one.  Writes go on through the others; after
# the nodes are back and repaired, every acknowledged write is readable,
# every replica holds the same version sets, and every sibling is explained
# by concurrent writes of the history (tests/jepsen/check.py).
. "$(dirname "$0")/lib.sh"
T_NET=43
plan 21
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"

# Anti-entropy once before the faults, as the periodic one would: its
# connections to the peers must not go stale when the peers restart.
ok "anti-entropy on every node before the faults" j_repair 0
j_load load --seed "${JEPSEN_SEED:-430}" --clients 4 --keys 12 \
	--mix 20,65,15 --seconds 14
sleep 3
t0=$(j_now)
j_log kill n1
ok "SIGKILL n1, the first node of every client, during the load" node_kill 1
sleep 3
t1=$(j_now)
ok "n1 restarts" node_start 1
j_log restart n1
sleep 2
t2=$(j_now)
j_log kill n3
ok "SIGKILL n3 during the load" node_kill 3
sleep 3
t3=$(j_now)
ok "n3 restarts" node_start 3
j_log restart n3
ok "the load ran to its end" j_wait load
n=$(j_acked_between load "$t0" "$t1")
ok "writes were acknowledged while n1 was dead ($n)" test "$n" -gt 0
n=$(j_acked_between load "$t2" "$t3")
ok "writes were acknowledged while n3 was dead ($n)" test "$n" -gt 0

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
