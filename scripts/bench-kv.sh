#!/usr/bin/env bash
# Throughput and latency (p50, p99, p99.9) of quorumfs puts and gets on a
# 3-node loopback cluster (N=3), next to redis-server (appendonly yes,
# appendfsync always: one node, synced writes) and a 3-member etcd cluster
# (raft, fsync'd writes), all on this machine and on loopback only.  For
# puts, also "redis x3": three such redis-servers, each sent every write
# at once by its own redis-benchmark; the slowest one's rate is what three
# synced replicas on this machine take without any coordination; and
# "redis x3b", the same with the second and third servers sent their
# writes in batches on two connections, as a replica's peers send them;
# and "leveldb x3": three LevelDBs on the store's settings, written at once
# by store/leveldb-bench as a replica writes (read the key, write its record
# and index rows), and "leveldb x3p", the same with one row and no read:
# the ceiling any LevelDB-based replica has on this machine.
#
#   scripts/bench-kv.sh [--quick | --full] [--seconds S] [--rounds N]
#                       [--keys K] [--keep] [--together]
#
#   (default)  (R,W)=(2,2) for 100 B and 4 KiB values, 1, 16 and 64 clients,
#              pipeline 1 and 16 (not 1 client at 16); (1,1) and (1,3) too
#              at 64 clients, pipeline 1: about 15 minutes
#   --quick    only the target rows: 64 clients, (R,W)=(2,2), pipeline 1
#   --full     every (R,W) for every row of the matrix (about 25 minutes)
#   --seconds  length of one measurement (default 3)
#   --rounds   rounds per configuration (default 3)
#   --keys     the key space of the gets (default 10000)
#   --keep     keep the temporary directory (data, logs, raw results)
#   --together leave the other two systems running (idle) while one is
#              measured; by default they are paused (SIGSTOP) meanwhile
#
# The machine's speed drifts, so each configuration is measured in rounds,
# the systems interleaved within a round (quorumfs, redis, etcd, then again);
# the table shows each figure's median over the rounds, and each ratio is
# the median of the ratios taken within a round.  Progress goes to stderr,
# the tables (markdown) to stdout.  docs/bench-kv.md explains the columns.
#
# Environment: QFS_BENCH_BUILD, the build directory (default build-bench in
# the source tree; built with scripts/build.sh, no sanitizers);
# QFS_BENCH_TMP, where the temporary directory goes (default $TMPDIR).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$top/scripts/bench-lib.sh"

mode=default
secs=3
rounds=3
keys=10000
keep=0
alone=1
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) mode=quick; shift ;;
	--full) mode=full; shift ;;
	--seconds) secs=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--keys) keys=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--together) alone=0; shift ;;
	-h|--help) sed -n '2,35s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench-kv.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$secs$rounds$keys" in
*[!0-9]*) echo "bench-kv.sh: --seconds, --rounds and --keys take whole numbers" >&2
	exit 2 ;;
esac
if [ "$secs" -lt 1 ] || [ "$rounds" -lt 1 ] || [ "$keys" -lt 1 ]; then
	echo "bench-kv.sh: --seconds, --rounds and --keys must be >= 1" >&2
	exit 2
fi

say() { echo "bench-kv: $*" >&2; }
die() { say "$*"; exit 1; }

# ---- what is needed --------------------------------------------------------

bash "$top/scripts/deps.sh"
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	say "installing ${need[*]}"
	$SUDO apt-get update -q >&2
	# Packaged services are not started here (policy-rc.d); none is used:
	# every server below is started by hand on loopback and stopped at exit.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
		--no-install-recommends "${need[@]}" >&2
fi

build=$(QFS_BUILD="${QFS_BENCH_BUILD:-$top/build-bench}" QFS_CONFIGURE_FLAGS="" \
	bash "$top/scripts/build.sh") || die "the build failed (see above)"
Q="$build/quorumctl"
LB="$build/store/leveldb-bench"
if [ ! -x "$Q" ] || [ ! -x "$build/quorumd" ] || [ ! -x "$LB" ]; then
	die "no quorumd, quorumctl or store/leveldb-bench in $build"
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true	# 64 x 16 connections for etcd
work=$(mktemp -d "${QFS_BENCH_TMP:-${TMPDIR:-/tmp}}/bench-kv.XXXXXX")
results=$work/results.tsv
: > "$results"

# ---- start and stop the systems --------------------------------------------

qfs_started=0
redis_pid=
redis3_pids=()	# the other two of "redis x3" (the first is redis_pid)
redis3_ports=()
etcd_pids=()
failed=1

