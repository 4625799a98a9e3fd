#!/usr/bin/env bash
# A quorumfs mount of a TLS cluster: with a client certificate it reads and
# writes (and quorumctl sees the same files); without credentials, or with
# a certificate of another CA, it does not mount (a clear error, a
# non-zero exit) and the cluster serves on.
T_NET=101
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
plan 12

CERTS="$T_DIR/certs" OTHER="$T_DIR/other"
tls_certs "$CERTS" n1 n2 n3 fs
tls_certs "$OTHER" mallory
tls_client "$CERTS" fs
T_CERTS=$CERTS
cluster_start 3
Q="$QUORUMCTL"
tls_opts() { echo "tls_ca=$1/ca.crt,tls_cert=$2.crt,tls_key=$2.key"; }

ok "mount with a client certificate" fs_mount m -o "nodes=$NODES,$(tls_opts "$CERTS" "$CERTS/fs")"
M="$T_DIR/m"
ok "write a file through the mount" sh -c "mkdir -p '$M/d' && echo 'through TLS' > '$M/d/f'"
is "$("$Q" get /d/f)" "through TLS" "quorumctl reads it"
ok "a key written by quorumctl" "$Q" put /d/g "from quorumctl"
is "$(cat "$M/d/g")" "from quorumctl" "... is a file of the mount"

# bad_mount NAME PATTERN OPTIONS: quorumfs exits non-zero within 20 s,
# says PATTERN, and mounts nothing.
bad_mount() {
	local rc; mkdir -p "$T_DIR/$1"
	timeout 20 "$QUORUMFS" -f -o "nodes=$NODES,timeout=2,$3" "$T_DIR/$1" 2>"$T_DIR/$1.err"; rc=$?
	cat "$T_DIR/$1.err"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "exit status $rc"; return 1; }
	grep -q "$2" "$T_DIR/$1.err" || { echo "no '$2'"; return 1; }
	! fs_mounted "$T_DIR/$1" || { echo "mounted"; return 1; }
}
ok "without credentials the mount is refused" bad_mount plain "cannot mount.*requires TLS" "log_level=error"
ok "with a certificate of another CA the mount is refused" \
	bad_mount other "cannot mount.*unknown ca" "$(tls_opts "$CERTS" "$OTHER/mallory")"
ok "with a missing key file: a clear error" \
	bad_mount nokey "TLS key $T_DIR/none.key: No such file" \
	"tls_ca=$CERTS/ca.crt,tls_cert=$CERTS/fs.crt,tls_key=$T_DIR/none.key"
ok "the mount still reads" sh -c "test \"\$(cat '$M/d/f')\" = 'through TLS'"
ok "unmount" fs_umount m
