# lib.sh - shared helpers for tend's integration tests.
#
# Every tests/integration/tNNNN-name.sh starts with
#
#     . "$(dirname "$0")/lib.sh"
#
# and then reads as a specification: `step` names the behaviour being
# proved, and each assertion prints one TAP-like line ("ok N - ..." or
# "not ok N - ..."), with the evidence indented under a failure.  The
# script ends with `done_testing`, which exits 0 when every assertion
# passed and 1 otherwise; `skip REASON` exits 77.
#
# What a test gets:
#   $TEND   the binary under test ($TEND from the environment, default
#           TOP/build/src/tend/tend)
#   $T      a private temp dir (mktemp -d), removed on exit; the test runs
#           with $T as its working directory
#   $ROOT   $T/root: the managed root.  `tend` below always passes
#           --root "$ROOT", so no test can touch the host outside $T.
#   $OUT $ERR $RC   stdout, stderr (files) and exit status of the last
#           expect_exit / run.
#
# Processes started with `bg` (and pids written to files registered with
# `reap_pidfile`) are SIGKILLed on exit, so a failed or interrupted test
# never leaves anything running.

set -u
umask 022

TOP=$(cd "$(dirname "$0")/../.." && pwd)
TEND=${TEND:-$TOP/build/src/tend/tend}
TEND_SERVER_BIN=${TEND_SERVER_BIN:-$(dirname "$(dirname "$TEND")")/tend-server/tend-server}
# the CLI's own settings (server URL, token) never leak in from the caller
unset TEND_SERVER TEND_TOKEN TEND_CACERT
TEST_NAME=$(basename "$0" .sh)
# A hung binary must fail the test, not hang the suite.
TEND_TIMEOUT=${TEND_TIMEOUT:-60}

T=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX") || {
	echo "not ok 1 - cannot create a temp dir"
	exit 1
}
ROOT=$T/root
OUT=$T/.stdout
ERR=$T/.stderr
RC=0
mkdir -p "$ROOT" "$T/home"
# nothing of the caller's home (caches, git or CLI settings) is read or
# written, and tests running side by side do not share one
export HOME=$T/home
unset XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME
# python3 is Debian's (make deps installs it), called directly: a version
# manager's shim in PATH costs a dozen processes per call, and the tests
# make hundreds of calls
if [ -x /usr/bin/python3 ]; then
	mkdir -p "$T/.bin"
	ln -s /usr/bin/python3 "$T/.bin/python3"
	PATH=$T/.bin:$PATH
fi

_n=0
_failed=0
_bg_pids=
_pidfiles=
STEP=

_cleanup() {
	local p f
	for p in $_bg_pids; do
		# `timeout` leads its own process group: kill the group too
		kill -KILL -- "-$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	for f in $_pidfiles; do
		[ -f "$f" ] || continue
		for p in $(cat "$f"); do
			case $p in *[!0-9]* | '') continue ;; esac
			kill -KILL "$p" 2>/dev/null
		done
	done
	for p in $_bg_pids; do
		wait "$p" 2>/dev/null
	done
	cd /
	rm -rf "$T"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

cd "$T" || exit 1

# --- reporting -------------------------------------------------------------

# step DESCRIPTION - name the behaviour the following assertions prove.
step() {
	STEP=$*
}

_name() {
	if [ -n "$STEP" ]; then
		printf '%s: %s' "$STEP" "$*"
	else
		printf '%s' "$*"
	fi
}

# ok NAME - record a passed assertion.
ok() {
	_n=$((_n + 1))
	echo "ok $_n - $(_name "$1")"
}

# fail NAME [MSG...] - record a failed assertion; MSG lines are printed as
# indented diagnostics.
fail() {
	local name=$1
	shift
	_n=$((_n + 1))
	_failed=$((_failed + 1))
	echo "not ok $_n - $(_name "$name")"
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
	return 0
}

# note MSG - a diagnostic line that is not an assertion.
note() {
	echo "# $*"
}

# skip REASON - the whole test cannot run here.
skip() {
	echo "skip: $*"
	exit 77
}