cleanup() {
	local rc=$? p f
	set +e
	# A system may be paused (see "each system alone").
	for f in "$work"/qfs/n*.pid; do [ -f "$f" ] && kill -CONT "$(cat "$f")" 2>/dev/null; done
	for p in $redis_pid "${redis3_pids[@]}" "${etcd_pids[@]}"; do kill -CONT "$p" 2>/dev/null; done
	if [ "$qfs_started" = 1 ]; then
		QFS_BIN=$build bash "$top/scripts/cluster.sh" stop -d "$work/qfs" 2>/dev/null
	fi
	for p in $redis_pid "${redis3_pids[@]}" "${etcd_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $redis_pid "${redis3_pids[@]}" "${etcd_pids[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$keep" = 1 ] || [ "$failed" = 1 ]; then
		say "kept $work (logs: qfs/n*.log, redis/redis.log, etcd/e*.log)"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qfs_start() {
	local i net busy members="" nodes=""
	busy=0
	for i in 1 2 3; do
		listening "127.0.0.$((10 + i))" "$((7000 + i))" && busy=1
	done
	qfs_started=1
	if [ $busy = 0 ]; then
		nodes=$(QFS_BIN=$build bash "$top/scripts/cluster.sh" start -d "$work/qfs") ||
			die "the quorumfs cluster did not start: see $work/qfs/n*.log"
	else
		# scripts/cluster.sh's addresses (127.0.0.11-13:7001-7003) are
		# taken, by a developer's cluster, which would answer in place of
		# ours.  Start the same nodes the same way on 127.0.N.11-13, N in
		# 251..254 (the shell tests use 1..250); scripts/cluster.sh stop
		# -d stops them all the same (same pid files).
		for net in 251 252 253 254 none; do
			busy=0
			for i in 1 2 3; do
				[ $net = none ] || ! listening "127.0.$net.$((10 + i))" "$((7000 + i))" || busy=1
			done
			[ $busy = 0 ] && break
		done
		[ $net != none ] || die "no free loopback addresses for quorumfs"
		say "127.0.0.11-13:7001-7003 are taken (another quorumfs cluster): using 127.0.$net.11-13"
		for i in 1 2 3; do
			members="$members${members:+,}n$i@127.0.$net.$((10 + i)):$((7000 + i))"
			nodes="$nodes${nodes:+,}127.0.$net.$((10 + i)):$((7000 + i))"
		done
		mkdir -p "$work/qfs"
		for i in 1 2 3; do
			"$build/quorumd" --id "n$i" --data-dir "$work/qfs/n$i" \
				--members "$members" --pid-file "$work/qfs/n$i.pid" \
				--daemon --insecure 2>>"$work/qfs/n$i.log" ||
				die "quorumd n$i did not start: $(tail -3 "$work/qfs/n$i.log")"
		done
		QUORUM_NODES=$nodes "$Q" wait --wait 30 >&2 ||
			die "the quorumfs cluster did not come up: see $work/qfs/n*.log"
	fi
	for i in 1 2 3; do
		kill -0 "$(cat "$work/qfs/n$i.pid" 2>/dev/null)" 2>/dev/null ||
			die "quorumd n$i is not running: $(tail -3 "$work/qfs/n$i.log")"
	done
	QFS_NODES=$nodes
}

# First port from $2 up that is free on every address of $1 (and $2+1 too).
free_port() {
	local port=$2 a ok
	while [ "$port" -lt 65000 ]; do
		ok=1
		for a in $1; do
			if listening "$a" "$port" || listening "$a" $((port + 1)); then
				ok=0
			fi
		done
		[ $ok = 1 ] && { echo "$port"; return 0; }
		port=$((port + 2))
	done
	return 1
}

redis_server() {	# dir: start one on a free port; sets port and pid
	mkdir -p "$1"
	port=$(free_port 127.0.0.1 16379) || die "no free port for redis"
	redis-server --bind 127.0.0.1 --port "$port" --dir "$1" \
		--daemonize no --save "" --appendonly yes --appendfsync always \
		--logfile "$1/redis.log" >/dev/null 2>&1 &
	pid=$!
	wait_for 20 redis-cli -h 127.0.0.1 -p "$port" ping ||
		die "redis-server did not start: $(tail -3 "$1/redis.log")"
	[ "$(redis-cli -h 127.0.0.1 -p "$port" config get appendfsync | tail -1)" = always ] ||
		die "redis-server is not at appendfsync always"
}

redis_start() {	# the compared one, then the other two of "redis x3"
	local port pid i
	redis_server "$work/redis"
	REDIS_PORT=$port redis_pid=$pid
	for i in 2 3; do
		redis_server "$work/redis$i"
		redis3_ports+=("$port") redis3_pids+=("$pid")
	done
}

etcd_start() {
	local i a cluster="" eps=""
	ETCD_ADDRS="127.0.0.21 127.0.0.22 127.0.0.23"
	ETCD_PORT=$(free_port "$ETCD_ADDRS" 12379) || die "no free ports for etcd"
	for i in 1 2 3; do
		cluster="$cluster${cluster:+,}e$i=http://127.0.0.2$i:$((ETCD_PORT + 1))"
		eps="$eps${eps:+,}http://127.0.0.2$i:$ETCD_PORT"
	done
	mkdir -p "$work/etcd"
	for i in 1 2 3; do
		a=127.0.0.2$i
		# Durable as shipped (raft fsyncs its log); a big quota and
		# compaction so a long run cannot fill the backend.
		etcd --name "e$i" --data-dir "$work/etcd/e$i" \
			--listen-client-urls "http://$a:$ETCD_PORT" \
			--advertise-client-urls "http://$a:$ETCD_PORT" \
			--listen-peer-urls "http://$a:$((ETCD_PORT + 1))" \
			--initial-advertise-peer-urls "http://$a:$((ETCD_PORT + 1))" \
			--initial-cluster "$cluster" --initial-cluster-state new \
			--initial-cluster-token "bench-kv-$$" \
			--quota-backend-bytes $((8 << 30)) \
			--auto-compaction-mode revision --auto-compaction-retention 20000 \
			>"$work/etcd/e$i.log" 2>&1 &
		etcd_pids+=($!)
	done
	ETCD_EPS=$eps
	wait_for 30 env ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint health ||
		die "etcd did not start: $(tail -3 "$work/etcd/e1.log")"
	# Load goes to the leader: followers would forward writes to it.
	ETCD_URL=$(ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint status -w json |
		jq -r '.[] | select(.Status.header.member_id == .Status.leader) | .Endpoint')
	[ -n "$ETCD_URL" ] || die "etcd has no leader"
}

# wrk's script: POST to etcd's v3 JSON gateway (put or range) with random
# keys /bench/v<size>/k<n>, one request at a time per connection.  (wrk's
# HTTP pipelining is not used: its latency percentiles come out wrong with
# it, 0 above the median; see run_etcd.)
cat > "$work/etcd.lua" <<'EOF'
local b64c = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(s)
  local out, n = {}, #s
  for i = 1, n, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = { math.floor(v / 262144) % 64, math.floor(v / 4096) % 64,
      math.floor(v / 64) % 64, v % 64 }
    out[#out + 1] = b64c:sub(q[1] + 1, q[1] + 1) .. b64c:sub(q[2] + 1, q[2] + 1) ..
      (b and b64c:sub(q[3] + 1, q[3] + 1) or '=') .. (c and b64c:sub(q[4] + 1, q[4] + 1) or '=')
  end
  return table.concat(out)
end
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end
function init(args)
  local op, prefix, nkeys, value = args[1], args[2], tonumber(args[3]), args[4]
  math.randomseed(os.time() * 1000 + tid)
  local path = op == "put" and "/v3/kv/put" or "/v3/kv/range"
  local headers = { ["Content-Type"] = "application/json" }
  reqs = {}
  for i = 1, 1024 do
    local key = b64(prefix .. math.random(0, nkeys - 1))
    local body = op == "put" and
      ('{"key":"' .. key .. '","value":"' .. value .. '"}') or
      ('{"key":"' .. key .. '"}')
    reqs[i] = wrk.format("POST", path, headers, body)
  end
  nreq = 0
end
function request()
  nreq = nreq % #reqs + 1
  return reqs[nreq]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK ops_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%d\n",
    (summary.requests - e.status) / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    e.connect + e.read + e.write + e.status + e.timeout))
end
EOF

# ---- one measurement of each system: prints "ops p50 p99 p999 errors" -----

NA="nan nan nan nan nan"

run_qfs() {	# op value clients pipeline r w
	local out
	out=$("$Q" --nodes "$QFS_NODES" bench --op "$1" --value-size "$2" \
		--clients "$3" --pipeline "$4" --r "$5" --w "$6" --fresh-values \
		--seconds "$secs" --keys "$keys" 2>>"$work/qfs-bench.err" |
		grep '^RESULT ') || { echo "$NA"; return; }
	echo "$out" | tr ' ' '\n' | awk -F= '
		{ v[$1] = $2 }
		END { print v["ops_per_s"], v["p50_us"], v["p99_us"], v["p999_us"], v["errors"] }'
}

# The last rate of each system and configuration, in a file each: the run_*
# functions run in the subshells of $(...), where a shell variable set
# would be lost with them.
rate_file() { echo "$work/rate.$(echo "$*" | tr ' ' _)"; }	# system op value clients pipeline
rate_note() {	# rate system op value clients pipeline
	local r=$1; shift
	[ "$r" != nan ] && echo "$r" > "$(rate_file "$@")"
	return 0
}

# How many requests make one measurement of secs seconds: redis-benchmark
# counts requests, not time.  Calibrated by a short first run (on port $1),
# then by each measurement's rate; kept per system and configuration.
redis_requests() {	# port system op value clients pipeline
	local port=$1 n f; shift
	f=$(rate_file "$@")
	n=$(cat "$f" 2>/dev/null || true)
	if [ -z "$n" ]; then
		n=$(( 50 * $4 * $5 )); [ $n -lt 500 ] && n=500
		n=$(redis-benchmark -h 127.0.0.1 -p "$port" -t "${2/put/set}" \
			-c "$4" -P "$5" -d "$3" -r "$keys" -n "$n" -q 2>/dev/null | tr '\r' '\n' |
			awk '/requests per second/ { for (i = 1; i < NF; i++) if ($(i+1) == "requests") r = $i } END { print r + 0 }')
		rate_note "$n" "$@"
	fi
	awk -v r="$n" -v s="$secs" -v m=$(( $4 * $5 * 10 )) \
		'BEGIN { n = int(r * s); if (n < m) n = m; if (n < 100) n = 100; print n }'
}

redis_measure() {	# port requests op value clients pipeline: the five figures
	redis-benchmark -h 127.0.0.1 -p "$1" -t "${3/put/set}" \
		-c "$5" -P "$6" -d "$4" -r "$keys" -n "$2" 2>/dev/null | tr '\r' '\n' |
		awk '
		/^[0-9.]+% <= [0-9.]+ milliseconds/ && !done999 {
			p = $1; sub("%", "", p)
			if (p + 0 >= 99.9) { p999 = $3 * 1000; done999 = 1 }
		}
		/throughput summary:/ { ops = $3 }
		/avg +min +p50 +p95 +p99 +max/ { getline; p50 = $3 * 1000; p99 = $5 * 1000 }
		END {
			if (ops == "") print "nan nan nan nan nan"
			else printf "%.0f %.1f %.1f %.1f 0\n", ops, p50, p99, p999
		}'
}

run_redis() {	# op value clients pipeline
	local n out
	n=$(redis_requests "$REDIS_PORT" redis "$@")
	out=$(redis_measure "$REDIS_PORT" "$n" "$@") || out=$NA
	rate_note "${out%% *}" redis "$@"
	echo "$out"
}

# redis x3: each of the three servers gets its own redis-benchmark with the
# row's clients and pipeline, all at once, the same number of requests
# each.  A store with N=3 must write every put on all three replicas (with
# W=2 too: the third may lag, not skip), so the slowest server's rate is
# the most that three synced replicas here take, with no coordinator, no
# causality and no second message per write.  Its figures are the slowest
# one's.
#
# redis x3b ("batched links"): the same, except that the second and third
# servers get their requests as a replica does from its peers, on two
# connections carrying batches (2 clients, pipeline 32), which costs a
# server fewer reads, writes and wake-ups per request than 64 clients of
# one request each.  The first server has the row's clients.  Its ops/s
# are the slowest server's, its latencies the first's.
run_redis3() {	# shape(x3|x3b) op value clients pipeline
	local shape=$1 n out i port c p; shift
	n=$(redis_requests "$REDIS_PORT" "redis-$shape" "$@")
	i=0
	for port in "$REDIS_PORT" "${redis3_ports[@]}"; do
		i=$((i + 1))
		c=$3 p=$4
		[ "$shape" = x3b ] && [ $i -gt 1 ] && c=2 p=32
		redis_measure "$port" "$n" "$1" "$2" "$c" "$p" > "$work/redis3.$i" &
	done
	wait
	if [ "$(cat "$work"/redis3.[123] | wc -l)" != 3 ]; then
		out=$NA
	elif [ "$shape" = x3 ]; then
		out=$(sort -n "$work"/redis3.[123] | head -1)	# a "nan" sorts first
	else
		out="$(cut -d' ' -f1 "$work"/redis3.[123] | sort -n | head -1) $(cut -d' ' -f2- "$work/redis3.1")"
	fi
	rate_note "${out%% *}" "redis-$shape" "$@"
	echo "$out"
}

# leveldb x3 (shape replica) and x3p (shape put): three store/leveldb-bench
# processes at once, each with the row's clients as threads of synced
# writes into a LevelDB of its own on the store's settings, kept over the
# rounds of a row as a node's fills.  replica: read the key, then write its
# record and hash-index rows (the least a replica write of the store does);
# put: one row and no read.  No network and no coordinator: the ceiling of
# three LevelDB replicas sharing this machine.  The slowest one's figures.
run_leveldb3() {	# shape(replica|put) op value clients pipeline
	local shape=$1 i out; shift
	mkdir -p "$work/leveldb-$shape-$2"	# LevelDB makes only the last level
	for i in 1 2 3; do
		"$LB" --dir "$work/leveldb-$shape-$2/$i" --mode "$shape" \
			--threads "$3" --seconds "$secs" --value-size "$2" \
			> "$work/leveldb3.$i" 2>> "$work/leveldb.err" &
	done
	wait
	if [ "$(cat "$work"/leveldb3.[123] | wc -l)" != 3 ]; then
		out=$NA
	else
		out=$(sort -n "$work"/leveldb3.[123] | head -1)
	fi
	echo "$out"
}

# Pipelining D for etcd is D times the connections, each with one request
# in flight: the same requests in flight per client (an etcd client would
# multiplex them as gRPC streams on one HTTP/2 connection; its JSON gateway
# speaks HTTP/1.1, where that takes D connections).
run_etcd() {	# op value clients pipeline
	local conns=$(( $3 * $4 )) t=2 value out
	[ "$conns" -lt 2 ] && t=1
	value=$(head -c "$2" /dev/zero | tr '\0' x | base64 -w0)
	out=$(wrk -t "$t" -c "$conns" -d "${secs}s" --timeout 10s -s "$work/etcd.lua" \
		"$ETCD_URL" -- "$1" "/bench/v$2/k" "$keys" "$value" 2>&1 |
		grep '^WRK ') || { echo "$NA"; return; }
	echo "$out" | tr ' ' '\n' | awk -F= '
		{ v[$1] = $2 }
		END { print v["ops_per_s"], v["p50_us"], v["p99_us"], v["p999_us"], v["errors"] }'
}

# ---- the key spaces the gets read ------------------------------------------

declare -A populated

populate() {	# value
	local v=$1 t0 t1 t2 t3 count
	[ -n "${populated[$v]:-}" ] && return 0
	populated[$v]=1
	t0=$(date +%s%N)
	"$Q" --nodes "$QFS_NODES" bench --op get --populate --seconds 0 \
		--value-size "$v" --keys "$keys" --clients 64 --w 3 --fresh-values >&2 ||
		die "populating quorumfs failed"
	t1=$(date +%s%N)
	# redis: every key once, named as redis-benchmark -r names them.
	awk -v k="$keys" -v n="$v" 'BEGIN {
		val = sprintf("%*s", n, ""); gsub(/ /, "x", val)
		for (i = 0; i < k; i++)
			printf "*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$%d\r\n%s\r\n", i, n, val
	}' | redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --pipe >"$work/redis-populate.log" 2>&1 ||
		die "populating redis failed: $(tail -3 "$work/redis-populate.log")"
	[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" strlen "key:$(printf %012d $((keys - 1)))")" = "$v" ] ||
		die "redis does not hold the $v-byte key space"
	t2=$(date +%s%N)
	# etcd: every key once, 100 puts per transaction (its limit is 128),
	# through its JSON gateway.
	rm -rf "$work/etcd-populate"; mkdir -p "$work/etcd-populate"
	jq -cn --argjson k "$keys" --argjson b 100 --arg p "/bench/v$v/k" \
		--arg v "$(head -c "$v" /dev/zero | tr '\0' x | base64 -w0)" '
		range(0; $k; $b) as $i |
		{success: [range($i; [$i + $b, $k] | min) |
		    {requestPut: {key: (($p + tostring) | @base64), value: $v}}]}' |
		split -l 1 -a 5 - "$work/etcd-populate/txn."
	for f in "$work/etcd-populate"/txn.*; do
		curl -sS -f -o /dev/null -H "Expect:" "$ETCD_URL/v3/kv/txn" --data-binary "@$f" \
			2>>"$work/etcd-populate.log" ||
			die "populating etcd failed: $(tail -3 "$work/etcd-populate.log")"
	done
	rm -rf "$work/etcd-populate"
	count=$(curl -s "$ETCD_URL/v3/kv/range" -d "$(jq -nc --arg a "/bench/v$v/k" --arg b "/bench/v$v/l" \
		'{key: ($a | @base64), range_end: ($b | @base64), count_only: true}')" | jq -r '.count // 0')
	[ "$count" -ge "$keys" ] || die "etcd holds $count of the $keys keys of size $v"
	t3=$(date +%s%N)
	say "populated the $v-byte key spaces, $keys keys each: quorumfs $(( (t1 - t0) / 1000000 )) ms, redis $(( (t2 - t1) / 1000000 )) ms, etcd $(( (t3 - t2) / 1000000 )) ms"
}

# ---- the matrix ------------------------------------------------------------

# One group: op value clients pipeline, then the (R,W) pairs measured for it.
groups=()
for value in 100 4096; do
	for op in put get; do
		case $mode in
		quick)
			groups+=("$op $value 64 1 2,2") ;;
		full)
			for c in 1 16 64; do for p in 1 16; do
				groups+=("$op $value $c $p 2,2 1,1 1,3")
			done; done ;;
		*)
			for c in 1 16 64; do for p in 1 16; do
				if [ "$c" = 64 ] && [ "$p" = 1 ]; then
					groups+=("$op $value $c $p 2,2 1,1 1,3")
				elif [ "$c" != 1 ] || [ "$p" = 1 ]; then
					groups+=("$op $value $c $p 2,2")
				fi
			done; done ;;
		esac
	done
