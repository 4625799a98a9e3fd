#!/usr/bin/env bash
# Configure and build quorumfs out of tree in build/ (or $QFS_BUILD).
# QFS_CONFIGURE_FLAGS adds configure options (e.g. --enable-sanitizers).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${QFS_BUILD:-$top/build}
cd "$top"
[ -x configure ] || ./bootstrap >&2
mkdir -p "$build"
cd "$build"
flags="${QFS_CONFIGURE_FLAGS:-}"
if [ ! -f config.status ] || [ "$(cat .qfs-flags 2>/dev/null)" != "$flags" ]; then
	# shellcheck disable=SC2086
	"$top/configure" -q $flags >&2
	echo "$flags" > .qfs-flags
fi
make -j"$(nproc)" >/dev/null
echo "$build"
