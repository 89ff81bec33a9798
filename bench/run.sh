#!/bin/bash
# run.sh - `make bench`: install what the benchmarks need, build tend in
# release mode and the harness's helpers, run every suite, then merge the
# results into bench/results.json and print them.  See bench/README.md.
#
# A suite is bench/suite_NAME.py (see bench/benchlib.py for its contract);
# BENCH_SUITES picks which run, in order.  Environment:
#   BENCH_SUITES="apply server bus rpc"  suites to run
#   BENCH_QUICK=1             fewer runs (3), W1 only, 1,000 emulated agents only
#   BENCH_RPC_SIZES="1000 5000 9000"  emulated fleet sizes of the rpc suite
#   BENCH_TOOLS="tend cfengine puppet ansible floor"   tools to compare
#   BENCH_SKIP_ANSIBLE=1      leave Ansible out (it takes minutes)
#   BENCH_WORKLOADS="w1 w2"   workloads;  BENCH_RUNS=N  measured runs each
#   BENCH_BUILD=build-release tend's release build directory
#   BENCH_TMPDIR=/var/tmp     where the fresh work directory is made
#   BENCH_FS=loop             the tree on a fresh loop-mounted ext4; dir: plain directory
#   BENCH_KEEP=1              keep the work directory (logs, inputs)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top"

suites=${BENCH_SUITES:-apply server bus rpc}
tools=${BENCH_TOOLS:-tend cfengine puppet ansible floor}
if [ "${BENCH_SKIP_ANSIBLE:-0}" = 1 ]; then
	tools=$(printf '%s\n' $tools | grep -vx ansible | tr '\n' ' ')
fi
export BENCH_TOOLS="$tools"
export PYTHONDONTWRITEBYTECODE=1

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# --- packages ------------------------------------------------------------
need=""
want() { command -v "$1" >/dev/null 2>&1 || need="$need $2"; }
want python3 python3
want cc gcc
want meson meson
want ninja ninja-build
want mkfs.ext4 e2fsprogs
want git git
case " $suites " in *" bus "* | *" rpc "*) want nats-server nats-server ;; esac
for t in $tools; do
	case $t in
	cfengine) want cf-agent cfengine3 ;;
	puppet) want puppet puppet ;;
	ansible) want ansible-playbook ansible-core ;;
	esac
done
if [ -n "$need" ]; then
	say "installing$need"
	[ "$(id -u)" = 0 ] || die "need root to install:$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null ||
		die "apt-get install$need"
fi

# --- builds --------------------------------------------------------------
build=${BENCH_BUILD:-build-release}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --buildtype=release -Dtests=false >/dev/null ||
		die "meson setup $build"
fi
ninja -C "$build" >/dev/null || die "ninja -C $build"
export BENCH_TEND="$top/$build/src/tend/tend"
[ -x "$BENCH_TEND" ] || die "no tend binary at $BENCH_TEND"
export BENCH_TEND_SERVER="$top/$build/src/tend-server/tend-server"

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/tend-bench.XXXXXX")
export BENCH_WORK="$work"
cleanup() {
	if mountpoint -q "$work/fs" 2>/dev/null; then
		umount "$work/fs" || say "could not unmount $work/fs"
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# The tree the tools write lives on a fresh ext4 (with its journal, as
# mkfs.ext4 makes it) in a loop-mounted image, so that every run sees the
# same, realistic filesystem whatever the host's is.  BENCH_FS=dir: a plain
# directory in the work directory instead (also the fallback).
mkdir -p "$work/fs"
export BENCH_TREE_BASE="$work/fs" BENCH_TREE_FS="directory on the host's filesystem"
if [ "${BENCH_FS:-loop}" = loop ]; then
	if truncate -s 4G "$work/fs.img" &&
		mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$work/fs.img" &&
		mount -o loop "$work/fs.img" "$work/fs"; then
		BENCH_TREE_FS="fresh ext4 (journal, mkfs defaults) in a 4 GiB loop-mounted image"
	else
		say "cannot loop-mount an ext4 image (needs root); using a plain directory"
		rm -f "$work/fs.img"
	fi
fi

export BENCH_TOOLSDIR="$work/bin"
mkdir -p "$BENCH_TOOLSDIR"
for h in rusage floor; do
	cc -O2 -Wall -Wextra -o "$BENCH_TOOLSDIR/$h" "$here/$h.c" || die "cc $h.c"
done

# --- suites --------------------------------------------------------------
outs=()
for s in $suites; do
	[ -f "$here/suite_$s.py" ] || die "no suite $s (bench/suite_$s.py)"
	say "suite $s"
	export BENCH_OUT="$work/suite-$s.json"
	if ! python3 "$here/suite_$s.py"; then
		BENCH_KEEP=1
		die "suite $s failed; logs in $work/logs"
	fi
	outs+=("$BENCH_OUT")
done

python3 "$here/report.py" "$here/results.json" "${outs[@]}"
