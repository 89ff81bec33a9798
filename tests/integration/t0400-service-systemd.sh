#!/bin/bash
# t0400-service-systemd: enabling and disabling a systemd unit in a temp
# root, offline.  The links are exactly those `systemctl enable` makes,
# whether tend runs `systemctl --root` or (no systemctl on the host) makes
# them itself; runs are idempotent; the unit may be named with or without
# ".service".  systemd does not run the root (an image), so state is not
# managed, enabled is: plan shows only what enabled would do, apply enables
# and succeeds, its report saying why state was not managed, and a
# notification has nothing to restart.  Masked and static units cannot be
# enabled; a unit that is missing is reported; the provider defaults to
# systemd only for a root that has systemd.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/lib/systemd/system" "$ROOT/etc"
: >"$ROOT/lib/systemd/systemd"   # the root has systemd: the default provider
cat >"$ROOT/lib/systemd/system/foo.service" <<'EOF'
[Unit]
Description=tend's test unit

[Service]
ExecStart=/usr/sbin/foo

[Install]
WantedBy=multi-user.target
EOF

# units - every entry under ROOT/etc/systemd as "PATH -> TARGET", sorted
units() {
	(cd "$ROOT/etc" && find systemd -printf '%p -> %l\n' 2>/dev/null | LC_ALL=C sort)
}
assert_units() { # NAME EXPECTED-LINES...
	local name=$1 want got
	shift
	want=$(printf '%s\n' "$@")
	got=$(units)
	if [ "$want" = "$got" ]; then
		ok "$name"
	else
		fail "$name" "want:" "$want" "got:" "$got"
	fi
}
ON=("systemd -> " "systemd/system -> " "systemd/system/multi-user.target.wants -> "
	"systemd/system/multi-user.target.wants/foo.service -> /lib/systemd/system/foo.service")
OFF=("systemd -> " "systemd/system -> ")

svc() { # NAME ATTRIBUTE-LINES... - a manifest with one service
	local n=$1 a
	shift
	{
		echo "resources:"
		echo "  - service: $n"
		for a in "$@"; do echo "    $a"; done
	} >site.yaml
}

# NOPATH: a PATH without systemctl, for runs where tend must link by hand
NOPATH=$T/nopath
mkdir -p "$NOPATH"
ln -s "$(command -v timeout)" "$NOPATH/timeout"
nosystemctl() { PATH=$NOPATH "$@"; }

enable_disable() { # LABEL WRAPPER...
	local label=$1
	shift
	rm -rf "$ROOT/etc/systemd"

	step "$label: plan shows enabling and writes nothing"
	svc foo "enabled: true"
	snapshot "$ROOT" >before
	expect_exit 2 "$@" tend plan site.yaml
	stdout_has "~ service:foo: enabled false -> true"
	assert_snapshot "the root is unchanged" before "$ROOT"

	step "$label: apply makes exactly the link [Install] asks for"
	expect_exit 0 "$@" tend apply site.yaml
	stdout_has "changed service:foo: enabled false -> true"
	assert_units "links are exactly the WantedBy= one" "${ON[@]}"

	step "$label: idempotent, with or without .service"
	expect_exit 0 "$@" tend apply site.yaml
	summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
	svc foo.service "enabled: true"
	expect_exit 0 "$@" tend apply site.yaml
	summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

	step "$label: disable removes the link and the emptied .wants directory"
	svc foo.service "enabled: false"
	expect_exit 0 "$@" tend apply site.yaml
	stdout_has "changed service:foo.service: enabled true -> false"
	assert_units "no link is left" "${OFF[@]}"
	expect_exit 0 "$@" tend apply site.yaml
	summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
}

if command -v systemctl >/dev/null; then
	enable_disable "systemctl --root"
	step "systemctl --root did the linking"
	svc foo "enabled: true"
	expect_exit 0 tend apply -v site.yaml
	stdout_has "Created symlink"
	stdout_lacks "links made by tend"
else
	note "systemctl is not installed: only the by-hand links are tested"
fi
enable_disable "no systemctl" nosystemctl
step "without systemctl, tend did the linking"
svc foo "enabled: true"
expect_exit 0 nosystemctl tend apply -v site.yaml
stdout_has "systemctl is not installed: links made by tend"
assert_units "links are exactly the WantedBy= one" "${ON[@]}"

step "a partly enabled unit (a link removed by hand) is put right"
cat >"$ROOT/lib/systemd/system/bar.service" <<'EOF'
[Service]
ExecStart=/usr/sbin/bar
[Install]
WantedBy=multi-user.target
Alias=bar-alias.service
EOF
svc bar "enabled: true"
expect_exit 0 tend apply site.yaml
rm "$ROOT/etc/systemd/system/bar-alias.service"
expect_exit 2 tend plan site.yaml
stdout_has "~ service:bar: enabled partial -> true"
expect_exit 0 tend apply site.yaml
assert_symlink "$ROOT/etc/systemd/system/bar-alias.service" /lib/systemd/system/bar.service
assert_symlink "$ROOT/etc/systemd/system/multi-user.target.wants/bar.service" \
	/lib/systemd/system/bar.service
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

