#!/usr/bin/env bash
# Start or stop a local quorumfs cluster: node i listens on 127.0.B.(10+i)
# port 7000+i (B is 0 unless -b says otherwise, so that clusters for
# different purposes never share an address), keeps its data in DIR/nI and
# logs to DIR/nI.log.
#
#   scripts/cluster.sh start [-n NODES] [-b B] [-d DIR] [--tls] [-- quorumd flags...]
#   scripts/cluster.sh stop  [-d DIR]
#   scripts/cluster.sh nodes [-n NODES] [-b B]      print the node list
#
# QFS_BIN names the directory holding quorumd and quorumctl (default: the
# build directory made by scripts/build.sh).  Prints the node list on start.
#
# Security: without --tls the nodes run with --insecure (plain TCP, each
# logs a WARNING); with --tls, scripts/qfs-certs.sh makes DIR/certs once (a
# CA, node certificates n1..nN, a client certificate "client") and the
# nodes use them; DIR/certs/client.env then holds the QUORUM_TLS_*
# variables quorumctl needs (source it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${QFS_BIN:-$top/build}
cmd=${1:-}; shift || true
nodes=3
net=0
dir=${QFS_CLUSTER_DIR:-/tmp/quorumfs-cluster}
tls=0
while [ $# -gt 0 ]; do
	case "$1" in
	--tls) tls=1; shift ;;
	-n) nodes=$2; shift 2 ;;
	-d) dir=$2; shift 2 ;;
	-b) net=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

node_addr() { echo "127.0.$net.$((10 + $1)):$((7000 + $1))"; }
members() {
	local i m=""
	for i in $(seq 1 "$nodes"); do m="$m${m:+,}n$i@$(node_addr "$i")"; done
	echo "$m"
}
node_list() {
	local i l=""
	for i in $(seq 1 "$nodes"); do l="$l${l:+,}$(node_addr "$i")"; done
	echo "$l"
}

# make_certs: DIR/certs for --tls (kept across restarts), and client.env.
make_certs() {
	local c=$dir/certs i
	[ -f "$c/ca.crt" ] || bash "$top/scripts/qfs-certs.sh" ca "$c" >&2
	for i in $(seq 1 "$nodes"); do
		[ -f "$c/n$i.crt" ] || bash "$top/scripts/qfs-certs.sh" node "$c" "n$i" >&2
	done
	[ -f "$c/client.crt" ] || bash "$top/scripts/qfs-certs.sh" client "$c" client >&2
	printf 'export QUORUM_TLS_CA=%s QUORUM_TLS_CERT=%s QUORUM_TLS_KEY=%s\n' \
		"$c/ca.crt" "$c/client.crt" "$c/client.key" >"$c/client.env"
}
# security I: node I's flags.
security() {
	if [ "$tls" = 1 ]; then
		echo "--tls-ca $dir/certs/ca.crt --tls-cert $dir/certs/n$1.crt --tls-key $dir/certs/n$1.key"
	elif "$bin/quorumd" --help 2>&1 | grep -q -- --insecure; then
		echo "--insecure"
	fi	# (a build from before TLS, for bench-ab.sh, has no such flag)
}

case "$cmd" in
start)
	mkdir -p "$dir"
	echo "$nodes" > "$dir/nodes"
	if [ "$tls" = 1 ]; then
		make_certs
		# shellcheck disable=SC1091
		. "$dir/certs/client.env"
	fi
	for i in $(seq 1 "$nodes"); do
		# shellcheck disable=SC2046 # security's words are flags
		"$bin/quorumd" --id "n$i" --data-dir "$dir/n$i" \
			--members "$(members)" --pid-file "$dir/n$i.pid" \
			$(security "$i") --daemon "$@" 2>>"$dir/n$i.log"
	done
	QUORUM_NODES=$(node_list) "$bin/quorumctl" wait --wait 30 >&2
	node_list
	;;
stop)
	for pidf in "$dir"/n*.pid; do
		[ -f "$pidf" ] || continue
		pid=$(cat "$pidf")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$pidf"
	done
	;;
nodes)
	node_list
	;;
*)
	sed -n '2,19p' "$0" >&2
	exit 2
	;;
esac
