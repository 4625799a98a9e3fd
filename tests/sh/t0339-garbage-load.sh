#!/usr/bin/env bash
# Garbage under load: frames whose payload does not decode (answered with
# QERR_CORRUPT, the connection goes on, up to max_bad_frames in a row,
# then an Error saying so and the close), headers claiming 2 GiB
# (QERR_TOO_BIG, closed) and a wrong protocol version (QERR_PROTO,
# closed), sent as fast as the node answers, while a well-behaved client
# keeps its latency and the node its memory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-abuse.sh"
T_NET=114
plan 11
# Penalties off (--abuse-penalty-ms 0): this test looks at what each
# connection gets; t0341 at what a source that keeps at it gets.
cluster_start 3 --abuse-penalty-ms 0
N1=$(node_addr 1)
PID1=$(node_pid 1)
SRC=127.0.$T_NET.50
bench_populate "$N1" || bail "cannot populate the bench keys"
hwm_start "$PID1"
bad_before=$("$QUORUMCTL" --node "$N1" stats | awk '$1 == "bad_frames" { print $2 }')

abuse garbage --garbage random --addr "$N1" --source $SRC --conns 10 --seconds 3
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "undecodable frames are answered with QERR_CORRUPT (-4), again and again" \
	test "$(result replies)" -ge 100 -a -n "$(grep '^MSG code=-4 frame payload of 4096 bytes is not a valid Envelope' "$T_DIR/abuse.out")"
ok "... 8 in a row on one connection, then an Error that says so, and the close" \
	test "$(result cut)" -ge 10 -a "$(result replies)" -ge $((9 * $(result cut))) -a \
	-n "$(grep '^MSG code=-2 8 undecodable frames in a row (max_bad_frames 8): closing' "$T_DIR/abuse.out")"
abuse garbage --garbage oversized --addr "$N1" --source $SRC --conns 10 --seconds 3
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "2 GiB headers get QERR_TOO_BIG (-3), each connection closed after it" \
	test "$(result cut)" -ge 100 -a "$(result replies)" = "$(result cut)" -a \
	-n "$(grep '^MSG code=-3 frame payload is 2147483647 bytes, the limit is 83886080' "$T_DIR/abuse.out")"
abuse garbage --garbage version --addr "$N1" --source $SRC --conns 10 --seconds 3
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "a wrong version gets QERR_PROTO (-9), each connection closed after it" \
	test "$(result cut)" -ge 100 -a "$(result replies)" = "$(result cut)" -a \
	-n "$(grep '^MSG code=-9 frame has protocol version 7, this build speaks 1' "$T_DIR/abuse.out")"
bad=$(( $("$QUORUMCTL" --node "$N1" stats | awk '$1 == "bad_frames" { print $2 }') - bad_before ))
ok "bad_frames counts them ($bad)" test "$bad" -ge 300

# Garbage costs a frame's worth of memory while it is decoded, and nothing
# after: 64 KiB of input for each of the 10 connections.
hwm_check "$PID1" $((10 * 64))

p99_check "undecodable frames" "$N1" garbage --garbage random --addr "$N1" \
	--source $SRC --conns 10
p99_check "oversized headers" "$N1" garbage --garbage oversized --addr "$N1" \
	--source $SRC --conns 10
ok "node 1 is the process it was" test "$(node_pid 1)" = "$PID1"
ok "and serves" "$QUORUMCTL" --node "$N1" get /bench/v1000/k1
