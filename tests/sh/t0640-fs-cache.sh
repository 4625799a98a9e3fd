#!/usr/bin/env bash
# What a mount keeps of its lookups (fs/lcache.h, fs/sizehint.h): the call
# after a lookup uses the lookup's read, a lookup reads a small file's data,
# and none of it outlives the cache timeout or this mount's own writes.
# Changes made elsewhere after a lookup show once the timeout has passed:
# a new file, an implied directory (after lookups in its parent missed),
# new content of another size; an O_EXCL create then fails with EEXIST.  rm after a write
# through an open descriptor removes the file (a kept read from before the
# write would delete only the older version); mv moves a file looked up
# with its data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=60
plan 19
cluster_start 3 --timeout-ms 2000
Q="$QUORUMCTL"
T=2	# the mount's entry and attribute timeouts (s), and so the cache's

ok "mount with entry_timeout=$T,attr_timeout=$T" fs_mount m -o "entry_timeout=$T,attr_timeout=$T"
M="$T_DIR/m"
past() { sleep $((T + 1)); }	# the kernel's and the mount's caches are stale

# A name looked up and missing, then written by quorumctl.
mkdir "$M/d"
ok "a name not there yet" sh -c "! stat '$M/d/new' 2>/dev/null"
"$Q" put /d/new "from quorumctl"
past
ok "... written by quorumctl shows once the timeout passed" sh -c "test \"\$(cat '$M/d/new')\" = 'from quorumctl'"
ok "... and O_EXCL refuses it (EEXIST)" errno_is EEXIST "os.open('$M/d/new', os.O_CREAT | os.O_EXCL | os.O_WRONLY)"

# The same through another mount.
ok "a second mount" fs_mount b -o "entry_timeout=$T,attr_timeout=$T"
ok "a name missing on the first mount" sh -c "! stat '$M/d/other' 2>/dev/null"
echo "from b" > "$T_DIR/b/d/other"
past
ok "... created on the second shows on the first" sh -c "test \"\$(cat '$M/d/other')\" = 'from b'"

# A directory implied by keys below it, after lookups in its parent missed
# (each kept its negative read, and the parent was listed for the lookups
# after them: a name made elsewhere after that shows within the timeout,
# quorumfs(1), "Lookups").
mkdir "$M/p"
for i in 1 2 3; do stat "$M/p/none$i" >/dev/null 2>&1; done
"$Q" put /p/imp/k "below"
past
ok "an implied directory is found after misses in its parent" test -d "$M/p/imp"
ok "... and read through" sh -c "test \"\$(cat '$M/p/imp/k')\" = below"
ok "a missing name after that is still missing" sh -c "! stat '$M/p/none4' 2>/dev/null"

# Content read whole at lookup (the size was seen before), then changed.
echo short > "$M/f"
ok "a small file reads back" sh -c "test \"\$(cat '$M/f')\" = short"
"$Q" put /f "a longer content than before"
past
ok "... changed by quorumctl: read whole with its new size" sh -c "test \"\$(cat '$M/f')\" = 'a longer content than before'"
"$Q" put /f "tiny"
past
ok "... and shorter again" sh -c "test \"\$(cat '$M/f')\" = tiny"

# A lookup's read kept from before a write through an open descriptor:
# unlink must remove what the write made, not only what the read saw.
# (No stat between the write and the unlink: a getattr drops kept reads.)
echo v1 > "$M/w"
ok "unlink after a write through an open descriptor" python3 -c "
import os, time
fd = os.open('$M/w', os.O_RDWR)
time.sleep($T + 1)
os.stat('$M/w')			# a lookup: its read is kept
os.pwrite(fd, b'v2', 0)
os.close(fd)			# the write lands
os.unlink('$M/w')
"
ok "... removes the file" sh -c "! '$Q' get /w >/dev/null 2>&1"
ok "... and leaves no sibling" sh -c "! ls '$M' | grep -q '^w'"

# mv of a file whose lookup read its data: the content moves whole.
head -c 3000 /dev/urandom > "$T_DIR/r"
cp "$T_DIR/r" "$M/r"
past
mv "$M/r" "$M/r2"
ok "mv of a file looked up with its data keeps the content" cmp "$T_DIR/r" "$M/r2"
