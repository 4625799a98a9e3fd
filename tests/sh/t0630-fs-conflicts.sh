#!/usr/bin/env bash
# The conflict workflow end to end: two mounts on two nodes, the nodes
# partitioned, one file written on both sides, the partition healed: both
# mounts show name and name.~sibling-1; diff shows both edits; an unaware
# rewrite (>>) keeps the sibling; a merge plus rm of the sibling resolves it
# on both mounts; mv resolution; ESTALE for a pinned version that is gone;
# rm name with siblings; a delete concurrent with a write; identical
# versions merged; xattrs and quorumctl conflicts.
[ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=93
net_up
plan 37
cluster_start 3 --timeout-ms 1000 --gossip-interval-ms 100 --phi-threshold 3 \
	--ae-interval-ms 0
Q="$QUORUMCTL"
N1=$(node_addr 1)
N23="$(node_addr 2),$(node_addr 3)"

ok "mount A on n1 alone, R=W=1" fs_mount A -o "nodes=$N1,r=1,w=1,timeout=2"
ok "mount B on n2 and n3" fs_mount B -o "nodes=$N23,timeout=2"
A="$T_DIR/A"
B="$T_DIR/B"
siblings_shown() { [ -e "$1.~sibling-1" ] && ! [ -e "$1.~sibling-2" ]; }
no_sibling() { [ -e "$1" ] && ! [ -e "$1.~sibling-1" ]; }
content_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

mkdir "$A/doc"
printf 'line 1\nline 2\nline 3\n' > "$A/doc/f"
ok "B sees A's file" wait_until 10 content_is "$B/doc/f" "$(printf 'line 1\nline 2\nline 3')"

ok "partition n1 from n2 and n3" partition "1" "2 3"
ok "n1 sees the others go down" \
	wait_until 20 sh -c "'$Q' --nodes $N1 status | grep -qE '^n2 .* (suspect|down) '"
ok "A writes its edit (W=1 on n1)" sh -c "printf 'line 1\nline 2 edited on A\nline 3\n' > '$A/doc/f'"
ok "A sees its own write at once" content_is "$A/doc/f" "$(printf 'line 1\nline 2 edited on A\nline 3')"
ok "B writes its edit (W=2 on n2, n3)" sh -c "printf 'line 1\nline 2\nline 3 edited on B\n' > '$B/doc/f'"
heal
ok "after healing, n1 sees the others up" \
	wait_until 20 sh -c "'$Q' --nodes $N1 status | grep -qE '^n2 .* up '"
"$Q" repair >/dev/null 2>&1
ok "A shows name and name.~sibling-1" wait_until 20 siblings_shown "$A/doc/f"
ok "B shows name and name.~sibling-1" wait_until 20 siblings_shown "$B/doc/f"
ok "both mounts show the same version as name" wait_until 10 sh -c "cmp -s '$A/doc/f' '$B/doc/f' && cmp -s '$A/doc/f.~sibling-1' '$B/doc/f.~sibling-1'"
diff "$B/doc/f" "$B/doc/f.~sibling-1" > "$T_DIR/diff"
ok "diff name name.~sibling-1 shows both edits" sh -c "grep -q 'edited on A' '$T_DIR/diff' && grep -q 'edited on B' '$T_DIR/diff'"
ok "the sibling is read-only" sh -c "! echo x > '$B/doc/f.~sibling-1'"
is "$(getfattr --absolute-names --only-values -n user.quorumfs.siblings "$B/doc/f")" 2 "user.quorumfs.siblings is 2"
ok "user.quorumfs.writer names the coordinators" sh -c "w1=\$(getfattr --absolute-names --only-values -n user.quorumfs.writer '$B/doc/f'); w2=\$(getfattr --absolute-names --only-values -n user.quorumfs.writer '$B/doc/f.~sibling-1'); test -n \"\$w1\" && test \"\$w1\" != \"\$w2\""
ok "user.quorumfs.version and .context are there" sh -c "getfattr --absolute-names --only-values -n user.quorumfs.version '$B/doc/f' | grep -q : && getfattr --absolute-names --only-values -n user.quorumfs.context '$B/doc/f' | grep -qE '^[0-9a-f]+\$'"
ok "quorumctl conflicts lists the file" sh -c "'$Q' conflicts / | grep -q '^/doc/f'"

# An unaware program appends to name: the other version stays.
ok "echo >> name" sh -c "echo appended >> '$B/doc/f'"
ok "... keeps the sibling" sh -c "siblings_shown() { [ -e \"\$1.~sibling-1\" ]; }; siblings_shown '$B/doc/f' && tail -n 1 '$B/doc/f' | grep -qx appended"

# Resolve: write the merge to name, remove the sibling.
printf 'line 1\nline 2 edited on A\nline 3 edited on B\nappended\n' > "$T_DIR/merged"
ok "write the merge to name and rm the sibling" sh -c "cat '$T_DIR/merged' > '$B/doc/f' && rm '$B/doc/f.~sibling-1'"
ok "resolved on B" wait_until 10 sh -c "! test -e '$B/doc/f.~sibling-1' && cmp -s '$B/doc/f' '$T_DIR/merged'"
ok "resolved on A" wait_until 20 sh -c "! test -e '$A/doc/f.~sibling-1' && cmp -s '$A/doc/f' '$T_DIR/merged'"
ok "quorumctl reads one version" "$Q" get /doc/f

# mv name.~sibling-1 name: that version becomes the file.
"$Q" put /doc/g base
"$Q" get --context-out "$T_DIR/ctx" /doc/g >/dev/null
"$Q" --context @"$T_DIR/ctx" put /doc/g left
"$Q" --context @"$T_DIR/ctx" put /doc/g right
ok "two concurrent quorumctl writes show as a sibling" wait_until 10 siblings_shown "$B/doc/g"
other=$(cat "$B/doc/g.~sibling-1")
ok "mv name.~sibling-1 name" mv "$B/doc/g.~sibling-1" "$B/doc/g"
ok "... makes that version the file, on both mounts" wait_until 20 sh -c "no_sibling() { [ -e \"\$1\" ] && ! [ -e \"\$1.~sibling-1\" ]; }; no_sibling '$B/doc/g' && no_sibling '$A/doc/g' && test \"\$(cat '$A/doc/g')\" = '$other' && test \"\$(cat '$B/doc/g')\" = '$other'"

# Three versions; a mount that looked up name.~sibling-1 long ago.
"$Q" put /doc/h base
"$Q" get --context-out "$T_DIR/ctx" /doc/h >/dev/null
for v in v1 v2 v3; do "$Q" --context @"$T_DIR/ctx" put /doc/h $v; done
ok "mount C (names cached 60 s)" fs_mount C -o "nodes=$N23,entry_timeout=60,attr_timeout=60"
C="$T_DIR/C"
ok "C shows two siblings" wait_until 10 test -e "$C/doc/h.~sibling-2"
pinned=$(cat "$C/doc/h.~sibling-1")
ok "A discards that version" wait_until 10 sh -c "test \"\$(cat '$A/doc/h.~sibling-1')\" = '$pinned' && rm '$A/doc/h.~sibling-1'"
# A wrote with W=1: C (R=2 on n2 and n3) sees the discard once they hold it.
live_at() { "$Q" --node "$1" --r 1 head "$2" 2>/dev/null |
	grep '^--- version' | grep -vc deleted; }
discard_reached() {
	test "$(live_at "$(node_addr 2)" /doc/h)" = 2 &&
		test "$(live_at "$(node_addr 3)" /doc/h)" = 2
}
ok "... and the discard reaches n2 and n3" wait_until 10 discard_reached
ok "C's name for it now fails with ESTALE, and removes nothing" errno_is ESTALE "os.unlink('$C/doc/h.~sibling-1')"
ok "rm name while a sibling exists: the next version becomes name" sh -c "rm '$B/doc/h' && test -e '$B/doc/h' && ! test -e '$B/doc/h.~sibling-1'"

# A delete concurrent with a write: the write wins.
"$Q" put /doc/k v1
"$Q" get --context-out "$T_DIR/ctx" /doc/k >/dev/null
"$Q" --context @"$T_DIR/ctx" delete /doc/k
"$Q" --context @"$T_DIR/ctx" put /doc/k v2
ok "a delete concurrent with a write: the file stays, no sibling" wait_until 10 sh -c "test \"\$(cat '$B/doc/k')\" = v2 && ! test -e '$B/doc/k.~sibling-1'"

# Identical concurrent versions are one.
"$Q" put /doc/same x
"$Q" get --context-out "$T_DIR/ctx" /doc/same >/dev/null
"$Q" --context @"$T_DIR/ctx" put /doc/same same-content
"$Q" --context @"$T_DIR/ctx" put /doc/same same-content
ok "identical versions show as one file" sh -c "test \"\$(cat '$B/doc/same')\" = same-content && ! test -e '$B/doc/same.~sibling-1'"
