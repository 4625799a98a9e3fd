#!/usr/bin/env bash
# A mount while nodes die: it fails over when its node is killed, a
# stopped node does not hold it up, calls fail with EIO within the timeout
# when no quorum can be had (never hang), the mount stays alive and works
# again when the nodes are back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=92
plan 15
cluster_start 3 --timeout-ms 1000
ok "mount on all three nodes, n1 first" fs_mount m -o "timeout=2"
M="$T_DIR/m"
mkdir "$M/d"
for i in 1 2 3 4 5; do echo "file $i" > "$M/d/f$i"; done

node_kill 1
ok "with n1 (its first node) killed, ls works" sh -c "test \$(ls '$M/d' | wc -l) -eq 5"
ok "... cat works" sh -c "test \"\$(cat '$M/d/f3')\" = 'file 3'"
ok "... and a write works" sh -c "echo after > '$M/d/after' && test \"\$(cat '$M/d/after')\" = after"

node_kill 3 STOP
ok "with n3 stopped too (SIGSTOP), reads fail or succeed, but return" \
	timeout 30 sh -c "cat '$M/d/f1' >/dev/null 2>&1; true"
node_kill 3 CONT
ok "n3 continued: a write works" sh -c "echo cont > '$M/d/cont'"

node_kill 2
start=$(now_ms)
# A program that checks close: a shell's redirection ignores the error of
# the close after its dup2, and the lookup before the create may be
# answered from the directory's listing, with no request (quorumfs(1)).
python3 -c "
f = open('$M/d/noquorum', 'w')
f.write('x')
f.close()" 2>"$T_DIR/w.err"; rc=$?
took=$(( $(now_ms) - start ))
ok "with n1 and n2 killed, a write fails" test "$rc" -ne 0
ok "... with EIO (Input/output error) from close" grep -q "Input/output error" "$T_DIR/w.err"
ok "... within the request timeout, not a hang ($took ms)" test "$took" -lt 20000
start=$(now_ms)
cat "$M/d/f2" >/dev/null 2>"$T_DIR/r.err"; rc=$?
took=$(( $(now_ms) - start ))
ok "a read fails too, in bounded time ($took ms)" sh -c "test $rc -ne 0 && test $took -lt 20000"
ok "the mount is still there" fs_mounted "$M"

node_start 1 || bail "n1 did not restart"
node_start 2 || bail "n2 did not restart"
ok "with the nodes back, the same mount reads" wait_until 30 sh -c "test \"\$(cat '$M/d/f2')\" = 'file 2'"
ok "... and writes" wait_until 30 sh -c "echo back > '$M/d/back' && test \"\$(cat '$M/d/back')\" = back"
