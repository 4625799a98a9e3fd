#!/usr/bin/env bash
# bench-disk.sh - what the disk under a benchmark can do at most: the
# ceiling any replicated store on this machine works under, since its N
# replicas all write to this one disk.
#
#   scripts/bench-disk.sh [--mib M] [--rounds R] [DIR]
#
# In DIR (default $QFS_BENCH_TMP or /var/tmp, the disk bench-fs.sh
# measures as "local"), for R rounds (default 5), each figure taken in
# turn within a round:
#   write x1   one file of M MiB (default 64) written in 1 MiB blocks and
#              fdatasync'ed (dd conv=fdatasync), as fsbench's bigwrite;
#   write x3   three such files written at once, each synced: the disk's
#              aggregate synced bandwidth when three replicas write;
#   read x1    one such file read after its pages were dropped;
#   read x3    three read at once, after the drop;
#   sync4k x1, sync4k x3   4 KiB appends each followed by fdatasync, for
#              2 s, by one and by three writers: synced small writes/s;
#   cpu/sync   the CPU time (user + system) the single writer spent per
#              append and sync: what each synced write costs the machine
#              besides the wait, which a store pays once per replica.
# Prints each round, then the medians.  Needs root (drop_caches).  Figures,
# not a test.
set -euo pipefail
mib=64 rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--mib) mib=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0"; exit 0 ;;
	-*) echo "bench-disk: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
base=${1:-${QFS_BENCH_TMP:-/var/tmp}}
work=$(mktemp -d "$base/bench-disk.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
rate() { awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.1f", b / (e - s) }'; }

# write_files K: K files of $mib MiB at once, each synced; prints MiB/s.
write_files() {
	local k=$1 i s e
	drop
	s=$(now)
	for i in $(seq "$k"); do
		dd if="$work/src" of="$work/w$i" bs=1M conv=fdatasync status=none &
	done
	wait
	e=$(now)
	rate $((k * mib)) "$s" "$e"
}

# read_files K: the K files written last, read at once after a drop.
read_files() {
	local k=$1 i s e
	drop
	s=$(now)
	for i in $(seq "$k"); do
		dd if="$work/w$i" of=/dev/null bs=1M status=none &
	done
	wait
	e=$(now)
	rate $((k * mib)) "$s" "$e"
}

# sync_small K: K writers appending 4 KiB + fdatasync for 2 s; syncs/s.
sync_small() {
	local k=$1 i
	for i in $(seq "$k"); do
		python3 - "$work/s$i" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
buf, n, t0, c0 = b"x" * 4096, 0, time.monotonic(), os.times()
while time.monotonic() - t0 < 2.0:
    os.write(fd, buf); os.fdatasync(fd); n += 1
c1 = os.times()
print(n / (time.monotonic() - t0), (c1.user + c1.system - c0.user - c0.system) / n * 1e6)
EOF
	done | awk '{ s += $1; c += $2 } END { printf "%.0f %.0f", s, c / NR }'
}

head -c "${mib}M" /dev/urandom > "$work/src"
cols="write_x1 write_x3 read_x1 read_x3 sync4k_x1 sync4k_x3 cpu/sync"
fmt='%-6s %10s %10s %10s %10s %10s %10s %10s\n'
echo "bench-disk: $work on $(df --output=source "$work" | tail -1), $mib MiB files, $rounds rounds" >&2
printf "$fmt" round $cols
for r in $(seq "$rounds"); do
	w1=$(write_files 1); w3=$(write_files 3)
	r1=$(read_files 1); r3=$(read_files 3)
	read -r s1 c1 <<< "$(sync_small 1)"
	read -r s3 _ <<< "$(sync_small 3)"
	printf "$fmt" "$r" "$w1" "$w3" "$r1" "$r3" "$s1" "$s3" "$c1" |
		tee -a "$work/rounds"
done
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
meds=()
for c in 2 3 4 5 6 7 8; do
	meds+=("$(awk -v c=$c '{ print $c }' "$work/rounds" | median)")
done
printf "$fmt" median "${meds[@]}"
echo "units: write and read in MiB/s (x3: the three files together); sync4k in synced 4 KiB appends/s (x3: together); cpu/sync in microseconds"