# --- an image: state is not managed, enabled is -------------------------------

step "state in an image: the plan shows only what enabled would do"
rm -rf "$ROOT/etc/systemd"
svc foo "state: running" "enabled: true"
expect_exit 2 tend plan site.yaml
stdout_has "~ service:foo: enabled false -> true"
stdout_lacks "state"

step "state in an image: apply enables and says state was not managed"
expect_exit 0 tend apply --json site.yaml
check "the report says why state was not managed" \
	grep -q '"message": "state not managed: systemd does not run this root (an image); enabled takes effect when it boots"' "$OUT"
assert_units "enabled was made" "${ON[@]}"
svc foo "state: stopped"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a notification of a unit systemd is not running has nothing to restart"
cat >site.yaml <<'EOF'
resources:
  - file: /etc/foo.conf
    content: "x\n"
    notify: service:foo
  - service: foo
    enabled: true
EOF
expect_exit 2 tend plan site.yaml
stdout_has "+ file:/etc/foo.conf: create"
stdout_lacks "service:foo"
expect_exit 0 tend apply site.yaml
summary_is "1 changed, 1 ok, 0 failed, 0 skipped"

# --- what cannot be enabled -----------------------------------------------------

step "a masked unit cannot be enabled; disabling it is already true"
ln -s /dev/null "$ROOT/etc/systemd/system/masked.service"
cp "$ROOT/lib/systemd/system/foo.service" "$ROOT/lib/systemd/system/masked.service"
svc masked "enabled: true"
expect_exit 1 tend plan site.yaml
stdout_has "failed service:masked: masked.service is masked (linked to /dev/null): unmask it to enable it"
svc masked "enabled: false"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a unit without [Install] cannot be enabled"
printf '[Service]\nExecStart=/bin/true\n' >"$ROOT/lib/systemd/system/static.service"
svc static "enabled: true"
expect_exit 1 tend apply site.yaml
stdout_has "failed service:static: static.service has no [Install] section"

step "a missing unit is reported, unknown in a plan when a resource it follows comes first"
svc nosuch "enabled: true"
expect_exit 1 tend apply site.yaml
stdout_has "failed service:nosuch: unit nosuch.service (nor /etc/init.d/nosuch) does not exist in $ROOT"
cat >site.yaml <<'EOF'
resources:
  - file: /lib/systemd/system/nosuch.service
    content: "[Install]\nWantedBy=multi-user.target\n"
  - service: nosuch
    enabled: true
EOF
expect_exit 2 tend plan site.yaml
stdout_has "? service:nosuch: unknown: unit nosuch.service (nor /etc/init.d/nosuch) does not exist yet"
expect_exit 0 tend apply site.yaml
assert_symlink "$ROOT/etc/systemd/system/multi-user.target.wants/nosuch.service" \
	/lib/systemd/system/nosuch.service

step "an init script without a unit: systemd's sysv links, made by tend"
mkdir -p "$ROOT/etc/init.d"
printf '#!/bin/sh\n### BEGIN INIT INFO\n# Default-Start: 3 5\n# Default-Stop:\n### END INIT INFO\n' \
	>"$ROOT/etc/init.d/legacy"
svc legacy "enabled: true"
expect_exit 0 tend apply site.yaml
stdout_has "changed service:legacy: enabled false -> true"
assert_symlink "$ROOT/etc/rc3.d/S01legacy" ../init.d/legacy
assert_symlink "$ROOT/etc/rc5.d/S01legacy" ../init.d/legacy
assert_absent "$ROOT/etc/rc2.d/S01legacy"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

# --- provider ----------------------------------------------------------------------

step "a root without systemd defaults to sysvinit; provider: systemd overrides"
rm "$ROOT/lib/systemd/systemd"
svc foo "enabled: true"
expect_exit 1 tend apply site.yaml
stdout_has "failed service:foo: /etc/init.d/foo does not exist in $ROOT"
svc foo "enabled: true" "provider: systemd"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "bad input: a name that is no unit name, an unknown provider"
svc "foo/bar" "enabled: true" "provider: systemd"
expect_exit 1 tend plan site.yaml
stderr_matches "site.yaml:2:[0-9]+: 'foo/bar' is not a valid service name"
svc foo "provider: upstart"
expect_exit 1 tend plan site.yaml
stderr_has "site.yaml:3:"
stderr_has "upstart"

done_testing
