#!/bin/bash
# run.sh - `make fuzz`: build every fuzz target with clang, libFuzzer and
# ASan+UBSan (build-fuzz/), then fuzz each for FUZZ_SECONDS, starting
# from its seeds in fuzz/corpus/NAME.  What a target finds new is kept
# in build-fuzz/corpus/NAME; an input that crashes it is written to
# build-fuzz/crashes/ and the run fails.  Environment:
#   FUZZ_SECONDS=60          per target
#   FUZZ_TARGETS="csr reply" which targets (default: all)
#   FUZZ_JOBS=N              processes per target (default: the CPUs)
# A crash, once fixed, belongs in fuzz/corpus/NAME: `make check` replays
# every file there through its target.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${FUZZ_BUILD:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}

say() { printf 'fuzz: %s\n' "$*" >&2; }

if ! command -v clang >/dev/null 2>&1; then
	[ "$(id -u)" = 0 ] || { say "need clang (apt-get install clang)"; exit 1; }
	say "installing clang"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false -Db_lundef=false \
		-Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
		-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >/dev/null
fi
ninja -C "$build" $(for t in fuzz/fuzz_*.c; do n=$(basename "$t" .c); echo "fuzz/${n//_/-}"; done) >/dev/null

targets=${FUZZ_TARGETS:-$(for t in fuzz/fuzz_*.c; do n=$(basename "$t" .c); n=${n#fuzz_}; echo "${n//_/-}"; done)}
mkdir -p "$build/crashes"
failed=0
for t in $targets; do
	exe="$build/fuzz/fuzz-$t"
	[ -x "$exe" ] || { say "no target $t"; exit 2; }
	mkdir -p "$build/corpus/$t"
	log="$build/fuzz-$t.log"
	say "$t: ${seconds}s, $jobs process(es)"
	fork=()
	[ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
	if ASAN_OPTIONS=detect_leaks=1 "$exe" -max_total_time="$seconds" "${fork[@]}" \
		-artifact_prefix="$build/crashes/$t-" "$build/corpus/$t" "fuzz/corpus/$t" \
		>"$log" 2>&1; then
		say "$t: no crash; $(ls "$build/corpus/$t" | wc -l) inputs in its corpus" \
			"($(grep -o -E 'cov: [0-9]+' "$log" | tail -1))"
	else
		failed=$((failed + 1))
		say "$t: CRASHED; see $log and $build/crashes/$t-*"
		grep -m3 -E 'ERROR: |runtime error|SUMMARY' "$log" >&2 || true
	fi
	# the state a target made at start: a process killed by the fork
	# mode (or by a crash) never ran its cleanup
	rm -rf /dev/shm/tend-fuzz-* /tmp/tend-fuzz-*
done
[ "$failed" = 0 ] || { say "$failed target(s) crashed"; exit 1; }
say "every target ran ${seconds}s without a crash"
