#!/usr/bin/env bash
# The history checker of the fault tests (tests/jepsen/check.py) on small
# made-up histories: it passes a correct one, and it catches each anomaly
# the fault tests are there to find - an acknowledged write lost, siblings
# of which one writer had seen the other, a version no operation wrote, a
# dot naming two versions, replicas that differ, a read missing a write
# acknowledged before it began, a node that missed a handed-off write, a
# replaced version that survives.  A checker that cannot fail proves
# nothing.
. "$(dirname "$0")/lib.sh"
T_NET=49
plan 12
CHECK="${PYTHON:-python3} $(dirname "$0")/../jepsen/check.py"
D=$T_DIR

# Two clients: c0 reads (nothing) and writes v1; c1 writes blind,
# concurrently; c0 reads both back.  Node a's dots 1 and 2.
cat >"$D/h" <<'H'
{"ev":"invoke","op":"1.0.1","proc":"1.0","t":1.0,"f":"get","key":"/s/k"}
{"ev":"ok","op":"1.0.1","t":2.0,"found":false,"replies":2,"versions":[],"ctx":{}}
{"ev":"invoke","op":"1.0.2","proc":"1.0","t":3.0,"f":"put","key":"/s/k","value":"r1c0s2","rid":101,"src":"1.0.1","ctx":{}}
{"ev":"invoke","op":"1.1.1","proc":"1.1","t":3.5,"f":"put","key":"/s/k","value":"r1c1s1","rid":201,"src":null,"ctx":{}}
{"ev":"ok","op":"1.0.2","t":4.0,"dot":"a@1:1","acks":2,"octx":{"a@1":[1,[]]}}
{"ev":"ok","op":"1.1.1","t":4.5,"dot":"a@1:2","acks":2,"octx":{"a@1":[2,[[1,1]]]}}
{"ev":"invoke","op":"1.0.3","proc":"1.0","t":5.0,"f":"get","key":"/s/k"}
{"ev":"ok","op":"1.0.3","t":6.0,"found":true,"replies":2,"versions":[{"dot":"a@1:1","rid":101,"tomb":false,"value":"r1c0s2"},{"dot":"a@1:2","rid":201,"tomb":false,"value":"r1c1s1"}],"ctx":{"a@1":[2,[]]}}
H
V1='{"dot":"a@1:1","rid":101,"tomb":false,"value":"r1c0s2"}'
V2='{"dot":"a@1:2","rid":201,"tomb":false,"value":"r1c1s1"}'
V3='{"dot":"a@1:3","rid":104,"tomb":false,"value":"r1c0s4"}'
# state VERSIONS CC: a final read line; dump NODE VERSIONS CC: a dump line.
state() { echo "{\"key\":\"/s/k\",\"found\":true,\"replies\":3,\"versions\":[$1],\"ctx\":$2}"; }
dump() { echo "{\"node\":\"$1\",\"key\":\"/s/k\",\"versions\":[$2],\"cc\":$3}"; }
both() {	# both VERSIONS CC: final read and three equal dumps
	state "$1" "$2" >"$D/final"
	for n in n1 n2 n3; do dump "$n" "$1" "$2"; done >"$D/dumps"
}
run() { $CHECK --history "$D/h" --final "$D/final" --dump "$D/dumps" "$@" >"$D/out" 2>&1; }
# verdict NAME ok|fail: the checker's verdict on NAME, with evidence.
verdict() {
	grep -q "^$([ "$2" = fail ] && echo 'not ')ok $1:" "$D/out" && return 0
	cat "$D/out"; return 1
}

both "$V1,$V2" '{"a@1":[2,[]]}'
run --rt
ok "a correct history passes every check" sh -c "! grep -q '^not ok' '$D/out' && grep -c '^ok' '$D/out' | grep -qx 9 || { cat '$D/out'; exit 1; }"

both "$V2" '{"a@1":[2,[]]}'
run
ok "an acknowledged write missing from the end, seen by no writer, is lost" verdict lost fail

