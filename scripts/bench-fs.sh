#!/usr/bin/env bash
# One filesystem workload (tests/bench/fsbench.c: 4 writers create, stat,
# read, rename and delete thousands of 4 KiB files, then one 64 MiB file is
# written with fsync and read back) on a quorumfs mount of a 3-node
# loopback cluster, on a GlusterFS replica-3 volume (3 bricks on this
# machine) and on the local disk, all on the same disk, in one run.
#
#   scripts/bench-fs.sh [--quick] [--rounds N] [--files F] [--big-mib M]
#                       [--systems LIST] [--no-fsync] [--timeout S] [--keep]
#
#   (default)  4000 files, 64 MiB, 3 rounds (about 10 minutes)
#   --quick    1000 files, 16 MiB, 3 rounds
#   --rounds   rounds (default 3)
#   --files    small files per run (default 4000)
#   --big-mib  the large file in MiB (default 64)
#   --systems  a comma-separated subset of quorumfs,gluster,local,local-nofsync
#              (default all four)
#   --no-fsync no fsync per small file on any system (the large file is
#              always fsynced)
#   --timeout  seconds one run of the workload may take (default 900)
#   --keep     keep the temporary directory (logs, raw results)
#
# Every system runs the same workload with an fsync per small file (local
# also once without, "local-nofsync", as a reference).  The machine's speed
# drifts, so the systems are interleaved (quorumfs, gluster, local,
# local-nofsync, then again) for the rounds; the table shows each figure's
# median over the rounds, and each ratio is the median of the ratios taken
# within a round.  Progress goes to stderr, the tables (markdown) to stdout.
# docs/bench-fs.md explains the columns and the caches.  A run of the
# workload that fails is counted in the table, and the script then exits 1.
#
# Needs root (mounts, dropping caches).  Environment: QFS_BENCH_BUILD, the
# build directory (default build-bench in the source tree; built with
# scripts/build.sh, no sanitizers), which also holds quorumfs if it is
# built; QFS_BENCH_QFS_BUILD, another build directory whose quorumd and
# quorumfs are the ones measured (a branch's build, say; default the same);
# QFS_BENCH_TMP, where the temporary directory goes, on the disk measured as
# "local" (default /var/tmp); QFS_BENCH_MOUNT_OPTS, more -o options for the
# quorumfs mount.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"

files=4000
big=64
rounds=3
systems=quorumfs,gluster,local,local-nofsync
fsync=1
run_timeout=900
keep=0
mode=default
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) mode=quick; files=1000; big=16; shift ;;
	--rounds) rounds=$2; shift 2 ;;
	--files) files=$2; shift 2 ;;
	--big-mib) big=$2; shift 2 ;;
	--systems) systems=$2; shift 2 ;;
	--no-fsync) fsync=0; shift ;;
	--timeout) run_timeout=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,38s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench-fs.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$rounds$files$big$run_timeout" in
*[!0-9]*) echo "bench-fs.sh: --rounds, --files, --big-mib and --timeout take whole numbers" >&2
	exit 2 ;;
esac
if [ "$rounds" -lt 1 ] || [ "$files" -lt 4 ] || [ "$run_timeout" -lt 1 ]; then
	echo "bench-fs.sh: --rounds and --timeout must be >= 1, --files >= 4" >&2
	exit 2
fi
want=()
for s in ${systems//,/ }; do
	case $s in
	quorumfs|gluster|local) want+=("$s") ;;
	local-nofsync) [ "$fsync" = 1 ] && want+=("$s") ;;
	*) echo "bench-fs.sh: unknown system $s (quorumfs, gluster, local, local-nofsync)" >&2
		exit 2 ;;
	esac
