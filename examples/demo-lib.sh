# examples/demo-lib.sh - what the server and fleet demos share: numbered
# steps, and commands shown before they run, the demo failing when one
# does not behave as described.  Sourced, not run.
n=0
say() { n=$((n + 1)); printf '\n== %d. %s\n' "$n" "$*"; }
fail() { printf '\ndemo: FAILED: %s\n' "$*" >&2; exit 1; }
show() { # show a command line, run it, fail the demo when it fails
	printf '$ %s\n' "$1"
	eval "$1" || fail "$1"
}
refused() { # show a command line that must fail
	printf '$ %s\n' "$1"
	if eval "$1"; then fail "expected a refusal: $1"; fi
}
