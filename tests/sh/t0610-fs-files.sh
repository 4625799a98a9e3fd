#!/usr/bin/env bash
# File content through quorumfs: a 64 MiB file (the store's largest value)
# round trip, EFBIG past it with a logged reason, sparse writes, truncate,
# O_APPEND, two descriptors of one file, concurrent writers (one mount
# never makes siblings of its own writes), and R=W=1 reading its writes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=91
plan 20
cluster_start 3 --timeout-ms 60000
Q="$QUORUMCTL"

# Large values are slow under the sanitizers: a generous request timeout.
ok "mount" fs_mount m -o "timeout=120"
M="$T_DIR/m"

head -c $((64 << 20)) /dev/urandom > "$T_DIR/big"
ok "a 64 MiB file is written" cp "$T_DIR/big" "$M/big"
ok "... reads back the same" cmp "$T_DIR/big" "$M/big"
ok "... and with quorumctl" sh -c "'$Q' --timeout-ms 120000 get /big | cmp - '$T_DIR/big'"
head -c $(((64 << 20) + 1)) /dev/zero > "$M/toobig" 2>"$T_DIR/efbig.err"; rc=$?
ok "a byte past 64 MiB fails" test "$rc" -ne 0
ok "... with EFBIG (File too large)" grep -q "File too large" "$T_DIR/efbig.err"
ok "... and a logged reason" grep -q "write past 67108864 bytes refused" "$T_DIR/m.fs.log"

ok "a sparse write (dd seek) reads zeros in the hole" sh -c "printf x | dd of='$M/sparse' bs=1 seek=100000 conv=notrunc 2>/dev/null && test \"\$(stat -c %s '$M/sparse')\" = 100001 && cmp -s -n 100000 '$M/sparse' /dev/zero"
ok "truncate up and down" sh -c "echo 123456789 > '$M/t' && truncate -s 4 '$M/t' && test \"\$(cat '$M/t')\" = 1234 && truncate -s 6 '$M/t' && test \"\$(stat -c %s '$M/t')\" = 6"
ok "O_APPEND writes at the end" sh -c "echo a > '$M/ap' && echo b >> '$M/ap' && echo c >> '$M/ap' && test \"\$(cat '$M/ap' | tr -d '\n')\" = abc"
ok "two descriptors of one file see each other's writes" python3 -c "
import os
a = os.open('$M/two', os.O_CREAT | os.O_RDWR, 0o644)
b = os.open('$M/two', os.O_RDWR)
os.write(a, b'from a')
assert os.pread(b, 6, 0) == b'from a', os.pread(b, 6, 0)
os.close(a); os.close(b)
assert open('$M/two').read() == 'from a'
"
ok "fsync writes the file out before close" python3 -c "
import os, subprocess
fd = os.open('$M/synced', os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b'durable')
os.fsync(fd)
out = subprocess.run(['$Q', 'get', '/synced'], capture_output=True).stdout
os.close(fd)
assert out == b'durable', out
"

# Concurrent writers: six processes, each appending to a file of its own
# and rewriting one shared file.
pids=""
for p in 1 2 3 4 5 6; do
	(
		for i in $(seq 1 20); do
			echo "$p $i" >> "$M/own$p"
			echo "$p $i" > "$M/shared"
		done
	) &
	pids="$pids $!"
done
wait $pids	# not the mounts: they are children too
ok "concurrent appenders each keep all their lines" sh -c "for p in 1 2 3 4 5 6; do test \$(wc -l < '$M/own'\$p) -eq 20 || exit 1; done"
ok "concurrent rewriters leave one whole last write" sh -c "grep -qxE '[1-6] 20' '$M/shared'"
ok "... and no sibling: a mount never races itself" sh -c "! ls '$M' | grep -q sibling && '$Q' get /shared >/dev/null"

# R=W=1: the mount reads what it wrote, file after file.
ok "mount with r=1,w=1" fs_mount one -o "nodes=$NODES,r=1,w=1"
ok "R=W=1: each file reads back at once" sh -c "for i in \$(seq 1 30); do echo v\$i > '$T_DIR/one/f'; test \"\$(cat '$T_DIR/one/f')\" = v\$i || exit 1; echo w\$i > '$T_DIR/one/g'\$i; test \"\$(cat '$T_DIR/one/g'\$i)\" = w\$i || exit 1; done"
ok "... and after rewrites through another mount" sh -c "echo other > '$M/f2' && test \"\$(cat '$T_DIR/one/f2')\" = other && echo mine > '$T_DIR/one/f2' && test \"\$(cat '$T_DIR/one/f2')\" = mine"
