#!/bin/bash
# examples/demo.sh PATH_TO_TEND - tend in two minutes, on a scratch root.
#
# Applies examples/web/site.yaml and examples/web/production.yaml to an
# empty temporary directory (--root), shows the result, shows that a second
# run changes nothing, then changes two managed files by hand and lets tend
# find and correct them.  Nothing outside the temporary directory is
# touched; it is removed on exit.  Exits non-zero when any step does not
# behave as described.
set -u

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	echo "usage: $0 PATH_TO_TEND" >&2
	exit 1
fi
tend=$1
case $tend in /*) ;; *) tend=$PWD/$tend ;; esac
if [ ! -x "$tend" ]; then
	echo "demo: $1 is not an executable (build first: make build)" >&2
	exit 1
fi
top=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$top" || exit 1

root=$(mktemp -d /tmp/tend-demo.XXXXXX) || exit 1
trap 'rm -rf "$root"' EXIT
manifests=(examples/web/site.yaml examples/web/production.yaml)
n=0

say() { # a numbered step
	n=$((n + 1))
	printf '\n== %d. %s\n' "$n" "$*"
}

show() { # show a shell command line, then run it
	printf '$ %s\n' "$1"
	eval "$1" || fail "$1"
}

fail() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	exit 1
}

# run_tend WANT ARGS... - run tend, show it, check its exit status
run_tend() {
	local want=$1 rc
	shift
	printf '$ tend %s\n' "$*"
	"$tend" "$@"
	rc=$?
	printf '(exit status %d)\n' "$rc"
	[ "$rc" -eq "$want" ] || fail "tend $1 exited $rc, expected $want"
}

echo "tend demo: managing the empty directory $root as if it were /"
echo "manifests: ${manifests[*]}"

say "plan: what would change (nothing is written; exit 2 = changes pending)"
run_tend 2 plan --no-color --root "$root" "${manifests[@]}"
echo "('+' create, '~' change, '?' cannot be predicted before the run: the line's"
echo " file does not exist yet; file:/etc/default/app creates it first during apply)"
[ -z "$(ls -A "$root")" ] || fail "plan wrote into the root"

say "apply: make it so (exit 0 = success)"
run_tend 0 apply --no-color --root "$root" "${manifests[@]}"

say "the result: a rendered template, a symlink, the modes from production.yaml"
show "cat $root/etc/app/app.conf"
show "ls -l $root/etc/app/app.conf $root/srv/app/current"
show "ls -ld $root/var/lib/app"
show "cat $root/etc/default/app"
show "cat $root/var/log/app/reload.log"
grep -q '^workers = 8$' "$root/etc/app/app.conf" || fail "production.yaml's workers: 8 is not in app.conf"
[ "$(stat -c %a "$root/etc/app/app.conf")" = 640 ] || fail "app.conf is not mode 0640"
[ "$(stat -c %a "$root/var/lib/app")" = 700 ] || fail "/var/lib/app is not mode 0700"
[ "$(readlink "$root/srv/app/current")" = releases/1.0 ] || fail "the symlink is wrong"

say "plan again: everything is already right (exit 0 = converged)"
run_tend 0 plan --no-color --root "$root" "${manifests[@]}"

say "someone edits a managed file and loosens the mode of another, by hand"
show "sed -i 's/^workers = 8\$/workers = 64/' $root/etc/app/app.conf"
show "chmod 0666 $root/srv/app/releases/1.0/index.html"

say "plan: tend sees both changes, with a diff; the edited config would reload the app"
run_tend 2 plan --no-color --root "$root" "${manifests[@]}"

say "apply: put them back"
run_tend 0 apply --no-color --root "$root" "${manifests[@]}"
grep -q '^workers = 8$' "$root/etc/app/app.conf" || fail "app.conf was not corrected"
[ "$(stat -c %a "$root/srv/app/releases/1.0/index.html")" = 644 ] || fail "index.html mode was not corrected"
[ "$(wc -l <"$root/var/log/app/reload.log")" -eq 2 ] || fail "reload-app did not run once more"
show "cat $root/var/log/app/reload.log"

say "plan a last time: converged again"
run_tend 0 plan --no-color --root "$root" "${manifests[@]}"

printf '\ndemo: OK - tend planned, applied, converged, and corrected two manual changes in %s (now removed).\n' "$root"
