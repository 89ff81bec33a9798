#!/bin/bash
# t0070-plan-readonly: `tend plan` never writes - with every kind of
# pending change, in every output mode, the root stays identical (paths,
# types, modes, owners, sizes, mtimes, link texts, checksums) and no exec
# runs; after apply, plan exits 0 and apply left no temp file behind.
. "$(dirname "$0")/lib.sh"

LOG=$T/log
mkdir -p "$ROOT/etc" "$ROOT/srv/old" "$ROOT/var"
echo "old content" >"$ROOT/etc/motd"
chmod 0600 "$ROOT/etc/motd"
echo "wrong mode only" >"$ROOT/etc/modeonly"
chmod 0666 "$ROOT/etc/modeonly"
echo "to be removed" >"$ROOT/etc/obsolete"
ln -s /srv/old "$ROOT/srv/current"
printf '%s\n' "a=1" "b=2" >"$ROOT/etc/kv"
mkdir -p "$T/m/files"
echo "from source" >"$T/m/files/src.txt"
echo "tmpl {{ v }}" >"$T/m/t.tmpl"
# mtimes in the past, so that any rewrite (even of identical bytes) shows
find "$ROOT" -exec touch -h -d '2001-02-03 04:05:06' {} +

cat >"$T/m/site.yaml" <<EOF
vars:
  v: 42
resources:
  - file: /etc/motd
    content: "new content\n"
    mode: "0644"
  - file: /etc/modeonly
    mode: "0644"
  - file: /etc/new
    content: "brand new\n"
  - file: /etc/fromsource
    source: files/src.txt
  - file: /etc/fromtemplate
    template: t.tmpl
  - file: /etc/obsolete
    ensure: absent
  - directory: /srv/new/deep
    parents: true
  - symlink: /srv/current
    target: /srv/new/deep
  - line: "b=3"
    path: /etc/kv
    match: "^b="
  - line: "c=4"
    path: /etc/kv
  - exec: marker
    command: ["/bin/sh", "-c", "echo ran >> $LOG; touch $ROOT/var/marker"]
    creates: /var/marker
EOF

snapshot "$ROOT" >before
snapshot "$T/m" >before-m

step "plan with pending changes exits 2 and writes nothing"
expect_exit 2 tend plan "$T/m/site.yaml"
summary_is "11 to change, 0 ok, 0 unknown"
stdout_matches '^~ file:/etc/motd: .*content.*mode 0600 -> 0644|^~ file:/etc/motd: .*mode 0600 -> 0644.*content'
stdout_matches '^\+ file:/etc/new: create'
stdout_matches '^- file:/etc/obsolete: remove'
stdout_matches '^\+ directory:/srv/new/deep: create'
stdout_matches '^~ symlink:/srv/current'
stdout_matches '^[+~] exec:marker'
assert_snapshot "the root is identical after plan" before "$ROOT"
assert_snapshot "the manifest directory is identical after plan" before-m "$T/m"
assert_absent "$LOG"

step "plan --json and plan -v write nothing either"
expect_exit 2 tend plan --json "$T/m/site.yaml"
expect_exit 2 tend plan -v "$T/m/site.yaml"
expect_exit 2 tend plan -q "$T/m/site.yaml"
assert_snapshot "the root is identical after three more plans" before "$ROOT"
assert_absent "$LOG"

step "apply makes every change"
expect_exit 0 tend apply "$T/m/site.yaml"
summary_is "11 changed, 0 ok, 0 failed, 0 skipped"
check "the exec ran once" test "$(cat "$LOG")" = ran
check "the root holds exactly the declared entries, no temp files" diff -u - <(cd "$ROOT" && find . | LC_ALL=C sort) <<'EOF'
.
./etc
./etc/fromsource
./etc/fromtemplate
./etc/kv
./etc/modeonly
./etc/motd
./etc/new
./srv
./srv/current
./srv/new
./srv/new/deep
./srv/old
./var
./var/marker
EOF
assert_file_content "$ROOT/etc/fromtemplate" $'tmpl 42\n'
assert_lines "$ROOT/etc/kv" "a=1" "b=3" "c=4"

step "plan after apply exits 0 and writes nothing"
snapshot "$ROOT" >after
expect_exit 0 tend plan "$T/m/site.yaml"
summary_is "0 to change, 11 ok, 0 unknown"
stdout_lacks_match '^[-+~?] '
expect_exit 0 tend plan --json "$T/m/site.yaml"
assert_snapshot "the converged root is identical after plan" after "$ROOT"

step "a converged apply rewrites nothing"
expect_exit 0 tend apply "$T/m/site.yaml"
summary_is "0 changed, 11 ok, 0 failed, 0 skipped"
assert_snapshot "no file was rewritten, not even with the same bytes" after "$ROOT"

done_testing
