#!/usr/bin/env bash
# Run the whole test suite and print one closing line "N passed, N failed"
# counting every TAP test point of its three phases:
#   check     make check on a sanitizer build (ASan + UBSan): unit,
#             integration and fault tests, and the fuzz corpus replays;
#   fuzz      make fuzz-check in the same tree: each libFuzzer target for
#             QFS_FUZZ_SECONDS (default 30), one test point each;
#   valgrind  make check-valgrind on a second build, without sanitizers
#             ($QFS_BUILD_VALGRIND): the unit tests under valgrind memcheck.
# QFS_TEST_PHASES runs some of them (default "check fuzz valgrind").
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export QFS_BUILD=${QFS_BUILD:-$top/build-check}
export QFS_CONFIGURE_FLAGS=${QFS_CONFIGURE_FLAGS---enable-sanitizers --enable-werror}
valgrind_build=${QFS_BUILD_VALGRIND:-$top/build-valgrind}
phases=${QFS_TEST_PHASES:-check fuzz valgrind}
fuzz_seconds=${QFS_FUZZ_SECONDS:-30}
pass=0 failed=0

# The counts of the automake summary a phase printed in $1.
count() { sed -n "s/^# $2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1; }

# run_phase NAME BUILD_DIR MAKE_ARGS...: one make in BUILD_DIR; adds its
# test points to pass and failed (a make that fails without a failed test
# point, such as a build error, counts as one failure).
run_phase() {
	local name=$1 dir=$2 plog
	shift 2
	plog=$(mktemp)
	echo "=== $name: make $* (in $dir)"
	(cd "$dir" && make -j"$(nproc)" "$@") 2>&1 | tee "$plog"
	local status=${PIPESTATUS[0]} p f e x
	p=$(count "$plog" PASS); f=$(count "$plog" FAIL)
	e=$(count "$plog" ERROR); x=$(count "$plog" XPASS)
	f=$(( ${f:-0} + ${e:-0} + ${x:-0} ))
	[ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	echo "=== $name: ${p:-0} passed, $f failed"
	pass=$(( pass + ${p:-0} )); failed=$(( failed + f ))
	rm -f "$plog"
	return 0
}

# build DIR FLAGS: configure and build DIR (scripts/build.sh).
build() {
	QFS_BUILD=$1 QFS_CONFIGURE_FLAGS=$2 "$top/scripts/build.sh" >/dev/null ||
		{ echo "build of $1 failed"; return 1; }
}

case " $phases " in *" check "*|*" fuzz "*)
	if build "$QFS_BUILD" "$QFS_CONFIGURE_FLAGS"; then
		case " $phases " in *" check "*)
			run_phase check "$QFS_BUILD" check;; esac
		case " $phases " in *" fuzz "*)
			run_phase fuzz "$QFS_BUILD" fuzz-check \
			    FUZZ_SECONDS="$fuzz_seconds";; esac
	else
		failed=$(( failed + 1 ))
	fi;;
esac
case " $phases " in *" valgrind "*)
	if build "$valgrind_build" "--enable-werror"; then
		run_phase valgrind "$valgrind_build" check-valgrind
	else
		failed=$(( failed + 1 ))
	fi;;
esac

if [ "$failed" -ne 0 ]; then
	for d in "$QFS_BUILD" "$valgrind_build"; do
		[ -d "$d" ] || continue
		for f in $(find "$d" -name '*.log' ! -name test-suite.log ! -name config.log); do
			grep -q -E '^(not ok|Bail out)|^ERROR:' "$f" 2>/dev/null &&
				{ echo "--- $f"; cat "$f"; }
		done
	done
fi
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
