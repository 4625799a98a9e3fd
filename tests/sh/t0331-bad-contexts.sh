#!/usr/bin/env bash
# Contexts a client may send with a write, as the merge fuzzer
# (store/fuzz_merge.c) found them: one naming a huge counter of the
# coordinator (the next blind write used to allocate a hole per counter
# below it: the daemon aborted), and one naming 2^64 - 1 (the next dot
# wrapped to 0: a record that no longer decoded).  The first is served,
# the second refused as invalid; the key stays readable and writable and
# no node dies or logs a sanitizer report.
#
# A context is a packed qstore.RecContext (store/record.proto), built here
# by hand as hex: entries { node = "n1", max = M }.
. "$(dirname "$0")/lib.sh"
T_NET=115
plan 9	# the last: no sanitizer report in any node's log (lib.sh)
cluster_start 3
Q="$QUORUMCTL"
N1=$(node_addr 1)

varint() {
	local n=$1 out="" b
	while :; do
		# bash arithmetic is signed: shift 2^63 and above by hand.
		b=$((n & 127)); n=$(( (n >> 7) & ((1 << 57) - 1) ))
		if [ "$n" -ne 0 ]; then out="$out$(printf %02x $((b | 128)))"
		else out="$out$(printf %02x "$b")"; break; fi
	done
	echo "$out"
}
# context NODE MAX: the hex of a context naming NODE's counters 1..MAX.
context() {
	local entry
	entry="0a$(printf %02x ${#1})$(printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n')10$(varint "$2")"
	echo "0a$(printf %02x $((${#entry} / 2)))$entry"
}

# Node 1 coordinates (it is a replica of every key with 3 nodes and n=3).
ok "a put with a context naming counter 2^40 of its coordinator" \
	"$Q" --node "$N1" --context "$(context n1 $((1 << 40)))" put /c/far "far"
ok "... then a blind put of the same key is served" \
	"$Q" --node "$N1" --blind put /c/far "blind"
is "$("$Q" --node "$N1" get --siblings-dir "$T_DIR/s" /c/far >/dev/null 2>&1; echo $?)" 4 \
	"... and both are siblings (exit status 4)"
ok "... and node 1 is alive and serves" "$Q" --node "$N1" --blind put /c/other "x"

err=$("$Q" --node "$N1" --context "$(context n1 -1)" put /c/wrap "wrap" 2>&1)
is "$?" 1 "a context naming counter 2^64 - 1 is refused (exit status 1)"
err=$("$Q" --node "$N1" --context "$(context n1 $(( (1 << 62) + 1 )))" \
	put /c/wrap "wrap" 2>&1)
case "$err" in *'counter 4611686018427387905 of "n1" (limit 2^62) (invalid)'*) r=ok ;;
	*) r="$err" ;; esac
is "$r" ok "... as is one over 2^62, saying so"
ok "... and the key stays writable and readable" \
	sh -c '"$1" --node "$2" --blind put /c/wrap v && test "$("$1" --node "$2" get /c/wrap)" = v' \
	- "$Q" "$N1"
ok "every node is alive" cluster_meshed
