#!/usr/bin/env bash
# Membership changes under load (rebalance.h).  Three nodes take a few
# thousand keys; a fourth joins through a seed (quorumd --seeds) while
# clients keep reading and writing with R=W=2; its transfer is killed with
# SIGKILL half-way and, restarted, resumes where it stopped.  Then
# check-replicas finds every key on all N members of its new preference
# list, and the history checker finds every acknowledged write in a final
# read.  Then n2 leaves (quorumctl leave) under load, and the same holds
# without it.  A join or leave that cannot be is refused with a reason.
. "$(dirname "$0")/lib.sh"
T_NET=70
plan 32
# n4 first pulls slowly (bytes/s), so that it can be killed part-way.
SLOW=${T0500_STREAM_RATE:-20000}
cluster_start 3 --timeout-ms 2000 --gossip-interval-ms 100 \
	--ae-interval-ms 0 --purge-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"
KEYS=2000

ok "check-replicas on an empty cluster" "$Q" check-replicas

# ---- a few thousand keys, then load that goes on during the join ----
"$JEPSEN" run --nodes "$NODES" --history "$T_DIR/preload.hist" --run 1 \
	--keys "$KEYS" --prefix /m --clients 8 --ops 300 --mix 0,100,0 \
	--timeout-ms 3000 2>>"$T_DIR/preload.log"
ok "preload: $(j_acked_between preload 0 9999999999) writes acknowledged" \
	test "$(j_acked_between preload 0 9999999999)" -gt 1500
j_load live --run 2 --seed 500 --clients 4 --keys "$KEYS" --prefix /m \
	--mix 40,50,10 --seconds 0 --stop-file "$T_DIR/stop" --timeout-ms 3000

# n4_start [QUORUMD FLAGS]: n4 is started with seeds only: it learns the
# cluster from n1.
n4_start() {
	"$QUORUMD" --id n4 --data-dir "$T_DIR/n4" --listen "$(node_addr 4)" --insecure \
		--seeds "$(node_addr 1)" --pid-file "$T_DIR/n4.pid" --daemon \
		$T_FLAGS "$@" 2>>"$T_DIR/n4.log" || return 1
	wait_until 20 "$Q" --node "$(node_addr 4)" --timeout-ms 500 status
}
T_NODES=4
# ring_state ID: n1's view of member ID's ring state; transfer ID: its
# transfer column ("12/180 ranges, 300 keys").
ring_state() { "$Q" --node "$(node_addr 1)" status | awk -v m="$1" '$1 == m { print $10 }'; }
# transfer I: member nI's transfer as it sees it itself (no gossip lag).
transfer() { "$Q" --node "$(node_addr "$1")" status | awk -v m="n$1" '$1 == m { $1 = $2 = $3 = $4 = $5 = $6 = $7 = $8 = $9 = $10 = ""; print }'; }
is_state() { [ "$(ring_state "$1")" = "$2" ]; }
# Part-way: a good part of the ranges pulled (the position is saved every
# 250 ms), less than half.
part_way() {
	transfer 4 | awk '{ split($1, a, "/"); exit !(a[1] >= 20 && a[1] * 2 < a[2] + 0) }'
}

t0=$(date +%s.%N)
ok "n4 starts with --seeds and joins" n4_start --stream-rate "$SLOW"
ok "every member sees n4 joining" wait_until 20 sh -c \
	"for i in 1 2 3 4; do '$Q' --node 127.0.$T_NET.1\$i:700\$i status | grep -qE '^n4 .* joining ' || exit 1; done"
ok "a second join while n4 joins is refused" sh -c \
	"'$Q' join n5@$(node_addr 5) 2>&1 | grep -q 'one change at a time'"
ok "n4's transfer gets part-way" wait_until 60 part_way
diag "n4 before the kill: $(transfer 4)"
ok "kill n4 (SIGKILL) in the middle of its transfer" node_kill 4
is "$(ring_state n4)" joining "n4 is still joining while it is down"
ok "n4 restarts (pulling at full speed now)" n4_start
ok "its transfer resumes where it stopped" wait_until 20 \
	grep -q "resuming where it stopped" "$T_DIR/n4.log"
diag "$(grep -h 'resuming\|transfer: done' "$T_DIR/n4.log")"
ok "n4 becomes normal once its ranges are in" wait_until 90 is_state n4 normal
t1=$(date +%s.%N)
diag "join: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s from start to normal, kill included"
ok "joining a member twice is refused" sh -c \
	"'$Q' join n4@$(node_addr 4) 2>&1 | grep -q 'n4 is already a member'"
