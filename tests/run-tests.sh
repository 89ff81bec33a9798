#!/bin/bash
# run-tests.sh BUILD [ASAN_BUILD] - run every unit test (cmocka binaries in
# BUILD/tests/unit) and every integration test (tests/integration/t*.sh)
# against each build, and end with one line "N passed, N failed[, N skipped]".
# Under the sanitizer build, any sanitizer report fails the test that
# caused it.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
pass=0 fail=0 skip=0
failed_names=() skipped=()
logdir=$(mktemp -d /tmp/tend-tests.XXXXXX)
trap 'rm -rf "$logdir"' EXIT

run_one() { # label command...
	local label=$1; shift
	local log="$logdir/$(echo "$label" | tr '/ ' '__').log" rc start=$SECONDS took
	rm -f "$logdir"/san.*
	"$@" >"$log" 2>&1
	rc=$?
	took="$((SECONDS - start))s"
	if ls "$logdir"/san.* >/dev/null 2>&1; then
		cat "$logdir"/san.* >>"$log"
		rc=1
		echo "sanitizer report:" >>"$log"
	fi
	case $rc in
	0) pass=$((pass + 1)); echo "PASS $label ($took)" ;;
	77) skip=$((skip + 1)); skipped+=("$label: $(grep -m1 -i '^skip' "$log" | sed 's/^skip:* *//I')")
	    echo "SKIP $label ($took)" ;;
	*) fail=$((fail + 1)); failed_names+=("$label"); echo "FAIL $label (exit $rc, $took)"
	   sed 's/^/    | /' "$log" | tail -n 40 ;;
	esac
}

for build in "$@"; do
	[ -d "$build" ] || { echo "no build directory $build" >&2; exit 1; }
	tag=$(basename "$build")
	if [ "$tag" != "${1##*/}" ]; then
		export ASAN_OPTIONS="log_path=$logdir/san:detect_leaks=1:abort_on_error=0:exitcode=86"
		export UBSAN_OPTIONS="log_path=$logdir/san:print_stacktrace=1:halt_on_error=1:exitcode=86"
		export LSAN_OPTIONS="exitcode=86"
	else
		unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
	fi
	for t in "$build"/tests/unit/test-*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		[ -n "${ONLY:-}" ] && continue
		run_one "$tag/unit/$(basename "$t")" "$t"
	done
	for t in tests/integration/t[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$(basename "$t")" in ${ONLY:-*}) ;; *) continue ;; esac
		case $build in /*) bdir=$build ;; *) bdir=$top/$build ;; esac
		TEND="$bdir/src/tend/tend" TEND_SERVER_BIN="$bdir/src/tend-server/tend-server" run_one "$tag/$(basename "$t" .sh)" bash "$top/$t"
	done
done

for s in "${skipped[@]+"${skipped[@]}"}"; do echo "skipped: $s"; done
for f in "${failed_names[@]+"${failed_names[@]}"}"; do echo "failed: $f"; done
line="$pass passed, $fail failed"
[ "$skip" -gt 0 ] && line="$line, $skip skipped"
echo "$line"
[ "$fail" -eq 0 ]
