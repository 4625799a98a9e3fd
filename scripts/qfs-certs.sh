#!/usr/bin/env bash
# qfs-certs.sh - make the credentials of a quorumfs cluster with the openssl
# command: a cluster CA, a certificate per node and per client.
#
#   qfs-certs.sh ca DIR                 DIR/ca.crt and DIR/ca.key (the CA)
#   qfs-certs.sh node DIR NAME [DAYS]   DIR/NAME.crt, DIR/NAME.key: a node
#   qfs-certs.sh client DIR NAME [DAYS] DIR/NAME.crt, DIR/NAME.key: a client
#
# A node certificate has the extended key usages serverAuth and clientAuth
# (a node accepts connections and opens them to other nodes); a client
# certificate has clientAuth only, and a node refuses it every message only
# nodes send (lib/tls.h, quorumd.conf(5) SECURITY).  Keys are EC P-256,
# written 0600.  Certificates last DAYS days (default 825; the CA 3650).
# NAME becomes the certificate's common name, shown in logs.
#
# Why a script around openssl rather than a quorumctl subcommand: the
# commands are the standard ones, an operator can read, audit and adapt
# them (another key type, a corporate CA signing instead), and no key
# generation lives in quorumfs's own code.  The same commands by hand are in
# quorumd.conf(5), SECURITY.
#
# Keep DIR/ca.key off the nodes: it is needed only to make certificates.
set -euo pipefail

usage() {
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() { echo "qfs-certs.sh: $*" >&2; exit 1; }

command -v openssl >/dev/null || die "openssl not found: install the Debian package openssl"

# new_key FILE: an EC P-256 private key, readable by its owner only.
new_key() {
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$1" 2>/dev/null) || die "cannot write the key $1"
}

make_ca() {
	local dir=$1
	[ ! -e "$dir/ca.key" ] || die "$dir/ca.key exists: not overwriting a CA"
	mkdir -p "$dir"
	new_key "$dir/ca.key"
	openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 \
		-subj "/CN=quorumfs cluster CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/ca.crt" || die "cannot make the CA certificate"
	echo "CA: $dir/ca.crt (give it to every node and client), $dir/ca.key (keep it safe)"
}

# make_cert DIR NAME USAGE DAYS KIND
make_cert() {
	local dir=$1 name=$2 eku=$3 days=$4 ext
	[ -r "$dir/ca.crt" ] && [ -r "$dir/ca.key" ] ||
		die "no CA in $dir: run qfs-certs.sh ca $dir first"
	case "$name" in ''|*/*|ca) die "bad name \"$name\"" ;; esac
	case "$days" in ''|*[!0-9]*) die "DAYS \"$days\" is not a number" ;; esac
	new_key "$dir/$name.key"
	ext=$(mktemp)
	trap 'rm -f "$ext" "$dir/$name.csr"' RETURN
	printf '%s\n' "basicConstraints=critical,CA:FALSE" \
		"keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=$eku" >"$ext"
	openssl req -new -key "$dir/$name.key" -subj "/CN=$name" \
		-out "$dir/$name.csr" || die "cannot make the request for $name"
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" \
		-CAkey "$dir/ca.key" -CAcreateserial -sha256 -days "$days" \
		-extfile "$ext" -out "$dir/$name.crt" 2>/dev/null ||
		die "cannot sign the certificate of $name"
	echo "$days-day $5 certificate: $dir/$name.crt, key $dir/$name.key"
}

[ $# -ge 2 ] || usage
case "$1" in
ca)	[ $# -eq 2 ] || usage; make_ca "$2" ;;
node)	[ $# -ge 3 ] && [ $# -le 4 ] || usage
	make_cert "$2" "$3" "serverAuth,clientAuth" "${4:-825}" node ;;
client)	[ $# -ge 3 ] && [ $# -le 4 ] || usage
	make_cert "$2" "$3" "clientAuth" "${4:-825}" client ;;
*)	usage ;;
esac