ok "joining with a member's address is refused" sh -c \
	"'$Q' join n9@$(node_addr 3) 2>&1 | grep -q 'is member n3'"
ok "every member sees n4 normal" wait_until 20 sh -c \
	"for i in 1 2 3 4; do '$Q' --node 127.0.$T_NET.1\$i:700\$i status | grep -qE '^n4 .* normal ' || exit 1; done"
touch "$T_DIR/stop"
ok "the load ran on through the join" j_wait live
ok "the load's writes kept being acknowledged during the join" \
	test "$(j_acked_between live "$t0" "$t1")" -gt 0
diag "writes acknowledged during the join: $(j_acked_between live "$t0" "$t1")"

NODES=$(node_list)
# check_replicas NODES OUT: no key misses a replica on its preference list.
check_replicas() {
	"$Q" --nodes "$1" check-replicas >"$T_DIR/$2" 2>&1 &&
		grep -q ' 0 missing replicas' "$T_DIR/$2"
}
# Writes acknowledged while n4 was down went to the others only (W +
# pending acknowledgements); n4 gets them from the anti-entropy it runs
# with every peer once the change is over.
ok "check-replicas: every key on all N members of its new preference list" \
	wait_until 60 check_replicas "$NODES" check1
diag "$(tail -1 "$T_DIR/check1")"
diag "n4: $(grep -h 'anti-entropy:' "$T_DIR/n4.log" | tail -1)"

# final_read NAME NODES: read every key of the histories with R=3 and run
# the history checker on it; its verdicts go to $T_DIR/check.out.
final_read() {
	local h args=""
	for h in "$T_DIR"/*.hist; do args="$args --history $h"; done
	$CHECK $args --list-keys >"$T_DIR/keys" || return 1
	"$JEPSEN" read --nodes "$2" --r 3 <"$T_DIR/keys" >"$T_DIR/$1" || return 1
	! grep -q '"code":' "$T_DIR/$1" || return 1
	$CHECK $args --final "$T_DIR/$1" >"$T_DIR/check.out" 2>&1
	return 0
}
ok "every key read back with R=3 after the join" final_read final1 "$NODES"
j_check lost "no acknowledged write lost across the join"
j_check versions "every version read was written by its operation"

# ---- decommission n2 under load ----
ok "leaving an unknown member is refused" sh -c \
	"'$Q' leave n9 2>&1 | grep -q 'no member n9'"
NODES_LEFT="$(node_addr 1),$(node_addr 3),$(node_addr 4)"
NODES=$NODES_LEFT j_load live2 --run 3 --seed 501 --clients 4 --keys "$KEYS" \
	--prefix /m --mix 40,50,10 --seconds 0 --stop-file "$T_DIR/stop2" \
	--timeout-ms 3000
t2=$(date +%s.%N)
ok "quorumctl leave n2" "$Q" --node "$(node_addr 1)" leave n2
ok "n2 ends up left once its ranges have moved" wait_until 90 is_state n2 left
t3=$(date +%s.%N)
diag "leave: $(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.1f", b - a }') s; $(grep -h 'transfer: done' "$T_DIR"/n[134].log | tail -3 | tr '\n' ';')"
touch "$T_DIR/stop2"
ok "the load ran on through the leave" j_wait live2
ok "n2 stops" node_kill 2 TERM
ok "check-replicas without n2: every key on all N members" \
	wait_until 60 check_replicas "$NODES_LEFT" check2
diag "$(tail -1 "$T_DIR/check2")"
ok "a leave that would leave fewer than N owners is refused" sh -c \
	"'$Q' --nodes '$NODES_LEFT' leave n1 2>&1 | grep -q 'cannot leave'"
ok "every key read back with R=3 without n2" final_read final2 "$NODES_LEFT"
j_check lost "no acknowledged write lost across the leave"

# A join of a node that never comes up holds the change; leave cancels it.
ok "a join of a node that is never started can be cancelled by leave" sh -c \
	"'$Q' --nodes '$NODES_LEFT' join n5@$(node_addr 5) >/dev/null && '$Q' --nodes '$NODES_LEFT' leave n5 >/dev/null"
ok "n5 shows as left" wait_until 20 is_state n5 left
