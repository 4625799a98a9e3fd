#!/usr/bin/env bash
# Run the whole test suite (make check) on a sanitizer build and print one
# closing line "N passed, N failed" counting every TAP test point.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export QFS_BUILD=${QFS_BUILD:-$top/build-check}
export QFS_CONFIGURE_FLAGS=${QFS_CONFIGURE_FLAGS---enable-sanitizers --enable-werror}
build=$("$top/scripts/build.sh") || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
cd "$build"
log=$(mktemp)
make -j"$(nproc)" check 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
count() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$log" | tail -n 1; }
pass=$(count PASS); fail=$(count FAIL); err=$(count ERROR); xpass=$(count XPASS)
pass=${pass:-0}; failed=$(( ${fail:-0} + ${err:-0} + ${xpass:-0} ))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1	# the harness itself failed (a build error, a crash)
fi
if [ "$failed" -ne 0 ]; then
	for f in $(find . -name '*.log' ! -name test-suite.log ! -name config.log); do
		grep -q -E '^(not ok|Bail out)' "$f" 2>/dev/null && { echo "--- $f"; cat "$f"; }
	done
fi
rm -f "$log"
echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
