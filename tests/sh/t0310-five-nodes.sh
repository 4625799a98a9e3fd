#!/usr/bin/env bash
# A 5-node cluster (N=3, R=W=2): concurrent clients each read their own
# acknowledged writes back through a different node, whichever node
# coordinated them (with 5 nodes and N=3 many puts reach a node that holds
# no replica of the key and are forwarded); a listing shows every
# acknowledged key and no deleted one.
. "$(dirname "$0")/lib.sh"
T_NET=31
plan 13
cluster_start 5 --timeout-ms 3000
Q="$QUORUMCTL"
WRITERS=4
KEYS=8

# writer J: for each key, write it through one node, read it back through
# another with R=2; then overwrite it through a third node (the put reads
# the context first) and read the new value back through a fourth.  Every
# mismatch or failed command is a line in w$J.bad; every acknowledged
# final value a line "key value" in w$J.acked.
writer() {
	local j=$1 i k a b c d v1 v2 got rc
	: >"$T_DIR/w$j.bad"
	: >"$T_DIR/w$j.acked"
	for i in $(seq 1 $KEYS); do
		k=/shared/w$j-k$i
		a=$(( (i + j) % 5 + 1 )); b=$(( (i + j + 1) % 5 + 1 ))
		c=$(( (i + j + 2) % 5 + 1 )); d=$(( (i + j + 3) % 5 + 1 ))
		v1="first $j.$i.$RANDOM"
		v2="second $j.$i.$RANDOM"
		if ! "$Q" --node "$(node_addr $a)" put "$k" "$v1" \
		    2>>"$T_DIR/w$j.err"; then
			echo "put $k via n$a failed" >>"$T_DIR/w$j.bad"
			continue
		fi
		got=$("$Q" --node "$(node_addr $b)" --r 2 get "$k" \
		    2>>"$T_DIR/w$j.err"); rc=$?
		[ "$rc" -eq 0 ] && [ "$got" = "$v1" ] ||
			echo "get $k via n$b after put via n$a: rc $rc," \
			    "'$got' not '$v1'" >>"$T_DIR/w$j.bad"
		if ! "$Q" --node "$(node_addr $c)" put "$k" "$v2" \
		    2>>"$T_DIR/w$j.err"; then
			echo "overwrite $k via n$c failed" >>"$T_DIR/w$j.bad"
			echo "$k $v1" >>"$T_DIR/w$j.acked"
			continue
		fi
		got=$("$Q" --node "$(node_addr $d)" --r 2 get "$k" \
		    2>>"$T_DIR/w$j.err"); rc=$?
		[ "$rc" -eq 0 ] && [ "$got" = "$v2" ] ||
			echo "get $k via n$d after overwrite via n$c: rc $rc," \
			    "'$got' not '$v2'" >>"$T_DIR/w$j.bad"
		echo "$k $v2" >>"$T_DIR/w$j.acked"
	done
}

pids=""
for j in $(seq 1 $WRITERS); do
	writer "$j" &
	pids="$pids $!"
done
wait $pids
cat "$T_DIR"/w*.acked >"$T_DIR/acked"
cat "$T_DIR"/w*.bad >"$T_DIR/bad"
sed 's/^/# /' "$T_DIR/bad" | head -20

is "$(wc -l <"$T_DIR/acked")" $((WRITERS * KEYS)) \
	"every write of $WRITERS concurrent clients was acknowledged"
is "$(wc -l <"$T_DIR/bad")" 0 \
	"each client read back every acknowledged value through another node"

# counter NAME: the sum of a stats counter over every node.
counter() {
	"$Q" --nodes "$NODES" stats | awk -v n="$1" '$1 == n { s += $2 } END { print s + 0 }'
}
forwards=$(counter forwards)
diag "puts forwarded by a node that is no replica of the key: $forwards"
ok "some puts went through a coordinator outside the preference list" \
	test "$forwards" -gt 0
is "$(counter siblings_created)" 0 "no write made a sibling"

# After the clients are done, every value is the last acknowledged one;
# one key in two, read through every node in turn.
check_some() {
	local k v got i=0
	while read -r k v; do
		i=$((i + 1))
		[ $((i % 2)) -eq 0 ] || continue
		got=$("$Q" --node "$(node_addr $(( i % 5 + 1 )))" get "$k") ||
			{ echo "get $k: exit $?"; return 1; }
		[ "$got" = "$v" ] || { echo "$k: '$got' not '$v'"; return 1; }
	done <"$T_DIR/acked"
}
ok "acknowledged values read back afterwards, through every node" check_some

# Listing: every key, from any node.
sed 's|^/shared/\([^ ]*\) .*|\1|' "$T_DIR/acked" | LC_ALL=C sort >"$T_DIR/want"
"$Q" --node "$(node_addr 3)" ls /shared >"$T_DIR/ls" 2>"$T_DIR/ls.err"
is "$?" 0 "ls /shared succeeds"
ok "ls /shared lists exactly the acknowledged keys" \
	sh -c "LC_ALL=C sort '$T_DIR/ls' | diff '$T_DIR/want' -"

# Delete every fifth key, through varying nodes.
: >"$T_DIR/deleted"
del_bad=0
i=0
while read -r k v; do
	i=$((i + 1))
	[ $((i % 5)) -eq 0 ] || continue
	"$Q" --node "$(node_addr $(( i % 5 + 1 + i / 5 % 4 )))" delete "$k" ||
		del_bad=$((del_bad + 1))
	echo "${k#/shared/}" >>"$T_DIR/deleted"
done <"$T_DIR/acked"
is "$del_bad" 0 "$(wc -l <"$T_DIR/deleted") deletes acknowledged"
"$Q" --node "$(node_addr 5)" get "$(sed -n 1p "$T_DIR/deleted" | sed 's|^|/shared/|')" \
	>/dev/null 2>&1
is "$?" 3 "a deleted key reads as absent (exit 3)"
LC_ALL=C sort "$T_DIR/deleted" >"$T_DIR/deleted.sorted"
LC_ALL=C comm -23 "$T_DIR/want" "$T_DIR/deleted.sorted" >"$T_DIR/want2"
ok "ls lists every live key and no deleted one, from every node" sh -c '
	for i in 1 2 3 4 5; do
		"$1" --node "127.0.'$T_NET'.$((10 + i)):$((7000 + i))" ls /shared \
			>"$2/ls.$i" || exit 1
		LC_ALL=C sort "$2/ls.$i" | diff "$2/want2" - || exit 1
	done' sh "$Q" "$T_DIR"
ok "ls -l shows the sizes" sh -c "'$Q' ls -l /shared | awk 'NF != 2 || \$1 < 1 { bad = 1 } END { exit bad }'"

# Every node at once: each stops cleanly while its peers go too.
exited() { ! test -e /proc/"$1" || grep -q '^State:.*Z' /proc/"$1"/status; }
stop_all() {
	local i pid pids=""
	for i in 1 2 3 4 5; do pids="$pids $(node_pid "$i")"; done
	kill -TERM $pids || return 1
	for pid in $pids; do wait_until 20 exited "$pid" || return 1; done
	for i in 1 2 3 4 5; do
		test ! -e "$T_DIR/n$i.pid" || { echo "n$i.pid left"; return 1; }
		grep -q stopped "$T_DIR/n$i.log" || { echo "n$i: no 'stopped'"; return 1; }
	done
}
ok "SIGTERM to all five at once: each stops cleanly" stop_all
