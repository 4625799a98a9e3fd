# tests/sh/lib-abuse.sh - for the tests of abusive clients (t033[5-9]) and
# scripts/bench-abuse.sh: run tests/abuse.py, read a daemon's memory, and
# compare a well-behaved client's p99 latency without and with an abuse.
# Source it after lib.sh (or set top_builddir, top_srcdir and QUORUMCTL).

# The abuse tests run one at a time, however many suites share the
# machine: each measures what its abuse costs a well-behaved client, and
# another test's abuse running beside it (make -j2 runs two tests at once)
# is load its measurement must not include: t0336 and t0337 side by side
# failed each other's p99 checks (80x), and either alone passes.  The test
# runs again under flock(1), whose -o keeps the lock from the daemons and
# abusers the test starts.  scripts/bench-abuse.sh (no plan) takes no lock.
if declare -F plan >/dev/null && [ -z "${QFS_ABUSE_LOCKED:-}" ]; then
	export QFS_ABUSE_LOCKED=1
	trap - EXIT
	rmdir "$T_DIR"
	flock -o -E 75 -w 1800 "${TMPDIR:-/tmp}/qfs-abuse-tests.lock" \
		bash "$0" "$@"
	rc=$?
	[ $rc -ne 75 ] ||
		echo "Bail out! another abuse test held ${TMPDIR:-/tmp}/qfs-abuse-tests.lock for 30 min"
	exit $rc
fi

ABUSE="${PYTHON:-python3} $top_srcdir/tests/abuse.py"

# abuse MODE ARGS...: run tests/abuse.py; its output in $T_DIR/abuse.out.
abuse() { $ABUSE "$@" >"$T_DIR/abuse.out" 2>&1; }
# result KEY: a field of the last abuse's RESULT line.
result() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p" "$T_DIR/abuse.out"; }
# abuse_said TEXT: the daemon sent an error message holding TEXT.
abuse_said() { grep -q "^MSG .*$1" "$T_DIR/abuse.out"; }