# done_testing - print the tally and exit 0 (all passed) or 1.
done_testing() {
	if [ "$_n" -eq 0 ]; then
		echo "not ok 1 - $TEST_NAME made no assertion"
		exit 1
	fi
	if [ "$_failed" -eq 0 ]; then
		echo "# $TEST_NAME: all $_n assertions passed"
		exit 0
	fi
	echo "# $TEST_NAME: $_failed of $_n assertions failed"
	exit 1
}

# _show - a command line for names: temp paths shortened.
_show() {
	local s=$*
	s=${s//$ROOT/ROOT}
	s=${s//$T/\$T}
	printf '%s' "$s"
}

# _evidence - last stdout/stderr, for failure messages.
_evidence() {
	echo "exit status: $RC"
	if [ -s "$OUT" ]; then
		echo "stdout:"
		head -n 30 "$OUT" | sed 's/^/  /'
	fi
	if [ -s "$ERR" ]; then
		echo "stderr:"
		head -n 30 "$ERR" | sed 's/^/  /'
	fi
}

# --- running tend ------------------------------------------------------------

# tend SUBCOMMAND ARGS... - the binary under test, always confined to $ROOT
# and bounded by $TEND_TIMEOUT seconds.
tend() {
	local sub=$1
	shift
	timeout -k 5 "$TEND_TIMEOUT" "$TEND" "$sub" --root "$ROOT" "$@"
}

# run CMD... - run CMD, keeping its stdout in $OUT, stderr in $ERR, status in $RC.
run() {
	"$@" >"$OUT" 2>"$ERR"
	RC=$?
	# Under an ASan/UBSan build a report on stderr is a failure even when
	# the exit status is the expected one (e.g. 1 for bad input).
	if grep -qE '^==[0-9]+==ERROR: |^SUMMARY: [A-Za-z]+Sanitizer|: runtime error: ' "$ERR"; then
		fail "$(_show "$*"): no sanitizer report" "$(head -n 40 "$ERR")"
	fi
	return 0
}

# expect_exit CODE CMD... - run CMD (as `run`) and assert its exit status.
expect_exit() {
	local want=$1
	shift
	run "$@"
	if [ "$RC" -eq "$want" ]; then
		ok "$(_show "$*") exits $want"
	else
		fail "$(_show "$*") exits $want" "$(_evidence)"
	fi
}

# check NAME CMD... - assert that CMD succeeds.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		fail "$name" "$(_show "$*") failed" "$out"
	fi
}

# refute NAME CMD... - assert that CMD fails.
refute() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$name" "$(_show "$*") succeeded" "$out"
	else
		ok "$name"
	fi
}

# --- assertions on output ----------------------------------------------------

_assert_grep() { # NAME FILE GREP-ARGS...
	local name=$1 file=$2
	shift 2
	if grep -q "$@" -- "$file"; then
		ok "$name"
	else
		fail "$name" "$(_evidence)"
	fi
}

_refute_grep() { # NAME FILE GREP-ARGS...
	local name=$1 file=$2
	shift 2
	if grep -q "$@" -- "$file"; then
		fail "$name" "$(_evidence)"
	else
		ok "$name"
	fi
}

# stdout_has TEXT / stderr_has TEXT - the last output contains TEXT.
stdout_has() { _assert_grep "stdout has '$1'" "$OUT" -F -e "$1"; }
stderr_has() { _assert_grep "stderr has '$1'" "$ERR" -F -e "$1"; }
stdout_lacks() { _refute_grep "stdout lacks '$1'" "$OUT" -F -e "$1"; }
stderr_lacks() { _refute_grep "stderr lacks '$1'" "$ERR" -F -e "$1"; }
# stdout_matches ERE / stderr_matches ERE - some line matches ERE.
stdout_matches() { _assert_grep "stdout matches /$1/" "$OUT" -E -e "$1"; }
stderr_matches() { _assert_grep "stderr matches /$1/" "$ERR" -E -e "$1"; }
stdout_lacks_match() { _refute_grep "no stdout line matches /$1/" "$OUT" -E -e "$1"; }

# summary_is TEXT - the text summary line reads "tend: N resources: TEXT in M ms".
summary_is() {
	if grep -qE "^tend: [0-9]+ resources: $1 in [0-9.]+ ?ms\$" "$OUT"; then
		ok "summary reads '$1'"
	else
		fail "summary reads '$1'" "$(_evidence)"
	fi
}

