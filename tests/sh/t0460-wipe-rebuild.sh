#!/usr/bin/env bash
# A node whose data directory is wiped (SIGKILL, rm -rf, start) rejoins
# empty, under a load, and anti-entropy rebuilds it: afterwards it holds
# exactly what the other replicas hold and serves every key alone.  It
# starts a new epoch: a version it names after the wipe never takes the
# name (dot) of one it named before, so a write it coordinates next to an
# old one of its own stays a separate version.  The load's history checks
# out: nothing acknowledged is lost, siblings are concurrent writes.
. "$(dirname "$0")/lib.sh"
T_NET=46
plan 21
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"
N3=$(node_addr 3)

j_load before --run 1 --seed "${JEPSEN_SEED:-460}" --clients 4 --keys 40 \
	--mix 20,70,10 --seconds 6
"$Q" --node "$N3" --blind put /w/reuse old-from-n3
actor_before=$(sed -n 's/.*(actor \([^)]*\)).*/\1/p' "$T_DIR/n3.log" | tail -n 1)
ok "the load before the wipe ran to its end" j_wait before

j_log wipe n3
node_kill 3
rm -rf "$T_DIR/n3"
ok "n3 starts again on an empty data directory" node_start 3
actor_after=$(sed -n 's/.*(actor \([^)]*\)).*/\1/p' "$T_DIR/n3.log" | tail -n 1)
ok "with a new actor ($actor_before, now $actor_after)" \
	test -n "$actor_after" -a "$actor_after" != "$actor_before"
"$JEPSEN" dump --node "$N3" >"$T_DIR/dump.wiped"
is "$(wc -l <"$T_DIR/dump.wiped")" 0 "n3's store is empty"

# A write n3 coordinates, with nothing seen: were its dot the one n3 gave
# the old write, replicas would take both for one version.
ok "n3 coordinates a blind write to a key it wrote before the wipe" \
	"$Q" --node "$N3" --blind --w 1 put /w/reuse new-from-n3
"$Q" --nodes "$(node_addr 1),$(node_addr 2)" --r 2 get /w/reuse >"$T_DIR/reuse" 2>&1
ok "the old and the new write are two versions" sh -c \
	"grep -qx old-from-n3 '$T_DIR/reuse' && grep -qx new-from-n3 '$T_DIR/reuse'"

# A load on other keys meanwhile: the keys of the first load reach n3
# only through anti-entropy.
j_load after --run 2 --seed "${JEPSEN_SEED:-460}" --clients 4 --keys 10 \
	--prefix /j2 --mix 30,60,10 --seconds 5
ok "the load after the wipe ran to its end" j_wait after
"$JEPSEN" dump --node "$N3" >"$T_DIR/dump.unrepaired"
is "$(grep -c '"key":"/j/' "$T_DIR/dump.unrepaired")" 0 \
	"n3 holds none of the first load's keys before anti-entropy"
out=$("$Q" --node "$N3" repair); echo "$out" | sed 's/^/# /'
n=$(echo "$out" | sed -n 's/^repair: \([0-9]*\) keys repaired.*/\1/p')
ok "anti-entropy from n3 rebuilds it ($n keys repaired)" test "${n:-0}" -ge 40
ok "every node sees every other up" j_settle
ok "a second anti-entropy pass finds nothing to repair" j_repair_clean 2
ok "every node scanned, every key read with R=3" j_scan

# n3 alone: with the others hung, its R=1 reads come from its own store.
node_kill 1 STOP; node_kill 2 STOP
"$JEPSEN" read --nodes "$N3" --r 1 <"$T_DIR/keys" >"$T_DIR/n3-alone"
node_kill 1 CONT; node_kill 2 CONT
ok "n3 alone serves every key as the cluster does" sh -c \
	"sed 's/,\"replies\":[0-9]*//' '$T_DIR/final' >'$T_DIR/a'; sed 's/,\"replies\":[0-9]*//' '$T_DIR/n3-alone' >'$T_DIR/b'; diff '$T_DIR/a' '$T_DIR/b'"

j_checker --allow-foreign
j_check lost "no acknowledged write lost"
j_check siblings "every sibling is explained by concurrent writes"
j_check converged "every replica, the rebuilt one too, holds the same version sets"
j_check versions "every version read was written by its operation, no dot reused"
j_check contexts "read and write contexts are consistent"

# The other way a node's record of a key goes: a purged tombstone.  Its
# next write to the key must not take the name of a version it named
# before, or a writer still holding a context from before the delete (it
# saw v1 only) would replace the new write it never saw.
for i in 1 2 3; do node_kill "$i" TERM; done
T_FLAGS="$T_FLAGS --tombstone-min-age-ms 0 --purge-interval-ms 200"
for i in 1 2 3; do node_start "$i" || bail "node $i did not restart"; done
# Meshed first: a copy for a member not yet reached after the restart has no
# stand-in to hold it among three nodes, and would wait for anti-entropy.
wait_until 30 cluster_meshed || bail "the restarted nodes did not all reach each other"
N1=$(node_addr 1)
"$Q" --node "$N1" put /w/purged v1 --context-out "$T_DIR/ctx.v1"
"$Q" --node "$N1" head /w/purged >"$T_DIR/purged.v1"
"$Q" --node "$N1" delete /w/purged
purged_everywhere() {	# or show what each node still holds
	wait_until 20 sh -c "test \$('$Q' --nodes '$NODES' dump | grep -c ' /w/purged ') -eq 0" ||
		{ for i in 1 2 3; do "$JEPSEN" dump --node "$(node_addr $i)" | grep '"/w/purged"'; done; return 1; }
}
ok "the tombstone of a deleted key is purged from every node" purged_everywhere
"$Q" --node "$N1" --blind put /w/purged v2
"$Q" --node "$N1" head /w/purged >"$T_DIR/purged.v2"
"$Q" --node "$N1" --context "@$T_DIR/ctx.v1" put /w/purged v3
"$Q" --r 3 get /w/purged >"$T_DIR/purged" 2>&1
ok "a write with a context from before the delete does not replace a later write it never saw" \
	sh -c "grep -qx v2 '$T_DIR/purged' && grep -qx v3 '$T_DIR/purged' || { echo v1:; cat '$T_DIR/purged.v1'; echo v2:; cat '$T_DIR/purged.v2'; echo after v3:; cat '$T_DIR/purged'; '$Q' --nodes '$NODES' dump | grep /w/purged; exit 1; }"
