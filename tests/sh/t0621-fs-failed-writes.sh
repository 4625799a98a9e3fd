#!/usr/bin/env bash
# A write that fails its quorum may still exist on the replicas that
# synced it (Dynamo's rule, kept).  What the writer does next must replace
# it, not sit beside it: a file whose write failed and is then removed
# stays removed, written again it has no sibling, renamed away its old
# name stays gone; quorumctl names the failed version and saves a context
# that covers it.  Node 3 is stopped (SIGSTOP) while the writes at W=3
# fail, so each failed version is on nodes 1 and 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-fs.sh"
T_NET=135
plan 20
cluster_start 3 --timeout-ms 1000
Q="$QUORUMCTL"
ok "mount at W=3" fs_mount m -o "w=3,timeout=2"
M="$T_DIR/m"
echo old > "$M/e" || bail "cannot write e"

# fails_eio PATH TEXT: writing TEXT to PATH fails with EIO (at close).
fails_eio() {
	errno_is EIO "f = open('$1', 'w'); f.write('$2'); f.close()"
}
# key_state KEY: quorumctl's exit status for a get of KEY at R=3.
key_state() { "$Q" --r 3 get "$1" >/dev/null 2>&1; echo $?; }

node_kill 3 STOP
ok "with n3 stopped, a new file's write fails (EIO)" fails_eio "$M/f" one
ok "... as do an overwrite of e" fails_eio "$M/e" new1
ok "... and a new file g" fails_eio "$M/g" gee
"$Q" --w 3 --context-out "$T_DIR/ctx" put /q v1 >/dev/null 2>"$T_DIR/q.err"
ok "quorumctl put at W=3 fails with exit 5" test $? -eq 5
ok "... naming the failed write's version" \
	grep -q "failed write's version is .*:[0-9]" "$T_DIR/q.err"
ok "the failed write of f is on the replicas that synced it" \
	sh -c "'$Q' --r 2 get /f | grep -qx one"
node_kill 3 CONT
ok "n3 continued: W=3 writes succeed again" \
	wait_until 20 "$Q" --w 3 put /probe x

ok "rm of f succeeds" rm "$M/f"
ok "... and f stays removed (no live version at R=3)" \
	test "$(key_state /f)" -eq 3
ok "... and is not listed" sh -c "! ls '$M' | grep -qx f"

ok "e written again succeeds" sh -c "echo new2 > '$M/e'"
ok "... and e has one version, the new one" \
	sh -c "test \"\$('$Q' --r 3 get /e)\" = new2"
ok "... and no sibling file beside it" \
	sh -c "! ls -a '$M' | grep -q '^e\.~sibling'"

ok "mv g h succeeds" mv "$M/g" "$M/h"
ok "... h has g's content" sh -c "test \"\$(cat '$M/h')\" = gee"
ok "... and g stays gone" test "$(key_state /g)" -eq 3

ok "quorumctl put with the saved context replaces the failed version" \
	sh -c "'$Q' --w 3 --context @'$T_DIR/ctx' put /q v2 &&
	       test \"\$('$Q' --r 3 get /q)\" = v2"
