#!/usr/bin/env bash
# Clients that misbehave on the wire: garbage, a frame header claiming
# 2 GiB, a wrong protocol version, a frame cut short, frames that do not
# decode, requests this node does not serve, peer messages (hints, key
# states, Merkle, purge, gossip) from a stranger, requests whose client
# leaves before the answer, hundreds of connections opened and dropped.
# After each the daemon is alive and serves; refused frames are counted.
#
# Frames are built here by hand (proto/frame.h: 4-byte big-endian length,
# version byte 1, a packed quorum.Envelope) as hex strings, and sent with
# bash's /dev/tcp.
. "$(dirname "$0")/lib.sh"
T_NET=33
plan 34
# A quick failure detector, so that a node wrongly held down shows soon.
cluster_start 3 --timeout-ms 2000 --gossip-interval-ms 100 --phi-threshold 5
Q="$QUORUMCTL"
N1=$(node_addr 1)
HOST=127.0.$T_NET.11
PORT=7001
PID1=$(node_pid 1)

# ---- protobuf and frames as hex ----
hx() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
varint() {
	local n=$1 out="" b
	while :; do
		b=$((n & 127)); n=$((n >> 7))
		if [ "$n" -gt 0 ]; then out="$out$(printf %02x $((b | 128)))"
		else out="$out$(printf %02x "$b")"; break; fi
	done
	echo "$out"
}
pb_uint() { echo "$(varint $(($1 << 3)))$(varint "$2")"; }
pb_len() { echo "$(varint $((($1 << 3) | 2)))$(varint $((${#2} / 2)))$2"; }
pb_str() { pb_len "$1" "$(hx "$2")"; }
frame() { printf '%08x%s%s' $((${#1} / 2)) "${2:-01}" "$1"; }
ring_req() { frame "$(pb_uint 1 "$1")$(pb_len 98 "")"; }	# ID
get_req() {	# ID KEY R TIMEOUT_MS
	frame "$(pb_uint 1 "$1")$(pb_len 16 "$(pb_str 1 "$2")$(pb_uint 2 "$3")$(pb_uint 3 1)$(pb_uint 4 "$4")")"
}
put_req() {	# ID KEY VALUE TIMEOUT_MS [CONTEXT_HEX]
	frame "$(pb_uint 1 "$1")$(pb_len 18 "$(pb_str 1 "$2")${5:+$(pb_len 2 "$5")}$(pb_str 4 "$3")$(pb_uint 7 "$4")$(pb_uint 8 "$1")")"
}
list_req() { frame "$(pb_uint 1 "$1")$(pb_len 22 "$(pb_str 1 "$2")$(pb_uint 5 "$3")")"; }

# ---- raw connections ----
conn_open() { exec {C}<>"/dev/tcp/$HOST/$PORT"; }
conn_close() { exec {C}>&-; }
send() { printf "$(echo "$1" | sed 's/../\\x&/g')" >&"$C"; }
# recv: one frame's payload into $T_DIR/reply, within 5 s.
recv() {
	local h
	h=$(timeout 5 dd bs=5 count=1 iflag=fullblock status=none <&"$C" |
	    od -An -tu1 -v)
	set -- $h
	[ $# -eq 5 ] || return 1
	timeout 5 dd bs=$((($1 << 24) | ($2 << 16) | ($3 << 8) | $4)) \
	    count=1 iflag=fullblock status=none <&"$C" >"$T_DIR/reply"
}
# The daemon closed the connection (EOF or reset), within 5 s.
closed_by_daemon() { timeout 5 cat <&"$C" >/dev/null 2>&1; [ $? -ne 124 ]; }
reply_has() { grep -aq "$1" "$T_DIR/reply"; }

counter() {	# counter NAME: node 1's stats counter
	"$Q" --node "$N1" stats | awk -v n="$1" '$1 == n { print $2 }'
}
SERIAL=0
# Node 1 is alive and coordinates a write and a read of a new key.
serves() {
	SERIAL=$((SERIAL + 1))
	kill -0 "$PID1" &&
	"$Q" --node "$N1" --blind put /bc/probe$SERIAL "v$SERIAL" &&
	test "$("$Q" --node "$N1" get /bc/probe$SERIAL)" = "v$SERIAL"
}

bad_before=$(counter bad_frames)

conn_open
send "$(hx "GET / HTTP/1.0")0d0a0d0a"
recv; reply_has "protocol version"
is "$?" 0 "garbage (an HTTP request) is answered with a protocol error"
ok "... and the connection is closed" closed_by_daemon
conn_close
ok "the daemon still serves after garbage" serves

conn_open
send "800000000100000000"
recv; reply_has "the limit is"
is "$?" 0 "a header claiming 2 GiB is refused as over the limit"
ok "... and the connection is closed" closed_by_daemon
conn_close
ok "the daemon still serves after a 2 GiB header" serves

conn_open
send "$(ring_req 5 | sed 's/^\(.\{8\}\)01/\102/')"
recv; reply_has "protocol version 2"
is "$?" 0 "a frame with protocol version 2 is refused"
ok "... and the connection is closed" closed_by_daemon
conn_close
ok "the daemon still serves after a wrong version" serves

conn_open
send "0000006401$(hx "only ten b")"
conn_close
ok "a frame cut short, then a disconnect: the daemon still serves" serves

# Bad payloads in whole frames: each answered with an Error, and the
# connection goes on (a valid request after them is answered).
conn_open
send "$(frame ffffffff)"
recv; reply_has "not a valid Envelope"
is "$?" 0 "a frame whose payload does not decode is answered with an error"
send "$(frame "")"
recv; reply_has "has no body"
is "$?" 0 "an empty envelope is answered with an error"
send "$(frame "$(pb_uint 1 9)$(pb_len 17 "")")"
recv; reply_has "does not serve"
is "$?" 0 "a message the node does not serve (a GetResponse) is refused"
send "$(put_req 10 /bc/ctx v 1000 ffff)"
recv; reply_has "context of 2 bytes does not decode"
is "$?" 0 "a put with a context that does not decode is refused"
send "$(frame "$(pb_uint 1 11)$(pb_len 32 "$(pb_str 1 relative)")")"
recv; reply_has "key must start"
is "$?" 0 "a replica write of an invalid key is refused"
send "$(get_req 12 /bc/none 200 1000)"
recv; reply_has "more than the 3 replicas"
is "$?" 0 "a get with r=200 is refused"
# The peers' own messages, which any client can send too.
send "$(frame "$(pb_uint 1 14)$(pb_len 48 "$(pb_str 1 n9)$(pb_len 3 "$(pb_uint 1 1)$(pb_str 2 /bc/h)")")")"
recv; reply_has "hints for another node"
is "$?" 0 "a hint batch for another node is refused"
send "$(frame "$(pb_uint 1 15)$(pb_len 83 "$(pb_len 1 "$(pb_str 1 nope)")")")"
recv; reply_has "key must start"
is "$?" 0 "pushed key states with an invalid key are refused"
send "$(frame "$(pb_uint 1 16)$(pb_len 80 "$(pb_uint 1 1)$(pb_uint 2 2)$(pb_uint 3 40)")")"
recv; reply_has "not a range"
is "$?" 0 "a Merkle request for a range nobody owns is refused"
send "$(frame "$(pb_uint 1 17)$(pb_len 102 "$(pb_str 1 /bc/probe1)")")"
recv; reply_has "without a digest"
is "$?" 0 "a purge request without a digest is refused"
send "$(ring_req 13)"
recv; reply_has "127.0.$T_NET.13:7003"
is "$?" 0 "after all that, a ring request on the same connection is answered"
conn_close

bad=$(( $(counter bad_frames) - bad_before ))
diag "bad_frames went up by $bad"
ok "bad_frames counts the 6 frames refused for their framing or payload" \
	test "$bad" -ge 6

# Clients that leave before their answer: with nodes 2 and 3 stopped no
# quorum of 2 can be met before the requests' timeout of 2 s.  (Frames are
# built before connecting, so that each client leaves at once.)
qf_before=$(counter quorum_failures)
three="$(get_req 20 /bc/probe1 2 2000)$(put_req 21 /bc/left v 2000)$(list_req 22 /bc 2000)"
twenty=""
for i in $(seq 30 49); do twenty="$twenty$(get_req $i /bc/k$i 2 2000)"; done
node_kill 2 STOP
node_kill 3 STOP
conn_open; send "$three"; conn_close
conn_open; send "$twenty"; conn_close
ok "requests whose client left time out on node 1" \
	wait_until 20 sh -c "test \$('$Q' --node '$N1' stats | awk '\$1 == \"quorum_failures\" { print \$2 }') -ge $((qf_before + 23))"
node_kill 2 CONT
node_kill 3 CONT
ok "the daemon still serves after clients left mid-request" serves

# A client in the middle of a large frame does not hold up the others.
conn_open
send "0200000001$(hx "the first bytes of 32 MiB")"
ok "a half-sent 32 MiB frame does not block other clients" serves
conn_close

conns_before=$(counter connections)
fds_before=$(ls /proc/"$PID1"/fd | wc -l)
fds=""
for i in $(seq 1 200); do
	exec {f}<>"/dev/tcp/$HOST/$PORT" && fds="$fds $f"
done
for f in $fds; do exec {f}>&-; done
for i in $(seq 1 200); do
	exec {f}<>"/dev/tcp/$HOST/$PORT" && exec {f}>&-
done
ok "400 connections opened and dropped (200 at once): the daemon serves" serves
conns=$(( $(counter connections) - conns_before ))
ok "... it accepted them all ($conns)" test "$conns" -ge 400
fds_now() { test "$(ls /proc/"$PID1"/fd | wc -l)" -le $((fds_before + 2)); }
ok "... and closed them all (its open files are back to $fds_before)" \
	wait_until 10 fds_now
ok "node 1 is the process it was" test "$(node_pid 1)" = "$PID1"

# A gossip message from nobody in particular claims n2 restarted with an
# absurd generation.  Node 1 must not adopt it: n2's real heartbeats would
# then look older than the claim and be ignored, and node 1 would hold n2
# down for good.
state_on_1() {	# state_on_1 MEMBER: its state column as node 1 sees it
	"$Q" --node "$N1" status | awk -v m="$1" '
		NR == 2 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR > 2 && $1 == m { print $col["state"] }'
}
generation_on_1() {
	"$Q" --node "$N1" status | awk -v m="$1" '
		NR == 2 { for (i = 1; i <= NF; i++) col[$i] = i }
		NR > 2 && $1 == m { print $col["generation"] }'
}
n2_up() { test "$(state_on_1 n2)" = up; }
n2_not_up() { test "$(state_on_1 n2)" != up; }
wait_until 20 n2_up || diag "n2 is not up on node 1 before the gossip: $(state_on_1 n2)"
gen=$(generation_on_1 n2)
diag "n2's generation on node 1: $gen"
conn_open
send "$(frame "$(pb_uint 1 60)$(pb_len 64 "$(pb_str 1 intruder)$(pb_len 2 "$(pb_str 1 n2)$(pb_uint 4 4611686018427387904)$(pb_uint 5 1)$(pb_uint 6 2)")")")"
recv; reply_has "only from members"
is "$?" 0 "a gossip message from a stranger is refused with an error"
conn_close
is "$(generation_on_1 n2)" "$gen" \
	"node 1 does not take n2's generation from a stranger's gossip"
ok "n2 stays up on node 1 (6 s, many times its detection time)" \
	eval '! wait_until 6 n2_not_up'
diag "n2 on node 1 now: $(state_on_1 n2), generation $(generation_on_1 n2)"
ok "the daemon still serves after the gossip" serves
