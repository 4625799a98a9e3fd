#!/usr/bin/env bash
# The requests a read of a small file costs (issue 5) and what they answer:
# after the kernel dropped its caches, a read-only open, read and close of
# a file of at most 64 KiB is a LOOKUP (one quorum read, with the data) and
# an OPEN that hands the content to the kernel's page cache: no READ, no
# FLUSH (quorumfs(1), "Lookups").  What the kernel keeps that way is never
# staler than a READ would have been: content changed elsewhere (same size
# or not) reads new once the timeout has passed; a write through this mount
# reads back through every descriptor, one opened before it included; a
# file opened while a writer holds it shows the writer's bytes; a bigger
# file is read with READs as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=131
plan 23
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"
T=2	# the mount's entry and attribute timeouts (s)

# -d: every FUSE request in the log, to count them.
ok "mount with -d, entry_timeout=$T,attr_timeout=$T" \
	fs_mount m -d -o "entry_timeout=$T,attr_timeout=$T"
M="$T_DIR/m"
past() { sleep $((T + 1)); }	# the kernel's and the mount's caches are stale
requests() { fs_requests m "$@"; }
lines() { fs_log_lines m; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# readall PATH EXPECTED...: open read-only, read to the end, close, check;
# once per (path, expected) pair.
readall() {
	python3 - "$@" <<'PY'
import os, sys
a = sys.argv[1:]
for p, want in zip(a[0::2], a[1::2]):
    fd = os.open(p, os.O_RDONLY)
    got = b""
    while True:
        b = os.read(fd, 65536)
        if not b:
            break
        got += b
    os.close(fd)
    if got != want.encode():
        print("# %s: read %d bytes %r..., wanted %d bytes %r..." %
              (p, len(got), got[:20], len(want), want[:20]))
        sys.exit(1)
PY
}
pattern() { python3 -c "import sys; n = int(sys.argv[1]); print(('%s-' % sys.argv[2] * n)[:n], end='')" "$@"; }

# Files of 0, 1, 100, 4096, 5000 and 65536 bytes, and one over 64 KiB.
mkdir "$M/d"
args=()
for n in 0 1 100 4096 5000 65536; do
	for i in 1 2 3; do
		pattern "$n" "f$n.$i" > "$M/d/f$n.$i"
		args+=("$M/d/f$n.$i" "$(pattern "$n" "f$n.$i")")
	done
done
pattern 70000 big > "$M/d/big"
drop
h0=$(fs_counter heads); g0=$(fs_counter gets); l0=$(lines)
ok "18 small files read back after the caches were dropped" readall "${args[@]}"
h1=$(fs_counter heads); g1=$(fs_counter gets)
reads=$(requests READ "$l0"); flushes=$(requests FLUSH "$l0")
opens=$(requests OPEN "$l0")
diag "18 reads: $((g1 - g0)) gets, $((h1 - h0)) heads; FUSE: $opens OPEN, $reads READ, $flushes FLUSH"
ok "... 18 opens reached the mount" test "$opens" -eq 18
ok "... with no FLUSH for read-only descriptors" test "$flushes" -eq 0
# The directory's first lookup after the drop reads a head (a directory
# earns reading data at lookup with its opens), so its open reads again.
ok "... and at most 2 READs (the content came with the opens)" test "$reads" -le 2
ok "... at most one quorum read per file, and a few more" \
	test $((g1 - g0 + h1 - h0)) -le 22
l0=$(lines)
ok "a file over 64 KiB reads back" readall "$M/d/big" "$(pattern 70000 big)"
ok "... through READ requests" test "$(requests READ "$l0")" -ge 1

# Content changed elsewhere after the kernel kept a file's pages.
ok "a file read (its pages kept)" readall "$M/d/f100.1" "$(pattern 100 f100.1)"
"$Q" put /d/f100.1 "$(pattern 100 new)" >/dev/null
past
ok "... changed by quorumctl to as many bytes reads new after the timeout" \
	readall "$M/d/f100.1" "$(pattern 100 new)"
"$Q" put /d/f100.1 "$(pattern 30 shorter)" >/dev/null
past
ok "... and shorter" readall "$M/d/f100.1" "$(pattern 30 shorter)"
"$Q" put /d/f100.1 "$(pattern 5000 longer)" >/dev/null
past
ok "... and longer" readall "$M/d/f100.1" "$(pattern 5000 longer)"
ok "a second mount" fs_mount b -o "entry_timeout=$T,attr_timeout=$T"
readall "$M/d/f4096.1" "$(pattern 4096 f4096.1)"
pattern 4096 via-b > "$T_DIR/b/d/f4096.1"
past
ok "a file written on another mount reads new here after the timeout" \
	readall "$M/d/f4096.1" "$(pattern 4096 via-b)"

# This mount's own writes, against pages an open handed the kernel.
drop
readall "$M/d/f4096.2" "$(pattern 4096 f4096.2)"
pattern 4096 rewritten > "$M/d/f4096.2"
ok "a file rewritten here reads back at once" \
	readall "$M/d/f4096.2" "$(pattern 4096 rewritten)"
drop
ok "a descriptor open for reading, a writer on another, both read the write" \
	python3 - "$M/d/f4096.3" "$(pattern 4096 f4096.3)" <<'PY'
import os, sys
p, old = sys.argv[1], sys.argv[2].encode()
r = os.open(p, os.O_RDONLY)
if os.pread(r, 8192, 0) != old:
    sys.exit("# the reader did not read the old content")
w = os.open(p, os.O_RDWR)
os.pwrite(w, b"W" * 4096, 0)
if os.pread(w, 8192, 0) != b"W" * 4096:
    sys.exit("# the writer does not read its write back")
if os.pread(r, 8192, 0) != b"W" * 4096:
    sys.exit("# the reader opened before does not read the write")
r2 = os.open(p, os.O_RDONLY)
if os.read(r2, 8192) != b"W" * 4096:
    sys.exit("# a reader opened during the write does not read it")
os.close(w)
os.close(r)
os.close(r2)
PY
ok "... and it was written back" readall "$M/d/f4096.3" "$(printf 'W%.0s' $(seq 4096))"
past
ok "... as the cluster shows" sh -c "test \"\$('$Q' get /d/f4096.3)\" = \"\$(printf 'W%.0s' \$(seq 4096))\""
drop
l0=$(lines)
ok "a file opened for writing and closed still flushes" \
	python3 -c "import os; fd = os.open('$M/d/f1.1', os.O_WRONLY | os.O_TRUNC); os.write(fd, b'z'); os.close(fd)"
ok "... (a FLUSH reached the mount)" test "$(requests FLUSH "$l0")" -ge 1
past
ok "... and the cluster has it" sh -c "test \"\$('$Q' get /d/f1.1)\" = z"
