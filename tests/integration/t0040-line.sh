#!/bin/bash
# t0040-line: the line type replaces the first line matching `match`,
# else appends; converges; corrects drift; keeps the file's mode; needs
# the file to exist unless create: true; and with ensure: absent removes
# every equal (or matching) line.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc/ssh"
printf '%s\n' "Port 22" "#PermitRootLogin yes" "UsePAM yes" >"$ROOT/etc/ssh/sshd_config"
chmod 0600 "$ROOT/etc/ssh/sshd_config"
cat >site.yaml <<'EOF'
resources:
  - line: "PermitRootLogin no"
    path: /etc/ssh/sshd_config
    match: "^#?PermitRootLogin"
  - line: "X11Forwarding no"
    path: /etc/ssh/sshd_config
EOF

step "apply replaces the matching line in place and appends the other"
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/etc/ssh/sshd_config" "Port 22" "PermitRootLogin no" "UsePAM yes" "X11Forwarding no"
assert_mode "$ROOT/etc/ssh/sshd_config" 600
summary_is "2 changed, 0 ok, 0 failed, 0 skipped"
check "no temp file is left beside the file" \
	test "$(ls -A "$ROOT/etc/ssh")" = sshd_config

step "a second run changes nothing"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 2 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml

step "drift: the managed line edited by hand"
sed -i 's/^PermitRootLogin no$/PermitRootLogin yes/' "$ROOT/etc/ssh/sshd_config"
chmod 0640 "$ROOT/etc/ssh/sshd_config"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ line:PermitRootLogin no'
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/etc/ssh/sshd_config" "Port 22" "PermitRootLogin no" "UsePAM yes" "X11Forwarding no"
assert_mode "$ROOT/etc/ssh/sshd_config" 640
expect_exit 0 tend plan site.yaml

step "drift: the appended line deleted by hand"
sed -i '/^X11Forwarding/d' "$ROOT/etc/ssh/sshd_config"
expect_exit 2 tend plan site.yaml
expect_exit 0 tend apply site.yaml
assert_lines "$ROOT/etc/ssh/sshd_config" "Port 22" "PermitRootLogin no" "UsePAM yes" "X11Forwarding no"

step "only the first matching line is replaced"
printf '%s\n' "opt=1" "opt=2" >"$ROOT/etc/multi"
cat >first.yaml <<'EOF'
resources:
  - line: "opt=9"
    path: /etc/multi
    match: "^opt="
EOF
expect_exit 0 tend apply first.yaml
assert_lines "$ROOT/etc/multi" "opt=9" "opt=2"
expect_exit 0 tend plan first.yaml

step "appending to a file without a final newline starts a new line"
printf 'last line' >"$ROOT/etc/nonl"
cat >nonl.yaml <<'EOF'
resources:
  - line: "added"
    path: /etc/nonl
EOF
expect_exit 0 tend apply nonl.yaml
assert_lines "$ROOT/etc/nonl" "last line" "added"

step "drift: the file deleted by hand is an error without create: true"
rm "$ROOT/etc/ssh/sshd_config"
expect_exit 1 tend apply site.yaml
stdout_matches '^failed line:PermitRootLogin no'
assert_absent "$ROOT/etc/ssh/sshd_config"

step "create: true creates the missing file"
cat >create.yaml <<'EOF'
resources:
  - line: "PermitRootLogin no"
    path: /etc/ssh/sshd_config
    create: true
EOF
expect_exit 0 tend apply create.yaml
assert_lines "$ROOT/etc/ssh/sshd_config" "PermitRootLogin no"
expect_exit 0 tend plan create.yaml

step "ensure: absent removes every line equal to the text"
printf '%s\n' "keep" "drop me" "keep too" "drop me" "drop me not" >"$ROOT/etc/list"
cat >absent.yaml <<'EOF'
resources:
  - line: "drop me"
    path: /etc/list
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
expect_exit 0 tend apply absent.yaml
assert_lines "$ROOT/etc/list" "keep" "keep too" "drop me not"
expect_exit 0 tend apply absent.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan absent.yaml

step "ensure: absent with match removes every matching line"
printf '%s\n' "a=1" "b=2" "a=3" >"$ROOT/etc/kv"
cat >absent-match.yaml <<'EOF'
resources:
  - line: "a=0"
    path: /etc/kv
    match: "^a="
    ensure: absent
EOF
expect_exit 0 tend apply absent-match.yaml
assert_lines "$ROOT/etc/kv" "b=2"
expect_exit 0 tend plan absent-match.yaml

done_testing