done
[ ${#want[@]} -gt 0 ] || { echo "bench-fs.sh: no system to measure" >&2; exit 2; }
has() { case " ${want[*]} " in *" $1 "*) return 0 ;; esac; return 1; }

say() { echo "bench-fs: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root: it mounts GlusterFS and quorumfs and drops the page cache"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- what is needed --------------------------------------------------------

bash "$top/scripts/deps.sh" >&2
if has gluster && ! { command -v glusterd && command -v gluster &&
    command -v mount.glusterfs; } >/dev/null; then
	say "installing glusterfs-server glusterfs-client"
	apt-get update -q >&2
	# Whether or not the package starts its own glusterd, the one this
	# script uses is handled below (reused if running, else started).
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends glusterfs-server glusterfs-client >&2
fi

build=$(QFS_BUILD="${QFS_BENCH_BUILD:-$top/build-bench}" QFS_CONFIGURE_FLAGS="" \
	bash "$top/scripts/build.sh") || die "the build failed (see above)"
FSB=$build/tests/bench/fsbench
[ -x "$FSB" ] || die "no tests/bench/fsbench in $build"
qbuild=$(cd "${QFS_BENCH_QFS_BUILD:-$build}" && pwd) || die "no directory ${QFS_BENCH_QFS_BUILD:-}"
QFS_MOUNT=
for f in "$qbuild/quorumfs" "$qbuild/fs/quorumfs"; do
	[ -x "$f" ] && { QFS_MOUNT=$f; break; }
done
qfs_skipped=
if has quorumfs && [ -z "$QFS_MOUNT" ]; then
	say "quorumfs: not built, skipped (no quorumfs in $qbuild)"
	qfs_skipped="quorumfs: not built in $qbuild, not measured."
	w2=()
	for s in "${want[@]}"; do [ "$s" = quorumfs ] || w2+=("$s"); done
	want=("${w2[@]}")
	[ ${#want[@]} -gt 0 ] || die "no system left to measure"
fi

work=$(mktemp -d "${QFS_BENCH_TMP:-/var/tmp}/bench-fs.XXXXXX")
fstype=$(findmnt -n -o FSTYPE -T "$work")
case $fstype in
tmpfs|ramfs) say "warning: $work is on $fstype: \"local\" measures memory, not a disk" ;;
esac
results=$work/results.tsv
: > "$results"

# ---- start and stop the systems --------------------------------------------

qfs_started=0
qfs_pid=
run_pid=
gluster_vol=
glusterd_started=0
failed=1

# Unmount a mount point: politely, then lazily; never leaves it mounted.
unmount() {
	mountpoint -q "$1" 2>/dev/null || return 0
	umount "$1" 2>/dev/null || fusermount3 -u "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null || say "could not unmount $1"
}

cleanup() {
	local rc=$? p pids
	set +e
	if [ -n "$run_pid" ]; then
		kill -TERM "$run_pid" 2>/dev/null	# timeout passes it on to fsbench
		wait "$run_pid" 2>/dev/null
	fi
	unmount "$work/mnt-quorumfs"
	if [ -n "$qfs_pid" ]; then
		for _ in $(seq 1 50); do kill -0 "$qfs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -TERM "$qfs_pid" 2>/dev/null
		wait "$qfs_pid" 2>/dev/null
	fi
	if [ "$qfs_started" = 1 ]; then
		QFS_BIN=$qbuild bash "$top/scripts/cluster.sh" stop -d "$work/qfs" 2>/dev/null
	fi
	unmount "$work/mnt-gluster"
	if [ -n "$gluster_vol" ]; then
		gluster --mode=script volume stop "$gluster_vol" force >/dev/null 2>&1
		gluster --mode=script volume delete "$gluster_vol" >/dev/null 2>&1
		# Bricks, self-heal daemon or client of this volume that are
		# still there (its name is unique to this run).
		pids=$(pgrep -f -- "$gluster_vol")
		for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	fi
	if [ "$glusterd_started" = 1 ]; then
		p=$(cat "$work/gluster/glusterd.pid" 2>/dev/null)
		if [ -n "$p" ]; then
			kill -TERM "$p" 2>/dev/null
			for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$p" 2>/dev/null
		fi
	fi
	wait 2>/dev/null
	if [ "$keep" = 1 ] || [ "$failed" = 1 ]; then
		say "kept $work (logs: qfs/n*.log, quorumfs.log, gluster/*.log, runs/)"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Can files be created and removed in $1?
writable() { : > "$1/.probe" && rm -f "$1/.probe"; }

qfs_start() {
	local net i busy m
	# scripts/cluster.sh's addresses, 127.0.B.11-13:7001-7003: B=0 unless
	# a developer's cluster has it, then 251..254 (the shell tests use
	# lower ones).
	for net in 0 251 252 253 254 none; do
		[ $net = none ] && die "no free loopback addresses for quorumfs"
		busy=0
		for i in 1 2 3; do
			listening "127.0.$net.$((10 + i))" "$((7000 + i))" && busy=1
		done
		[ $busy = 0 ] && break
	done
	qfs_started=1
	QFS_NODES=$(QFS_BIN=$qbuild bash "$top/scripts/cluster.sh" start -b "$net" \
		-d "$work/qfs") || die "the quorumfs cluster did not start: see $work/qfs/n*.log"
	m=$work/mnt-quorumfs
	mkdir -p "$m"
	# In the foreground (-f), so that this script holds its pid.
	# shellcheck disable=SC2086 # QFS_BENCH_MOUNT_OPTS is words
	"$QFS_MOUNT" -f -o "nodes=$QFS_NODES" ${QFS_BENCH_MOUNT_OPTS:+-o $QFS_BENCH_MOUNT_OPTS} \
		"$m" >"$work/quorumfs.log" 2>&1 &
	qfs_pid=$!
	wait_for 30 mountpoint -q "$m" ||
		die "quorumfs did not mount on $m: $(tail -3 "$work/quorumfs.log")"
	writable "$m" || die "quorumfs is mounted on $m but cannot create a file there"
	DIR_quorumfs=$m
}

gluster_start() {
	local g=$work/gluster host i bricks=()
	mkdir -p "$g"
	if pgrep -x glusterd >/dev/null; then
		say "glusterd is already running: using it, and leaving it running"
	else
		glusterd -p "$g/glusterd.pid" --log-file="$g/glusterd.log" ||
			die "glusterd did not start: $(tail -3 "$g/glusterd.log")"
		glusterd_started=1
	fi
	wait_for 30 gluster --mode=script volume list ||
		die "glusterd does not answer: $(tail -3 "$g/glusterd.log" 2>/dev/null)"
	# Gluster refuses localhost for a brick; this machine's name does.
	host=$(hostname)
	getent hosts "$host" >/dev/null || die "this machine's name $host does not resolve (gluster needs it for the bricks)"
	gluster_vol=qfsbench-$$-$RANDOM
	for i in 1 2 3; do
		mkdir -p "$g/brick$i"
		bricks+=("$host:$g/brick$i")
	done
	# force: the bricks are on the root filesystem, and share a host.
	gluster --mode=script volume create "$gluster_vol" replica 3 "${bricks[@]}" force >&2 ||
		die "gluster volume create failed"
	gluster --mode=script volume start "$gluster_vol" >&2 ||
		die "gluster volume start failed"
	mkdir -p "$work/mnt-gluster"
	wait_for 30 mount -t glusterfs -o log-file="$g/client.log" \
		"localhost:/$gluster_vol" "$work/mnt-gluster" ||
		die "mounting the gluster volume failed: $(tail -3 "$g/client.log" 2>/dev/null)"
	writable "$work/mnt-gluster" ||
		die "the gluster volume is mounted but cannot create a file: $(tail -3 "$g/client.log")"
	DIR_gluster=$work/mnt-gluster
}

# ---- the runs ----------------------------------------------------------------

# The phases fsbench prints, in order.
phases="create stat read rename delete"
[ "$big" -gt 0 ] && phases="$phases bigwrite bigread"

# One run of the workload on one system: a line per phase into results.tsv,
# "system round phase rate p50_us p99_us", or "system round phase failed"
# for each phase that has no figures because the run failed in it or
# before it (fsbench prints a phase only when all of it succeeded).
run_one() {	# system round
	local sys=$1 r=$2 dir flags=() out=$work/runs/$1.$2 rc=0
	case $sys in
	local-nofsync) dir=$DIR_local ;;
	local) dir=$DIR_local; [ "$fsync" = 1 ] && flags+=(--fsync) ;;
	*) eval "dir=\$DIR_$sys"; [ "$fsync" = 1 ] && flags+=(--fsync) ;;
	esac
	mkdir -p "$work/runs"
	# In the background, so that a signal reaches the trap at once.
	timeout --kill-after=10 "$run_timeout" "$FSB" --writers 4 --files "$files" \
		--big-mib "$big" "${flags[@]}" "$dir" >"$out.out" 2>"$out.err" &
	run_pid=$!
	wait "$run_pid" || rc=$?
	run_pid=
	awk -v s="$sys" -v r="$r" -v phases="$phases" '
	/^RESULT / {
		split("", v)
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print s, r, v["phase"], v["rate"], (v["p50_us"] == "" ? "-" : v["p50_us"]),
		    (v["p99_us"] == "" ? "-" : v["p99_us"])
		done[v["phase"]] = 1
	}
	END {
		n = split(phases, ph, " ")
		for (i = 1; i <= n; i++) if (!(ph[i] in done)) print s, r, ph[i], "failed"
	}' "$out.out" >> "$results"
	if [ "$rc" = 0 ] && ! grep -q "^$sys $r [a-z]* failed\$" "$results"; then
		say "round $r: $sys: $(awk '/^RESULT / { split($2, p, "="); split($5, x, "="); split($6, u, "="); printf "%s %s %s, ", p[2], x[2], u[2] }' "$out.out" | sed 's/, $//')"
	else
		say "round $r: $sys: the workload FAILED (exit $rc$([ "$rc" = 124 ] && echo ", timed out after $run_timeout s")); phases without figures: $(awk -v s="$sys" -v r="$r" '$1 == s && $2 == r && $4 == "failed" { printf "%s ", $3 }' "$results")"
		sed 's/^/    /' "$out.err" | tail -5 >&2
	fi
}

mkdir -p "$work/local"
DIR_local=$work/local
has quorumfs && qfs_start
has gluster && gluster_start
say "systems: ${want[*]}; $files files of 4 KiB by 4 writers, ${big} MiB, $rounds rounds; work dir $work"
has quorumfs && say "quorumfs: $QFS_MOUNT on $DIR_quorumfs, nodes $QFS_NODES (quorumd from $qbuild)"
has gluster && say "gluster: volume $gluster_vol (replica 3) on $DIR_gluster"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
for r in $(seq 1 "$rounds"); do
	for s in "${want[@]}"; do
		run_one "$s" "$r"
	done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the tables ------------------------------------------------------------

echo
echo "## quorumfs vs GlusterFS (replica 3) vs the local disk"
echo
echo "Run $started_at on $(uname -n), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), mode $mode, local disk $(findmnt -n -o SOURCE -T "$work") ($fstype); $files files of 4 KiB by 4 writers$([ "$fsync" = 1 ] && echo ", fsync per file" || echo ", no fsync per file"), a ${big} MiB file; $rounds rounds, medians over the rounds; ratios are medians of same-round ratios. Load average (1, 5, 15 min): before setup $load_before, at the first round $load_start, at the end $load_end."
echo
if has quorumfs; then
	qsrc=$(sed -n 's/^abs_top_srcdir = //p' "$qbuild/Makefile" 2>/dev/null)
	qrev=$(git -C "${qsrc:-/nonexistent}" describe --always --dirty 2>/dev/null || echo "no git")
	echo "quorumfs: \`quorumfs -f -o nodes=...${QFS_BENCH_MOUNT_OPTS:+ -o $QFS_BENCH_MOUNT_OPTS}\` (R and W: the mount's defaults), quorumfs and quorumd built in $qbuild from $qsrc ($qrev)."
fi
has gluster && echo "GlusterFS: $(glusterfs --version | head -1), volume options as shipped, mounted with the native FUSE client."
[ -z "$qfs_skipped" ] || echo "$qfs_skipped"
echo
awk -v systems="${want[*]}" -v rounds="$rounds" "$BENCH_AWK_MEDIAN"'
# A median, and how many runs failed in that phase, if any.
function cell(sy, f, u,    c) {
	c = fmt(median(rates[sy, f]), u)
	return failed[sy, f] ? c " (" failed[sy, f] " failed)" : c
}
function fmt(v, unit) {
	if (v == "nan") return "n/a"
	return unit == "MiB/s" ? sprintf("%.1f", v) : sprintf("%.0f", v)
}
function ratio(v) { return v == "nan" ? "n/a" : sprintf(v < 0.1 ? "%.2gx" : "%.2fx", v) }
# The median over the rounds of a/b, for the rounds where both ran.
function rmedian(a, b, phase,    r, s) {
	s = ""
	for (r = 1; r <= rounds; r++)
		if (((a, phase, r) in rate) && ((b, phase, r) in rate) && rate[b, phase, r] > 0)
			s = s " " rate[a, phase, r] / rate[b, phase, r]
	return median(s)
}
{
	if ($4 == "failed") { failed[$1, $3]++; anyfail[$1] = 1; next }
	rate[$1, $3, $2] = $4
	rates[$1, $3] = rates[$1, $3] " " $4
	if ($5 != "-") { p50[$1, $3] = p50[$1, $3] " " $5; p99[$1, $3] = p99[$1, $3] " " $6 }
}
END {
	ns = split(systems, sys, " ")
	for (i = 1; i <= ns; i++) on[sys[i]] = 1
	name["quorumfs"] = "quorumfs"; name["gluster"] = "GlusterFS r3"
	name["local"] = "local"; name["local-nofsync"] = "local, no fsync"
	np = split("create stat read rename delete bigwrite bigread", ph, " ")
	unit["bigwrite"] = "MiB/s"; unit["bigread"] = "MiB/s"
	want["create"] = ">=10x GlusterFS, >=0.5x local"
	want["read"] = ">=5x GlusterFS"
	want["bigwrite"] = ">=3x GlusterFS"; want["bigread"] = ">=3x GlusterFS"

	head = "| phase | unit |"; line = "|---|---|"
	for (i = 1; i <= ns; i++) { head = head " " name[sys[i]] " |"; line = line "---:|" }
	head = head " quorumfs / GlusterFS | quorumfs / local | GlusterFS / local | target | result |"
	line = line "---:|---:|---:|---|---|"
	print head; print line
	for (p = 1; p <= np; p++) {
		f = ph[p]; u = (f in unit) ? unit[f] : "ops/s"
		row = "| " f " | " u " |"
		for (i = 1; i <= ns; i++) row = row " " cell(sys[i], f, u) " |"
		qg = rmedian("quorumfs", "gluster", f)
		ql = rmedian("quorumfs", "local", f)
		gl = rmedian("gluster", "local", f)
		res = ""
		if (f in want) {
			if (!on["quorumfs"]) res = "not measured"
			else if (failed["quorumfs", f] || failed["gluster", f] ||
			    (f == "create" && failed["local", f])) res = "**failed runs**"
			else {
				ok = 1
				if (f == "create") {
					if (qg == "nan" || qg < 10) ok = 0
					if (ql == "nan" || ql < 0.5) ok = 0
				} else if (f == "read") {
					if (qg == "nan" || qg < 5) ok = 0
				} else if (qg == "nan" || qg < 3) ok = 0
				res = ok ? "**met**" : "**not met**"
			}
			tline[++nt] = "| " f " | " want[f] " | " ratio(qg) " vs GlusterFS" \
			    (f == "create" ? ", " ratio(ql) " vs local" : "") " | " res " |"
		}
		print row " " ratio(qg) " | " ratio(ql) " | " ratio(gl) " | " want[f] " | " res " |"
	}
	print ""
	print "Latency per operation, small-file phases: median over the rounds of each run'"'"'s p50 / p99, in microseconds."
	print ""
	head = "| phase |"; line = "|---|"
	for (i = 1; i <= ns; i++) { head = head " " name[sys[i]] " |"; line = line "---:|" }
	print head; print line
	for (p = 1; p <= 5; p++) {
		f = ph[p]; row = "| " f " |"
		for (i = 1; i <= ns; i++)
			row = row " " fmt(median(p50[sys[i], f])) " / " fmt(median(p99[sys[i], f])) " |"
		print row
	}
	nf = 0
	for (i = 1; i <= ns; i++) if (anyfail[sys[i]]) nf++
	if (nf > 0) {
		print ""
		printf "**Failed runs**: a run stops at its first failed call; the phases from there on have no figures in that round, and the medians and ratios are taken over the other rounds. Failed:"
		t = ""
		for (i = 1; i <= ns; i++) {
			if (!anyfail[sys[i]]) continue
			t = t " " name[sys[i]] ":"
			for (p = 1; p <= np; p++)
				if (failed[sys[i], ph[p]]) t = t " " ph[p] " " failed[sys[i], ph[p]] " of " rounds ","
			sub(/,$/, ";", t)
		}
		sub(/;$/, ".", t)
		print t
	}
	print ""
	print "### Targets (quorumfs, same workload, same disk)"
	print ""
	print "| phase | target | measured (median of same-round ratios) | result |"
	print "|---|---|---|---|"
	for (i = 1; i <= nt; i++) print tline[i]
}' "$results"
if [ "$keep" = 1 ]; then
	echo
	echo "Raw figures (system round phase rate p50_us p99_us): $results"
fi
if grep -q ' failed$' "$results"; then
	say "some runs of the workload failed: see the table, and $work/runs/*.err"
	exit 1
fi
failed=0
