#!/usr/bin/env bash
# Install the Debian 12 packages quorumfs builds, tests and benchmarks with.
# Idempotent: installs only what is missing.  Needs root (or sudo).
set -euo pipefail

QFS_PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libfuse3-dev fuse3 libleveldb-dev libsnappy-dev libevent-dev
	libprotobuf-c-dev protobuf-c-compiler libxxhash-dev libcmocka-dev libinih-dev
	libssl-dev openssl libisal-dev
	clang valgrind iproute2 iptables procps psmisc util-linux python3 attr
)

missing=()
for p in "${QFS_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
