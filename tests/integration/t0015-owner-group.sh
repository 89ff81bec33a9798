#!/bin/bash
# t0015-owner-group: owner and group names resolve in ROOT/etc/passwd and
# ROOT/etc/group (never the host's), for files and directories, and
# ownership drift is corrected.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "changing ownership needs root"

mkdir -p "$ROOT/etc" "$ROOT/srv"
# "daemon" and "staff" also exist on most hosts, with other ids (1, 50):
# getting 1235/2345 proves the names were looked up inside the root.
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
alice:x:1234:2345:Alice:/home/alice:/bin/sh
daemon:x:1235:2345::/:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
staff:x:2345:alice
EOF

cat >site.yaml <<'EOF'
resources:
  - file: /srv/data.txt
    content: "owned\n"
    owner: alice
    group: staff
  - file: /srv/daemon.txt
    content: "owned by the root's daemon\n"
    owner: daemon
    group: staff
  - file: /srv/numeric.txt
    content: "by number\n"
    owner: "4321"
    group: "4322"
  - directory: /srv/shared
    owner: alice
    group: staff
    mode: "2775"
EOF

step "owner and group by name are resolved inside --root"
expect_exit 0 tend apply site.yaml
assert_owner "$ROOT/srv/data.txt" 1234:2345
assert_owner "$ROOT/srv/daemon.txt" 1235:2345
assert_owner "$ROOT/srv/numeric.txt" 4321:4322
assert_owner "$ROOT/srv/shared" 1234:2345
assert_mode "$ROOT/srv/shared" 2775

step "a second run changes nothing"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 4 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml

step "drift: ownership changed by hand is corrected"
chown 0:0 "$ROOT/srv/data.txt" "$ROOT/srv/shared"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ file:/srv/data.txt: .*owner'
stdout_matches '^~ directory:/srv/shared: .*owner'
expect_exit 0 tend apply site.yaml
summary_is "2 changed, 2 ok, 0 failed, 0 skipped"
assert_owner "$ROOT/srv/data.txt" 1234:2345
assert_owner "$ROOT/srv/shared" 1234:2345
assert_file_content "$ROOT/srv/data.txt" $'owned\n'
expect_exit 0 tend plan site.yaml

step "rewriting the content keeps the declared owner"
echo drifted >"$ROOT/srv/data.txt"
chown 0:0 "$ROOT/srv/data.txt"
expect_exit 0 tend apply site.yaml
assert_owner "$ROOT/srv/data.txt" 1234:2345
assert_file_content "$ROOT/srv/data.txt" $'owned\n'

step "rewriting a file without owner/group/mode keeps them"
printf 'a=1\n' >"$ROOT/srv/alice.conf"
chown 1234:2345 "$ROOT/srv/alice.conf"
chmod 0640 "$ROOT/srv/alice.conf"
cp -p "$ROOT/srv/alice.conf" "$ROOT/srv/alice.file"
cat >keep.yaml <<'EOF'
resources:
  - line: "b=2"
    path: /srv/alice.conf
  - file: /srv/alice.file
    content: "replaced\n"
EOF
expect_exit 0 tend apply keep.yaml
assert_lines "$ROOT/srv/alice.conf" "a=1" "b=2"
assert_owner "$ROOT/srv/alice.conf" 1234:2345
assert_mode "$ROOT/srv/alice.conf" 640
assert_file_content "$ROOT/srv/alice.file" $'replaced\n'
assert_owner "$ROOT/srv/alice.file" 1234:2345
assert_mode "$ROOT/srv/alice.file" 640

step "an owner unknown inside the root fails that resource only"
cat >unknown.yaml <<'EOF'
resources:
  - file: /srv/ghost.txt
    content: "x\n"
    owner: nosuchuser
  - file: /srv/fine.txt
    content: "fine\n"
EOF
expect_exit 1 tend apply unknown.yaml
stdout_matches '^failed file:/srv/ghost.txt'
assert_file_content "$ROOT/srv/fine.txt" $'fine\n'

step "exec user: runs the command as the root's user, with its group"
# the command, running as uid 1234, must reach a directory under $T
chmod 0711 "$T"
mkdir -m 1777 "$T/shared"
cat >runas.yaml <<EOF
resources:
  - exec: whoami
    command: ["/bin/sh", "-c", "id -u > $T/shared/uid; id -g > $T/shared/gid"]
    user: alice
EOF
expect_exit 0 tend apply runas.yaml
assert_file_content "$T/shared/uid" $'1234\n'
assert_file_content "$T/shared/gid" $'2345\n'
assert_owner "$T/shared/uid" 1234:2345

done_testing
