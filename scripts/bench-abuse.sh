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
# noread flood garbage oversized), --no-model (skip the modelled runs),
# -- quorumd flags (default: none, so the shipped limits).  The
# well-behaved client: 2 connections, 1000-byte values, 200 keys.
#
# Each round runs the client three times: without abuse; with the abuser
# AS IS (the abuser's python process at nice 19 on the same two cores as
# the three nodes and the client: its own CPU, and the kernel's work for
# its sockets that runs in its context, compete with the node and the
# client); and with the abuser MODELLED (the same process in a cgroup of
# idle priority, cpu.idle = 1: it runs only on CPU time nothing else
# wants, which stands for an abuser on another machine; the abuse itself
# is unchanged, but it slows down whenever the node and the client are
# busy, so this figure flatters the node where the abuse is CPU-bound on
# the abuser's side).  The as-is figure is the one to quote; the modelled
# one says how much of it is the shared machine.  Without a writable
# cgroup cpu controller (v1 or v2), the modelled runs are skipped, saying so.
#
# Prints every round's p99s, then per abuse the medians and their ratios
# to the run without (the issue's bound: 2x), the CPU node 1 used while
# the client ran (ms per second of bench; without, with, modelled): what
# the abuse costs the node itself, and the CPU the abuser's own process
# used (as is, modelled).  Figures, not a test: it never fails on them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build="" rounds=7 secs=3 net=196 model=1
abuses="slowloris noread flood garbage oversized"
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--seconds) secs=$2; shift 2 ;;
	--net) net=$2; shift 2 ;;
	--abuses) abuses=$2; shift 2 ;;
	--no-model) model=0; shift ;;
	--) shift; break ;;
	*) sed -n '8,37p' "$0" >&2; exit 2 ;;
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
CG=""
stop() {
	QFS_BIN=$build "$top/scripts/cluster.sh" stop -d "$T_DIR/c" >/dev/null 2>&1 || true
	rm -rf "$T_DIR"
	[ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true
}
trap stop EXIT

# The modelled abuser's cgroup (see the top): cgroup v2's, or v1's cpu
# controller; CG stays empty when neither can be made.
model_cgroup() {
	local d
	if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
		d=/sys/fs/cgroup/qfs-bench-abuse-$net
	else
		d=/sys/fs/cgroup/cpu/qfs-bench-abuse-$net
	fi
	mkdir -p "$d" 2>/dev/null || return 1
	if ! echo 1 >"$d/cpu.idle" 2>/dev/null; then
		rmdir "$d" 2>/dev/null
		return 1
	fi
	CG=$d
}
# abuser_idle COMMAND...: run COMMAND in that cgroup (P99_MODEL's runner).
abuser_idle() {
	echo "$BASHPID" >"$CG/cgroup.procs" && exec "$@"
}
if [ "$model" = 1 ]; then
	if model_cgroup; then
		P99_MODEL=abuser_idle
	else
		echo "bench-abuse: no modelled runs: cannot make a cgroup with cpu.idle (needs a writable cgroup cpu controller)"
	fi
fi
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
	ms() { echo $(($1 * 1000000 / hz / run_ms)); }
	x() { printf '%d.%02dx' $(($1 / 100)) $(($1 % 100)); }
	if [ -n "${P99_MODEL:-}" ]; then
		m="$P99_MODELLED $(x "$P99_MRATIO") $(ms "$P99_CPU_MODELLED") $(ms "$P99_CPU_ABUSER_MODELLED")"
	else
		m="- - - -"
	fi
	# shellcheck disable=SC2086 # $m is four columns
	summary="$summary$(printf '%-10s %8s %5s | %8s %6s %5s %6s | %8s %6s %5s %6s' \
		"$a" "$P99_WITHOUT" "$(ms "$P99_CPU_WITHOUT")" "$P99_WITH" \
		"$(x "$P99_RATIO")" "$(ms "$P99_CPU_WITH")" \
		"$(ms "$P99_CPU_ABUSER")" $m)
"
done
echo
echo "p99 in us; cpu: ms per second of bench, of node 1 (node) and of the abuser's process (abuser)"
printf '%-10s %-14s | %-29s | %-29s\n' "" "without" "with the abuser as is" \
	"with the abuser modelled"
printf '%-10s %8s %5s | %8s %6s %5s %6s | %8s %6s %5s %6s\n' abuse p99 node \
	p99 ratio node abuser p99 ratio node abuser
printf '%s' "$summary"
