#!/bin/bash
# t0300-user-group: users and groups in a temp root, changed through the
# host's real shadow-utils (useradd/usermod/userdel/groupadd/groupmod/
# groupdel/gpasswd/chpasswd with --root): creation with exact passwd,
# group, shadow and gshadow lines; modification of uid, groups and shell;
# the exact authorized_keys set with 0700/0600 and the user's ids;
# removal with and without the home; idempotent re-runs; a uid already
# taken; the password hash never printed.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "managing accounts needs root"
for t in useradd usermod userdel groupadd groupmod groupdel gpasswd chpasswd; do
	[ -x "/usr/sbin/$t" ] || [ -x "/usr/bin/$t" ] || command -v "$t" >/dev/null ||
		skip "$t (shadow-utils: Debian packages passwd and login) is not installed"
done

# shadow-utils dates the shadow entries it writes from SOURCE_DATE_EPOCH:
# 1700000000 is day 19675, so the shadow lines below are exact.
export SOURCE_DATE_EPOCH=1700000000
DAY=19675

# A minimal but valid Debian base: lines as base-passwd ships them.
mkdir -p "$ROOT/etc/skel" "$ROOT/home"
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$ROOT/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
sys:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
sudo:x:27:
staff:x:50:
users:x:100:
nogroup:x:65534:
EOF
cat >"$ROOT/etc/gshadow" <<'EOF'
root:*::
daemon:*::
bin:*::
sys:*::
adm:*::
sudo:*::
staff:*::
users:*::
nogroup:*::
EOF
chmod 0640 "$ROOT/etc/shadow" "$ROOT/etc/gshadow"
cat >"$ROOT/etc/login.defs" <<'EOF'
UID_MIN 1000
UID_MAX 60000
SYS_UID_MIN 100
SYS_UID_MAX 999
GID_MIN 1000
GID_MAX 60000
SYS_GID_MIN 100
SYS_GID_MAX 999
USERGROUPS_ENAB yes
ENCRYPT_METHOD SHA512
PASS_MAX_DAYS 99999
PASS_MIN_DAYS 0
PASS_WARN_AGE 7
UMASK 022
EOF
echo "from the root's skel" >"$ROOT/etc/skel/.marker"
mkdir -p "$ROOT/etc/default"
echo "SHELL=/bin/sh" >"$ROOT/etc/default/useradd"

