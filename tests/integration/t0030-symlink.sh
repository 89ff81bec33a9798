#!/bin/bash
# t0030-symlink: the symlink type creates, converges, replaces a wrong
# link, refuses to replace a file or directory unless force: true, and
# removes the link (never its target) with ensure: absent.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/srv/app" "$ROOT/srv/other"
echo app >"$ROOT/srv/app/marker"
cat >site.yaml <<'EOF'
resources:
  - symlink: /srv/current
    target: /srv/app
EOF

step "apply creates the link"
expect_exit 0 tend apply site.yaml
assert_symlink "$ROOT/srv/current" /srv/app
stdout_matches '^changed symlink:/srv/current'

step "a second run changes nothing"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml

step "drift: the link repointed by hand is replaced"
ln -sfn /srv/other "$ROOT/srv/current"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ symlink:/srv/current'
expect_exit 0 tend apply site.yaml
assert_symlink "$ROOT/srv/current" /srv/app
check "the old target directory is untouched" test -d "$ROOT/srv/other"
expect_exit 0 tend plan site.yaml

step "drift: the link deleted by hand is recreated"
rm "$ROOT/srv/current"
expect_exit 2 tend plan site.yaml
stdout_matches '^\+ symlink:/srv/current: create'
expect_exit 0 tend apply site.yaml
assert_symlink "$ROOT/srv/current" /srv/app

step "a regular file at the path is refused without force"
echo "a real file" >"$ROOT/srv/file-in-way"
cat >file-in-way.yaml <<'EOF'
resources:
  - symlink: /srv/file-in-way
    target: /srv/app
EOF
expect_exit 1 tend apply file-in-way.yaml
stdout_matches '^failed symlink:/srv/file-in-way'
assert_file_content "$ROOT/srv/file-in-way" $'a real file\n'

step "a directory at the path is refused without force"
mkdir "$ROOT/srv/dir-in-way"
echo keep >"$ROOT/srv/dir-in-way/keep"
cat >dir-in-way.yaml <<'EOF'
resources:
  - symlink: /srv/dir-in-way
    target: /srv/app
EOF
expect_exit 1 tend apply dir-in-way.yaml
stdout_matches '^failed symlink:/srv/dir-in-way'
assert_file_content "$ROOT/srv/dir-in-way/keep" $'keep\n'

step "force: true replaces a regular file with the link"
cat >forced.yaml <<'EOF'
resources:
  - symlink: /srv/file-in-way
    target: /srv/app
    force: true
EOF
expect_exit 0 tend apply forced.yaml
assert_symlink "$ROOT/srv/file-in-way" /srv/app
expect_exit 0 tend plan forced.yaml

step "ensure: absent removes the link and leaves its target"
cat >absent.yaml <<'EOF'
resources:
  - symlink: /srv/current
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
stdout_matches '^- symlink:/srv/current: remove'
expect_exit 0 tend apply absent.yaml
assert_absent "$ROOT/srv/current"
assert_file_content "$ROOT/srv/app/marker" $'app\n'
expect_exit 0 tend apply absent.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan absent.yaml

step "a dangling link is created as asked"
cat >dangling.yaml <<'EOF'
resources:
  - symlink: /srv/dangling
    target: /nowhere/at/all
EOF
expect_exit 0 tend apply dangling.yaml
assert_symlink "$ROOT/srv/dangling" /nowhere/at/all
expect_exit 0 tend plan dangling.yaml

done_testing
