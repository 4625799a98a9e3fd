#!/usr/bin/env bash
# quorumctl cleanup (replication/cleanup.h).  Three nodes take about a
# thousand keys; a fourth joins, and the old owners keep their copies
# (check-replicas counts them outside the preference lists).  A cleanup
# while the join is under way is refused.  With one owner stopped
# (SIGSTOP), n1's cleanup keeps the keys that owner should take (skipped:
# with four members and N=3 that is all of them) and removes none.  Then a cleanup of every member leaves each
# node only the keys it is a replica of, with no replica missing, and
# every acknowledged write reads back with R=2.
. "$(dirname "$0")/lib.sh"
T_NET=71
plan 21
cluster_start 3 --timeout-ms 2000 --gossip-interval-ms 100 \
	--ae-interval-ms 0 --purge-interval-ms 0
. "$(dirname "$0")/../jepsen/lib-jepsen.sh"
Q="$QUORUMCTL"

"$JEPSEN" run --nodes "$NODES" --history "$T_DIR/preload.hist" --run 1 \
	--keys 2000 --prefix /c --clients 8 --ops 160 --mix 0,100,0 \
	--timeout-ms 3000 2>>"$T_DIR/preload.log"
ok "preload: $(j_acked_between preload 0 9999999999) writes acknowledged" \
	test "$(j_acked_between preload 0 9999999999)" -gt 1000

# n4 joins through a seed, pulling slowly enough that a cleanup asked
# meanwhile finds the change under way.
"$QUORUMD" --id n4 --data-dir "$T_DIR/n4" --listen "$(node_addr 4)" --insecure \
	--seeds "$(node_addr 1)" --pid-file "$T_DIR/n4.pid" --daemon \
	$T_FLAGS --stream-rate 80000 2>>"$T_DIR/n4.log"
ok "n4 starts with --seeds" wait_until 20 "$Q" --node "$(node_addr 4)" \
	--timeout-ms 500 status
T_NODES=4
NODES=$(node_list)
ring_state() { "$Q" --node "$(node_addr "$1")" status | awk -v m="$2" '$1 == m { print $10 }'; }
ok "n1 sees n4 joining" wait_until 20 sh -c \
	"'$Q' --node '$(node_addr 1)' status | grep -qE '^n4 .* joining '"
ok "a cleanup during the join is refused, with the reason" sh -c \
	"! '$Q' --node '$(node_addr 1)' cleanup >'$T_DIR/refused' 2>&1 &&
	grep -q 'membership change is under way (n4 is joining)' '$T_DIR/refused'"
sed 's/^/# /' "$T_DIR/refused"
all_normal() {
	local i
	for i in 1 2 3 4; do [ "$(ring_state "$i" n4)" = normal ] || return 1; done
}
ok "every member sees n4 normal" wait_until 60 all_normal

# check_replicas OUT: no key misses a replica on its preference list.
check_replicas() {
	"$Q" --nodes "$NODES" check-replicas >"$T_DIR/$1" 2>&1 &&
		grep -q ' 0 missing replicas' "$T_DIR/$1"
}
extra() { sed -n 's/.*replicas, \([0-9]*\) copies outside.*/\1/p' "$T_DIR/$1"; }
ok "check-replicas after the join: none missing" wait_until 30 check_replicas check0
diag "$(tail -1 "$T_DIR/check0")"
ok "the old owners keep copies outside the preference lists" \
	test "$(extra check0)" -gt 100

# ---- one owner down: its keys stay ----
ok "stop n2 (SIGSTOP)" node_kill 2 STOP
"$Q" --node "$(node_addr 1)" cleanup >"$T_DIR/down.out" 2>&1
rc=$?
sed 's/^/# /' "$T_DIR/down.out"
is "$rc" 5 "cleanup of n1 with n2 stopped exits 5 (keys skipped)"
field() {	# field WORD FILE: the count before WORD on the summary line
	awk -v w="$1" '/^cleanup: / { for (i = 2; i <= NF; i++) if ($i ~ "^" w) print $(i - 1) }' "$T_DIR/$2"
}
# With four members and N=3 a key n1 does not own has all three others as
# owners, so with n2 stopped every one of them must stay.
ok "n1 skipped every key it does not own, removed none, and said why" sh -c \
	"test '$(field skipped down.out)' -gt 0 && test '$(field removed down.out)' -eq 0 &&
	grep -q 'owner n2 ' '$T_DIR/down.out'"
ok "continue n2" node_kill 2 CONT
ok "the members see each other again" wait_until 30 cluster_meshed
same_extra() {
	check_replicas check1 && [ "$(extra check1)" -eq "$(extra check0)" ]
}
ok "check-replicas: none missing, every copy outside still there" same_extra
diag "$(tail -1 "$T_DIR/check1")"

# ---- every member ----
t0=$(date +%s.%N)
ok "cleanup of every member" "$Q" --nodes "$NODES" cleanup
cp "$T_DIR/last.out" "$T_DIR/all.out"
t1=$(date +%s.%N)
sed 's/^/# /' "$T_DIR/all.out"
diag "cleanup of 4 nodes: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
ok "it skipped nothing" test "$(field skipped all.out)" -eq 0
is "$(stat_sum cleanup_keys_removed)" "$(field removed all.out)" \
	"the nodes' cleanup_keys_removed counters add up to the keys removed"
ok "check-replicas: none missing and no copy outside the preference lists" \
	sh -c "'$Q' --nodes '$NODES' check-replicas >'$T_DIR/check2' 2>&1 &&
	grep -q ' 0 missing replicas.* 0 copies outside' '$T_DIR/check2'"
diag "$(tail -1 "$T_DIR/check2")"

# Every acknowledged write read back with R=2 (the history checker).
final_read() {
	$CHECK --history "$T_DIR/preload.hist" --list-keys >"$T_DIR/keys" || return 1
	"$JEPSEN" read --nodes "$NODES" --r 2 <"$T_DIR/keys" >"$T_DIR/final" || return 1
	! grep -q '"code":' "$T_DIR/final" || return 1
	$CHECK --history "$T_DIR/preload.hist" --final "$T_DIR/final" \
		>"$T_DIR/check.out" 2>&1
	return 0
}
ok "every key read back with R=2" final_read
j_check lost "no acknowledged write lost by the cleanup"
ok "a second cleanup finds nothing to do" sh -c \
	"'$Q' --nodes '$NODES' cleanup | grep -q '^cleanup: 0 keys scanned'"
