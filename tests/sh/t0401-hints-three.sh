#!/usr/bin/env bash
# Hinted handoff among three members with N=3: no member is outside a
# key's preference list to stand in for a home replica that is down, so
# the coordinator keeps the copy it could not send as a hint of its own
# (counting toward no quorum).  With anti-entropy off, the replica that was
# down gets every write and delete it missed from those hints alone.
. "$(dirname "$0")/lib.sh"
T_NET=54
plan 6
cluster_start 3 --timeout-ms 1500 --gossip-interval-ms 100 --phi-threshold 3 \
	--handoff-interval-ms 200 --ae-interval-ms 0
Q="$QUORUMCTL"
UP="$(node_addr 1),$(node_addr 2)"

node_kill 3
fails=0
for i in $(seq 1 30); do
	"$Q" --nodes "$UP" --blind put "/t/k$i" "v$i" 2>>"$T_DIR/put.err" || fails=$((fails + 1))
done
"$Q" --nodes "$UP" delete /t/k1 2>>"$T_DIR/put.err" || fails=$((fails + 1))
is "$fails" 0 "W=2 writes and a delete succeed with n3 down"
kept=$(stat_sum hints_stored "$UP")
ok "their coordinators keep n3's copies as hints ($kept)" test "$kept" -eq 31

node_start 3
ok "after n3 is back, every hint is delivered and dropped" \
	wait_until 30 sh -c "! '$Q' stats | grep -E 'hints\.n3\.count +[1-9]'"
is "$(stat_sum hints_received)" "$kept" "n3 received every hint kept for it"

# n3 alone (the others hung): its R=1 reads come from its own store.
node_kill 1 STOP; node_kill 2 STOP
wrong=0
for i in $(seq 2 30); do
	[ "$("$Q" --node "$(node_addr 3)" --r 1 get "/t/k$i" 2>/dev/null)" = "v$i" ] ||
		wrong=$((wrong + 1))
done
"$Q" --node "$(node_addr 3)" --r 1 get /t/k1 >/dev/null 2>&1
deleted=$?
node_kill 1 CONT; node_kill 2 CONT
ok "n3 alone serves every write it missed, and the delete ($wrong wrong, get of the deleted key exits $deleted)" \
	test "$wrong" -eq 0 -a "$deleted" -eq 3
