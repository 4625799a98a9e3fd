#!/usr/bin/env bash
# Anti-entropy figures, on a 3-node loopback cluster (release build):
#  1. bandwidth: 100,000 keys on the replicas, 10 of them missed by n3
#     (strict writes while it was down); `quorumctl repair` from n3 prints
#     the bytes exchanged, set against what the 10 keys' states take and
#     what all 100,000 would.
#  2. foreground latency while background work runs: p50/p99 of gets from
#     16 clients with the cluster idle, and while n3 - its data directory
#     wiped - is rebuilt by anti-entropy; interleaved idle/busy ROUNDS
#     times, medians and the ratio.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keys=${KEYS:-100000}
rounds=${ROUNDS:-3}
export QFS_BUILD=${QFS_BUILD:-$top/build-bench} QFS_CONFIGURE_FLAGS=
bin=$(bash "$top/scripts/build.sh")
export QFS_BIN=$bin
dir=$(mktemp -d /tmp/qfs-ae.XXXXXX)
q="$bin/quorumctl"
flags="--ae-interval-ms 0 --gossip-interval-ms 100 --phi-threshold 4"
members=n1@127.0.62.11:7001,n2@127.0.62.12:7002,n3@127.0.62.13:7003
export QUORUM_NODES=127.0.62.11:7001,127.0.62.12:7002,127.0.62.13:7003
trap 'bash "$top/scripts/cluster.sh" stop -d "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT

start3() {
	"$bin/quorumd" --id n3 --data-dir "$dir/n3" --members "$members" \
		--pid-file "$dir/n3.pid" --daemon --insecure $flags 2>>"$dir/n3.log"
	"$q" --node 127.0.62.13:7003 --wait 30 wait
}
stop3() {
	kill -TERM "$(cat "$dir/n3.pid")"
	while [ -f "$dir/n3.pid" ]; do sleep 0.05; done
}

bash "$top/scripts/cluster.sh" start -n 3 -b 62 -d "$dir" -- $flags >/dev/null
echo "== loading $keys keys of 100 bytes"
"$q" bench --op get --keys "$keys" --value-size 100 --clients 16 --pipeline 8 \
	--populate --seconds 0 | grep -v '^RESULT' | tail -n 2

# Writes acknowledged by W=2 may still be on their way to the third
# replica: converge first, so that n3 misses exactly the 10 keys below.
"$q" repair >/dev/null

echo "== 1. bandwidth: n3 misses 10 keys, then repairs"
stop3
# (new values of the same 100-byte size, so the get benchmark accepts them)
for i in $(seq 0 9); do "$q" --strict put "/bench/v100/k$i" "$(printf '%-100s' "changed value $i while n3 was down")"; done
start3
out=$("$q" --node 127.0.62.13:7003 repair)
echo "$out"
bytes=$(sed -n 's/^repair: .* \([0-9]*\) bytes exchanged/\1/p' <<<"$out")
# what the 10 keys' states are worth on the wire, and all of them
one=$("$q" --node 127.0.62.11:7001 dump | awk '$3 == "/bench/v100/k1" { print length($0) }')
echo "bytes exchanged: $bytes; 10 keys x ~$((one + 100)) bytes each = ~$(( (one + 100) * 10 )); all $keys keys = ~$(( (one + 100) * keys ))"
echo "ratio to the 10 keys: $(awk -v b="$bytes" -v k="$(( (one + 100) * 10 ))" 'BEGIN { printf "%.1f", b / k }')x; to all keys: $(awk -v b="$bytes" -v k="$(( (one + 100) * keys ))" 'BEGIN { printf "%.4f", b / k }')x"

echo "== 2. foreground gets: idle vs while n3 is rebuilt from nothing"
measure() {
	"$q" --nodes 127.0.62.11:7001,127.0.62.12:7002 bench --op get --keys "$keys" \
		--clients 16 --seconds "${SECONDS_PER:-5}" >"$dir/measure.out" 2>&1 || true
	sed -n 's/^RESULT .* p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' "$dir/measure.out" |
		grep . || { cat "$dir/measure.out" >&2; echo "0 0"; }
}
idle_p99=""; busy_p99=""; idle_p50=""; busy_p50=""
for r in $(seq 1 "$rounds"); do
	read -r p50 p99 < <(measure)
	idle_p50="$idle_p50 $p50"; idle_p99="$idle_p99 $p99"
	stop3; rm -rf "$dir/n3"; start3
	"$q" --node 127.0.62.13:7003 --timeout-ms 600000 repair >"$dir/rebuild.out" 2>&1 &
	rp=$!
	sleep 0.5
	read -r p50 p99 < <(measure)
	busy_p50="$busy_p50 $p50"; busy_p99="$busy_p99 $p99"
	wait "$rp" || true
	echo "round $r: idle p50/p99 $(echo $idle_p50 | awk '{print $NF}')/$(echo $idle_p99 | awk '{print $NF}') us," \
		"during rebuild $p50/$p99 us; rebuild: $(tail -n 1 "$dir/rebuild.out")"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mi=$(median <<<"$idle_p99"); mb=$(median <<<"$busy_p99")
echo "median p50: idle $(median <<<"$idle_p50") us, during rebuild $(median <<<"$busy_p50") us"
echo "median p99: idle $mi us, during rebuild $mb us, ratio $(awk -v a="$mb" -v b="$mi" 'BEGIN { printf "%.2f", a / b }')"
