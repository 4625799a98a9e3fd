#!/usr/bin/env bash
# quorumctl's contract: exit codes (0 ok, 1 error, 2 usage, 3 absent,
# 4 siblings, 5 cluster unavailable), siblings written to files, head
# without data, values from -f FILE and stdin, a 10 MiB round trip, a value
# over the cluster's limit refused with the old value kept, status, and
# the load generator (bench) ending on time with a node hung.
. "$(dirname "$0")/lib.sh"
T_NET=35
plan 48
# The cluster's timeout is long: a 10 MiB write has to reach the replicas
# (under sanitizers, on a loaded machine).
cluster_start 3 --timeout-ms 10000
Q="$QUORUMCTL"

# run EXPECTED_STATUS ARGS...: quorumctl ARGS exits with EXPECTED_STATUS;
# its stdout and stderr are left in $T_DIR/out and $T_DIR/err.
run() {
	local want=$1 rc; shift
	"$Q" "$@" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
	[ "$rc" -eq "$want" ] && return 0
	echo "quorumctl $*: exit $rc, expected $want"
	sed 's/^/stderr: /' "$T_DIR/err" | head -5
	return 1
}
says() { grep -q -- "$1" "$T_DIR/err" || { echo "stderr lacks '$1':"; cat "$T_DIR/err"; return 1; }; }

# ---- absent, deleted ----
# run_says EXPECTED_STATUS MESSAGE ARGS...: run, and stderr has MESSAGE.
run_says() { local want=$1 msg=$2; shift 2; run "$want" "$@" && says "$msg"; }

ok "get of a key never written: exit 3, \"no such key\"" \
	run_says 3 "no such key" get /never
"$Q" put /gone x && "$Q" delete /gone || bail "put/delete failed"
ok "get of a deleted key: exit 3, \"deleted\"" run_says 3 deleted get /gone
ok "head of a deleted key: exit 3" run 3 head /gone

# ---- siblings ----
"$Q" put /sib base || bail "put /sib failed"
"$Q" get --context-out "$T_DIR/ctx" /sib >/dev/null
"$Q" --context @"$T_DIR/ctx" put /sib "left side"
"$Q" --context "$(cat "$T_DIR/ctx")" put /sib "right side"
ok "get of a key with siblings: exit 4" \
	run 4 get --siblings-dir "$T_DIR/sibs" /sib
ok "... saying so" says "has 2 concurrent versions"
ok "--siblings-dir holds sibling-1 and sibling-2, nothing else" \
	test "$(ls "$T_DIR/sibs" | tr '\n' ' ')" = "sibling-1 sibling-2 "
sibs_are() {	# sibs_are A B: the two files hold A and B, in some order
	local x y
	x=$(cat "$T_DIR/sibs/sibling-1") && y=$(cat "$T_DIR/sibs/sibling-2") || return 1
	echo "sibling-1: '$x', sibling-2: '$y'"
	{ [ "$x" = "$1" ] && [ "$y" = "$2" ]; } || { [ "$x" = "$2" ] && [ "$y" = "$1" ]; }
}
ok "... each the value of one sibling" sibs_are "left side" "right side"
headers() { test "$(grep -c '^--- version' "$T_DIR/out")" -eq "$1"; }
ok "head of a key with siblings: exit 4, one header per version" \
	eval 'run 4 head /sib && headers 2'

# ---- head needs no data ----
head -c $((10 << 20)) /dev/urandom >"$T_DIR/big"
ok "put -f FILE of a 10 MiB value" "$Q" --timeout-ms 20000 put -f "$T_DIR/big" /big
ok "... and get returns it byte for byte" \
	sh -c "'$Q' get /big | cmp - '$T_DIR/big'"
ok "head of it: exit 0, one version of 10485760 bytes" \
	eval 'run 0 head /big && grep -q "^--- version 1 of 1: .* 10485760 bytes" "$T_DIR/out"'
ok "... printing only the header, no data" \
	test "$(wc -c <"$T_DIR/out")" -lt 300
heads_before=$("$Q" --nodes "$NODES" stats | awk '$1 == "heads" { s += $2 } END { print s + 0 }')
"$Q" head /big >/dev/null
ok "... and it is a head for the node (heads counter)" \
	test "$("$Q" --nodes "$NODES" stats | awk '$1 == "heads" { s += $2 } END { print s + 0 }')" -gt "$heads_before"
syncs_before=$("$Q" --nodes "$NODES" stats | awk '$1 == "store_syncs" { s += $2 } END { print s + 0 }')
"$Q" --w 3 put /synced three >/dev/null
ok "a put at W=3 is a synced batch on each of the three stores (store_syncs)" \
	test "$("$Q" --nodes "$NODES" stats | awk '$1 == "store_syncs" { s += $2 } END { print s + 0 }')" -ge $((syncs_before + 3))

# ---- values from a file and from stdin ----
printf 'from a file\nwith two lines\n' >"$T_DIR/v"
"$Q" put -f "$T_DIR/v" /f
ok "put -f FILE stores the file's bytes" sh -c "'$Q' get /f | cmp - '$T_DIR/v'"
printf 'from stdin' | "$Q" put /stdin
is "$("$Q" get /stdin)" "from stdin" "put KEY with no value reads stdin"
printf 'dash' | "$Q" put -f - /dash
is "$("$Q" get /dash)" dash "put -f - reads stdin"
"$Q" put /empty "" </dev/null
ok "an empty value is a value (exit 0, no bytes)" \
	eval 'run 0 get /empty && test ! -s "$T_DIR/out"'

