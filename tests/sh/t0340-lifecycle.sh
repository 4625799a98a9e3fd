#!/usr/bin/env bash
# A node's life: a cluster started from config files (quorumd -c FILE),
# SIGTERM under load (a clean exit, the pid file removed, no sanitizer
# report), restarts that keep every acknowledged write, the Prometheus
# endpoint; bad configurations and data directories refused with a clear
# message and a non-zero exit, starting nothing.
. "$(dirname "$0")/lib.sh"
T_NET=34
plan 36
Q="$QUORUMCTL"
T_NODES=3
NODES=$(node_list)
export QUORUM_NODES=$NODES
METRICS=127.0.$T_NET.11:9101

# conf_write I: node I's config file, with a [node] and a [cluster] section.
conf_write() {
	cat >"$T_DIR/n$1.conf" <<EOF
# quorumd.conf of node $1 (test $T_NET)
[node]
id = n$1
listen = $(node_addr "$1")
data_dir = $T_DIR/n$1
rack = rack$1
insecure = yes
$([ "$1" -eq 1 ] && echo "metrics = $METRICS")

[cluster]
members = $(for i in 1 2 3; do printf 'n%d@%s/rack%d ' "$i" "$(node_addr "$i")" "$i"; done)
n = 3
r = 2
w = 2
vnodes = 32
timeout_ms = 2000
EOF
}
answers() { "$Q" --node "$(node_addr "$1")" --timeout-ms 500 status; }
# conf_start I: start node I from its file, as a daemon.
conf_start() {
	"$QUORUMD" -c "$T_DIR/n$1.conf" --daemon --pid-file "$T_DIR/n$1.pid" \
		2>>"$T_DIR/n$1.log" && wait_until 20 answers "$1"
}
# exited PID: the process has exited (a zombie not reaped yet counts).
exited() { ! test -e /proc/"$1" || grep -q '^State:.*Z' /proc/"$1"/status; }

for i in 1 2 3; do conf_write "$i"; done
# Node 2 runs in the foreground, a child of this shell: its exit status
# is ours to see.
start_first() {
	conf_start 1 && conf_start 3 || return 1
	"$QUORUMD" -c "$T_DIR/n2.conf" --pid-file "$T_DIR/n2.pid" \
		2>>"$T_DIR/n2.log" </dev/null >/dev/null &
	N2_PID=$!
	wait_until 20 answers 2
}
ok "three nodes start from config files" start_first
"$Q" --node "$(node_addr 2)" status >"$T_DIR/status" 2>&1
ok "the files' n, r, w and vnodes are in force" \
	grep -q "3 members, n=3 r=2 w=2, 32 vnodes each" "$T_DIR/status"
ok "the [node] rack is this node's rack" \
	sh -c "grep -E '^n2 .* rack2 ' '$T_DIR/status'"
ring_view() {	# ring_view I: the ring as node I reports it: the columns
	# member, address, rack, primary and replicas of `quorumctl status`
	"$Q" --node "$(node_addr "$1")" status | awk '
		NR == 2 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR > 2 { print $col["member"], $col["address"], $col["rack"],
		    $col["primary"], $col["replicas"] }'
}
same_ring() {
	ring_view 1 >"$T_DIR/ring1" && ring_view 2 >"$T_DIR/ring2" &&
	ring_view 3 >"$T_DIR/ring3" &&
	diff "$T_DIR/ring1" "$T_DIR/ring2" && diff "$T_DIR/ring1" "$T_DIR/ring3"
}
ok "every node reports the same ring (members, racks, shares)" same_ring

# A writer runs through everything below until told to stop; it records
# each acknowledged write.
: >"$T_DIR/acked"
(
	i=0
	while [ ! -e "$T_DIR/stop" ]; do
		i=$((i + 1))
		"$Q" --timeout-ms 2000 put /lc/k$i "value $i" 2>/dev/null &&
			echo "/lc/k$i value $i" >>"$T_DIR/acked"
	done
) &
WRITER=$!
acked_at_least() { test "$(wc -l <"$T_DIR/acked")" -ge "$1"; }
wait_until 20 acked_at_least 5 || diag "the writer is slow"

