#!/usr/bin/env bash
# Clients that open connections without end.  Over max_clients_per_host
# from one address, or max_clients in all, a connection gets an Error
# ("too many ...", QERR_UNAVAIL) and is closed; peers keep a reserve of
# max_peer_connections that no client flood can take, so a node that
# restarts during a flood still joins its cluster; others are served at
# their usual latency, and the node's memory and descriptors stay bounded.
# A host refused as fast as it reconnects (64 times within a second, three
# times in a row) is shut out like any abuser; one that waits after its
# error never is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-abuse.sh"
T_NET=113
plan 20
MAXC=60
PERHOST=20
cluster_start 3 --max-clients $MAXC --max-clients-per-host $PERHOST \
	--max-peer-connections 16
N1=$(node_addr 1)
PID1=$(node_pid 1)
SRC=127.0.$T_NET
bench_populate "$N1" || bail "cannot populate the bench keys"
fds_before=$(ls /proc/"$PID1"/fd | wc -l)
hwm_start "$PID1"

# ---- one host over its share ----
ok "the node serves a put and a get while one host floods it" \
	serving_during "$N1" /fl/probe flood --addr "$N1" --source $SRC.50 \
	--conns 40 --seconds 4
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
held=$(result held) pending=$(result pending)
ok "the flooding host keeps max_clients_per_host connections ($held held, $pending of them never connected)" \
	test "$((held - pending))" = $PERHOST
ok "... the others get QERR_UNAVAIL (-7) naming the limit" \
	abuse_said "code=-7 too many connections from this host (the limit is $PERHOST)"
refused=$(result refused)
ok "... again and again ($refused refused)" test "$refused" -ge 100
lines=$(grep -c "refused: too many" "$T_DIR/n1.log")
ok "... logged about once a second, not once each ($lines lines)" \
	test "$lines" -le 8
# Refused as fast as it reconnects: a flood, shut out like an abuse.
ok "... until it is shut out: its last connects hang, their SYNs dropped" \
	test "$pending" -gt 0
ok "... which the log says, once per penalty" \
	grep -q "$SRC.50: shut out for 250 ms: 3 runs of 64 refusals within 1000 ms in a row, the last for too many connections from this host (the limit is $PERHOST)" "$T_DIR/n1.log"

# ---- all client slots taken ----
for h in 50 51 52 53; do	# 4 x 20 = 80 > 60
	$ABUSE flood --addr "$N1" --source $SRC.$h --conns $PERHOST \
		--seconds 25 >"$T_DIR/flood.$h" 2>&1 &
	eval "flood$h=\$!"
done
full() {
	"$QUORUMCTL" --node "$N1" --timeout-ms 500 get /fl/probe 2>&1 |
		grep -q "too many client connections (the limit is $MAXC)"
}
ok "with every client slot taken, a new client gets a clear error" \
	wait_until 10 full
# A client that waits after its error (here 50 ms) is no flood: it gets
# the error every time and is never shut out.
errs=0
for i in $(seq 1 40); do
	if full; then errs=$((errs + 1)); fi
	sleep 0.05
done
ok "a client retrying 40 times, 50 ms apart, gets the error each time ($errs)" \
	test $errs = 40
ok "... and is never shut out" \
	sh -c "! grep -q '127.0.0.1: shut out' '$T_DIR/n1.log'"
# Node 2 restarts into the flood: its connections to node 1 come from a
# member's address, so they use the peers' reserve.
node_kill 2
node_start 2
n1_up_on_2() {
	"$QUORUMCTL" --node "$(node_addr 2)" --timeout-ms 500 status |
		awk '$1 == "n1" && $4 == "up" && $6 == "yes" { f = 1 } END { exit !f }'
}
ok "a peer restarting during the flood reaches node 1 (the reserve)" \
	wait_until 20 n1_up_on_2
ok "... and a write needing all three nodes succeeds through it" \
	"$QUORUMCTL" --node "$(node_addr 2)" --w 3 put /fl/all3 yes
ok "... node 1 refused no peer" \
	sh -c "! grep 'refused' '$T_DIR/n1.log' | grep -q '127.0.$T_NET.1[23]:'"
# What node 1 holds while four hosts flood it: its own files, peers, and
# at most max_clients client connections (sampled ten times).
most=0
for i in $(seq 1 10); do
	n=$(ls /proc/"$PID1"/fd | wc -l)
	[ "$n" -gt "$most" ] && most=$n
	sleep 0.1
done
diag "node 1's descriptors: $fds_before before, at most $most during the flood"
ok "during the flood node 1 holds at most max_clients more descriptors" \
	test "$most" -le $((fds_before + MAXC + 2))
for h in 50 51 52 53; do eval "wait \$flood$h"; done

# Each connection costs its struct, two evbuffers and four events: a few
# KiB: 64 KiB each for every client and peer slot bounds it.
hwm_check "$PID1" $(((MAXC + 16) * 64))
fds_back() { test "$(ls /proc/"$PID1"/fd | wc -l)" -le $((fds_before + 4)); }
ok "once the floods end, its descriptors are back to $fds_before" \
	wait_until 10 fds_back
ok "clients get in again" "$QUORUMCTL" --node "$N1" get /fl/probe

# The well-behaved client comes from 127.0.0.1, the flood from another host.
p99_check "a host flooding" "$N1" flood --addr "$N1" --source $SRC.50 \
	--conns 40
ok "node 1 is the process it was" test "$(node_pid 1)" = "$PID1"