done

total=0
for g in "${groups[@]}"; do
	# shellcheck disable=SC2086 # a group is words
	set -- $g
	# redis and etcd; for puts redis x3, and without pipelining x3b and
	# leveldb x3 and x3p
	extra=2
	[ "$1" = put ] && extra=3
	[ "$1" = put ] && [ "$4" = 1 ] && extra=6
	total=$(( total + rounds * ($# - 4 + extra) ))
done
say "$mode run: ${#groups[@]} configurations, $total measurements of ${secs} s (about $(( (total * (secs + 1) + 59) / 60 )) min)"

qfs_start
redis_start
etcd_start
say "quorumfs $QFS_NODES; redis 127.0.0.1:$REDIS_PORT; etcd $ETCD_EPS (leader $ETCD_URL); work dir $work"

nproc_=$(nproc)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
done_n=0
record() {	# system op value clients pipeline rw round figures...
	echo "$*" >> "$results"
	done_n=$((done_n + 1))
	say "[$done_n/$total] round $7: $2 ${3}B c$4 p$5 $1 $6 -> ops/s ${8} p50 ${9} p99 ${10} p99.9 ${11} us, errors ${12}"
}

# ---- each system alone -----------------------------------------------------
#
# A system is measured with the other two paused (SIGSTOP), unless
# --together: idle, the three etcd members alone take about an eighth of a
# core (gossip and heartbeats of quorumd a little less), which a system
# bound by its CPU pays and one bound by its disk's syncs does not.  All
# the members of a cluster are stopped and continued at once, so none of
# them sees the others fall silent; they are used again only once ready.

qfs_signal() {
	local f
	for f in "$work"/qfs/n*.pid; do kill -"$1" "$(cat "$f")" 2>/dev/null; done
}
qfs_all_up() {	# every node sees every member up
	local a
	for a in ${QFS_NODES//,/ }; do
		"$Q" --node "$a" --timeout-ms 1000 status 2>/dev/null |
			awk 'NR > 2 && $4 != "up" { bad = 1 } NR > 2 { n++ }
			     END { exit bad || n != 3 }' || return 1
	done
}
etcd_leader() {
	ETCD_URL=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_EPS" endpoint status -w json 2>/dev/null |
		jq -r '.[] | select(.Status.header.member_id == .Status.leader) | .Endpoint' | head -1)
	[ -n "$ETCD_URL" ]
}
others() {	# STOP|CONT system: signal the systems other than this one
	local p port
	[ "$alone" = 1 ] || return 0
	[ "$2" = quorumfs ] || qfs_signal "$1"
	# redis x3 is the compared redis-server and two more.
	case $2 in redis|redis-x3*) ;; *) kill -"$1" "$redis_pid" 2>/dev/null ;; esac
	case $2 in
	redis-x3*) ;;
	*) for p in "${redis3_pids[@]}"; do kill -"$1" "$p" 2>/dev/null; done ;;
	esac
	if [ "$2" != etcd ]; then
		for p in "${etcd_pids[@]}"; do kill -"$1" "$p" 2>/dev/null; done
	fi
	[ "$1" = CONT ] || return 0
	[ "$2" = quorumfs ] || wait_for 30 qfs_all_up ||
		die "the quorumfs nodes do not all see each other after a pause"
	for port in "$REDIS_PORT" "${redis3_ports[@]}"; do
		wait_for 20 redis-cli -h 127.0.0.1 -p "$port" ping ||
			die "redis-server on port $port does not answer after a pause"
	done
	[ "$2" = etcd ] || wait_for 30 etcd_leader ||
		die "etcd has no leader after a pause"
}
# Before each configuration, wait (at most 60 s) until the machine is quiet:
# 90% of the cores idle over half a second.  Work one system leaves behind
# (LevelDB's compactions after quorumfs's puts, which a pause only defers)
# is then not paid by the next configuration's first rounds.
cpu_idle_pct() {	# over 0.5 s, of all cores
	local a b
	a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	sleep 0.5
	b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
	echo "$a $b" | awk '{ t = $4 - $2; print (t > 0 ? int(100 * ($3 - $1) / t) : 0) }'
}
quiet_wait() {	# seconds
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		[ "$(cpu_idle_pct)" -ge 90 ] && return 0
	done
	return 1
}

