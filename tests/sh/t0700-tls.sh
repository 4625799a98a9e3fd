#!/usr/bin/env bash
# TLS between nodes and for clients (lib/tls.h): a secure cluster serves
# quorumctl with a client certificate; a client with no certificate, one of
# another CA, an expired one, or plain TCP can neither read nor write (a
# clear error, a non-zero exit) and the nodes serve on; a client
# certificate cannot send a node's messages; a node with a certificate of
# another CA cannot join; bad credentials stop a node at start; a node
# without security says so in a WARNING.
T_NET=100
. "$(dirname "$0")/lib.sh"
plan 44

CERTS="$T_DIR/certs" OTHER="$T_DIR/other"
# late: a 0-day certificate, expired the second it is made.
tls_certs "$CERTS" n1 n2 n3 n5 alice late:0
tls_certs "$OTHER" n4 mallory
wait_until 10 sh -c "! openssl x509 -checkend 0 -noout -in '$CERTS/late.crt'" ||
	bail "the 0-day certificate did not expire"

tls_client "$CERTS" alice
T_CERTS=$CERTS
cluster_start 3
Q="$QUORUMCTL"

# ---- a secure cluster serves a client with a client certificate ----
ok "put with a client certificate" "$Q" put /tls/a "secret value"
is "$("$Q" get /tls/a)" "secret value" "get reads it back"
ok "ls lists it" sh -c "'$Q' ls /tls | grep -qx a"
ok "put and delete another key" sh -c "'$Q' put /tls/b x && '$Q' delete /tls/b"
is "$("$Q" get /tls/b >/dev/null 2>&1; echo $?)" 3 "... which is gone (exit 3)"
ok "the nodes reach each other over TLS (all up, connected)" cluster_meshed

# refused NAME PATTERN CMD...: CMD exits non-zero (not 2: usage) and says
# PATTERN on stderr.
refused() {
	local pat=$1 rc; shift
	"$@" >"$T_DIR/refused.out" 2>"$T_DIR/refused.err"; rc=$?
	cat "$T_DIR/refused.err"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || { echo "exit status $rc"; return 1; }
	grep -q -- "$pat" "$T_DIR/refused.err" || { echo "no '$pat'"; return 1; }
}
# Each kind of bad client tries to read and to write.
bad_client() {	# bad_client WHAT PATTERN ENV...
	local what=$1 pat=$2; shift 2
	ok "$what: get refused" refused "$pat" env "$@" "$Q" --timeout-ms 2000 get /tls/a
	ok "$what: put refused" refused "$pat" env "$@" "$Q" --timeout-ms 2000 put /tls/a "overwritten"
}
bad_client "no certificate (plain TCP to a TLS node)" "requires TLS closes plain connections" \
	-u QUORUM_TLS_CA -u QUORUM_TLS_CERT -u QUORUM_TLS_KEY
bad_client "a certificate of another CA" "unknown ca" \
	QUORUM_TLS_CA="$CERTS/ca.crt" QUORUM_TLS_CERT="$OTHER/mallory.crt" QUORUM_TLS_KEY="$OTHER/mallory.key"
bad_client "an expired certificate" "certificate expired" \
	QUORUM_TLS_CERT="$CERTS/late.crt" QUORUM_TLS_KEY="$CERTS/late.key"
ok "a client trusting another CA does not talk to the nodes" \
	refused "certificate verify failed" env QUORUM_TLS_CA="$OTHER/ca.crt" \
	QUORUM_TLS_CERT="$OTHER/mallory.crt" QUORUM_TLS_KEY="$OTHER/mallory.key" \
	"$Q" --timeout-ms 2000 get /tls/a
ok "a client with only some of the files: a usage error" \
	refused "missing: the key" env -u QUORUM_TLS_KEY "$Q" get /tls/a
# Raw bytes: a plain frame and a silent connection.
ok "plain bytes to a TLS node: the connection is closed" \
	bash -c "exec 3<>/dev/tcp/127.0.$T_NET.11/7001; printf 'hello, plain' >&3; timeout 10 cat <&3 >/dev/null"
