# bench-lib.sh - helpers the benchmark scripts share; sourced, not run:
# shellcheck shell=bash
#   . "$top/scripts/bench-lib.sh"

# Is something listening on host port?
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Wait until a command succeeds (at most $1 seconds).
wait_for() {
	local n=$(( $1 * 10 )); shift
	while [ $n -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1; n=$((n - 1))
	done
	return 1
}

# An awk function for the tables: median(s), the median of the numbers in
# the space-separated string s ("nan" if there are none).  Put it before
# the program: awk "$BENCH_AWK_MEDIAN"'...'.
# shellcheck disable=SC2034 # used by the scripts that source this
BENCH_AWK_MEDIAN='
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) {		# insertion sort, numerically
		t = a[i] + 0
		for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	if (n == 0) return "nan"
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
'
