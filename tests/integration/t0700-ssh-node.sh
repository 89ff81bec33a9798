#!/bin/bash
# t0700: the ssh-node example takes a fresh Debian root to two admins with
# their keys, sudo, a templated sshd_config and ssh enabled - with real
# apt/dpkg, shadow-utils and systemd unit links, all inside --root.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (dpkg, chroot, chown)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (make deps installs it)"
EX=$TOP/examples/ssh-node
if ! "$EX/debian-root.sh" "$ROOT" >"$T/debootstrap.log" 2>&1; then
	# the only thing outside the project: Debian's mirror must answer
	grep -q "debootstrap failed" "$T/debootstrap.log" && skip "cannot debootstrap: $(tail -n 1 "$T/debootstrap.log")"
	fail "debian-root.sh" "$(cat "$T/debootstrap.log")"
	done_testing
fi

step "plan on a fresh Debian root: the package, both users, nothing written"
snapshot "$ROOT" >"$T/before"
expect_exit 2 tend plan "$EX/site.yaml"
stdout_matches '^\+ package:openssh-server: create'
stdout_matches '^\+ user:alice: create'
stdout_matches '^\+ user:bob: create'
assert_snapshot "plan wrote nothing in the root" "$T/before" "$ROOT"

step "apply converges: package, users, keys, config, unit link"
TEND_TIMEOUT=600 expect_exit 0 tend apply "$EX/site.yaml"
stdout_matches ', 0 failed, 0 skipped in '

check "dpkg knows openssh-server as installed" \
	sh -c "dpkg-query --admindir='$ROOT/var/lib/dpkg' -W -f '\${Status}' openssh-server | grep -qx 'install ok installed'"
check "alice is in passwd with bash" grep -qx 'alice:x:[0-9]*:[0-9]*::/home/alice:/bin/bash' "$ROOT/etc/passwd"
check "bob is in passwd with bash" grep -qx 'bob:x:[0-9]*:[0-9]*::/home/bob:/bin/bash' "$ROOT/etc/passwd"
check "sudo lists alice and bob" grep -Eq '^sudo:x:27:(alice,bob|bob,alice)$' "$ROOT/etc/group"
for u in alice bob; do
	uid=$(awk -F: -v u=$u '$1 == u {print $3}' "$ROOT/etc/passwd")
	gid=$(awk -F: -v u=$u '$1 == u {print $4}' "$ROOT/etc/passwd")
	assert_mode "$ROOT/home/$u/.ssh" 700
	assert_mode "$ROOT/home/$u/.ssh/authorized_keys" 600
	assert_owner "$ROOT/home/$u/.ssh/authorized_keys" "$uid:$gid"
	check "$u's key is the only key" grep -qx "ssh-ed25519 [A-Za-z0-9+/=]* $u@[a-z]*" "$ROOT/home/$u/.ssh/authorized_keys"
	check "$u's keys file has one line" test "$(wc -l <"$ROOT/home/$u/.ssh/authorized_keys")" = 1
done
check "sshd_config is the template, rendered with facts" grep -q '^# Managed by tend for .*Debian GNU/Linux 12' "$ROOT/etc/ssh/sshd_config"
check "sshd_config refuses root logins" grep -qx 'PermitRootLogin no' "$ROOT/etc/ssh/sshd_config"
assert_symlink "$ROOT/etc/systemd/system/multi-user.target.wants/ssh.service" /lib/systemd/system/ssh.service
check "no process was left running inside the root" \
	sh -c "! ls -l /proc/[0-9]*/root 2>/dev/null | grep -q ' -> $ROOT\$'"

step "the second apply changes nothing; plan says converged"
expect_exit 0 tend apply "$EX/site.yaml"
summary_is "0 changed, 6 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan "$EX/site.yaml"

step "hand edits are put back: a key file and the config"
echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandEditedKeyHandEditedKeyHandEditedKey intruder" >>"$ROOT/home/bob/.ssh/authorized_keys"
echo "PermitRootLogin yes" >>"$ROOT/etc/ssh/sshd_config"
expect_exit 2 tend plan "$EX/site.yaml"
stdout_matches '^~ user:bob: ssh_authorized_keys'
stdout_matches '^~ file:/etc/ssh/sshd_config: content'
expect_exit 0 tend apply "$EX/site.yaml"
check "the intruder's key is gone" sh -c "! grep -q intruder '$ROOT/home/bob/.ssh/authorized_keys'"
check "root logins are refused again" sh -c "! grep -qx 'PermitRootLogin yes' '$ROOT/etc/ssh/sshd_config'"

done_testing
