# tests/jepsen/lib-jepsen.sh - what the fault tests (tests/sh/t043x..t049x)
# share on top of tests/sh/lib.sh: the workload driver, bringing a cluster
# back to health after faults, repairing it, scanning every node, and the
# history checker's verdicts as TAP lines.  See tests/jepsen/README.md.
#
# Source it after lib.sh and cluster_start.  The nemesis log
# ($T_DIR/nemesis.log) gets a line per fault: "TIME KIND TARGET".

JEPSEN="$top_builddir/tests/jepsen/qjepsen"
JEPSEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHECK="${PYTHON:-python3} $JEPSEN_DIR/check.py"
[ -x "$JEPSEN" ] || bail "$JEPSEN is not built (make check builds it)"
J_NETNS=${QFS_IN_NETNS:-}
: >"$T_DIR/nemesis.log"

j_now() { date +%s.%N; }
j_log() { echo "$(j_now) $*" >>"$T_DIR/nemesis.log"; diag "nemesis: $*"; }

# j_load NAME [qjepsen run options]: start the workload in the background;
# its history goes to $T_DIR/NAME.hist, its pid to J_PID_NAME.
j_load() {
	local name=$1; shift
	"$JEPSEN" run --nodes "$NODES" --history "$T_DIR/$name.hist" "$@" \
		2>>"$T_DIR/$name.log" &
	eval "J_PID_$name=$!"
}

# j_wait NAME...: wait for workloads to finish; 1 if one failed.
j_wait() {
	local name pid rc=0
	for name in "$@"; do
		eval "pid=\$J_PID_$name"
		wait "$pid" || rc=1
		sed 's/^/# /' "$T_DIR/$name.log"
	done
	return $rc
}

# j_acked_between NAME T0 T1: writes of NAME's history acknowledged then.
j_acked_between() {
	awk -v t0="$2" -v t1="$3" -F'"t":' '/"ev":"ok"/ && /"dot":/ {
		split($2, a, ","); if (a[1] + 0 >= t0 && a[1] + 0 <= t1) n++ }
		END { print n + 0 }' "$T_DIR/$1.hist"
}

# Every node's view: every member up and connected.
j_all_up() {
	local i
	for i in $(seq 1 "$T_NODES"); do
		"$QUORUMCTL" --node "$(node_addr "$i")" --timeout-ms 1000 status \
			>"$T_DIR/status.out" 2>&1 || return 1
		awk 'NR > 2 && ($4 != "up" || $6 != "yes") { bad = 1 }
			END { exit bad }' "$T_DIR/status.out" || return 1
	done
}

j_no_hints() {
	"$QUORUMCTL" --nodes "$NODES" --timeout-ms 2000 stats >"$T_DIR/stats.out" \
		2>&1 || return 1
	! grep -qE 'hints\.[^ ]+\.count +[1-9]' "$T_DIR/stats.out"
}

# j_settle: end every fault: heal the network, resume paused nodes, start
# dead ones; then wait until every node sees every other up and every hint
# is delivered.
j_settle() {
	local i pid
	[ -n "$J_NETNS" ] && heal
	for i in $(seq 1 "$T_NODES"); do
		pid=$(node_pid "$i")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -CONT "$pid"
		else
			node_start "$i" || return 1
		fi
	done
	wait_until 60 j_all_up || { diag "not all up:"; sed 's/^/# /' "$T_DIR/status.out"; return 1; }
	wait_until 90 j_no_hints || { diag "hints left:"; grep -E 'hints' "$T_DIR/stats.out" | sed 's/^/# /'; return 1; }
}

# j_repair N [TRIES]: anti-entropy on every node, one after the other,
# saved as $T_DIR/repair.N and ending with the total of keys repaired.  A
# node's repair is tried up to TRIES times (default 1) while it fails, e.g.
# because a periodic anti-entropy session is running there.
j_repair() {
	local out="$T_DIR/repair.$1" tries=${2:-1} i k rc=0 ok
	: >"$out"
	for i in $(seq 1 "$T_NODES"); do
		ok=0
		for k in $(seq 1 "$tries"); do
			if "$QUORUMCTL" --node "$(node_addr "$i")" repair \
			    >"$T_DIR/repair.one" 2>&1; then
				ok=1
			fi
			grep -v '^repair: ' "$T_DIR/repair.one" >>"$out"
			[ "$ok" = 1 ] && break
			sleep 1
		done
		[ "$ok" = 1 ] || rc=1
	done
	awk '/ repaired, / { for (i = 1; i < NF; i++) if ($(i + 1) == "repaired,") n += $i }
		END { printf "repair: %d keys repaired\n", n }' "$out" >>"$out.total"
	cat "$out.total" >>"$out"; rm -f "$out.total"
	sed 's/^/# /' "$out"
	return $rc
}

# j_scan: what every node holds in its own store, and a read with R=N of
# every key of the histories.
j_scan() {
	local i h args=""
	for i in $(seq 1 "$T_NODES"); do
		"$JEPSEN" dump --node "$(node_addr "$i")" >"$T_DIR/dump.n$i" || return 1
	done
	for h in "$T_DIR"/*.hist; do args="$args --history $h"; done
	$CHECK $args --list-keys >"$T_DIR/keys" || return 1
	"$JEPSEN" read --nodes "$NODES" --r "${J_N:-3}" <"$T_DIR/keys" \
		>"$T_DIR/final" || return 1
	! grep -q '"code":' "$T_DIR/final"
}

# j_checker [check.py options]: run the checker on every history, the
# final read and every dump; its verdicts go to $T_DIR/check.out.
j_checker() {
	local i h args=""
	for h in "$T_DIR"/*.hist; do args="$args --history $h"; done
	for i in $(seq 1 "$T_NODES"); do args="$args --dump $T_DIR/dump.n$i"; done
	$CHECK $args --final "$T_DIR/final" --nemesis "$T_DIR/nemesis.log" "$@" \
		>"$T_DIR/check.out" 2>&1
	grep -E '^# (faults|ops)' "$T_DIR/check.out" || true
}

# j_verdict NAME: the checker's check NAME passed; else show its evidence.
j_verdict() {
	grep -q "^ok $1:" "$T_DIR/check.out" && return 0
	grep -A 21 -E "^(not ok $1:|Traceback)" "$T_DIR/check.out"
	return 1
}

# j_check NAME DESCRIPTION: one TAP line for the checker's check NAME.
j_check() {
	local s
	s=$(sed -n -E "s/^(not )?ok $1: //p" "$T_DIR/check.out")
	ok "$2${s:+ ($s)}" j_verdict "$1"
}

# j_repair_clean N [TRIES]: an anti-entropy pass on every node that repairs
# nothing.
j_repair_clean() {
	j_repair "$@" && grep -q '^repair: 0 keys repaired' "$T_DIR/repair.$1"
}

# j_check_history: the checks of the history alone, one TAP line each.
j_check_history() {
	j_check history "every operation completed (ok, failed or unknown)"
	j_check versions "every version read was written by its operation, no dot reused"
	j_check contexts "read and write contexts are consistent"
	j_check stale "no version an acknowledged write had replaced survives"
}
