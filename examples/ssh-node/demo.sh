#!/bin/bash
# examples/ssh-node/demo.sh PATH_TO_TEND - take a fresh Debian 12 root
# (debootstrap, cached after the first run) to a node with two admins,
# their ssh keys, sudo, a templated sshd_config and ssh enabled.
# Everything happens inside a temp directory given as --root.
set -u
tend=${1:?usage: demo.sh PATH_TO_TEND}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d /tmp/tend-ssh-node.XXXXXX)
trap 'rm -rf "$root"' EXIT

say() { printf '\n== %s\n' "$*"; }
run() { # EXPECTED-EXIT CMD...
	local want=$1 rc
	shift
	printf '$ %s\n' "$*"
	"$@"
	rc=$?
	printf '(exit status %s)\n' "$rc"
	[ "$rc" = "$want" ] || { echo "demo: expected exit status $want" >&2; exit 1; }
}

say "0. a fresh Debian 12 root in $root (debootstrap minbase; cached after the first time)"
"$here/debian-root.sh" "$root" || { echo "demo: cannot make a Debian root" >&2; exit 1; }
ls "$root"

say "1. plan: what tend would do to it (nothing is written)"
run 2 "$tend" plan --no-color --root "$root" "$here/site.yaml"

say "2. apply: one apt-get transaction, shadow-utils for the accounts, the template, the unit link"
run 0 "$tend" apply --no-color --root "$root" "$here/site.yaml"

say "3. the result"
grep -E '^(alice|bob):' "$root/etc/passwd"
grep '^sudo:' "$root/etc/group"
ls -ln "$root/home/alice/.ssh/authorized_keys" "$root/home/bob/.ssh/authorized_keys"
ls -l "$root/etc/systemd/system/multi-user.target.wants/ssh.service"
sed -n '1,2p;/^Port/p;/^PermitRootLogin/p' "$root/etc/ssh/sshd_config"

say "4. apply again: nothing left to change"
run 0 "$tend" apply --no-color --root "$root" "$here/site.yaml"

echo
echo "demo: OK - a fresh Debian root now has openssh-server, alice and bob with their keys and sudo, and ssh enabled."
