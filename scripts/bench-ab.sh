#!/usr/bin/env bash
# bench-ab.sh - compare two builds of quorumfs on the same load, in
# interleaved rounds (A B A B ...), since these machines drift 2-3x in
# speed within minutes: only same-round ratios mean anything.
#
#   scripts/bench-ab.sh [options] BUILD_A BUILD_B
#
# BUILD_A and BUILD_B are build directories (each with quorumd and
# quorumctl, e.g. made by scripts/build.sh with QFS_BUILD set).  Each gets
# its own 3-node cluster on loopback (127.0.180.x for A, 127.0.181.x for B),
# both up for the whole run, loaded one at a time with `quorumctl bench`.
# Besides throughput it reports the CPU time the three daemons used per
# operation (user + system, from /proc): on a machine shared with other
# work that is a far steadier measure of a change than operations/s.
# Options: --op put|get (default put), --clients C (64), --value-size B
# (100), --seconds S per measurement (5), --rounds N (5), --tls a|b|ab
# (which clusters run with TLS, credentials made by scripts/qfs-certs.sh;
# default neither: --tls b with one build twice measures what TLS costs),
# --keep DIR (at the end, before the clusters stop, save into DIR/a and
# DIR/b each node's resident memory, data size and LevelDB LOG),
# --fresh-values (quorumctl bench's: new random bytes for every value).
# Prints each
# round and then the medians and the median of the B/A ratios.  Figures,
# not a test: it never fails on them.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
op=put clients=64 size=100 secs=5 rounds=5 tls= keep='' fresh=
while [ $# -gt 2 ]; do
	case $1 in
	--fresh-values) fresh=--fresh-values; shift; continue ;;
	--op) op=$2 ;;
	--clients) clients=$2 ;;
	--value-size) size=$2 ;;
	--seconds) secs=$2 ;;
	--rounds) rounds=$2 ;;
	--tls) tls=$2 ;;
	--keep) keep=$2 ;;
	*) echo "bench-ab: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done
[ $# -eq 2 ] || { sed -n '4,22p' "$0" >&2; exit 2; }
A=$(cd "$1" && pwd) B=$(cd "$2" && pwd)
for b in "$A" "$B"; do
	[ -x "$b/quorumd" ] && [ -x "$b/quorumctl" ] ||
		{ echo "bench-ab: $b has no quorumd and quorumctl" >&2; exit 2; }
done
work=$(mktemp -d)
# save DIR TO: for each node of the cluster in DIR, its RSS (kB), its data
# directory's size (kB) into TO/mem, and its LevelDB LOG as TO/nI.LOG.
save() {
	local f n
	mkdir -p "$2"
	for f in "$1"/n*.pid; do
		[ -f "$f" ] || continue
		n=$(basename "$f" .pid)
		echo "$n rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$(cat "$f")/status") data_kb=$(du -sk "$1/$n" | cut -f1)" >>"$2/mem"
		cp "$1/$n/db/LOG" "$2/$n.LOG" 2>/dev/null || true
	done
}
stop() {
	if [ -n "$keep" ]; then
		save "$work/a" "$keep/a" || true
		save "$work/b" "$keep/b" || true
	fi
	QFS_BIN=$A "$top/scripts/cluster.sh" stop -d "$work/a" >/dev/null 2>&1 || true
	QFS_BIN=$B "$top/scripts/cluster.sh" stop -d "$work/b" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap stop EXIT
mkdir -p "$work/a" "$work/b"
# tls_flag SIDE: --tls when --tls names that side (a or b).
tls_flag() { case "$tls" in *"$1"*) echo --tls ;; esac; }
# ctl BUILD DIR ARGS...: quorumctl of BUILD, with DIR's client credentials
# when its cluster runs TLS.
ctl() {
	local b=$1 d=$2; shift 2
	(
		# shellcheck disable=SC1091
		[ ! -f "$d/certs/client.env" ] || . "$d/certs/client.env"
		"$b/quorumctl" "$@"
	)
}
# shellcheck disable=SC2046
QFS_BIN=$A "$top/scripts/cluster.sh" start -n 3 -b 180 -d "$work/a" $(tls_flag a) >/dev/null
# shellcheck disable=SC2046
QFS_BIN=$B "$top/scripts/cluster.sh" start -n 3 -b 181 -d "$work/b" $(tls_flag b) >/dev/null
na=$("$top/scripts/cluster.sh" nodes -n 3 -b 180)
nb=$("$top/scripts/cluster.sh" nodes -n 3 -b 181)
ctl "$A" "$work/a" --nodes "$na" wait >/dev/null
ctl "$B" "$work/b" --nodes "$nb" wait >/dev/null
if [ "$op" = get ]; then
	ctl "$A" "$work/a" --nodes "$na" bench --populate --seconds 0 --value-size "$size" $fresh >/dev/null
	ctl "$B" "$work/b" --nodes "$nb" bench --populate --seconds 0 --value-size "$size" $fresh >/dev/null
fi

# cpu_ticks DIR: user + system clock ticks used so far by the daemons of
# the cluster in DIR (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
	local f t=0
	for f in "$1"/n*.pid; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$(cat "$f")/stat")))
	done
	echo "$t"
}
# run_one BUILD NODES DIR: one measurement; prints its RESULT line with
# cpu_us_per_op= added.
run_one() {
	local t0 t1 res
	t0=$(cpu_ticks "$3")
	res=$(ctl "$1" "$3" --nodes "$2" bench --op "$op" --clients "$clients" \
		--value-size "$size" --seconds "$secs" $fresh 2>&1 | grep '^RESULT')
	t1=$(cpu_ticks "$3")
	echo "$res cpu_us_per_op=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		-v ops="$(field ops_per_s "$res")" -v s="$secs" \
		'BEGIN { printf "%.1f", (ops > 0 ? d * 1e6 / hz / (ops * s) : 0) }')"
}
# field NAME LINE: the value of NAME= in a RESULT line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
echo "# $op, $clients clients, ${size} B ${fresh:+fresh }values, ${secs} s per run; A=$A B=$B${tls:+; TLS on $tls}"
echo "round ops_per_s_A ops_per_s_B ratio p50_us_A p50_us_B p99_us_A p99_us_B cpu_us_per_op_A cpu_us_per_op_B cpu_ratio"
for r in $(seq 1 "$rounds"); do
	ra=$(run_one "$A" "$na" "$work/a")
	rb=$(run_one "$B" "$nb" "$work/b")
	oa=$(field ops_per_s "$ra") ob=$(field ops_per_s "$rb")
	ca=$(field cpu_us_per_op "$ra") cb=$(field cpu_us_per_op "$rb")
	echo "$r $oa $ob $(awk -v a="$oa" -v b="$ob" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }') $(field p50_us "$ra") $(field p50_us "$rb") $(field p99_us "$ra") $(field p99_us "$rb") $ca $cb $(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')"
done | tee "$work/rounds"
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "median ops_per_s: A $(cut -d' ' -f2 "$work/rounds" | median), B $(cut -d' ' -f3 "$work/rounds" | median); median B/A: $(cut -d' ' -f4 "$work/rounds" | median)x"
echo "median p50_us: A $(cut -d' ' -f5 "$work/rounds" | median), B $(cut -d' ' -f6 "$work/rounds" | median)"
echo "median cpu_us_per_op: A $(cut -d' ' -f9 "$work/rounds" | median), B $(cut -d' ' -f10 "$work/rounds" | median); median B/A: $(cut -d' ' -f11 "$work/rounds" | median)x"
