#!/usr/bin/env bash
# How fast gossip spreads a change: for clusters of 3, 10 and 50 quorumd
# processes on loopback, restart one node (a new generation) and measure,
# from every other node's log line "member n1 restarted", how long until
# the last node knew; print it in gossip rounds next to log2(nodes).
# Repeated RUNS times per size; medians.  Usage: bench-gossip.sh [SIZES...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
sizes=${*:-3 10 50}
runs=${RUNS:-3}
interval=${INTERVAL_MS:-200}
export QFS_BUILD=${QFS_BUILD:-$top/build-bench} QFS_CONFIGURE_FLAGS=
bin=$(bash "$top/scripts/build.sh")
export QFS_BIN=$bin
dir=$(mktemp -d /tmp/qfs-gossip.XXXXXX)
trap 'bash "$top/scripts/cluster.sh" stop -d "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT

ms_of() {	# HH:MM:SS.mmm -> ms since midnight
	awk -F'[:.]' '{ print (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }' <<<"$1"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '%6s %8s %12s %14s %s\n' nodes log2 "median ms" "median rounds" "runs (rounds)"
for n in $sizes; do
	flags="--gossip-interval-ms $interval --ae-interval-ms 0 --disk-threads 1 --vnodes 16"
	bash "$top/scripts/cluster.sh" start -n "$n" -b 61 -d "$dir" -- $flags >/dev/null
	members=$(for i in $(seq 1 "$n"); do printf 'n%d@127.0.61.%d:%d,' "$i" $((10 + i)) $((7000 + i)); done)
	members=${members%,}
	all_ms=""; all_rounds=""
	for r in $(seq 1 "$runs"); do
		sleep 2	# let heartbeats settle before the change
		kill -TERM "$(cat "$dir/n1.pid")"
		while [ -f "$dir/n1.pid" ]; do sleep 0.05; done
		"$bin/quorumd" --id n1 --data-dir "$dir/n1" --members "$members" \
			--pid-file "$dir/n1.pid" --daemon --insecure $flags 2>>"$dir/n1.log"
		start=$(grep 'serving on' "$dir/n1.log" | tail -n 1 | cut -c1-12)
		# wait (bounded) until every other node logged the restart
		deadline=$(( $(date +%s) + 30 ))
		while :; do
			seen=0
			for i in $(seq 2 "$n"); do
				[ "$(grep -c 'member n1 restarted' "$dir/n$i.log")" -ge "$r" ] && seen=$((seen + 1))
			done
			[ "$seen" -eq $((n - 1)) ] && break
			[ "$(date +%s)" -ge "$deadline" ] && { echo "run $r: only $seen of $((n - 1)) nodes learnt it" >&2; break; }
			sleep 0.1
		done
		last=0
		for i in $(seq 2 "$n"); do
			t=$(grep 'member n1 restarted' "$dir/n$i.log" | sed -n "${r}p" | cut -c1-12)
			[ -n "$t" ] || continue
			v=$(ms_of "$t"); [ "$v" -gt "$last" ] && last=$v
		done
		took=$(( last - $(ms_of "$start") ))
		all_ms="$all_ms $took"
		all_rounds="$all_rounds $(awk -v t="$took" -v i="$interval" 'BEGIN { printf "%.1f", t / i }')"
	done
	bash "$top/scripts/cluster.sh" stop -d "$dir" >/dev/null
	rm -rf "${dir:?}"/*
	printf '%6d %8.1f %12s %14s %s\n' "$n" "$(awk -v n="$n" 'BEGIN { print log(n) / log(2) }')" \
		"$(tr ' ' '\n' <<<"$all_ms" | grep . | median)" \
		"$(tr ' ' '\n' <<<"$all_rounds" | grep . | median)" "$all_rounds"
done
