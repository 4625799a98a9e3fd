#!/usr/bin/env bash
# Start or stop a local quorumfs cluster: node i listens on 127.0.B.(10+i)
# port 7000+i (B is 0 unless -b says otherwise, so that clusters for
# different purposes never share an address), keeps its data in DIR/nI and
# logs to DIR/nI.log.
#
#   scripts/cluster.sh start [-n NODES] [-b B] [-d DIR] [-- quorumd flags...]
#   scripts/cluster.sh stop  [-d DIR]
#   scripts/cluster.sh nodes [-n NODES] [-b B]      print the node list
#
# QFS_BIN names the directory holding quorumd and quorumctl (default: the
# build directory made by scripts/build.sh).  Prints the node list on start.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${QFS_BIN:-$top/build}
cmd=${1:-}; shift || true
nodes=3
net=0
dir=${QFS_CLUSTER_DIR:-/tmp/quorumfs-cluster}
while [ $# -gt 0 ]; do
	case "$1" in
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

case "$cmd" in
start)
	mkdir -p "$dir"
	echo "$nodes" > "$dir/nodes"
	for i in $(seq 1 "$nodes"); do
		"$bin/quorumd" --id "n$i" --data-dir "$dir/n$i" \
			--members "$(members)" --pid-file "$dir/n$i.pid" \
			--daemon "$@" 2>>"$dir/n$i.log"
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
	sed -n '2,13p' "$0" >&2
	exit 2
	;;
esac