kill -TERM "$N2_PID"
ok "SIGTERM under load: node 2 exits" wait_until 20 exited "$N2_PID"
wait "$N2_PID"
is "$?" 0 "... with status 0"
ok "... its pid file removed" test ! -e "$T_DIR/n2.pid"
ok "... saying it stopped" grep -q "stopped" "$T_DIR/n2.log"
ok "... with no sanitizer report" \
	sh -c "! grep -E 'Sanitizer|runtime error' '$T_DIR/n2.log'"
n=$(wc -l <"$T_DIR/acked")
ok "writes are acknowledged with node 2 down" wait_until 20 acked_at_least $((n + 5))
ok "node 2 restarts from its config file" conf_start 2
n=$(wc -l <"$T_DIR/acked")
ok "writes are acknowledged with node 2 back" wait_until 20 acked_at_least $((n + 5))
touch "$T_DIR/stop"
wait "$WRITER"
diag "$(wc -l <"$T_DIR/acked") writes acknowledged"

# The Prometheus endpoint of node 1 (metrics = in its file).
exec {H}<>"/dev/tcp/${METRICS%:*}/${METRICS#*:}"
printf 'GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n' "$METRICS" >&"$H"
timeout 5 cat <&"$H" >"$T_DIR/metrics"
exec {H}>&-
ok "GET /metrics answers 200 with Prometheus text" \
	sh -c "head -1 '$T_DIR/metrics' | grep -q '^HTTP/1.[01] 200' && grep -qi '^content-type: text/plain' '$T_DIR/metrics'"
ok "... counting node 1's puts in quorumd_puts_total" \
	grep -Eq '^quorumd_puts_total\{node="n1"\} [1-9][0-9]*' "$T_DIR/metrics"
disk_kb=$(df -Pk "$T_DIR/n1" | awk 'NR == 2 { print $2 }')
ok "... and the size of its data directory's disk (df: $disk_kb KiB)" \
	grep -Eq "^quorumd_disk_size_bytes\\{node=\"n1\"\\} $((disk_kb * 1024))\$" "$T_DIR/metrics"
ok "... and what is available there" \
	grep -Eq '^quorumd_disk_available_bytes\{node="n1"\} [1-9][0-9]*$' "$T_DIR/metrics"

# Stop the whole cluster with SIGTERM and start it again.
stop_all() {
	local i pid
	for i in 1 2 3; do
		pid=$(node_pid "$i") || return 1
		kill -TERM "$pid" && wait_until 20 exited "$pid" || return 1
		test ! -e "$T_DIR/n$i.pid" || { echo "n$i.pid left"; return 1; }
	done
}
ok "SIGTERM stops every node, each removing its pid file" stop_all
start_all() { conf_start 1 && conf_start 2 && conf_start 3; }
ok "the cluster starts again" start_all
check_acked() {
	local k v got
	while read -r k v; do
		got=$("$Q" get "$k") || { echo "get $k: exit $?"; return 1; }
		[ "$got" = "$v" ] || { echo "$k: '$got' not '$v'"; return 1; }
	done <"$T_DIR/acked"
}
ok "every acknowledged write survived the restarts" check_acked

# A node names its dots with an actor kept across clean stops; after a
# crash (whose unsynced dots may already be on other replicas) it takes a
# new one, so no dot is ever named twice.
actor_of() { sed -n 's/.*node n1 (actor \([^)]*\)).*/\1/p' "$T_DIR/n1.log" | tail -n "$1" | head -n 1; }
is "$(actor_of 1)" "$(actor_of 2)" "after a clean stop, node 1 keeps its actor"
kill -KILL "$(node_pid 1)"
wait_until 20 sh -c "! '$Q' --node $(node_addr 1) --timeout-ms 300 status >/dev/null 2>&1"
rm -f "$T_DIR/n1.pid"
conf_start 1 || bail "node 1 did not restart"
ok "after SIGKILL, node 1 takes a new actor" test "$(actor_of 1)" != "$(actor_of 2)"

