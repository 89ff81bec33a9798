#!/bin/bash
# t0140-root-confinement: with --root, every path resolves inside the
# root as the image's own processes would see it - symlinks in the root
# that point to absolute host paths or climb out with ".." stay inside -
# so nothing outside the root is ever read as managed state or written.
. "$(dirname "$0")/lib.sh"

OUTSIDE=$T/outside
mkdir -p "$OUTSIDE" "$ROOT/etc"
echo "host file" >"$OUTSIDE/target"
echo "host line" >"$OUTSIDE/config"
snapshot "$OUTSIDE" >outside-before

# Links as they would appear in an image: an absolute link whose text is
# a host path, and a relative link that climbs past the root.
ln -s "$OUTSIDE" "$ROOT/abs"
# (escaping, "../outside" would be $T/outside: a broken binary still
# writes only inside $T)
ln -s ../outside "$ROOT/rel"
ln -s "$OUTSIDE/target" "$ROOT/etc/abs-target"
# what those links mean inside the root
mkdir -p "$ROOT$OUTSIDE" "$ROOT/outside"
echo "image file" >"$ROOT$OUTSIDE/target"
echo "image line" >"$ROOT$OUTSIDE/config"

cat >site.yaml <<'EOF'
resources:
  - file: /abs/new
    content: "via absolute link\n"
  - file: /rel/new
    content: "via climbing link\n"
  - file: /etc/abs-target
    content: "followed inside the root\n"
    follow: true
  - line: "added"
    path: /abs/config
  - directory: /abs/dir
  - symlink: /abs/link
    target: /somewhere
EOF

step "paths through symlinks resolve inside the root"
expect_exit 0 tend apply site.yaml
assert_file_content "$ROOT$OUTSIDE/new" $'via absolute link\n'
assert_file_content "$ROOT/outside/new" $'via climbing link\n'
assert_file_content "$ROOT$OUTSIDE/target" $'followed inside the root\n'
assert_symlink "$ROOT/etc/abs-target" "$OUTSIDE/target"
assert_lines "$ROOT$OUTSIDE/config" "image line" "added"
check "the directory was made inside the root" test -d "$ROOT$OUTSIDE/dir"
assert_symlink "$ROOT$OUTSIDE/link" /somewhere
assert_snapshot "nothing outside the root changed" outside-before "$OUTSIDE"

step "state outside the root is never read as the managed state"
expect_exit 0 tend plan site.yaml
assert_snapshot "nothing outside the root changed" outside-before "$OUTSIDE"

step "ensure: absent through a link removes inside the root only"
cat >absent.yaml <<'EOF'
resources:
  - file: /abs/target
    ensure: absent
  - file: /rel/new
    ensure: absent
EOF
cp "$OUTSIDE/target" "$OUTSIDE/new"
snapshot "$OUTSIDE" >outside-before
expect_exit 0 tend apply absent.yaml
assert_absent "$ROOT$OUTSIDE/target"
assert_absent "$ROOT/outside/new"
assert_snapshot "nothing outside the root changed" outside-before "$OUTSIDE"

step "exec creates: resolves inside the root"
touch "$OUTSIDE/ready"
cat >creates.yaml <<EOF
resources:
  - exec: make-ready
    command: ["/bin/sh", "-c", "echo ran >> $T/log"]
    creates: /abs/ready
EOF
expect_exit 2 tend plan creates.yaml
expect_exit 0 tend apply creates.yaml
check "it ran: the host's ready file does not count" test "$(cat "$T/log")" = ran

done_testing
