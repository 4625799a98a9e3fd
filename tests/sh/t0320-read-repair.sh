#!/usr/bin/env bash
# Read repair: a replica that missed writes (killed before them, or stopped
# with a write in its socket and killed before it ran) is brought up to date
# by a read through another node once it is back: new keys, overwrites and
# deletes; then it alone serves them.
. "$(dirname "$0")/lib.sh"
T_NET=32
plan 16
# No anti-entropy rounds, and no delivery of the hints the coordinator
# keeps for node 3 (three members: no stand-in): read repair alone brings
# node 3 up to date.
cluster_start 3 --timeout-ms 2000 --ae-interval-ms 0 --handoff-interval-ms 600000
Q="$QUORUMCTL"
N1=$(node_addr 1)
N3=$(node_addr 3)

# counter ADDR NAME: one node's stats counter.
counter() {
	"$Q" --node "$1" stats | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print -1 }'
}

# Known to all three replicas before node 3 goes.
"$Q" --w 3 put /rr/stale old &&
"$Q" --w 3 put /rr/over old &&
"$Q" --w 3 put /rr/gone old ||
	bail "writes with W=3 on a healthy cluster failed"

# Node 3 stops with the write of /rr/new on its way to it, and dies.
node_kill 3 STOP
ok "with node 3 stopped, a W=2 write is acknowledged" \
	"$Q" --node "$N1" put /rr/new fresh
node_kill 3 KILL
ok "with node 3 killed, an overwrite is acknowledged" \
	"$Q" --node "$N1" put /rr/over new
ok "... and a delete" "$Q" --node "$N1" delete /rr/gone
"$Q" --node "$N1" put /rr/later later || bail "put /rr/later failed"
"$Q" --node "$N1" put /rr/stale new || bail "put /rr/stale failed"
repairs_before=$(counter "$N1" read_repairs)

node_start 3 || bail "node 3 did not restart"
# Node 3 coordinates and reads the data itself (the others send heads):
# it is stale, so it fetches the newer version's data from one of them.
wait_until 20 "$Q" --node "$N3" --r 3 head /rr/stale ||
	bail "node 3 did not rejoin"
fetches_before=$(counter "$N3" read_data_fetches)
is "$("$Q" --node "$N3" --r 3 get /rr/stale 2>&1)" new \
	"a stale coordinator fetches the newer version's data (digest read)"
is "$(( $(counter "$N3" read_data_fetches) - fetches_before ))" 1 \
	"... in one data fetch, counted"
is "$("$Q" --node "$N3" --r 1 get /rr/stale 2>&1)" new \
	"... and its own copy was repaired with it"
# An R=3 read succeeds only once node 3 answered it: that read repairs it.
ok "an R=3 read through node 1 succeeds once node 3 is back" \
	wait_until 20 "$Q" --node "$N1" --r 3 get /rr/new
is "$("$Q" --node "$N1" --r 3 get /rr/over)" new \
	"R=3 read of the overwritten key gives the new value, no sibling"
"$Q" --node "$N1" --r 3 get /rr/gone >/dev/null 2>&1
is "$?" 3 "R=3 read of the deleted key says absent"
# R=2: the client has its answer before node 3's reply; the repair comes
# after every replica answered.
is "$("$Q" --node "$N1" --r 2 get /rr/later)" later "R=2 read through node 1"

repairs=$(( $(counter "$N1" read_repairs) - repairs_before ))
diag "read repairs sent by node 1: $repairs"
ok "node 1 counted a read repair for each of the 4 keys" test "$repairs" -ge 4
# Node 3 restarted: every replica write it received since is a repair.
ok "node 3 received the 4 repairs" \
	wait_until 10 sh -c "test \$('$Q' --node '$N3' stats | awk '\$1 == \"replica_writes\" { print \$2 }') -ge 4"

# Now node 3 alone: it coordinates (it is a replica of every key) with R=1.
node_kill 1
node_kill 2
alone_is() {	# alone_is KEY VALUE
	test "$("$Q" --node "$N3" --r 1 --timeout-ms 1000 get "$1" 2>/dev/null)" = "$2"
}
alone_deleted() {
	"$Q" --node "$N3" --r 1 --timeout-ms 1000 get "$1" >/dev/null 2>"$T_DIR/err"
	[ $? -eq 3 ] && grep -q deleted "$T_DIR/err"
}
alone_all() {
	alone_is /rr/new fresh && alone_is /rr/over new && alone_is /rr/later later
}
ok "node 3 alone holds every repaired value" wait_until 10 alone_all
ok "... and the delete, as a tombstone" wait_until 10 alone_deleted /rr/gone
"$Q" --node "$N3" --r 2 --timeout-ms 1000 get /rr/new >/dev/null 2>&1
is "$?" 5 "with nodes 1 and 2 gone, R=2 fails: the reads above were node 3's own"