alone_run() {	# system run_function args...: run it with the others paused
	local sys=$1; shift
	others STOP "$sys"
	# The leader may have changed over a pause (in this subshell: the
	# caller's $(...) would lose it otherwise).
	[ "$sys" != etcd ] || wait_for 30 etcd_leader || die "etcd has no leader"
	"$@"
	others CONT "$sys"
}

# shellcheck disable=SC2046 # run_* print five words: the figures
for g in "${groups[@]}"; do
	# shellcheck disable=SC2086
	set -- $g
	op=$1 value=$2 c=$3 p=$4; shift 4
	rws=("$@")
	[ "$op" = get ] && populate "$value"
	quiet_wait 60 || say "the machine did not quiet down in 60 s: going on"
	for r in $(seq 1 "$rounds"); do
		for rw in "${rws[@]}"; do
			record quorumfs "$op" "$value" "$c" "$p" "$rw" "$r" \
				$(alone_run quorumfs run_qfs "$op" "$value" "$c" "$p" "${rw%,*}" "${rw#*,}")
		done
		record redis "$op" "$value" "$c" "$p" - "$r" $(alone_run redis run_redis "$op" "$value" "$c" "$p")
		[ "$op" = put ] &&
			record redis-x3 "$op" "$value" "$c" "$p" - "$r" $(alone_run redis-x3 run_redis3 x3 "$op" "$value" "$c" "$p")
		[ "$op" = put ] && [ "$p" = 1 ] &&
			record redis-x3b "$op" "$value" "$c" "$p" - "$r" $(alone_run redis-x3b run_redis3 x3b "$op" "$value" "$c" "$p")
		if [ "$op" = put ] && [ "$p" = 1 ]; then
			record leveldb-x3 "$op" "$value" "$c" "$p" - "$r" $(alone_run leveldb-x3 run_leveldb3 replica "$op" "$value" "$c" "$p")
			record leveldb-x3p "$op" "$value" "$c" "$p" - "$r" $(alone_run leveldb-x3p run_leveldb3 put "$op" "$value" "$c" "$p")
		fi
		record etcd "$op" "$value" "$c" "$p" - "$r" $(alone_run etcd run_etcd "$op" "$value" "$c" "$p")
	done
