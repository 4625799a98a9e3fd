# tests/sh/lib.sh - shared by the shell tests: TAP output, real clusters of
# quorumd processes on loopback, waits with deadlines.
#
# A test sources this file, sets T_NET (a number 1..250 unique among the
# tests, so parallel tests never share an address), and calls plan N.
# Node i of the test's cluster listens on 127.0.$T_NET.(10+i):7000+i.
# Everything a test makes lives in $T_DIR, removed at exit when all passed.

set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_srcdir=${top_srcdir:-$top_builddir}
QUORUMD="$top_builddir/quorumd"
QUORUMCTL="$top_builddir/quorumctl"
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/qfs-test.XXXXXX")
T_COUNT=0
T_FAILED=0
T_PLANNED=0
T_NODES=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

plan() { T_PLANNED=$1; echo "1..$1"; }
diag() { echo "# $*"; }

ok() {	# ok DESCRIPTION COMMAND...
	local desc=$1; shift
	T_COUNT=$((T_COUNT + 1))
	if "$@" >"$T_DIR/last.out" 2>&1; then
		echo "ok $T_COUNT - $desc"
	else
		echo "not ok $T_COUNT - $desc"
		T_FAILED=$((T_FAILED + 1))
		# $ a\ ends an output that lacks its last newline: the next
		# line of TAP must start a line of its own.
		sed -e 's/^/#   /' -e '$a\' "$T_DIR/last.out" | tail -n 20
	fi
}

is() {	# is GOT EXPECTED DESCRIPTION
	T_COUNT=$((T_COUNT + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $T_COUNT - $3"
	else
		echo "not ok $T_COUNT - $3"
		echo "#   got:      '$1'"
		echo "#   expected: '$2'"
		T_FAILED=$((T_FAILED + 1))
	fi
}

bail() { echo "Bail out! $*"; exit 1; }

# wait_until SECONDS COMMAND...: poll COMMAND until it succeeds; 1 on timeout.
wait_until() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
		sleep 0.05
	done
}

node_addr() { echo "127.0.$T_NET.$((10 + $1)):$((7000 + $1))"; }

# stat_sum NAME [NODES]: counter NAME of quorumctl stats, summed over NODES
# (default $NODES, every node of the cluster).
stat_sum() {
	"$QUORUMCTL" --nodes "${2:-$NODES}" stats |
		awk -v c="$1" '$1 == c { s += $2 } END { print s + 0 }'
}
node_list() {
	local i l=""
	for i in $(seq 1 "$T_NODES"); do l="$l${l:+,}$(node_addr "$i")"; done
	echo "$l"
}
node_members() {
	local i m=""
	for i in $(seq 1 "$T_NODES"); do m="$m${m:+,}n$i@$(node_addr "$i")"; done
	echo "$m"
}
node_pid() { cat "$T_DIR/n$1.pid" 2>/dev/null; }

# proc_gone PID: the process has exited (a zombie not yet reaped counts,
# once its last thread is gone: the main thread turns zombie first, and a
# thread still in a disk sync keeps the files open, the listening socket
# too, so a restart on the same address would fail).
proc_gone() {
	[ ! -d "/proc/$1" ] && return 0
	grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null &&
		[ "$(ls "/proc/$1/task" 2>/dev/null | wc -l)" -le 1 ]
}

# node_security I: node I's security flags: --insecure (a plain test
# cluster), or with T_CERTS set (a qfs-certs.sh directory holding ca.crt
# and nI.crt, nI.key) TLS with node I's credentials.  quorumctl then needs
# QUORUM_TLS_CA, QUORUM_TLS_CERT and QUORUM_TLS_KEY, which the test sets.
node_security() {
	if [ -n "${T_CERTS:-}" ]; then
		echo "--tls-ca $T_CERTS/ca.crt --tls-cert $T_CERTS/n$1.crt --tls-key $T_CERTS/n$1.key"
	else
		echo "--insecure"
	fi
}

# tls_certs DIR NAME...: credentials made by scripts/qfs-certs.sh in DIR:
# a CA, then for each NAME a certificate and key, a node's for n1, n2, ...
# and a client's for any other name (NAME:DAYS for a lifetime in days).
tls_certs() {
	local dir=$1 name kind; shift
	bash "$top_srcdir/scripts/qfs-certs.sh" ca "$dir" >/dev/null || bail "qfs-certs.sh: no CA"
	for name in "$@"; do
		case "$name" in n[0-9]*) kind=node ;; *) kind=client ;; esac
		# shellcheck disable=SC2046 # NAME:DAYS splits into two words
		bash "$top_srcdir/scripts/qfs-certs.sh" "$kind" "$dir" $(echo "$name" | tr : ' ') \
			>/dev/null || bail "qfs-certs.sh: no certificate $name"
	done
}
# tls_client DIR NAME: quorumctl (QUORUM_TLS_*) uses client NAME of DIR.
tls_client() {
	export QUORUM_TLS_CA="$1/ca.crt" QUORUM_TLS_CERT="$1/$2.crt" QUORUM_TLS_KEY="$1/$2.key"
}

