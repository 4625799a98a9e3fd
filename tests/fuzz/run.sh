#!/bin/sh
# run.sh FILE.fuzz - run one libFuzzer target for $FUZZ_SECONDS (default 30)
# and report it as one TAP test point.
#
# FILE.fuzz names the target's binary (bin=, in the build tree) and its seed
# corpus (seeds=, in the source tree).  The fuzzer starts from the seeds plus
# what earlier runs found (fuzz-run/NAME/corpus, kept), writes any crashing
# input to fuzz-run/NAME/, and its log to fuzz-run/NAME/log.  A crash, a
# broken contract (abort), a leak, a timeout (10 s on one input) or running
# out of memory (2 GiB) fails the test point with the input's path; the
# closing line says how many inputs ran either way.
set -u
spec=$1
name=$(basename "$spec" .fuzz)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$spec")/../.." && pwd)}
seconds=${FUZZ_SECONDS:-30}
bin= seeds=
. "$spec"
run=fuzz-run/$name
echo "1..1"
if [ ! -x "$bin" ]; then
	echo "not ok 1 - fuzz $name: $bin not built (make fuzz-build; needs clang)"
	exit 0
fi
mkdir -p "$run/corpus"
cp "$top_srcdir/$seeds"/* "$run/corpus/"
rm -f "$run"/crash-* "$run"/leak-* "$run"/timeout-* "$run"/oom-*
rc=0
"./$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$run/" "$run/corpus" \
	>"$run/log" 2>&1 || rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log")
corpus=$(ls "$run/corpus" | wc -l)
what="fuzz $name: ${execs:-?} inputs in ${seconds}s, corpus of $corpus"
if [ "$rc" -eq 0 ]; then
	echo "ok 1 - $what"
	exit 0
fi
# What went wrong, for the log: the fuzzer's report around the failure.
grep -E -A 12 '^==[0-9]+==|broken:|^SUMMARY' "$run/log" |
	head -n 40 | sed 's/^/# /'
artifact=$(ls "$run"/crash-* "$run"/leak-* "$run"/timeout-* "$run"/oom-* \
	2>/dev/null | head -n 1)
echo "not ok 1 - $what: exit status $rc, input in ${artifact:-$run/log}"