# c0 read both (1.0.3), then wrote v4 over them; v1 is still there beside v4.
cp "$D/h" "$D/h.base"
cat >>"$D/h" <<'H'
{"ev":"invoke","op":"1.0.4","proc":"1.0","t":7.0,"f":"put","key":"/s/k","value":"r1c0s4","rid":104,"src":"1.0.3","ctx":{"a@1":[2,[]]}}
{"ev":"ok","op":"1.0.4","t":8.0,"dot":"a@1:3","acks":2,"octx":{"a@1":[3,[]]}}
H
both "$V1,$V3" '{"a@1":[3,[]]}'
run
ok "siblings of which one writer had seen the other are caught" verdict siblings fail
ok "a version an acknowledged write replaced, surviving, is caught" verdict stale fail
both "$V3" '{"a@1":[3,[]]}'
run
ok "and with v4 alone at the end, the history passes" sh -c "! grep -q '^not ok' '$D/out' || { cat '$D/out'; exit 1; }"
cp "$D/h.base" "$D/h"

# A retry: c1's blind write was applied as a@1:3, unanswered, and again as
# b@2:1, acknowledged.  c0 reads the a@1:3 copy (the read shows one copy)
# and replaces everything it saw; the b@2:1 copy goes too, through the
# retired request id.  Superseded, not lost, and no stale sibling.
cat >>"$D/h" <<'H'
{"ev":"invoke","op":"1.1.2","proc":"1.1","t":9.0,"f":"put","key":"/s/k","value":"r1c1s2","rid":202,"src":null,"ctx":{}}
{"ev":"ok","op":"1.1.2","t":10.0,"dot":"b@2:1","acks":2,"octx":{"b@2":[1,[]]}}
{"ev":"invoke","op":"1.0.5","proc":"1.0","t":11.0,"f":"get","key":"/s/k"}
{"ev":"ok","op":"1.0.5","t":12.0,"found":true,"replies":2,"versions":[{"dot":"a@1:1","rid":101,"tomb":false,"value":"r1c0s2"},{"dot":"a@1:2","rid":201,"tomb":false,"value":"r1c1s1"},{"dot":"a@1:3","rid":202,"tomb":false,"value":"r1c1s2"}],"ctx":{"dots":{"a@1":[3,[]]},"retired":[101,201,202]}}
{"ev":"invoke","op":"1.0.6","proc":"1.0","t":13.0,"f":"put","key":"/s/k","value":"r1c0s6","rid":106,"src":"1.0.5","ctx":{"dots":{"a@1":[3,[]]},"retired":[101,201,202]}}
{"ev":"ok","op":"1.0.6","t":14.0,"dot":"a@1:4","acks":2,"octx":{"dots":{"a@1":[4,[]]},"retired":[101,201,202,106]}}
H
both '{"dot":"a@1:4","rid":106,"tomb":false,"value":"r1c0s6"}' '{"dots":{"a@1":[4,[]],"b@2":[1,[]]},"retired":[101,201,202]}'
run
ok "a retried write's unseen copy, replaced through its request id, is not lost" sh -c "! grep -q '^not ok' '$D/out' || { cat '$D/out'; exit 1; }"
cp "$D/h.base" "$D/h"

both "$V1,$V2,"'{"dot":"a@1:3","rid":999,"tomb":false,"value":"zz"}' '{"a@1":[3,[]]}'
run
ok "a version no operation wrote is caught" verdict versions fail

both "$V1,"'{"dot":"a@1:1","rid":201,"tomb":false,"value":"r1c1s1"}' '{"a@1":[2,[]]}'
run
ok "a dot naming two versions of a key is caught" verdict versions fail

both "$V1,$V2" '{"a@1":[2,[]]}'
dump n3 "$V1" '{"a@1":[2,[]]}' >"$D/d3"
grep -v '"node":"n3"' "$D/dumps" >"$D/d12"; cat "$D/d12" "$D/d3" >"$D/dumps"
run
ok "a replica that differs is caught" verdict converged fail

both "$V1,$V2" '{"a@1":[2,[]]}'
sed -i 's/"versions":\[{"dot":"a@1:1","rid":101,"tomb":false,"value":"r1c0s2"},{"dot":"a@1:2"[^]]*\],"ctx":{"a@1":\[2,\[\]\]}/"versions":[{"dot":"a@1:1","rid":101,"tomb":false,"value":"r1c0s2"}],"ctx":{"a@1":[1,[]]}/' "$D/h"
run --rt
ok "a read that misses a write acknowledged before it began is caught" verdict rt fail
cp "$D/h.base" "$D/h"

dump n3 "$V1" '{"a@1":[1,[]]}' >"$D/early"
run --holds "n3=$D/early"
ok "a node that missed an acknowledged write before repair is caught" verdict handoff fail
