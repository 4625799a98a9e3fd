#!/usr/bin/env bash
# Creates with no lookup round trip (issue 5): in a directory filling with
# new files the mount lists the directory once, and for the timeout after
# that answers a lookup of a name the listing lacked with ENOENT at once,
# so a create costs its write alone.  What that answers stays right: a
# name made elsewhere shows once the timeout has passed, O_EXCL refuses a
# name the listing had, names this mount wrote or removed are looked up
# again, the same name created on two mounts at once is kept twice
# (siblings), never lost, and a directory implied by keys below it (which
# listings do not show) is found once the listing is stale.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=130
plan 23
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"
T=6	# the mounts' entry and attribute timeouts (s)
OPTS="entry_timeout=$T,attr_timeout=$T,timeout=2,log_level=debug"

ok "mount m on n1" fs_mount m -o "nodes=$(node_addr 1),$OPTS"
ok "mount b on n2" fs_mount b -o "nodes=$(node_addr 2),$OPTS"
M="$T_DIR/m"
B="$T_DIR/b"
past() { sleep $((T + 1)); }	# the kernel's and the mount's caches are stale

# answered N: the mount m's lookups answered from a listing so far.
answered() { grep -c "not in its directory's listing" "$T_DIR/m.fs.log"; }
content_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

mkdir "$M/s"
"$Q" put /s/old "from quorumctl" >/dev/null
stat "$M/s" >/dev/null

# No round trip for the lookups: the directory is listed once per timeout.
h0=$(fs_counter heads); l0=$(fs_counter lists); a0=$(answered); t0=$(date +%s)
fs_creates "$M/s" f 40
h1=$(fs_counter heads); l1=$(fs_counter lists); a1=$(answered); t1=$(date +%s)
# Per timeout: one name's head and children, then the directory's listing;
# a lookup made while the listing is still under way (a loaded machine
# makes it slow) asks the cluster too: up to two more heads.
w=$(( (t1 - t0) / T + 1 ))
diag "40 creates in $((t1 - t0)) s: $((h1 - h0)) heads, $((l1 - l0)) listings, $((a1 - a0)) lookups answered from a listing"
ok "40 creates read at most $((3 + w)) heads (main: one per create)" test $((h1 - h0)) -le $((3 + w))
ok "... and listed at most $((1 + 2 * w)) times" test $((l1 - l0)) -le $((1 + 2 * w))
ok "... at least 35 lookups answered from the directory's listing" test $((a1 - a0)) -ge 35
ok "the files read back" content_is "$M/s/f039" "$(printf 'x%.0s' $(seq 100))"

# Names the listing had, or that this mount wrote since.
ok "O_EXCL refuses a name the listing had (EEXIST)" \
	errno_is EEXIST "os.open('$M/s/old', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"
ok "... which reads as written" content_is "$M/s/old" "from quorumctl"
echo mine > "$M/s/mine"
echo 2 > /proc/sys/vm/drop_caches	# the kernel forgets s/mine
ok "a file this mount wrote reads back after the kernel forgot it" content_is "$M/s/mine" mine
rm "$M/s/f000"
ok "a name removed here can be created again with O_EXCL" fs_creates "$M/s" f 1
ok "... and reads back" content_is "$M/s/f000" "$(printf 'x%.0s' $(seq 100))"

# A name made elsewhere shows once the timeout passed.
"$Q" put /s/new "made elsewhere" >/dev/null
past
ok "a name quorumctl wrote after the listing shows after the timeout" content_is "$M/s/new" "made elsewhere"
ok "... and O_EXCL refuses it" \
	errno_is EEXIST "os.open('$M/s/new', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"

# The same name created on two mounts at once: both versions are kept.
t0=$(date +%s)
fs_creates "$M/s" a 3		# m lists s afresh
echo "from b" > "$B/s/same"	# b creates the name after that listing
a0=$(answered)
ok "m creates the name b just made, with O_EXCL" \
	sh -c "python3 -c \"import os; fd = os.open('$M/s/same', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644); os.write(fd, b'from m\n'); os.close(fd)\""
t1=$(date +%s)
diag "m's listing to its create of the name: $((t1 - t0)) s (timeout $T s)"
ok "... its lookup answered from m's listing, taken before b's create" test "$(answered)" -gt "$a0"
both() {
	[ "$(cat "$1/s/same" "$1/s/same.~sibling-1" 2>/dev/null | sort |
	    tr '\n' ,)" = "from b,from m," ]
}
ok "m shows both versions, same and same.~sibling-1" wait_until 20 both "$M"
ok "... and so does b" wait_until 20 both "$B"
ok "quorumctl conflicts lists it" sh -c "'$Q' conflicts / | grep -q '^/s/same'"

# A directory implied by keys below it is not in listings: it shows once
# the last listing is stale, and the directory is not listed any more.
"$Q" put /s/imp/k "below" >/dev/null
past
ok "a directory implied by a key below it shows after the timeout" test -d "$M/s/imp"
ok "... and reads through" content_is "$M/s/imp/k" below
a0=$(answered)
fs_creates "$M/s" i 5
ok "... and the directory's lookups go to the cluster again" test "$(answered)" -eq "$a0"