ok "a connection that never starts its handshake is closed (5 s limit)" \
	bash -c "exec 3<>/dev/tcp/127.0.$T_NET.12/7002; timeout 15 cat <&3 >/dev/null"
ok "the nodes still serve, the value unchanged" sh -c "test \"\$('$Q' --r 3 get /tls/a)\" = 'secret value'"
ok "the refusals are logged with the reason" \
	sh -c "grep -h 'TLS handshake failed' '$T_DIR'/n*.log | grep -q 'certificate has expired'"

# ---- a client certificate cannot act as a node ----
ok "check-replicas (a node's message) with a client certificate: refused" \
	refused "needs a node certificate" "$Q" check-replicas
ok "repair with a client certificate: refused" refused "needs a node certificate" "$Q" --node "$(node_addr 1)" repair
ok "join with a client certificate: refused" refused "needs a node certificate" "$Q" join "n9@127.0.$T_NET.19:7009"
ok "leave with a client certificate: refused" refused "needs a node certificate" "$Q" leave n3
ok "cleanup with a client certificate: refused" refused "needs a node certificate" "$Q" --node "$(node_addr 1)" cleanup
ok "... and the cluster is unchanged: three members" \
	sh -c "'$Q' status | grep -c '^n[0-9]' | grep -qx 3"
ok "check-replicas with a node certificate works" \
	env QUORUM_TLS_CERT="$CERTS/n1.crt" QUORUM_TLS_KEY="$CERTS/n1.key" "$Q" check-replicas

# ---- a node with a certificate of another CA cannot join ----
N4=127.0.$T_NET.14:7004
"$QUORUMD" --id n4 --data-dir "$T_DIR/n4" --listen "$N4" --seeds "$(node_addr 1)" \
	--tls-ca "$OTHER/ca.crt" --tls-cert "$OTHER/n4.crt" --tls-key "$OTHER/n4.key" \
	--pid-file "$T_DIR/n4.pid" --daemon 2>>"$T_DIR/n4.log"
ok "a node of another CA starts (its own credentials are good)" test -s "$T_DIR/n4.pid"
ok "... its join fails the TLS handshake" \
	wait_until 20 grep -q 'TLS handshake failed' "$T_DIR/n4.log"
# n4 checks n1's certificate first (TLS 1.3), fails it and tells n1.
ok "... the seed logs the failed handshake" \
	wait_until 20 grep -q 'TLS handshake failed: TLS: tlsv1 alert unknown ca' "$T_DIR/n1.log"
ok "... and the cluster still has three members, n4 not among them" \
	sh -c "'$Q' status >'$T_DIR/status' && ! grep -q '^n4' '$T_DIR/status' && test \$(grep -c '^n[0-9]' '$T_DIR/status') = 3"
N4_PID=$(cat "$T_DIR/n4.pid")
kill -TERM "$N4_PID" 2>/dev/null
wait_until 20 proc_gone "$N4_PID"

# ---- the nodes' own clients to each other speak TLS as nodes ----
# Anti-entropy, transfers and cleanup reach the peers through the client
# library, with the node's certificate.
as_node() { env QUORUM_TLS_CERT="$CERTS/n1.crt" QUORUM_TLS_KEY="$CERTS/n1.key" "$@"; }
ok "repair (anti-entropy between nodes) with a node certificate" \
	sh -c "QUORUM_TLS_CERT='$CERTS/n1.crt' QUORUM_TLS_KEY='$CERTS/n1.key' '$Q' --node '$(node_addr 1)' repair | grep -q ' 2 peers, '"
N5=127.0.$T_NET.15:7005
"$QUORUMD" --id n5 --data-dir "$T_DIR/n5" --listen "$N5" --seeds "$(node_addr 1)" \
	--tls-ca "$CERTS/ca.crt" --tls-cert "$CERTS/n5.crt" --tls-key "$CERTS/n5.key" \
	--pid-file "$T_DIR/n5.pid" --daemon 2>>"$T_DIR/n5.log"
