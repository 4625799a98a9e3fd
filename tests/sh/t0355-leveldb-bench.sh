#!/usr/bin/env bash
# store/leveldb-bench, the LevelDB ceiling scripts/bench-kv.sh measures
# beside its systems: both shapes write into a database that stays, print
# the five figures bench-kv records, and bad options get a message and
# exit status 1 without writing anything.
. "$(dirname "$0")/lib.sh"
T_NET=55
plan 9
LB="$top_builddir/store/leveldb-bench"
[ -x "$LB" ] || bail "no $LB"

# five_figures MODE: the run exited 0 with nothing on stderr and printed
# writes/s > 0, then p50 <= p99 <= p99.9, then 0 errors.
five_figures() {
	[ "$(cat "$T_DIR/$1.rc")" = 0 ] && ! [ -s "$T_DIR/$1.err" ] &&
	awk 'NF == 5 && $1 > 0 && $2 <= $3 && $3 <= $4 && $5 == 0 { ok = 1 }
	    END { exit !ok }' "$T_DIR/$1.out"
}

for mode in put replica; do
	"$LB" --dir "$T_DIR/db" --mode $mode --threads 4 --seconds 0.3 \
		--value-size 100 >"$T_DIR/$mode.out" 2>"$T_DIR/$mode.err"
	echo $? >"$T_DIR/$mode.rc"
	ok "--mode $mode prints writes/s, p50, p99, p99.9 and errors" \
		five_figures $mode
	diag "$mode: $(cat "$T_DIR/$mode.out" "$T_DIR/$mode.err")"
done
ok "the database stays for the next run" test -s "$T_DIR/db/CURRENT"

bad() {	# bad MESSAGE ARGS...: exit status 1 and MESSAGE on stderr
	local msg=$1; shift
	"$LB" "$@" >"$T_DIR/bad.out" 2>"$T_DIR/bad.err"
	[ $? = 1 ] && grep -q -- "$msg" "$T_DIR/bad.err" &&
		! [ -s "$T_DIR/bad.out" ]
}
ok "an unknown mode is refused" bad '--mode: "get" is not put or replica' \
	--dir "$T_DIR/db2" --mode get
ok "no --dir is refused" bad "--dir is required" --seconds 1
ok "zero threads are refused" bad '--threads: "0"' --dir "$T_DIR/db2" \
	--threads 0
ok "a database that cannot be opened is an error" bad "open $T_DIR/no/db" \
	--dir "$T_DIR/no/db" --seconds 0.1
ok "nothing was created by the refused runs" test ! -e "$T_DIR/db2"
