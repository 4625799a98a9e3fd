#!/usr/bin/env bash
# Quick start: install what is missing, build, start a local 3-node
# quorumfs cluster (nodes on 127.0.0.11-13, ports 7001-7003, data under
# /tmp/quorumfs-cluster), mount it at /mnt/quorumfs (or $QFS_MOUNT), then
# show it working.  Stop it with
#   fusermount3 -u /mnt/quorumfs; scripts/cluster.sh stop
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/deps.sh
export QFS_BUILD=${QFS_BUILD:-$top/build} QFS_CONFIGURE_FLAGS=${QFS_CONFIGURE_FLAGS:-}
build=$(bash scripts/build.sh)
export QFS_BIN=$build
mnt=${QFS_MOUNT:-/mnt/quorumfs}
if grep -q " $mnt fuse.quorumfs " /proc/mounts; then
	fusermount3 -u "$mnt" || fusermount3 -u -z "$mnt"
fi
bash scripts/cluster.sh stop >/dev/null 2>&1 || true
nodes=$(bash scripts/cluster.sh start)
export QUORUM_NODES=$nodes
q="$build/quorumctl"

echo "== a 3-node cluster is up: QUORUM_NODES=$nodes"
"$q" status
echo "== write and read a key"
"$q" put /hello "hello from quorumfs"
"$q" get /hello; echo
echo "== two writers race from the same context: siblings"
"$q" get --context-out /tmp/quorumfs-ctx /hello >/dev/null
"$q" --context @/tmp/quorumfs-ctx put /hello "edit from Alice"
"$q" --context @/tmp/quorumfs-ctx put /hello "edit from Bob"
"$q" get /hello || echo "(exit status $?: siblings)"
echo "== a write that saw both resolves them"
"$q" put /hello "merged by Carol"
"$q" get /hello; echo
echo "== mount it at $mnt: paths are keys, files are values"
mkdir -p "$mnt"
"$build/quorumfs" -o "nodes=$nodes,log=${QFS_CLUSTER_DIR:-/tmp/quorumfs-cluster}/mount.log" "$mnt"
mkdir -p "$mnt/docs"
echo "written through the mount" > "$mnt/docs/readme.txt"
ls -l "$mnt" "$mnt/docs"
cat "$mnt/docs/readme.txt"
echo "== ... and read back as a key"
"$q" get /docs/readme.txt
echo "== a conflict is a file beside the file"
"$q" get --context-out /tmp/quorumfs-ctx /docs/readme.txt >/dev/null
"$q" --context @/tmp/quorumfs-ctx put /docs/readme.txt "Alice's version"
"$q" --context @/tmp/quorumfs-ctx put /docs/readme.txt "Bob's version"
sleep 1.1	# the kernel's attribute and name caches: 1 s
ls "$mnt/docs"
"$q" conflicts / || true
diff "$mnt/docs/readme.txt" "$mnt/docs/readme.txt.~sibling-1" || true
echo "== resolve it: keep the version shown, discard the other"
rm "$mnt/docs/readme.txt.~sibling-1"
ls "$mnt/docs"
cat <<EOT
== the cluster keeps running, mounted at $mnt. Try:
   ls -l $mnt; cp -r /etc/default $mnt/
   export QUORUM_NODES=$nodes
   $q ls /
   $q stats
   fusermount3 -u $mnt; scripts/cluster.sh stop
EOT