# node_start I: start node I of the cluster (again) with T_FLAGS.
node_start() {
	# shellcheck disable=SC2046 # node_security's words are flags
	"$QUORUMD" --id "n$1" --data-dir "$T_DIR/n$1" --members "$(node_members)" \
		$(node_security "$1") \
		--pid-file "$T_DIR/n$1.pid" --daemon ${T_FLAGS:-} \
		2>>"$T_DIR/n$1.log" || return 1
	wait_until 20 "$QUORUMCTL" --node "$(node_addr "$1")" --timeout-ms 500 status
}

# node_kill I [SIGNAL]: signal node I (default KILL) and, unless it is a
# STOP/CONT, wait for it to be gone.
node_kill() {
	local pid; pid=$(node_pid "$1")
	[ -n "$pid" ] || return 1
	kill -"${2:-KILL}" "$pid" 2>/dev/null
	case "${2:-KILL}" in STOP|CONT) return 0 ;; esac
	wait_until 20 proc_gone "$pid"
	rm -f "$T_DIR/n$1.pid"
}

# cluster_start N [quorumd flags...]: N nodes, all answering; sets NODES.
cluster_start() {
	T_NODES=$1; shift
	T_FLAGS="$*"
	local i
	for i in $(seq 1 "$T_NODES"); do
		node_start "$i" || { cat "$T_DIR/n$i.log" >&2; bail "node $i did not start"; }
	done
	NODES=$(node_list)
	export QUORUM_NODES=$NODES
	wait_until 30 cluster_meshed || bail "the nodes did not all reach each other"
}

# cluster_meshed: every node sees every other up, over a live connection
# (a test's first W=N write must not race the nodes finding each other).
cluster_meshed() {
	local i
	for i in $(seq 1 "$T_NODES"); do
		"$QUORUMCTL" --node "$(node_addr "$i")" --timeout-ms 500 status 2>/dev/null |
			awk -v n="$T_NODES" '$1 ~ /^n[0-9]+$/ && $4 == "up" && $6 == "yes" { c++ }
				END { exit !(c == n) }' || return 1
	done
}

cluster_stop() {
	local i pid
	for i in $(seq 1 "$T_NODES"); do
		pid=$(node_pid "$i")
		[ -n "$pid" ] || continue
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
		wait_until 20 proc_gone "$pid" || kill -KILL "$pid" 2>/dev/null
	done
}

# Sanitizer reports in any node's log fail the test (check_logs FILES...:
# in those logs instead).
check_logs() {
	[ $# -gt 0 ] || set -- "$T_DIR"/n*.log
	if grep -l -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
		"$@" >/dev/null 2>&1; then
		grep -h -B2 -A20 -E 'Sanitizer|runtime error:' "$@" | sed 's/^/# /' | head -60
		return 1
	fi
	return 0
}

# tmpfs_mount DIR SIZE: a tmpfs of SIZE (e.g. 64m) at DIR, made if need
# be (a small disk to fill; needs root).  Detached lazily at exit, first
# thing: processes still using it finish on it, and DIR is left empty for
# the cleanup to remove.
T_TMPFS=""
tmpfs_mount() {
	mkdir -p "$1" && mount -t tmpfs -o "size=$2" qfs-test "$1" || return 1
	T_TMPFS="$T_TMPFS $1"
}
tmpfs_release() {
	local d
	for d in $T_TMPFS; do umount -l "$d" 2>/dev/null; done
	T_TMPFS=""
}

t_finish() {
	tmpfs_release
	cluster_stop
	T_COUNT=$((T_COUNT + 1))
	if check_logs; then
		echo "ok $T_COUNT - no sanitizer reports in the daemons' logs"
	else
		echo "not ok $T_COUNT - no sanitizer reports in the daemons' logs"
		T_FAILED=$((T_FAILED + 1))
	fi
	if [ "$T_FAILED" -eq 0 ] && [ "$T_COUNT" -eq "$T_PLANNED" ]; then
		rm -rf "$T_DIR"
	else
		diag "kept $T_DIR for inspection"
	fi
}
trap t_finish EXIT

# ---- network faults ----
# A test that cuts the network starts with, before sourcing this file:
#   [ -n "${QFS_IN_NETNS:-}" ] || QFS_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
# so that it runs in a network namespace of its own (loopback only, its
# firewall rules touching nothing else), then calls net_up.
net_up() {
	ip link set lo up || bail "cannot bring up loopback in the namespace"
	command -v iptables >/dev/null || bail "iptables is not installed"
}

node_ip() { echo "127.0.$T_NET.$((10 + $1))"; }

# partition "1 2" "3": drop every packet between the two groups of nodes,
# both ways (peers connect from their own address, so this cuts them).
partition() {
	local a b
	for a in $1; do
		for b in $2; do
			iptables -A INPUT -s "$(node_ip "$a")" -d "$(node_ip "$b")" -j DROP || return 1
			iptables -A INPUT -s "$(node_ip "$b")" -d "$(node_ip "$a")" -j DROP || return 1
		done
	done
}

heal() { iptables -F INPUT; }
