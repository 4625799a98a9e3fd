#!/usr/bin/env bash
# bench-abuse.sh - what abusive clients cost a well-behaved one: the p99
# latency of `quorumctl bench --op get` on node 1 without and with each
# abuse of tests/abuse.py running against node 1 from another address,
# in interleaved rounds (without, with, without, with...), since these
# machines drift in speed within minutes: only same-run ratios mean much.
#
#   scripts/bench-abuse.sh [options]
#
# Options: --build DIR (a release build, default: scripts/build.sh's),
# --rounds N (7), --seconds S per bench run (3), --net B (cluster on
# 127.0.B.x, default 196), --abuses "LIST" (default: all of slowloris
# noread flood garbage oversized), -- quorumd flags (default: none, so the
# shipped limits).  The well-behaved client: 2 connections, 1000-byte
# values, 200 keys.  Prints every round's p99s, then per abuse the
# medians and their ratio (the issue's bound: 2x), and the CPU node 1
# used while the client ran (ms per second of bench): what the abuse
# costs the node itself, apart from what the abuser's own process takes
# from a machine it shares.  Figures, not a test: it never fails on them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="" rounds=7 secs=3 net=196
abuses="slowloris noread flood garbage oversized"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--net) net=$2; shift 2 ;;
	--abuses) abuses=$2; shift 2 ;;
	--) shift; break ;;
	*) sed -n '8,17p' "$0" >&2; exit 2 ;;
	esac
done
[ -n "$build" ] || build=$(bash "$top/scripts/build.sh")
build=$(cd "$build" && pwd)
T_DIR=$(mktemp -d)
top_srcdir=$top
QUORUMCTL=$build/quorumctl
ASAN_OPTIONS=${ASAN_OPTIONS:-}
# shellcheck source=../tests/sh/lib-abuse.sh
. "$top/tests/sh/lib-abuse.sh"
diag() { echo "# $*"; }
ok() { shift; "$@"; }
stop() {
	QFS_BIN=$build "$top/scripts/cluster.sh" stop -d "$T_DIR/c" >/dev/null 2>&1 || true
	rm -rf "$T_DIR"
}
trap stop EXIT
QFS_BIN=$build "$top/scripts/cluster.sh" start -n 3 -b "$net" -d "$T_DIR/c" \
	-- "$@" >/dev/null
N1=127.0.$net.11:7001
SRC=127.0.$net.50
P99_PID=$(cat "$T_DIR/c/n1.pid")
hz=$(getconf CLK_TCK)
bench_populate "$N1"
head -c 65536 /dev/urandom | "$QUORUMCTL" --node "$N1" put /abuse/v64k

# The abuse each name stands for, from another address than the client's.
abuse_args() {
	case $1 in
	slowloris) echo "slowloris --conns 200 --interval 0.5" ;;
	noread) echo "noread --conns 50 --key /abuse/v64k --rcvbuf 65536" ;;
	flood) echo "flood --conns 1500" ;;	# over the 1024 per host
	garbage) echo "garbage --garbage random --conns 20" ;;
	oversized) echo "garbage --garbage oversized --conns 20" ;;
	*) echo "bench-abuse: unknown abuse $1" >&2; return 1 ;;
	esac
}

echo "bench-abuse: $build, $rounds rounds of $secs s, get p99 in us"
summary=""
for a in $abuses; do
	args=$(abuse_args "$a")
	# shellcheck disable=SC2086
	p99_interleaved "$N1" "$rounds" "$secs" $args --addr "$N1" --source $SRC
	echo "$a ($args): $P99_ALL"
	echo "  the last round's abuser: $(grep RESULT "$T_DIR/abuse-bg.out")"
	run_ms=$((rounds * secs * 1000))
	summary="$summary$(printf '%-10s %10s %10s %6d.%02dx %9d %9d' "$a" \
		"$P99_WITHOUT" "$P99_WITH" $((P99_RATIO / 100)) \
		$((P99_RATIO % 100)) \
		$((P99_CPU_WITHOUT * 1000000 / hz / run_ms)) \
		$((P99_CPU_WITH * 1000000 / hz / run_ms)))
"
done
echo
printf '%-10s %10s %10s %7s %9s %9s\n' abuse "p99 w/o" "p99 with" ratio \
	"cpu w/o" "cpu with"
printf '%s' "$summary"