# ---- bad configurations: refused, and nothing started ----
BAD_ADDR=127.0.$T_NET.50:7050
port_closed() { ! (exec 9<>"/dev/tcp/${BAD_ADDR%:*}/${BAD_ADDR#*:}") 2>/dev/null; }
# bad_start MESSAGE ARGS...: quorumd ARGS exits non-zero within 10 s,
# says MESSAGE, creates no data directory and listens nowhere.
bad_start() {
	local msg=$1 rc; shift
	timeout 10 "$QUORUMD" "$@" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"; rc=$?
	cat "$T_DIR/bad.err"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "exit status $rc"; return 1; }
	grep -q -- "$msg" "$T_DIR/bad.err" || { echo "no '$msg'"; return 1; }
	test ! -e "$T_DIR/bad" || { echo "$T_DIR/bad was created"; return 1; }
	port_closed || { echo "something listens on $BAD_ADDR"; return 1; }
}
# bad_conf LINES...: a config file, good but for LINES (which may override).
bad_conf() {
	{
		echo "[node]"
		echo "id = n1"
		echo "listen = $BAD_ADDR"
		echo "data_dir = $T_DIR/bad"
		echo "[cluster]"
		echo "members = n1@$BAD_ADDR,n2@127.0.$T_NET.51:7051"
		printf '%s\n' "$@"
		echo "insecure = yes"	# last: the tests name LINES' line numbers
	} >"$T_DIR/bad.conf"
}
bad_conf "colour = blue"
ok "an unknown key is refused, naming it, the file and the line" \
	bad_start 'bad.conf.*unknown option "colour".*line 7' -c "$T_DIR/bad.conf"
bad_conf "n = 2" "r = 3"
ok "r > n is refused" bad_start "must not exceed n=2" -c "$T_DIR/bad.conf"
bad_conf
sed -i '/^id = /d' "$T_DIR/bad.conf"
ok "a missing id is refused" bad_start "no node id" -c "$T_DIR/bad.conf"
bad_conf
sed -i 's/^id = n1/id = n9/' "$T_DIR/bad.conf"
ok "a member list without this node is refused" \
	bad_start 'this node "n9" is not in the member list' -c "$T_DIR/bad.conf"
bad_conf "vnodes = many"
ok "a non-number is refused" bad_start '"many" is not a number' -c "$T_DIR/bad.conf"
ok "a nonexistent config file is refused" \
	bad_start "$T_DIR/nonexistent.conf: cannot open" -c "$T_DIR/nonexistent.conf"
bad_conf "[nodes]" "id = n1"
ok "an unknown section is refused" bad_start "unknown section \[nodes\]" -c "$T_DIR/bad.conf"
bad_conf
ok "a bad flag value is refused, the flag winning over the file" \
	bad_start '"0" is not a number' -c "$T_DIR/bad.conf" --timeout-ms 0
# A data directory under a regular file cannot be created.
: >"$T_DIR/file"
bad_conf "data_dir = $T_DIR/file/data"
ok "a data directory under a regular file: a message and exit 1" \
	bad_start "data directory $T_DIR/file/data: Not a directory" -c "$T_DIR/bad.conf"
ok "... also with --daemon: the exit status says it failed" \
	bad_start "data directory $T_DIR/file/data: Not a directory" \
	-c "$T_DIR/bad.conf" --daemon --pid-file "$T_DIR/bad.pid"
ok "... and no pid file is left behind" test ! -e "$T_DIR/bad.pid"
# A second daemon on the data directory of a running node.
epoch_before=$(cat "$T_DIR/n1/epoch")
ok "a second daemon on a running node's data directory is refused" \
	bad_start "in use by another process" --id n1 \
	--members "$(node_members)" --listen "$BAD_ADDR" --data-dir "$T_DIR/n1" --insecure
is "$("$Q" --node "$(node_addr 1)" --r 3 get /lc/k1)" "value 1" \
	"... and the running node serves on"
is "$(cat "$T_DIR/n1/epoch")" "$epoch_before" \
	"... its epoch file untouched by the refused daemon"
