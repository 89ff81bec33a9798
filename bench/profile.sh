#!/bin/bash
# profile.sh - where tend spends its time on a benchmark workload: builds
# tend optimised with symbols and frame pointers (build-profile/), generates
# the workload (bench/gen.py), and records a perf profile of one create run
# (empty tree) and one no-op run (tree already right), the tree on a fresh
# loop-mounted ext4 as in run.sh.  Prints the top
# functions by self time of each, and leaves the perf.data files behind.
#
#   bench/profile.sh [w1|w2]        (default w2; needs perf: linux-perf)
#   PROFILE_TOP=30 PROFILE_DIR=/var/tmp/tend-profile bench/profile.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top"
workload=${1:-w2}
ntop=${PROFILE_TOP:-25}
dir=${PROFILE_DIR:-/var/tmp/tend-profile}
build=build-profile

if ! command -v perf >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || { echo "profile: need perf (linux-perf)" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf >/dev/null
fi
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release -Dtests=false \
		-Dc_args="-g -fno-omit-frame-pointer" >/dev/null
fi
ninja -C "$build" >/dev/null
tend="$top/$build/src/tend/tend"

# the tree on a fresh ext4 image, as in run.sh (BENCH_FS=loop)
if mountpoint -q "$dir/fs" 2>/dev/null; then umount "$dir/fs"; fi
rm -rf "$dir"
mkdir -p "$dir/fs"
if truncate -s 4G "$dir/fs.img" &&
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dir/fs.img" &&
	mount -o loop "$dir/fs.img" "$dir/fs"; then
	trap 'umount "$dir/fs"; rm -f "$dir/fs.img"' EXIT
fi
mkdir -p "$dir/fs/tree"
python3 "$here/gen.py" "$workload" "$dir/fs/tree" "$dir/in" >/dev/null

report() {
	echo
	echo "== tend $workload $1: $(tail -1 "$dir/$1.log")"
	perf report -i "$dir/$1.data" --no-children --sort dso,sym --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -n "$ntop"  || true
}

sync
perf record -q -g -F 2999 -o "$dir/create.data" -- "$tend" apply "$dir/in/tend.yaml" \
	>"$dir/create.log" 2>&1
report create
perf record -q -g -F 2999 -o "$dir/no-op.data" -- "$tend" apply "$dir/in/tend.yaml" \
	>"$dir/no-op.log" 2>&1
report no-op
echo
echo "perf data in $dir (perf report -i $dir/create.data)"
