#!/usr/bin/env bash
# Penalties for abuse: a connection that sends max_bad_frames undecodable
# frames in a row is told so and closed; a source address whose
# connections keep being closed for abuse (here: 2 GiB frame headers) has
# its connection attempts dropped by the kernel (a socket filter), and any
# accepted closed at once without a word, for a time that doubles up to
# abuse_penalty_ms, counted in stats and logged once per penalty; other clients are served meanwhile, the source
# gets in again after the penalty, a wrong protocol version is never a
# strike, and a member's address (a peer's) is never penalised.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-abuse.sh"
T_NET=120
plan 17
PEN=10000		# abuse_penalty_ms (the shipped default)
cluster_start 3 --abuse-penalty-ms $PEN
N1=$(node_addr 1)
SRC=127.0.$T_NET.50
stat() { "$QUORUMCTL" --node "$N1" stats | awk -v k="$1" '$1 == k { print $2 }'; }
penalty_lines() { grep -c ': shut out for' "$T_DIR/n1.log"; }

# 1. Undecodable frames: 8 answered, then the close, said first.
abuse garbage --garbage random --addr "$N1" --source 127.0.$T_NET.60 \
	--conns 1 --once --seconds 10
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "8 undecodable frames in a row: each answered (-4), then the connection closed" \
	test "$(result cut)" = 1 -a "$(result replies)" = 9 -a \
	-n "$(grep '^MSG code=-4 frame payload of 4096 bytes is not a valid Envelope (x8)' "$T_DIR/abuse.out")"
ok "... with an Error that says why first" \
	abuse_said "code=-2 8 undecodable frames in a row (max_bad_frames 8): closing"
ok "... and one strike is no penalty: the source is answered again" \
	sh -c "$ABUSE garbage --garbage random --addr $N1 --source 127.0.$T_NET.60 --conns 1 --once --seconds 10 | grep -q 'replies=9 '"

# 2. Oversized headers from SRC, again and again: penalised.
pen0=$(stat connections_penalised)
abuse garbage --garbage oversized --addr "$N1" --source $SRC --conns 4 --seconds 2
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "the first connections with a 2 GiB header get QERR_TOO_BIG (-3)" \
	abuse_said "code=-3 frame payload is 2147483647 bytes"
silent=$(result silent)
ok "after 3 strikes the source's connects hang, their SYNs dropped ($(result pending) at the end, $(result opened) opened in all)" \
	test "$(result pending)" -ge 1 -a "$(result opened)" -le 20 -a "$(result replies)" -le 12
pen=$(( $(stat connections_penalised) - pen0 ))
ok "connections_penalised counts those closed on accept all the same ($pen >= $silent)" \
	test "$pen" -ge "$silent"
lines=$(penalty_lines)
diag "$(grep ': shut out for' "$T_DIR/n1.log" | head -3)"
ok "logged once per penalty, not per connection ($lines lines)" \
	test "$lines" -ge 1 -a "$lines" -le 4
ok "the log line says who, how long, and why" grep -q \
	"$SRC: shut out for 250 ms: 3 connections in a row closed for abuse, the last for an absurd frame length" \
	"$T_DIR/n1.log"

# 3. Other clients are served while the source keeps at it.
ok "another client is served meanwhile" serving_during "$N1" /pen/k1 \
	garbage --garbage oversized --addr "$N1" --source $SRC --conns 4 --seconds 2

# 4. After abuse_penalty_ms the source gets in again.
answered_again() {
	$ABUSE garbage --garbage version --addr "$N1" --source $SRC --conns 1 \
		--once --seconds 2 | grep -q '^MSG code=-9'
}
t0=$(date +%s%N)
wait_until $((PEN / 1000 + 5)) answered_again
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "the source is answered again once the penalty is over ($ms ms)" \
	test $rc = 0 -a $ms -le $((PEN + 4000))

# 5. A wrong version is never a strike: an honest client of another release.
abuse garbage --garbage version --addr "$N1" --source 127.0.$T_NET.61 \
	--conns 2 --seconds 2
diag "$(grep -e RESULT "$T_DIR/abuse.out")"
ok "a wrong version (-9), again and again: always answered, never penalised" \
	test "$(result silent)" = 0 -a "$(result cut)" -ge 10 -a \
	"$(result replies)" = "$(result cut)"

# 6. A member's address is a peer's: never penalised, however it behaves.
pen0=$(stat connections_penalised)
abuse garbage --garbage oversized --addr "$N1" --source "$(node_ip 2)" \
	--conns 4 --seconds 2
diag "$(grep -e RESULT "$T_DIR/abuse.out")"
ok "oversized headers from node 2's address: each answered, none shut out" \
	test "$(result silent)" = 0 -a "$(result cut)" -ge 10 -a \
	"$(result replies)" = "$(result cut)"
ok "... connections_penalised unchanged" test "$(stat connections_penalised)" = "$pen0"
ok "and a write to all three replicas goes through" \
	"$QUORUMCTL" --node "$N1" --w 3 put /pen/all v

# 7. What it leaves a well-behaved client (the release build's figures:
# scripts/bench-abuse.sh; here the loose bound of lib-abuse.sh).
bench_populate "$N1" || bail "cannot populate the bench keys"
p99_check "oversized headers from a penalised source" "$N1" garbage \
	--garbage oversized --addr "$N1" --source 127.0.$T_NET.70 --conns 20
p99_check "undecodable frames from a penalised source" "$N1" garbage \
	--garbage random --addr "$N1" --source 127.0.$T_NET.71 --conns 20