# --- assertions on the tree --------------------------------------------------

# assert_file_content PATH CONTENT - PATH is a regular file holding exactly CONTENT.
assert_file_content() {
	local path=$1 want=$2 name
	name="$(_show "$path") holds exactly $(printf '%q' "$want")"
	if [ -L "$path" ] || [ ! -f "$path" ]; then
		fail "$name" "$(ls -ld "$path" 2>&1)"
	elif printf '%s' "$want" | cmp -s - "$path"; then
		ok "$name"
	else
		fail "$name" "got: $(od -c "$path" | head -n 10)"
	fi
}

# assert_same_file PATH REF - PATH holds the same bytes as REF.
assert_same_file() {
	local name
	name="$(_show "$1") is byte-identical to $(_show "$2")"
	if [ ! -L "$1" ] && [ -f "$1" ] && cmp -s "$1" "$2"; then
		ok "$name"
	else
		fail "$name" "$(ls -ld "$1" 2>&1)" "$(cmp "$1" "$2" 2>&1)"
	fi
}

# assert_mode PATH OCTAL - permission bits, e.g. 640 (stat -c %a).
assert_mode() {
	local got
	got=$(stat -c %a -- "$1" 2>&1)
	if [ "$got" = "$2" ]; then
		ok "$(_show "$1") has mode $2"
	else
		fail "$(_show "$1") has mode $2" "got: $got"
	fi
}

# assert_owner PATH UID:GID - numeric ownership (not following symlinks).
assert_owner() {
	local got
	got=$(stat -c %u:%g -- "$1" 2>&1)
	if [ "$got" = "$2" ]; then
		ok "$(_show "$1") is owned by $2"
	else
		fail "$(_show "$1") is owned by $2" "got: $got"
	fi
}

# assert_absent PATH - nothing (not even a dangling symlink) at PATH.
assert_absent() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		fail "$(_show "$1") does not exist" "$(ls -ld "$1" 2>&1)"
	else
		ok "$(_show "$1") does not exist"
	fi
}

# assert_symlink PATH TARGET - PATH is a symlink whose text is TARGET.
assert_symlink() {
	local got
	got=$(readlink -- "$1" 2>&1)
	if [ -L "$1" ] && [ "$got" = "$2" ]; then
		ok "$(_show "$1") is a symlink to $2"
	else
		fail "$(_show "$1") is a symlink to $2" "$(ls -ld "$1" 2>&1)"
	fi
}

# assert_lines FILE LINE... - FILE holds exactly these lines (each + "\n").
assert_lines() {
	local f=$1
	shift
	local want
	want=$(printf '%s\n' "$@")
	assert_file_content "$f" "$want"$'\n'
}

# snapshot DIR - everything observable about the tree: every entry's path,
# type, mode, owner, size, mtime (ns) and link text, then a checksum of
# every regular file.  Two equal snapshots mean nothing was written.
snapshot() {
	(
		cd "$1" || exit 1
		find . -printf '%p %y %m %U:%G %s %T@ %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	)
}

# assert_snapshot NAME FILE DIR - DIR still matches the snapshot saved in FILE.
assert_snapshot() {
	local d
	if d=$(snapshot "$3" | diff "$2" - 2>&1); then
		ok "$1"
	else
		fail "$1" "$d"
	fi
}

# --- processes and time ------------------------------------------------------

# bg CMD... - start CMD in the background; BG_PID is its pid.  Killed on exit.
bg() {
	"$@" &
	BG_PID=$!
	_bg_pids="$_bg_pids $BG_PID"
}

# reap_pidfile FILE - on exit, SIGKILL every pid listed in FILE.
reap_pidfile() {
	_pidfiles="$_pidfiles $1"
}

# alive PID - the process exists and is not a zombie.
alive() {
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# now_ms - wall-clock milliseconds.
now_ms() {
	date +%s%3N
}

# need CMD... - skip the test unless every CMD is available.
need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

need timeout python3 sha256sum

if [ ! -x "$TEND" ]; then
	echo "not ok 1 - the binary under test exists: $TEND"
	exit 1
fi
