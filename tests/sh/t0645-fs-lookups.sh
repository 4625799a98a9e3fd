#!/usr/bin/env bash
# The round trips of a create (issue 5): a create in a directory filling
# with new files costs at most one quorum read (its lookup's, with the
# name's children listed in the same round trip; t0646: most lookups there
# are answered from the directory's listing) and no read of the directory's
# attributes, whose copy the kernel drops at every create.  What those
# shortcuts answer stays right: a name or an implied directory made
# elsewhere shows once the timeout has passed (also behind more than a
# page of removed names), O_EXCL refuses a name that exists, a chmod of the
# directory here shows at once and one made elsewhere after the timeout,
# and the lookups go on when the node the mount talks to dies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=125
plan 21
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"
T=4	# the mounts' entry and attribute timeouts (s)
OPTS="entry_timeout=$T,attr_timeout=$T,timeout=2,log_level=debug"

ok "mount with entry_timeout=$T,attr_timeout=$T" fs_mount m -o "$OPTS"
ok "a second mount" fs_mount b -o "$OPTS"
M="$T_DIR/m"
B="$T_DIR/b"
past() { sleep $((T + 1)); }	# the kernel's and the mount's caches are stale


# One quorum read per create.
mkdir "$M/d"
stat "$M/d" >/dev/null
h0=$(fs_counter heads); l0=$(fs_counter lists)
fs_creates "$M/d" f 30
h1=$(fs_counter heads); l1=$(fs_counter lists)
diag "30 creates: $((h1 - h0)) heads, $((l1 - l0)) listings"
ok "30 creates read at most 30 heads or a few more (not the directory's each time)" test $((h1 - h0)) -le 33
ok "... and listed 30 names' children or a few more" test $((l1 - l0)) -le 33
ok "... with each name's read" grep -q "children listed along" "$T_DIR/m.fs.log"
ok "the files read back" sh -c "test \"\$(cat '$M/d/f029')\" = \"\$(printf 'x%.0s' \$(seq 100))\""

# Names made elsewhere, looked up in that directory.
ok "a name not there yet" sh -c "! stat '$M/d/x' 2>/dev/null"
"$Q" put /d/x "from quorumctl"
"$Q" put /d/imp/k "below"
past
ok "... written by quorumctl shows once the timeout passed" sh -c "test \"\$(cat '$M/d/x')\" = 'from quorumctl'"
ok "... and O_EXCL refuses it (EEXIST)" errno_is EEXIST "os.open('$M/d/x', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"
ok "a directory implied by a key below it shows" test -d "$M/d/imp"
ok "... and reads through" sh -c "test \"\$(cat '$M/d/imp/k')\" = below"

# Behind a page of removed names (the listing pages on past them).
mkdir "$B/d/tomb"
fs_creates "$B/d/tomb" a 260
rm -f "$B"/d/tomb/a*
rmdir "$B/d/tomb"
ok "a directory removed with 260 removed names below it is gone" sh -c "! stat '$M/d/tomb' 2>/dev/null"
"$Q" put /d/tomb/zz "live"
past
ok "... a key written below the removed names implies it again" test -d "$M/d/tomb"
ok "... and reads through" sh -c "test \"\$(cat '$M/d/tomb/zz')\" = live"

# The directory's attributes: kept across creates in it, replaced by a
# chmod here, stale no longer than the timeout for one made elsewhere.
chmod 0700 "$M/d"
fs_creates "$M/d" g 2
ok "chmod here shows at once, after creates in the directory" sh -c "test \"\$(stat -c %a '$M/d')\" = 700"
chmod 0750 "$B/d"
past
fs_creates "$M/d" h 2
ok "chmod on another mount shows once the timeout passed" sh -c "test \"\$(stat -c %a '$M/d')\" = 750"
mkdir -m 0711 "$M/e"
rmdir "$M/e"
mkdir -m 0701 "$M/e"
fs_creates "$M/e" f 2
ok "a directory made again shows its new mode" sh -c "test \"\$(stat -c %a '$M/e')\" = 701"

# The node the mount talks to dies: reads and listings fail over.
node_kill 1
ok "creates go on with the first node dead" fs_creates "$M/d" k 10
ok "... and list" sh -c "test \"\$(ls '$M/d' | grep -c '^k')\" = 10"
