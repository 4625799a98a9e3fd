#!/usr/bin/env bash
# The size limits and their errors, as a client sees them: a frame over
# max_frame, a value over max_value_size, a key over max_key_size, an idle
# connection past idle_timeout_ms; and limits that contradict each other
# are refused at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-abuse.sh"
T_NET=110
plan 20

# ---- limits checked at start ----
start_fails() {	# start_fails EXPECTED_TEXT FLAGS...: quorumd refuses them
	local want=$1; shift
	! "$QUORUMD" --id n1 --data-dir "$T_DIR/bad" \
		--members "n1@127.0.$T_NET.11:7001" "$@" >"$T_DIR/start.out" 2>&1 &&
		grep -q "$want" "$T_DIR/start.out"
}
ok "max_output below max_frame is refused at start" \
	start_fails "max_output (8192) must be at least max_frame" --max-output 8192
ok "max_frame not above max_value_size is refused at start" \
	start_fails "max_frame (1048576) must be larger than max_value_size" \
	--max-frame 1048576 --max-value-size 1048576
ok "max_key_size over 4096 is refused at start" \
	start_fails 'max_key_size: "5000" is not a number from 16 to 4096' \
	--max-key-size 5000
ok "a count that is not a number is refused at start" \
	start_fails 'max_clients: "many" is not a number' --max-clients many
printf '[node]\nidle_timeout_ms = soon\n' >"$T_DIR/bad.conf"
ok "... in the config file too, naming the file" \
	start_fails "bad.conf: \[node\] idle_timeout_ms" -c "$T_DIR/bad.conf"

# refused_with WHAT TEXT COMMAND...: COMMAND fails and says TEXT.
refused_with() {
	local what=$1 text=$2 rc
	shift 2
	"$@" >"$T_DIR/cmd.out" 2>&1
	rc=$?
	diag "$what: exit $rc: $(cut -c1-200 "$T_DIR/cmd.out")"
	test $rc -ne 0 && grep -qF "$text" "$T_DIR/cmd.out"
}
put_file() { "$QUORUMCTL" --node "$N1" put "$1" <"$2"; }

IDLE=3000
cluster_start 3 --max-frame 2097152 --max-value-size 1048576 \
	--max-key-size 100 --idle-timeout-ms $IDLE
N1=$(node_addr 1)
PID1=$(node_pid 1)

# ---- frames over max_frame ----
abuse garbage --garbage oversized --addr "$N1" --conns 1 --once --seconds 5
diag "$(grep -e RESULT -e MSG "$T_DIR/abuse.out")"
ok "a frame header over max_frame gets QERR_TOO_BIG (-3) naming the limit" \
	abuse_said "code=-3 frame payload is 2147483647 bytes, the limit is 2097152"
ok "... and the connection is closed" test "$(result cut)" = 1
# 40 MiB: far more than the sockets buffer, so the node must read it all
# (dropping it) for the client, still sending, to read the answer: "frame
# payload is 4194308x bytes, the limit is 2097152" (x: the request id's
# length varies).
head -c 41943040 /dev/zero >"$T_DIR/v40m"
ok "a put whose frame is over max_frame fails with the limit named" \
	refused_with "a 40 MiB put" \
	"the limit is 2097152" \
	put_file /lim/huge "$T_DIR/v40m"
rm -f "$T_DIR/v40m"

# ---- values over max_value_size ----
head -c 1572864 /dev/zero >"$T_DIR/v1.5m"
ok "a value over max_value_size is refused, the limit named" \
	refused_with "a 1.5 MiB put" \
	"value of 1572864 bytes, the limit is 1048576 (max_value_size)" \
	put_file /lim/big "$T_DIR/v1.5m"
ok "... and nothing is stored" \
	sh -c "! '$QUORUMCTL' --node '$N1' get /lim/big"
head -c 1048576 /dev/zero >"$T_DIR/v1m"
ok "a value of exactly max_value_size is stored" \
	put_file /lim/max "$T_DIR/v1m"

# ---- keys over max_key_size ----
long=/lim/$(printf 'k%.0s' $(seq 1 96))	# 101 bytes
ok "a key over max_key_size is refused, the limit named" \
	refused_with "a put of a 101-byte key" \
	"key of 101 bytes, the limit is 100 (max_key_size)" \
	"$QUORUMCTL" --node "$N1" put "$long" v
ok "... for a get too" refused_with "a get" "the limit is 100" \
	"$QUORUMCTL" --node "$N1" get "$long"
ok "... and for a listing" refused_with "a listing" "the limit is 100" \
	"$QUORUMCTL" --node "$N1" ls "$long"
ok "a key of exactly max_key_size is stored" \
	"$QUORUMCTL" --node "$N1" put "${long%k}" v

# ---- idle connections ----
abuse flood --addr "$N1" --conns 3 --once --seconds 10
diag "$(grep RESULT "$T_DIR/abuse.out")"
ok "idle connections are closed after idle_timeout_ms, without an answer" \
	test "$(result cut)" = 3 -a "$(result replies)" = 0 -a \
	"$(result cut_ms_min)" -ge $IDLE -a \
	"$(result cut_ms_max)" -le $((IDLE + 300 + 1000))
ok "... and the node says why" grep -q "closing: idle for" "$T_DIR/n1.log"
# quorumctl bench keeps its connections; a pause past idle_timeout_ms
# between two calls of one process is what the client library handles by
# reconnecting: the shell's next call opens anew anyway, so check it here
# with a fresh process after the cut.
ok "clients still get in after idle ones were cut" \
	"$QUORUMCTL" --node "$N1" get /lim/max
ok "node 1 is the process it was" test "$(node_pid 1)" = "$PID1"