# mem_kb PID FIELD: VmRSS or VmHWM (the peak) of a process, in KiB.
mem_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# bench_p99 NODE SECONDS: a get run's p99 in microseconds (integer).
BENCH_FLAGS=${BENCH_FLAGS:---op get --clients 2 --keys 200 --value-size 1000}
bench_p99() {
	"$QUORUMCTL" --node "$1" bench $BENCH_FLAGS --seconds "$2" \
		>"$T_DIR/bench.out" 2>&1 || return 1
	sed -n 's/^RESULT.* p99_us=\([0-9]*\).*/\1/p' "$T_DIR/bench.out"
}
bench_populate() {
	"$QUORUMCTL" --node "$1" bench $BENCH_FLAGS --populate --seconds 0 \
		>/dev/null
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 }
	END { if (NR % 2) print v[(NR + 1) / 2];
	      else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# cpu_ticks PID: user + system clock ticks the process has used (0 when
# PID is empty).
cpu_ticks() {
	if [ -n "$1" ]; then awk '{ print $14 + $15 }' "/proc/$1/stat"
	else echo 0; fi
}

# p99_abused NODE SECONDS RUNNER MODE ARGS...: a bench run on NODE while
# `RUNNER abuse.py MODE ARGS...` runs (from the moment it says STARTED,
# so that python's own start is not measured, for the run's length and a
# second more).  Sets _P99 (us), _CPU and _ACPU (the ticks P99_PID and
# the abuser used during the run).
p99_abused() {
	local node=$1 secs=$2 runner=$3 pid t0 a0 deadline=$((SECONDS + 60))
	shift 3
	rm -f "$T_DIR/abuse-bg.out"
	$runner $ABUSE "$@" --seconds $((secs + 1)) >"$T_DIR/abuse-bg.out" 2>&1 &
	pid=$!
	# A nice 19 python on a loaded machine may take seconds to start.
	until grep -q '^STARTED' "$T_DIR/abuse-bg.out" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			echo "# the abuser did not start: $(cat "$T_DIR/abuse-bg.out" 2>&1)"
			wait "$pid"
			return 1
		fi
		sleep 0.02
	done
	t0=$(cpu_ticks "${P99_PID:-}")
	a0=$(cpu_ticks "$pid" 2>/dev/null || echo 0)
	_P99=$(bench_p99 "$node" "$secs") || { wait "$pid"; return 1; }
	_CPU=$(( $(cpu_ticks "${P99_PID:-}") - t0 ))
	_ACPU=$(( $(cpu_ticks "$pid" 2>/dev/null || echo "$a0") - a0 ))
	wait "$pid" || true	# its figures are the bench's, not its status
}

# p99_interleaved NODE ROUNDS SECONDS MODE ARGS...: ROUNDS rounds of bench
# runs on NODE, one without and one with `abuse MODE ARGS...` running,
# alternated so that the machine's noise falls on both.  The abuser runs
# as is, on the same cores as the node and the client, at nice 19 (its
# own CPU is not the node's doing).  Sets P99_WITHOUT and P99_WITH
# (medians, us), P99_RATIO (with/without, x100) and P99_ALL (every
# figure).  With P99_PID set, also P99_CPU_WITHOUT and P99_CPU_WITH: the
# clock ticks that process used during the bench runs, in all;
# P99_CPU_ABUSER: the ticks the abuser used during them.
# With P99_MODEL set (a command that runs its arguments as a modelled
# abuser: bench-abuse.sh's runs it at idle priority, standing for another
# machine), each round has a third run with the abuser run that way:
# P99_MODELLED, P99_MRATIO, P99_CPU_MODELLED, P99_CPU_ABUSER_MODELLED.
p99_interleaved() {
	local node=$1 rounds=$2 secs=$3 i a t0 without="" with="" modelled=""
	shift 3
	P99_CPU_WITHOUT=0 P99_CPU_WITH=0 P99_CPU_ABUSER=0
	P99_CPU_MODELLED=0 P99_CPU_ABUSER_MODELLED=0
	for i in $(seq 1 "$rounds"); do
		t0=$(cpu_ticks "${P99_PID:-}")
		a=$(bench_p99 "$node" "$secs") || return 1
		P99_CPU_WITHOUT=$((P99_CPU_WITHOUT + $(cpu_ticks "${P99_PID:-}") - t0))
		without="$without $a"
		p99_abused "$node" "$secs" "nice -n 19" "$@" || return 1
		with="$with $_P99"
		P99_CPU_WITH=$((P99_CPU_WITH + _CPU))
		P99_CPU_ABUSER=$((P99_CPU_ABUSER + _ACPU))
		[ -n "${P99_MODEL:-}" ] || continue
		p99_abused "$node" "$secs" "$P99_MODEL" "$@" || return 1
		modelled="$modelled $_P99"
		P99_CPU_MODELLED=$((P99_CPU_MODELLED + _CPU))
		P99_CPU_ABUSER_MODELLED=$((P99_CPU_ABUSER_MODELLED + _ACPU))
	done
	P99_WITHOUT=$(echo "$without" | median)
	P99_WITH=$(echo "$with" | median)
	P99_RATIO=$((P99_WITH * 100 / (P99_WITHOUT > 0 ? P99_WITHOUT : 1)))
	P99_ALL="without:$without; with:$with"
	[ -n "$modelled" ] || return 0
	P99_MODELLED=$(echo "$modelled" | median)
	P99_MRATIO=$((P99_MODELLED * 100 / (P99_WITHOUT > 0 ? P99_WITHOUT : 1)))
	P99_ALL="$P99_ALL; modelled:$modelled"
}

# ---- the checks every abuse test makes ----

# put_get NODE KEY VALUE: a write and a read of it through NODE.
put_get() {
	"$QUORUMCTL" --node "$1" put "$2" "$3" &&
		test "$("$QUORUMCTL" --node "$1" get "$2")" = "$3"
}

# serving_during NODE KEY MODE ARGS...: NODE serves a write and a read of
# KEY while `abuse MODE ARGS...` runs; returns when both are done.
serving_during() {
	local node=$1 key=$2 pid rc
	shift 2
	abuse "$@" &
	pid=$!
	put_get "$node" "$key" during
	rc=$?
	wait "$pid"
	return $rc
}

# Peak memory: HWM_BEFORE is taken by hwm_start; hwm_check adds to it the
# test's bound in KiB (derived from its limits), the ASan quarantine the
# tests set (16 MiB) and 24 MiB of allocator slack.
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=16"
hwm_start() { HWM_BEFORE=$(mem_kb "$1" VmHWM); }
hwm_check() {	# hwm_check PID BOUND_KIB
	local hwm bound
	hwm=$(mem_kb "$1" VmHWM)
	bound=$((HWM_BEFORE + $2 + 16384 + 24576))
	diag "VmHWM before ${HWM_BEFORE} KiB, after ${hwm} KiB, bound ${bound} KiB"
	ok "the node's peak memory stays under the bound" test "$hwm" -le "$bound"
}

# p99_check WHAT NODE MODE ARGS...: p99_interleaved over 5 rounds of 2 s,
# and the check that the abuse costs a well-behaved client at most 3x its
# p99.  The bound is loose for a shared 2-core machine and an ASan build:
# scripts/bench-abuse.sh measures the figure against the issue's 2x.
# The bound is P99_BOUND (x100, default 300: 3x); the issue's 2x is
# shown by scripts/bench-abuse.sh on a release build.
p99_check() {
	local what=$1 node=$2
	shift 2
	if ! p99_interleaved "$node" 5 2 "$@"; then
		ok "with $what, a well-behaved client's p99 can be measured" false
		return
	fi
	diag "$what: get p99 us, $P99_ALL"
	diag "medians: without $P99_WITHOUT, with $P99_WITH (ratio $P99_RATIO%)"
	ok "with $what, a well-behaved client's p99 stays within $((${P99_BOUND:-300} / 100))x" \
		test "$P99_RATIO" -le "${P99_BOUND:-300}"
}
