#!/bin/bash
# run-tests.sh BUILD [ASAN_BUILD] - run every unit test (cmocka binaries in
# BUILD/tests/unit), every fuzz target over its corpus (BUILD/fuzz, see
# fuzz/run.sh) and every integration test (tests/integration/t*.sh)
# against each build, and end with one line "N passed, N failed[, N skipped]".
# Under the sanitizer build (every build after the first), any sanitizer
# report fails the test that caused it.
#
# Tests run TEND_TEST_JOBS at a time (default: twice the number of CPUs).
# Most of an integration test's time is spent waiting for the servers it
# starts, and every test has its own temp dir, HOME and free ports, so they
# do not see each other.  TEND_TEST_JOBS=1 runs them one after another.
# ONLY=GLOB runs only the integration tests whose file name matches.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
jobs=${TEND_TEST_JOBS:-$(($(nproc) * 2))}
logdir=$(mktemp -d /tmp/tend-tests.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$logdir"' EXIT
trap 'exit 130' INT TERM

# run_one LABEL SANITIZED COMMAND... - run one test, print its result line
# and leave it in $logdir/ID.result ("pass", "fail" or "skip REASON").
run_one() {
	local label=$1 sanitized=$2
	shift 2
	local id log rc start=$SECONDS took
	id=$(echo "$label" | tr '/ ' '__')
	log="$logdir/$id.log"
	if [ "$sanitized" = 1 ]; then
		export ASAN_OPTIONS="log_path=$logdir/$id.san:detect_leaks=1:abort_on_error=0:exitcode=86"
		export UBSAN_OPTIONS="log_path=$logdir/$id.san:print_stacktrace=1:halt_on_error=1:exitcode=86"
		export LSAN_OPTIONS="exitcode=86"
	else
		unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	fi
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	took="$((SECONDS - start))s"
	if ls "$logdir/$id".san.* >/dev/null 2>&1; then
		cat "$logdir/$id".san.* >>"$log"
		rc=1
		echo "sanitizer report:" >>"$log"
	fi
	case $rc in
	0) echo pass >"$logdir/$id.result"; echo "PASS $label ($took)" ;;
	77) echo "skip $(grep -m1 -i '^skip' "$log" | sed 's/^skip:* *//I')" >"$logdir/$id.result"
	    echo "SKIP $label ($took)" ;;
	*) echo fail >"$logdir/$id.result"; echo "FAIL $label (exit $rc, $took)" ;;
	esac
}

# The queue: every test of every build, integration tests first (they are
# the long ones), so the short unit tests fill the gaps at the end.
labels=() sanitized=() commands=()
queue() { # LABEL SANITIZED COMMAND-LINE
	labels+=("$1") sanitized+=("$2") commands+=("$3")
}
first=1
for build in "$@"; do
	[ -d "$build" ] || { echo "no build directory $build" >&2; exit 1; }
	tag=$(basename "$build")
	case $build in /*) bdir=$build ;; *) bdir=$top/$build ;; esac
	san=$((1 - first))
	first=0
	for t in tests/integration/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$(basename "$t")" in ${ONLY:-*}) ;; *) continue ;; esac
		queue "$tag/$(basename "$t" .sh)" "$san" \
			"TEND=$(printf %q "$bdir/src/tend/tend") TEND_SERVER_BIN=$(printf %q "$bdir/src/tend-server/tend-server") bash $(printf %q "$top/$t")"
	done
	[ -n "${ONLY:-}" ] && continue
	for t in "$bdir"/tests/unit/test-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		queue "$tag/unit/$(basename "$t")" "$san" "$(printf %q "$t")"
	done
	# every fuzz target replays its seeds and past crashes (fuzz/corpus/NAME)
	for t in "$bdir"/fuzz/fuzz-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		name=$(basename "$t")
		queue "$tag/$name" "$san" "$(printf %q "$t") $(printf %q "$top/fuzz/corpus/${name#fuzz-}")"
	done
done

# Integration tests, longest first, would be best; the server tests (t1*)
# are the long ones, so they go first.
order=()
for i in "${!labels[@]}"; do case ${labels[$i]} in */t1*) order+=("$i") ;; esac; done
for i in "${!labels[@]}"; do case ${labels[$i]} in */t1*) ;; *) order+=("$i") ;; esac; done

running=0
for i in "${order[@]}"; do
	while [ "$running" -ge "$jobs" ]; do
		wait -n
		running=$((running - 1))
	done
	run_one "${labels[$i]}" "${sanitized[$i]}" bash -c "${commands[$i]}" &
	running=$((running + 1))
done
wait

pass=0 fail=0 skip=0 failed=()
for i in "${order[@]}"; do
	id=$(echo "${labels[$i]}" | tr '/ ' '__')
	r=$(cat "$logdir/$id.result" 2>/dev/null || echo "fail (no result)")
	case $r in
	pass) pass=$((pass + 1)) ;;
	skip*) skip=$((skip + 1)); echo "skipped: ${labels[$i]}: ${r#skip }" ;;
	*) fail=$((fail + 1)); failed+=("${labels[$i]}")
	   echo "FAIL ${labels[$i]}:"; sed 's/^/    | /' "$logdir/$id.log" | tail -n 40 ;;
	esac
done
for f in "${failed[@]+"${failed[@]}"}"; do echo "failed: $f"; done
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" -eq 0 ]
