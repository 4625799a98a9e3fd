#!/usr/bin/env bash
# A randomized fault test in the spirit of Jepsen.  Concurrent clients
# (tests/jepsen/qjepsen) put, get and delete a few keys with contexts
# (N=3, R=2, W=2, 5 nodes, so writes go on through stand-ins) while a
# nemesis kills and restarts, pauses and resumes, and partitions and heals
# nodes at random, in a network namespace of the test's own.  Every
# operation's invocation and outcome is recorded; at the end every fault is
# healed, hints delivered, replicas repaired, every node scanned and every
# key read with R=3, and tests/jepsen/check.py verifies that no
# acknowledged write was lost, that every sibling is explained by
# concurrent writes of the history, and that all replicas converged.
#
# JEPSEN_SEED (default: random, printed) makes the schedule reproducible;
# JEPSEN_SECONDS (default 25) is the length of the run (make jepsen-long
# runs 600); JEPSEN_CLIENTS and JEPSEN_KEYS size the workload;
# JEPSEN_PURGE=1 also purges tombstones (20 s after the delete) meanwhile.
[ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
T_NET=48
net_up
plan 15
SEED=${JEPSEN_SEED:-$(( (RANDOM << 15 | RANDOM) % 1000000 ))}
SECONDS_RUN=${JEPSEN_SECONDS:-25}
diag "seed $SEED (rerun with JEPSEN_SEED=$SEED), $SECONDS_RUN s"
purge="--purge-interval-ms 0"
[ "${JEPSEN_PURGE:-0}" = 1 ] && purge="--purge-interval-ms 1000 --tombstone-min-age-ms 20000"
cluster_start 5 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200 --ae-interval-ms 3000 $purge
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
RANDOM=$SEED

j_load jepsen --seed "$SEED" --clients "${JEPSEN_CLIENTS:-5}" \
	--keys "${JEPSEN_KEYS:-8}" --seconds "$SECONDS_RUN"

# pick K: K distinct random nodes, space-separated.
pick() {
	local all="" i n
	for i in $(seq 1 "$T_NODES"); do all="$all $i"; done
	for n in $(seq 1 "$1"); do
		set -- $all
		i=$(eval "echo \${$((RANDOM % $# + 1))}")
		echo "$i"
		all=$(echo "$all" | tr ' ' '\n' | grep -vx "$i" | tr '\n' ' ')
	done | tr '\n' ' '
}
pause_s() { echo "$(( RANDOM % ($2 - $1 + 1) + $1 )).$(( RANDOM % 10 ))"; }

deadline=$(( $(date +%s) + SECONDS_RUN - 2 ))
nemesis_failed=0
while [ "$(date +%s)" -lt "$deadline" ]; do
	sleep "$(pause_s 0 1)"
	case $((RANDOM % 4)) in
	0)	set -- $(pick 1)
		j_log kill "n$1"; node_kill "$1" || nemesis_failed=1
		sleep "$(pause_s 1 3)"
		j_log restart "n$1"; node_start "$1" || nemesis_failed=1 ;;
	1)	set -- $(pick 2)
		j_log kill "n$1" "n$2"; node_kill "$1"; node_kill "$2"
		sleep "$(pause_s 1 3)"
		j_log restart "n$1" "n$2"
		node_start "$1" || nemesis_failed=1
		node_start "$2" || nemesis_failed=1 ;;
	2)	set -- $(pick 1)
		j_log pause "n$1"; node_kill "$1" STOP
		sleep "$(pause_s 1 4)"
		j_log resume "n$1"; node_kill "$1" CONT ;;
	3)	set -- $(pick "$T_NODES")
		k=$((RANDOM % 2 + 1))
		a=$(echo "$@" | cut -d' ' -f1-$k); b=$(echo "$@" | cut -d' ' -f$((k + 1))-)
		j_log partition "$a" "|" "$b"; partition "$a" "$b" || nemesis_failed=1
		sleep "$(pause_s 1 4)"
		j_log heal; heal ;;
	esac
done
ok "the nemesis ran (faults: $(grep -cE ' (kill|pause|partition) ' "$T_DIR/nemesis.log"))" \
	test "$nemesis_failed" -eq 0
ok "the clients ran to their end" j_wait jepsen
n=$(grep -c '"ev":"ok".*"acks":' "$T_DIR/jepsen.hist")
ok "writes were acknowledged ($n)" test "$n" -gt 0

ok "after healing every node sees every other up, every hint delivered" j_settle
# Periodic anti-entropy may be running: a busy node's repair is retried.
ok "anti-entropy on every node" j_repair 1 5
ok "a second anti-entropy pass finds nothing to repair" j_repair_clean 2 5
ok "every node scanned, every key read with R=3" j_scan
j_checker
diag "$(grep -E '^(ok|not ok) history:' "$T_DIR/check.out" | sed 's/^.*history: //')"
j_check lost "no acknowledged write lost"
j_check siblings "every sibling is explained by concurrent writes"
j_check converged "every replica holds the same version set"
j_check_history