done

# ---- the tables ------------------------------------------------------------

echo
echo "## quorumfs vs redis-server (appendfsync always) vs etcd (3 members)"
echo
echo "Run $started_at on $(uname -n), $nproc_ cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), mode $mode, $rounds rounds of $secs s, medians over the rounds; ratios are medians of same-round ratios. Latencies in microseconds."
echo
awk "$BENCH_AWK_MEDIAN"'
function add(k, field, v) { if (v != "nan" && v != "") vals[k, field] = vals[k, field] " " v }
function fmt(v) { return v == "nan" ? "n/a" : sprintf("%.0f", v) }
function ratio(v) { return v == "nan" ? "n/a" : sprintf("%.2fx", v) }
# The ratios of the reference rows, one line per target row having them.
function reflist(title, first, second,    i, nc, f) {
	for (i = 1; i <= nt; i++)
		if (tg[i] in first) {
			if (!nc++) { print ""; print title; print "" }
			split(tg[i], f, " ")
			print "- " f[1] " " f[2] " B: " first[tg[i]] second[tg[i]]
		}
}
{
	sys = $1; g = $2 " " $3 " " $4 " " $5; rw = $6; round = $7
	k = sys SUBSEP g SUBSEP rw
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	if (!(g in gseen)) { gseen[g] = 1; gorder[++ng] = g }
	add(k, "ops", $8); add(k, "p50", $9); add(k, "p99", $10); add(k, "p999", $11)
	if ($12 != "nan") errs[k] += $12; else failed[k]++
	ops[sys, g, rw, round] = $8
	rounds[g, round] = 1
}
END {
	print "| op | value | clients | pipeline | system | R,W | ops/s | p50 | p99 | p99.9 | errors | vs etcd | vs redis | vs redis x3 | target |"
	print "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for (gi = 1; gi <= ng; gi++) {
		g = gorder[gi]; split(g, f, " ")
		for (i = 1; i <= n; i++) {
			split(order[i], kk, SUBSEP)
			if (kk[2] != g) continue
			sys = kk[1]; rw = kk[3]; k = order[i]
			re = ""; rr = ""; r3 = ""; tgt = ""
			if (sys == "quorumfs" || sys ~ /^(redis|leveldb)-x3/) {
				se = ""; sr = ""; s3 = ""; sl = ""
				for (r = 1; (g, r) in rounds; r++) {
					o = ops[sys, g, rw, r]; e = ops["etcd", g, "-", r]; d = ops["redis", g, "-", r]
					t = ops["redis-x3", g, "-", r]; l = ops["leveldb-x3", g, "-", r]
					if (o != "nan" && e != "nan" && e > 0) se = se " " o / e
					if (o != "nan" && d != "nan" && d > 0) sr = sr " " o / d
					if (sys == "quorumfs" && o != "nan" && t != "" && t != "nan" && t > 0) s3 = s3 " " o / t
					if (sys == "quorumfs" && o != "nan" && l != "" && l != "nan" && l > 0) sl = sl " " o / l
				}
				re = median(se); rr = median(sr); r3 = median(s3); rl = median(sl)
				if (sys == "redis-x3")
					ceil[g] = "redis x3 is " ratio(re) " vs etcd, " ratio(rr) " vs redis"
				if (sys == "redis-x3b")
					ceilb[g] = "; with batched replica links (x3b), " ratio(re) " vs etcd, " ratio(rr) " vs redis"
				if (sys == "leveldb-x3")
					ceill[g] = "leveldb x3 is " ratio(re) " vs etcd, " ratio(rr) " vs redis"
				if (sys == "leveldb-x3p")
					ceilp[g] = "; with one row and no read (x3p), " ratio(re) " vs etcd, " ratio(rr) " vs redis"
				if (sys ~ /^(redis|leveldb)-x3/) { re = ratio(re); rr = ratio(rr); r3 = "" }
			}
			if (sys == "quorumfs") {
				if (rw == "2,2" && f[3] == 64 && f[4] == 1) {
					if (f[1] == "put") {
						ok = re != "nan" && rr != "nan" && re >= 4 && rr >= 0.5
						want = ">=4x etcd, >=0.5x redis"
					} else {
						ok = rr != "nan" && rr >= 0.5
						want = ">=0.5x redis"
					}
					if (errs[k] > 0 || failed[k] > 0) ok = 0
					tgt = want ": " (ok ? "**met**" : "**not met**")
					tline[++nt] = "| " f[1] " " f[2] " B, 64 clients, R=2 W=2 | " want " | " ratio(re) " vs etcd, " ratio(rr) " vs redis" (f[1] == "put" ? ", " ratio(r3) " of redis x3, " ratio(rl) " of leveldb x3" : "") " | " (ok ? "met" : "not met") (errs[k] > 0 ? " (" errs[k] " errors)" : "") " |"
					tg[nt] = g
				}
				re = ratio(re); rr = ratio(rr); r3 = (r3 == "nan" ? "n/a" : ratio(r3))
				if (f[1] != "put") r3 = ""
			}
			e = errs[k] + 0
			if (failed[k] > 0) e = e " (+" failed[k] " failed runs)"
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", \
			    f[1], f[2], f[3], f[4], sys, rw == "-" ? "" : rw, \
			    fmt(median(vals[k, "ops"])), fmt(median(vals[k, "p50"])), \
			    fmt(median(vals[k, "p99"])), fmt(median(vals[k, "p999"])), \
			    e, re, rr, r3, tgt
		}
	}
	print ""
	print "### Targets (N=3, R=2, W=2, durable acknowledgements, 64 clients, no pipelining)"
	print ""
	print "| row | target | measured (median ratio) | result |"
	print "|---|---|---|---|"
	for (i = 1; i <= nt; i++) print tline[i]
	reflist("Three synced redis-servers, each sent every write (redis x3, and x3b with batched replica links; docs/bench-kv.md):", ceil, ceilb)
	reflist("Three LevelDBs alone with the store settings, written at once as replicas write (leveldb x3: read the key, write its record and index rows; x3p: one row, no read; no network; docs/bench-kv.md):", ceill, ceilp)
}' "$results"
if [ "$keep" = 1 ]; then
	echo
	echo "Raw figures (one line per measurement): $results"
fi
failed=0
