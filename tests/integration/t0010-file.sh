#!/bin/bash
# t0010-file: the file type creates, converges, corrects drift (content,
# mode, deletion), removes with ensure: absent, copies a source relative to
# the manifest, replaces a symlink unless follow: true, and merges
# several manifests in order.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc"
cat >site.yaml <<'EOF'
resources:
  - file: /etc/motd
    content: "hello\n"
    mode: "0640"
  - file: /etc/issue
    content: "no mode given\n"
EOF

step "apply creates the files"
# A strict umask must not leak into the modes: they are set explicitly.
umask 077
expect_exit 0 tend apply site.yaml
umask 022
assert_file_content "$ROOT/etc/motd" $'hello\n'
assert_mode "$ROOT/etc/motd" 640
assert_file_content "$ROOT/etc/issue" $'no mode given\n'
assert_mode "$ROOT/etc/issue" 644
stdout_matches '^changed file:/etc/motd'
stdout_matches '^changed file:/etc/issue'
summary_is "2 changed, 0 ok, 0 failed, 0 skipped"
check "no temp file is left beside the files" \
	test "$(ls -A "$ROOT/etc" | tr '\n' ' ')" = "issue motd "

step "a second apply changes nothing"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 2 ok, 0 failed, 0 skipped"
stdout_lacks_match '^changed '
expect_exit 0 tend plan site.yaml
summary_is "0 to change, 2 ok, 0 unknown"

step "drift: content edited by hand"
echo drifted >"$ROOT/etc/motd"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ file:/etc/motd: .*content'
stdout_matches '^ +-drifted$'
stdout_matches '^ +\+hello$'
summary_is "1 to change, 1 ok, 0 unknown"
expect_exit 0 tend apply site.yaml
stdout_matches '^changed file:/etc/motd: .*content'
summary_is "1 changed, 1 ok, 0 failed, 0 skipped"
assert_file_content "$ROOT/etc/motd" $'hello\n'
assert_mode "$ROOT/etc/motd" 640

step "drift: mode changed by hand"
chmod 0777 "$ROOT/etc/motd"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ file:/etc/motd: .*mode 0777 -> 0640'
expect_exit 0 tend apply site.yaml
assert_mode "$ROOT/etc/motd" 640
assert_file_content "$ROOT/etc/motd" $'hello\n'
expect_exit 0 tend plan site.yaml

step "drift: file deleted by hand"
rm "$ROOT/etc/motd"
expect_exit 2 tend plan site.yaml
stdout_matches '^\+ file:/etc/motd: create'
expect_exit 0 tend apply site.yaml
assert_file_content "$ROOT/etc/motd" $'hello\n'
assert_mode "$ROOT/etc/motd" 640
expect_exit 0 tend plan site.yaml

step "ensure: absent removes the file"
cat >absent.yaml <<'EOF'
resources:
  - file: /etc/motd
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
stdout_matches '^- file:/etc/motd: remove'
expect_exit 0 tend apply absent.yaml
assert_absent "$ROOT/etc/motd"
check "a sibling file is untouched" test -f "$ROOT/etc/issue"
expect_exit 0 tend apply absent.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan absent.yaml

step "a file without content, source or template: only its mode is managed"
printf 'keep me\n' >"$ROOT/etc/existing"
chmod 0644 "$ROOT/etc/existing"
cat >modeonly.yaml <<'EOF'
resources:
  - file: /etc/existing
    mode: "0600"
EOF
expect_exit 0 tend apply modeonly.yaml
assert_mode "$ROOT/etc/existing" 600
assert_file_content "$ROOT/etc/existing" $'keep me\n'
expect_exit 0 tend plan modeonly.yaml

step "rewriting an existing file without mode keeps its mode"
printf 'old\n' >"$ROOT/etc/private"
chmod 0600 "$ROOT/etc/private"
cat >keepmode.yaml <<'EOF'
resources:
  - file: /etc/private
    content: "new\n"
EOF
expect_exit 0 tend apply keepmode.yaml
assert_file_content "$ROOT/etc/private" $'new\n'
assert_mode "$ROOT/etc/private" 600

step "source: a file relative to the manifest's directory, copied byte for byte"
mkdir -p "$T/conf/files" "$T/elsewhere"
printf 'binary\000data\377\nno final newline' >"$T/conf/files/app.bin"
cat >"$T/conf/source.yaml" <<'EOF'
resources:
  - file: /etc/app.bin
    source: files/app.bin
    mode: "0600"
EOF
# run from another directory: the source must resolve against the manifest
cd "$T/elsewhere"
expect_exit 0 tend apply "$T/conf/source.yaml"
cd "$T"
assert_same_file "$ROOT/etc/app.bin" "$T/conf/files/app.bin"
assert_mode "$ROOT/etc/app.bin" 600
expect_exit 0 tend plan "$T/conf/source.yaml"
printf 'version 2\n' >"$T/conf/files/app.bin"
expect_exit 2 tend plan "$T/conf/source.yaml"
expect_exit 0 tend apply "$T/conf/source.yaml"
assert_file_content "$ROOT/etc/app.bin" $'version 2\n'

step "follow: false (default) replaces a symlink at the path, not its target"
printf 'target stays\n' >"$ROOT/etc/target.txt"
touch -d '2001-01-01 00:00:00' "$ROOT/etc/target.txt"
before=$(stat -c '%s %Y %a' "$ROOT/etc/target.txt")
ln -s target.txt "$ROOT/etc/link"
cat >nofollow.yaml <<'EOF'
resources:
  - file: /etc/link
    content: "I am a file now\n"
EOF
expect_exit 0 tend apply nofollow.yaml
assert_file_content "$ROOT/etc/link" $'I am a file now\n'
assert_file_content "$ROOT/etc/target.txt" $'target stays\n'
check "the link's target keeps its size, mtime and mode" \
	test "$(stat -c '%s %Y %a' "$ROOT/etc/target.txt")" = "$before"
expect_exit 0 tend plan nofollow.yaml

step "follow: true manages the symlink's target and keeps the link"
ln -s target.txt "$ROOT/etc/link2"
cat >follow.yaml <<'EOF'
resources:
  - file: /etc/link2
    content: "through the link\n"
    follow: true
EOF
expect_exit 0 tend apply follow.yaml
assert_symlink "$ROOT/etc/link2" target.txt
assert_file_content "$ROOT/etc/target.txt" $'through the link\n'
expect_exit 0 tend plan follow.yaml

step "a later manifest overrides the attributes it sets"
cat >base.yaml <<'EOF'
resources:
  - file: /etc/merged
    content: "from base\n"
    mode: "0644"
EOF
cat >override.yaml <<'EOF'
resources:
  - file: /etc/merged
    mode: "0600"
EOF
expect_exit 0 tend apply base.yaml override.yaml
assert_file_content "$ROOT/etc/merged" $'from base\n'
assert_mode "$ROOT/etc/merged" 600
summary_is "1 changed, 0 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan base.yaml override.yaml
expect_exit 2 tend plan base.yaml

done_testing
