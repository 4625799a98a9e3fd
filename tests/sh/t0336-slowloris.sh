#!/usr/bin/env bash
# Slow clients (slowloris): many connections, each trickling a frame a
# byte at a time, are cut frame_timeout_ms after the frame's first byte
# (plus a second per min_rate bytes that came), while the node serves
# others at their usual latency and its memory stays bounded.  A client
# that is slow but keeps min_rate is never cut, however long its frame.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-abuse.sh"
T_NET=111
plan 12
FT=2000		# frame_timeout_ms
# Penalties off (--abuse-penalty-ms 0): this test looks at what each
# connection gets; t0341 at what a source that keeps at it gets.
cluster_start 3 --abuse-penalty-ms 0 --frame-timeout-ms $FT --min-rate 65536 --max-frame 8388608 \
	--max-value-size 4194304
N1=$(node_addr 1)
PID1=$(node_pid 1)
SRC=127.0.$T_NET.50	# the abuser's own address
SWEEP=200		# guard_interval_ms: a tenth of FT

bench_populate "$N1" || bail "cannot populate the bench keys"
hwm_start "$PID1"
# 40 connections for 7 s, each sending a byte every 0.5 s; a cut one is
# replaced at once.
ok "the node serves a put and a get while 40 slow clients trickle" \
	serving_during "$N1" /sl/probe slowloris --addr "$N1" --source $SRC \
	--conns 40 --seconds 7 --interval 0.5
diag "$(grep RESULT "$T_DIR/abuse.out")"
cut=$(result cut); cmin=$(result cut_ms_min); cmed=$(result cut_ms_med)
ok "every slow connection was cut (more than the 40 first: $cut)" \
	test "$cut" -ge 40
# The first bytes bring 5 ms of credit: the cut comes after FT, within a
# sweep and the loop's delay (the median: a loaded machine may stall it).
ok "... none before frame_timeout_ms ($cmin >= $FT ms)" test "$cmin" -ge $FT
ok "... most within a sweep and a second after it (median $cmed ms)" \
	test "$cmed" -le $((FT + SWEEP + 1000))
ok "the node logs why it cut them" \
	grep -q "closing: a frame unfinished after" "$T_DIR/n1.log"
# Each slow connection holds a few bytes of input: 64 KiB each at most.
hwm_check "$PID1" $((40 * 64))

# Slow but fair: 2 MiB at 256 KiB/s takes 8 s, four times frame_timeout_ms.
abuse slowput --addr "$N1" --once --conns 1 --size 2097152 --rate 262144 \
	--key /sl/slow-fair --seconds 30
diag "$(grep RESULT "$T_DIR/abuse.out")"
is "$(result answered)" 1 "a put sent at 256 KiB/s for 8 s is answered"
# Slower than min_rate: 4 KiB at once, then 16 KiB/s.  After t s,
# 4 + 16 t KiB came, worth 62.5 ms + t/4 s of credit: cut once
# t > 2.0625 + t/4, at 2.75 s.
abuse slowput --addr "$N1" --once --conns 1 --size 2097152 --rate 16384 \
	--key /sl/slow-unfair --seconds 30
diag "$(grep RESULT "$T_DIR/abuse.out")"
cmin=$(result cut_ms_min)
ok "a put sent at 16 KiB/s is cut after 2.75 s, within a sweep ($cmin ms)" \
	test "$(result answered)" = 0 -a "$cmin" -ge 2750 -a \
	"$cmin" -le $((2750 + SWEEP + 1000))

p99_check "40 slow clients" "$N1" slowloris --addr "$N1" --source $SRC \
	--conns 40 --interval 0.5
ok "node 1 is the process it was" test "$(node_pid 1)" = "$PID1"
ok "and serves" "$QUORUMCTL" --node "$N1" get /sl/probe
