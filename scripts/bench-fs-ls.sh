#!/usr/bin/env bash
# Listing at scale through quorumfs: put COUNT keys (default 100,000) in one
# directory with quorumctl's load generator (not through the mount: that is
# not what is measured), mount the cluster, and time `ls` and `ls -l` of
# that directory, twice each.  A 3-node cluster of its own on 127.0.95.x.
#
#   scripts/bench-fs-ls.sh [COUNT]
#
# BUILD names the build directory (default: build/, see scripts/build.sh);
# a build without sanitizers gives the figures worth quoting.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
count=${1:-100000}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-fs-ls.XXXXXX")
mnt="$work/mnt"
export QFS_BIN=$build QFS_CLUSTER_DIR=$work/cluster

cleanup() {
	if grep -q " $mnt fuse.quorumfs " /proc/mounts; then
		fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
	fi
	bash "$top/scripts/cluster.sh" stop -d "$work/cluster" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

ms() { echo $(( $(date +%s%N) / 1000000 )); }

nodes=$(bash "$top/scripts/cluster.sh" start -b 95 -d "$work/cluster")
export QUORUM_NODES=$nodes
echo "# cluster $nodes; putting $count keys of 100 bytes in /bench/v100"
t0=$(ms)
"$build/quorumctl" bench --op get --populate --seconds 0 --keys "$count" \
	--value-size 100 --clients 4 --pipeline 16 >/dev/null
echo "# populated in $(( $(ms) - t0 )) ms"
mkdir -p "$mnt"
"$build/quorumfs" -o "nodes=$nodes,log=$work/mount.log" "$mnt"
# The keys were put below directories that were never written: make them.
mkdir -p "$mnt/bench/v100"

run() {	# run LABEL COMMAND...: time it, count its lines
	local label=$1 t n
	shift
	t=$(ms)
	n=$("$@" | wc -l)
	echo "RESULT what=\"$label\" lines=$n ms=$(( $(ms) - t ))"
}
for round in 1 2; do
	run "ls" ls "$mnt/bench/v100"
	run "ls -l" ls -l "$mnt/bench/v100"	# one more line: "total"
done
