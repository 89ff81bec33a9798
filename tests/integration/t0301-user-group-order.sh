#!/bin/bash
# t0301-user-group-order: users and groups declared in any order converge
# in one run: a user follows its (new) primary group and the groups it
# names, a group that lists a user follows that user, and a user named
# in the members of a group it also depends on joins it when created.
# A home moved with manage_home keeps its keys; a missing home is a
# clear failure; shadow-utils' own refusals are reported.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "managing accounts needs root"
for t in useradd usermod userdel groupadd groupmod groupdel gpasswd chpasswd; do
	[ -x "/usr/sbin/$t" ] || [ -x "/usr/bin/$t" ] || command -v "$t" >/dev/null ||
		skip "$t (shadow-utils: Debian packages passwd and login) is not installed"
done

mkdir -p "$ROOT/etc/default" "$ROOT/home" "$ROOT/srv"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$ROOT/etc/passwd"
printf 'root:*:19000:0:99999:7:::\n' >"$ROOT/etc/shadow"
printf 'root:x:0:\nsudo:x:27:\nusers:x:100:\n' >"$ROOT/etc/group"
printf 'root:*::\nsudo:*::\nusers:*::\n' >"$ROOT/etc/gshadow"
chmod 0640 "$ROOT/etc/shadow" "$ROOT/etc/gshadow"
printf 'UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\n' \
	>"$ROOT/etc/login.defs"
echo "SHELL=/bin/sh" >"$ROOT/etc/default/useradd"

K=$(python3 -c '
import base64, struct
t = b"ssh-ed25519"
print("ssh-ed25519", base64.b64encode(struct.pack(">I", 11) + t + struct.pack(">I", 32) + bytes(32)).decode(), "carol@desk")')

# line_is FILE NAME LINE - the entry for NAME in the root's FILE is exactly LINE.
line_is() {
	local got
	got=$(grep "^$2:" "$ROOT/etc/$1")
	if [ "$got" = "$3" ]; then
		ok "etc/$1 has '$3'"
	else
		fail "etc/$1 has '$3'" "got: $got"
	fi
}

cat >site.yaml <<EOF
resources:
  - group: ops
    gid: 3001
    members: [carol, dave]
  - user: carol
    uid: 1001
    home: /srv/carol
    manage_home: true
    ssh_authorized_keys: ["$K"]
  - user: dave
    uid: 1002
    group: team
  - group: team
    gid: 3000
  - group: erin
    gid: 3002
    members: [erin]
  - user: erin
    uid: 1003
EOF

step "the plan predicts every creation, whatever the declaration order"
expect_exit 2 tend plan site.yaml
stdout_matches '^tend: 6 resources: 6 to change, 0 ok, 0 unknown in '
stdout_lacks "failed"

step "one apply creates all of it"
expect_exit 0 tend apply site.yaml
summary_is "6 changed, 0 ok, 0 failed, 0 skipped"
line_is passwd carol "carol:x:1001:1001::/srv/carol:/bin/sh"
line_is passwd dave "dave:x:1002:3000::/home/dave:/bin/sh"
line_is passwd erin "erin:x:1003:3002::/home/erin:/bin/sh"
line_is group team "team:x:3000:"
line_is group ops "ops:x:3001:carol,dave"
line_is gshadow ops "ops:!::carol,dave"
line_is group erin "erin:x:3002:erin"
line_is gshadow erin "erin:!::erin"
assert_lines "$ROOT/srv/carol/.ssh/authorized_keys" "$K"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 6 ok, 0 failed, 0 skipped"

step "a home moved with manage_home keeps its keys, and the plan knows it"
sed -i 's|home: /srv/carol|home: /home/carol|' site.yaml
expect_exit 2 tend plan site.yaml
stdout_matches '^~ user:carol: home /srv/carol -> /home/carol$'
expect_exit 0 tend apply site.yaml
line_is passwd carol "carol:x:1001:1001::/home/carol:/bin/sh"
assert_absent "$ROOT/srv/carol"
assert_lines "$ROOT/home/carol/.ssh/authorized_keys" "$K"
assert_owner "$ROOT/home/carol/.ssh/authorized_keys" 1001:1001
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 6 ok, 0 failed, 0 skipped"

step "a uid freed by another user's resource in the same run: unknown in the plan, done by apply"
cat >swap.yaml <<'EOF'
resources:
  - user: dave
    uid: 1012
  - user: gina
    uid: 1002
EOF
expect_exit 2 tend plan swap.yaml
stdout_has "? user:gina: unknown: uid 1002 is used by dave now; user:dave changes that in this run"
stdout_has "~ user:dave: uid 1002 -> 1012"
expect_exit 0 tend apply swap.yaml
summary_is "2 changed, 0 ok, 0 failed, 0 skipped"
line_is passwd dave "dave:x:1012:3000::/home/dave:/bin/sh"
check "gina has uid 1002" grep -q '^gina:x:1002:' "$ROOT/etc/passwd"

step "keys for a user without a home directory fail clearly"
rm -rf "$ROOT/home/dave"
cat >nohome.yaml <<EOF
resources:
  - user: dave
    ssh_authorized_keys: ["$K"]
EOF
expect_exit 1 tend plan nohome.yaml
stdout_has "failed user:dave: the home /home/dave of dave does not exist: nowhere to write ssh_authorized_keys (manage_home: true creates it)"

cat >nohome2.yaml <<EOF
resources:
  - user: svc
    system: true
    home: /srv/svc
    ssh_authorized_keys: ["$K"]
EOF
expect_exit 1 tend plan nohome2.yaml
stdout_has "failed user:svc: the home /srv/svc of svc does not exist and is not created (manage_home: true creates it)"
sed -i 's|system: true|system: true\n    manage_home: true|' nohome2.yaml
expect_exit 0 tend apply nohome2.yaml
assert_lines "$ROOT/srv/svc/.ssh/authorized_keys" "$K"
check "svc has a system uid" awk -F: '$1 == "svc" && $3 < 1000 { f = 1 } END { exit !f }' "$ROOT/etc/passwd"

step "a primary group that does not exist and that nothing creates fails in the plan"
cat >nogroup.yaml <<'EOF'
resources:
  - user: frank
    group: nosuch
EOF
expect_exit 1 tend plan nogroup.yaml
stdout_has "failed user:frank: group 'nosuch' does not exist in $ROOT/etc/group"

step "shadow-utils' own refusal is reported"
cat >rmteam.yaml <<'EOF'
resources:
  - group: team
    ensure: absent
EOF
expect_exit 1 tend apply rmteam.yaml
stdout_matches "^failed group:team: groupdel failed \(exit status [0-9]+\): groupdel: cannot remove the primary group of user 'dave'"
line_is group team "team:x:3000:"

done_testing