# ---- invalid keys: exit 1 with the rule broken ----
ok "get relative/path: exit 1" run 1 get relative/path
ok "... \"key must start with '/'\"" says "key must start with '/'"
ok "put /a//b: exit 1" run 1 put /a//b v
ok "... \"empty component\"" says "empty component"
ok "delete /a/../b: exit 1, naming '..'" run_says 1 "'..'" delete /a/../b

# ---- usage errors: exit 2 ----
ok "an unknown option: exit 2" run 2 --bogus get /f
ok "--r not a number: exit 2" run 2 --r many get /f
ok "no command: exit 2" run 2
ok "an unknown command: exit 2" run 2 frobnicate /f
ok "get with two keys: exit 2" run 2 get /f /g

# ---- the cluster unreachable: exit 5, within the timeout ----
start=$(date +%s%N)
ok "only unreachable nodes: exit 5" \
	run 5 --nodes 127.0.$T_NET.99:7999,127.0.$T_NET.98:7998 --timeout-ms 1000 get /f
ok "... at once (connection refused)" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000
node_kill 3 STOP
start=$(date +%s%N)
ok "only a node that does not answer (stopped): exit 5" \
	run 5 --node "$(node_addr 3)" --timeout-ms 1000 get /f
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
diag "a stopped node: quorumctl gave up after $elapsed ms (--timeout-ms 1000)"
ok "... within the timeout and the client's 1 s grace (3.5 s: ASan start-up under load; one retry of the same node took 4.1 s)" test "$elapsed" -lt 3500
node_kill 3 CONT

# ---- status ----
"$Q" status >"$T_DIR/status"
ok "status lists every member with its address, up" sh -c "
	for i in 1 2 3; do grep -Eq \"^n\$i +127.0.$T_NET.1\$i:700\$i .* up \" '$T_DIR/status' || exit 1; done"

# ---- a value over the cluster's limit ----
head -c 524288 /dev/urandom >"$T_DIR/half"
head -c $((2 << 20)) /dev/urandom >"$T_DIR/two"
exited() { ! test -e /proc/"$1" || grep -q '^State:.*Z' /proc/"$1"/status; }
restart_limited() {
	local i pid pids=""
	for i in 1 2 3; do pids="$pids $(node_pid "$i")"; done
	kill -TERM $pids || return 1
	for pid in $pids; do wait_until 20 exited "$pid" || return 1; done
	cluster_start 3 --timeout-ms 1000 --max-value-size 1048576
}
ok "the cluster restarts with --max-value-size 1048576, --timeout-ms 1000" \
	restart_limited
"$Q" put -f "$T_DIR/half" /limited || diag "put of 512 KiB failed"
ok "a 2 MiB value: exit 1" run 1 put -f "$T_DIR/two" /limited
ok "... saying it is over the limit" says "limit"
ok "... and the old value stays" sh -c "'$Q' get /limited | cmp - '$T_DIR/half'"

# --timeout-ms is the request's timeout: a get waits that long for its R
# replicas, and a put for its W, even past the cluster's own timeout (1 s).
# Node 3 is stopped for 2 s (the length of the fault, not a wait).
"$Q" --w 3 put /slow v1 || bail "put /slow failed"
slow_node3() { node_kill 3 STOP; ( sleep 2; node_kill 3 CONT ) & }
slow_node3
ok "a get with R=3 and --timeout-ms 6000 waits for a replica 2 s late" \
	"$Q" --r 3 --timeout-ms 6000 get /slow
wait $!
slow_node3
ok "a put with W=3 and --timeout-ms 6000 waits for a replica 2 s late" \
	"$Q" --w 3 --timeout-ms 6000 put /slow v2
wait $!

# ---- bench: the load generator's own contract ----
# result_field NAME: NAME= of the RESULT line in $T_DIR/out.
result_field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$T_DIR/out"; }
ok "bench: 8 clients on 2 event-loop threads, 1 s of puts: exit 0" \
	run 0 bench --op put --clients 8 --threads 2 --seconds 1
is "$(result_field errors)" 0 "... with no errors"
ok "... and puts answered" test "$(result_field ops_per_s)" -gt 0
ok "bench --populate of 40 keys, then 1 s of gets from 3 threads: exit 0" \
	run 0 bench --op get --populate --keys 40 --clients 6 --threads 3 \
	--seconds 1
is "$(result_field errors)" 0 "... with no errors (every get found its value)"
ok "bench --fresh-values, 1 s of puts and a populate of 8 keys: exit 0" \
	sh -c "'$Q' bench --op put --fresh-values --clients 4 --seconds 1 |
		grep -q 'errors=0\$' &&
		'$Q' bench --op get --populate --fresh-values --keys 8 \
		--value-size 64 --seconds 0 >/dev/null"
ok "... every key its own value" \
	bash -c "! cmp -s <('$Q' get /bench/v64/k0) <('$Q' get /bench/v64/k1)"
# A hung node: its clients time out; the worker's other clients (one
# thread drives all six) keep going and the run still ends on time: 2 s
# plus the 500 ms request timeout and the 1 s grace, with slack for ASan.
node_kill 3 STOP
start=$(date +%s%N)
run 0 bench --op put --clients 6 --threads 1 --seconds 2 --timeout-ms 500
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
node_kill 3 CONT
ok "bench with node 3 hung ends within 8 s (took $elapsed ms), counting timeouts, still answered by the others" \
	sh -c "[ $elapsed -lt 8000 ] && grep -q 'timeouts [1-9]' '$T_DIR/out' && [ \"\$(sed -n 's/^RESULT.* ops_per_s=\([0-9]*\).*/\1/p' '$T_DIR/out')\" -gt 0 ]"