n5_normal() { "$Q" status | awk '$1 == "n5" { print $10 }' | grep -qx normal; }
ok "a node of the cluster's CA joins through a seed, its ranges pulled over TLS" \
	wait_until 60 n5_normal
ok "... every key is on all its replicas" as_node "$Q" check-replicas
# Right after a join the others learn the new member list by gossip, and a
# cleanup asked before every member has it is refused ("try again
# shortly"): asked again until then, and only then.
cleanup_settled() {
	local end=$((SECONDS + 30))
	while ! as_node "$Q" --node "$(node_addr 1)" cleanup >"$T_DIR/cleanup.out" 2>&1; do
		if ! grep -q "member list yet" "$T_DIR/cleanup.out" || [ $SECONDS -ge $end ]; then
			cat "$T_DIR/cleanup.out"
			return 1
		fi
		sleep 0.2
	done
}
ok "... cleanup (hand-off between nodes) runs over TLS" cleanup_settled
is "$("$Q" --node "$N5" --r 3 get /tls/a)" "secret value" "... and n5 serves the data"
N5_PID=$(cat "$T_DIR/n5.pid")
kill -TERM "$N5_PID" 2>/dev/null
wait_until 20 proc_gone "$N5_PID"

# ---- bad credentials stop a node at start ----
BAD=127.0.$T_NET.20:7020
# bad_start PATTERN FLAGS...: quorumd exits non-zero within 10 s saying PATTERN.
bad_start() {
	local pat=$1 rc; shift
	timeout 10 "$QUORUMD" --id b --data-dir "$T_DIR/bad" --members "b@$BAD" "$@" \
		>/dev/null 2>"$T_DIR/bad.err"; rc=$?
	cat "$T_DIR/bad.err"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "exit status $rc"; return 1; }
	grep -q -- "$pat" "$T_DIR/bad.err" || { echo "no '$pat'"; return 1; }
}
tls_of() { echo --tls-ca "$1" --tls-cert "$2" --tls-key "$3"; }
C=$CERTS
# shellcheck disable=SC2046
{
ok "neither TLS nor --insecure: refused" bad_start "no TLS credentials"
ok "a missing file: named" bad_start "$C/none.crt: No such file" $(tls_of "$C/ca.crt" "$C/none.crt" "$C/n1.key")
ok "a key that is not the certificate's" bad_start "n2.key: key values mismatch" $(tls_of "$C/ca.crt" "$C/n1.crt" "$C/n2.key")
ok "a CA file that holds no certificate" bad_start "TLS CA $C/n1.key" $(tls_of "$C/n1.key" "$C/n1.crt" "$C/n1.key")
ok "a client certificate for a node" bad_start "is a client certificate" $(tls_of "$C/ca.crt" "$C/alice.crt" "$C/alice.key")
ok "a certificate of another CA" bad_start "does not verify against the CA" $(tls_of "$C/ca.crt" "$OTHER/n4.crt" "$OTHER/n4.key")
ok "TLS files and --insecure together" bad_start "choose one" $(tls_of "$C/ca.crt" "$C/n1.crt" "$C/n1.key") --insecure
}

# ---- a node without security says so ----
timeout 20 "$QUORUMD" --id w --data-dir "$T_DIR/w" --members "w@$BAD" --insecure \
	--pid-file "$T_DIR/w.pid" --daemon 2>"$T_DIR/w.log"
ok "--insecure logs a WARNING naming the risk" \
	grep -q 'WARNING: security is off.*neither authenticated nor encrypted' "$T_DIR/w.log"
W_PID=$(cat "$T_DIR/w.pid")
kill -TERM "$W_PID" 2>/dev/null
wait_until 20 proc_gone "$W_PID"
ok "a secure node logs no such warning" sh -c "! grep -q 'security is off' '$T_DIR/n1.log'"
check_logs "$T_DIR/n4.log" "$T_DIR/w.log" >/dev/null || diag "sanitizer report in n4 or w"