# mkkey SEED COMMENT - a well-formed ssh-ed25519 public key line.
mkkey() {
	python3 - "$1" "$2" <<'EOF'
import base64, hashlib, struct, sys
t = b"ssh-ed25519"
k = hashlib.sha256(sys.argv[1].encode()).digest()
blob = struct.pack(">I", len(t)) + t + struct.pack(">I", 32) + k
line = "ssh-ed25519 " + base64.b64encode(blob).decode()
print(line + (" " + sys.argv[2] if sys.argv[2] else ""))
EOF
}
# fp KEYLINE - its SHA256 fingerprint as ssh-keygen -l prints it.
fp() {
	python3 - "$1" <<'EOF'
import base64, hashlib, sys
blob = base64.b64decode(sys.argv[1].split()[1])
print("SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
EOF
}
K1=$(mkkey one alice@old)
K2=$(mkkey two alice@laptop)
K3=$(mkkey three "")
HASH1='$6$saltsalt$K7bQ0XGd7kzXkqGf3T0cCx1cBfYQm3wqz0Xw6n6tS6PzP3l0pVd7mOa6f4r9Qe0vH4mQF2m5q8yA1oQ8v9wJ/'
HASH2='$y$j9T$abcdefghijklmnop$0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg'

# no_hash FILE... - neither hash appears anywhere in FILE.
no_hash() {
	local f
	for f in "$@"; do
		if grep -qF -e "${HASH1:3:20}" -e "${HASH2:3:20}" -- "$f"; then
			fail "$(basename "$f") never shows the password hash" "$(grep -F -e "${HASH1:3:20}" -e "${HASH2:3:20}" -- "$f")"
		else
			ok "$(basename "$f") never shows the password hash"
		fi
	done
}

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
# no_entry FILE NAME - no entry for NAME in the root's FILE.
no_entry() {
	if grep -q "^$2:" "$ROOT/etc/$1"; then
		fail "etc/$1 has no entry for $2" "$(grep "^$2:" "$ROOT/etc/$1")"
	else
		ok "etc/$1 has no entry for $2"
	fi
}

cat >site.yaml <<EOF
resources:
  - group: devs
    gid: 2000
    members: [alice]
  - user: alice
    uid: 1001
    groups: [sudo, devs]
    shell: /bin/bash
    comment: Alice Liddell
    password: '$HASH1'
    ssh_authorized_keys:
      - $K1
  - user: bob
    uid: 1002
    group: users
    home: /srv/bob
    manage_home: true
EOF

step "plan creates both users and the group, and writes nothing"
snapshot "$ROOT" >before.snap
expect_exit 2 tend plan site.yaml
stdout_matches '^\+ group:devs: create, members \[\] -> \[alice\]$'
stdout_matches '^\+ user:alice: create, password \(sensitive\) -> \(sensitive\), ssh_authorized_keys \[\] -> \[alice@old\]$'
stdout_has "+$(fp "$K1") alice@old"
stdout_matches '^\+ user:bob: create$'
no_hash "$OUT"
assert_snapshot "plan wrote nothing" before.snap "$ROOT"

step "apply creates them through shadow-utils"
expect_exit 0 tend apply site.yaml
summary_is "3 changed, 0 ok, 0 failed, 0 skipped"
no_hash "$OUT" "$ERR"
line_is passwd alice "alice:x:1001:1001:Alice Liddell:/home/alice:/bin/bash"
line_is passwd bob "bob:x:1002:100::/srv/bob:/bin/sh"
line_is shadow alice "alice:$HASH1:$DAY:0:99999:7:::"
line_is shadow bob "bob:!:$DAY:0:99999:7:::"
line_is group alice "alice:x:1001:"
line_is group devs "devs:x:2000:alice"
line_is group sudo "sudo:x:27:alice"
line_is group users "users:x:100:"
line_is gshadow devs "devs:!::alice"
line_is gshadow sudo "sudo:*::alice"
assert_owner "$ROOT/home/alice" 1001:1001
assert_file_content "$ROOT/home/alice/.marker" $'from the root\'s skel\n'
assert_owner "$ROOT/srv/bob" 1002:100
assert_mode "$ROOT/home/alice/.ssh" 700
assert_owner "$ROOT/home/alice/.ssh" 1001:1001
assert_mode "$ROOT/home/alice/.ssh/authorized_keys" 600
assert_owner "$ROOT/home/alice/.ssh/authorized_keys" 1001:1001
assert_lines "$ROOT/home/alice/.ssh/authorized_keys" "$K1"

step "a second apply changes nothing"
snapshot "$ROOT" >created.snap
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 3 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml
assert_snapshot "nothing was written" created.snap "$ROOT"

step "--json reports never carry the password"
sed -i "s|$HASH1|$HASH2|" site.yaml
expect_exit 2 tend plan --json site.yaml
check "the JSON plan shows the password change as (sensitive)" python3 -c '
import json, sys
rep = json.load(open(sys.argv[1]))
ch = [c for r in rep["resources"] if r["id"] == "user:alice" for c in r["changes"]]
assert {"what": "password", "from": "(sensitive)", "to": "(sensitive)"} in ch, ch' "$OUT"
no_hash "$OUT"
expect_exit 0 tend apply --json site.yaml
no_hash "$OUT" "$ERR"
line_is shadow alice "alice:$HASH2:$DAY:0:99999:7:::"

step "modify uid, groups, shell and keys"
cat >site.yaml <<EOF
resources:
  - group: devs
    gid: 2000
    members: [alice]
  - user: alice
    uid: 1011
    groups: [devs, users]
    shell: /bin/sh
    comment: Alice Liddell
    password: '$HASH2'
    ssh_authorized_keys:
      - $K2
      - $K3
  - user: bob
    uid: 1002
    group: users
    home: /srv/bob
    manage_home: true
EOF
expect_exit 2 tend plan site.yaml
stdout_has "uid 1001 -> 1011"
stdout_has "groups [sudo,devs] -> [devs,users]"
stdout_has "shell /bin/bash -> /bin/sh"
stdout_has "ssh_authorized_keys [alice@old] -> [alice@laptop,$(fp "$K3")]"
stdout_has "-$(fp "$K1") alice@old"
stdout_has "+$(fp "$K2") alice@laptop"
stdout_matches "^    \+$(fp "$K3" | sed 's/[+/]/\\&/g')\$"
stdout_lacks "password"
stdout_lacks "owner"
expect_exit 0 tend apply site.yaml
summary_is "1 changed, 2 ok, 0 failed, 0 skipped"
line_is passwd alice "alice:x:1011:1001:Alice Liddell:/home/alice:/bin/sh"
line_is group sudo "sudo:x:27:"
line_is group users "users:x:100:alice"
line_is gshadow sudo "sudo:*::"
line_is gshadow users "users:*::alice"
assert_owner "$ROOT/home/alice" 1011:1001
assert_owner "$ROOT/home/alice/.ssh" 1011:1001
assert_owner "$ROOT/home/alice/.ssh/authorized_keys" 1011:1001
assert_mode "$ROOT/home/alice/.ssh/authorized_keys" 600
assert_lines "$ROOT/home/alice/.ssh/authorized_keys" "$K2" "$K3"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 3 ok, 0 failed, 0 skipped"

step "keys drift: an extra key, loose modes, another owner"
echo "$K1" >>"$ROOT/home/alice/.ssh/authorized_keys"
chmod 0644 "$ROOT/home/alice/.ssh/authorized_keys"
chmod 0755 "$ROOT/home/alice/.ssh"
chown 0:0 "$ROOT/home/alice/.ssh/authorized_keys"
expect_exit 2 tend plan site.yaml
stdout_has ".ssh mode 0755 -> 0700"
stdout_has "-$(fp "$K1") alice@old"
stdout_has "authorized_keys mode 0644 -> 0600"
stdout_has "authorized_keys owner root:root -> alice:alice"
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/home/alice/.ssh/authorized_keys" "$K2" "$K3"
assert_mode "$ROOT/home/alice/.ssh" 700
assert_mode "$ROOT/home/alice/.ssh/authorized_keys" 600
assert_owner "$ROOT/home/alice/.ssh/authorized_keys" 1011:1001

step "the same keys reordered, with comments and blank lines, are left alone"
printf '# managed keys\n%s\n\n%s\n' "$K3" "$K2" >"$ROOT/home/alice/.ssh/authorized_keys"
expect_exit 0 tend plan site.yaml

step "a symlink planted as authorized_keys is replaced, never followed"
cp -p "$ROOT/etc/shadow" shadow.before
rm "$ROOT/home/alice/.ssh/authorized_keys"
# relative, so that even a tend that followed it would stay inside $ROOT
ln -s ../../../etc/shadow "$ROOT/home/alice/.ssh/authorized_keys"
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/home/alice/.ssh/authorized_keys" "$K2" "$K3"
assert_same_file "$ROOT/etc/shadow" shadow.before
assert_owner "$ROOT/etc/shadow" 0:0

step "a symlink planted as .ssh is refused"
rm -rf "$ROOT/home/alice/.ssh"
mkdir "$T/elsewhere"
ln -s "$T/elsewhere" "$ROOT/home/alice/.ssh"
expect_exit 1 tend apply site.yaml
stdout_matches '^failed user:alice: /home/alice/.ssh is not a directory'
assert_absent "$T/elsewhere/authorized_keys"
assert_owner "$T/elsewhere" 0:0
rm "$ROOT/home/alice/.ssh"
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/home/alice/.ssh/authorized_keys" "$K2" "$K3"

step "a uid already taken by another user is a clear error, in plan and apply"
cat >taken.yaml <<'EOF'
resources:
  - user: carol
    uid: 1002
  - user: alice
    uid: 0
EOF
snapshot "$ROOT" >taken.snap
expect_exit 1 tend plan taken.yaml
stdout_has "failed user:carol: uid 1002 is already used by bob"
stdout_has "failed user:alice: uid 0 is already used by root"
expect_exit 1 tend apply taken.yaml
stdout_has "failed user:carol: uid 1002 is already used by bob"
stdout_has "failed user:alice: uid 0 is already used by root"
assert_snapshot "nothing was changed" taken.snap "$ROOT"

step "a gid already taken by another group is a clear error"
cat >gidtaken.yaml <<'EOF'
resources:
  - group: ops
    gid: 27
EOF
expect_exit 1 tend apply gidtaken.yaml
stdout_has "failed group:ops: gid 27 is already used by sudo"
no_entry group ops

step "groups_add adds memberships and keeps the others"
cat >add.yaml <<'EOF'
resources:
  - user: bob
    groups_add: [staff]
  - user: alice
    groups_add: [sudo]
EOF
expect_exit 0 tend apply add.yaml
line_is group staff "staff:x:50:bob"
line_is group sudo "sudo:x:27:alice"
line_is group users "users:x:100:alice"
line_is group devs "devs:x:2000:alice"
expect_exit 0 tend apply add.yaml
summary_is "0 changed, 2 ok, 0 failed, 0 skipped"

step "an empty groups list leaves the user in no supplementary group"
cat >nogroups.yaml <<'EOF'
resources:
  - user: bob
    groups: []
EOF
expect_exit 2 tend plan nogroups.yaml
stdout_has "~ user:bob: groups [staff] -> []"
expect_exit 0 tend apply nogroups.yaml
line_is group staff "staff:x:50:"
line_is gshadow staff "staff:*::"
expect_exit 0 tend apply nogroups.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a group's gid and exact members change"
cat >groups.yaml <<'EOF'
resources:
  - group: devs
    gid: 2100
    members: [bob, alice]
  - group: ops
    system: true
    members: []
EOF
expect_exit 2 tend plan groups.yaml
stdout_has "~ group:devs: gid 2000 -> 2100, members [alice] -> [bob,alice]"
stdout_matches '^\+ group:ops: create$'
expect_exit 0 tend apply groups.yaml
line_is group devs "devs:x:2100:bob,alice"
line_is gshadow devs "devs:!::bob,alice"
check "ops is a system group (gid below 1000)" awk -F: '$1 == "ops" && $3 < 1000 { f = 1 } END { exit !f }' "$ROOT/etc/group"
expect_exit 0 tend apply groups.yaml
summary_is "0 changed, 2 ok, 0 failed, 0 skipped"
sed -i 's/members: \[bob, alice\]/members: [bob]/' groups.yaml
expect_exit 0 tend apply groups.yaml
line_is group devs "devs:x:2100:bob"
line_is gshadow devs "devs:!::bob"

step "a system user gets a system uid and no home"
cat >system.yaml <<'EOF'
resources:
  - user: svc
    system: true
    shell: /usr/sbin/nologin
EOF
expect_exit 0 tend apply system.yaml
check "svc has a uid below 1000" awk -F: '$1 == "svc" && $3 >= 100 && $3 < 1000 { f = 1 } END { exit !f }' "$ROOT/etc/passwd"
assert_absent "$ROOT/home/svc"
expect_exit 0 tend apply system.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "bad input is an error naming the file, line and column, and changes nothing"
snapshot "$ROOT" >bad.snap
cat >bad1.yaml <<'EOF'
resources:
  - user: alice
    groups: [sudo]
    groups_add: [users]
EOF
expect_exit 1 tend apply bad1.yaml
stderr_matches 'bad1.yaml:4:17: .*groups .*groups_add.*not both'
cat >bad2.yaml <<EOF
resources:
  - user: alice
    ssh_authorized_keys:
      - "ssh-ed25519 not*base64 alice@x"
EOF
expect_exit 1 tend apply bad2.yaml
stderr_matches 'bad2.yaml:4:7: ssh_authorized_keys of user:alice, key 1: .*not base64'
cat >bad3.yaml <<EOF
resources:
  - user: alice
    ssh_authorized_keys: ["ssh-foo AAAA alice@x"]
EOF
expect_exit 1 tend apply bad3.yaml
stderr_matches "bad3.yaml:3:26: .*'ssh-foo' is not a known key type"
cat >bad4.yaml <<'EOF'
resources:
  - user: alice
    password: "correct horse battery staple"
EOF
expect_exit 1 tend apply bad4.yaml
stderr_matches 'bad4.yaml:3:15: password of user:alice must be a crypt hash'
stderr_lacks "horse"
cat >bad5.yaml <<'EOF'
resources:
  - group: devs
    members: [bob]
  - user: alice
    groups: [devs]
EOF
expect_exit 1 tend apply bad5.yaml
stderr_matches "bad5.yaml:3:14: the members of group:devs leave out 'alice', but user:alice .* puts itself in devs"
assert_snapshot "nothing was changed" bad.snap "$ROOT"

step "remove: manage_home removes the home, otherwise it stays"
cat >remove.yaml <<'EOF'
resources:
  - user: alice
    ensure: absent
    manage_home: true
  - user: bob
    ensure: absent
  - group: devs
    ensure: absent
EOF
expect_exit 2 tend plan remove.yaml
stdout_matches '^- user:alice: remove$'
expect_exit 0 tend apply remove.yaml
summary_is "3 changed, 0 ok, 0 failed, 0 skipped"
for f in passwd shadow group gshadow; do
	no_entry $f alice
	no_entry $f devs
done
no_entry passwd bob
no_entry shadow bob
assert_absent "$ROOT/home/alice"
check "bob's home is kept" test -d "$ROOT/srv/bob"
expect_exit 0 tend apply remove.yaml
summary_is "0 changed, 3 ok, 0 failed, 0 skipped"

done_testing
