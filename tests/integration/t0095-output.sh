#!/bin/bash
# t0095-output: apply shows content diffs only with -v; -q prints only the
# summary and failures; no colour when stdout is not a terminal;
# sensitive: true redacts values and diffs in text and JSON while still
# applying them; an exec's captured output is capped at 64 KiB.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc"
cat >site.yaml <<'EOF'
resources:
  - file: /etc/plain
    content: "new plain\n"
  - file: /etc/other
    content: "other\n"
EOF

step "apply without -v names the change but shows no diff"
echo "old plain" >"$ROOT/etc/plain"
expect_exit 0 tend apply site.yaml
stdout_matches '^changed file:/etc/plain: .*content'
stdout_lacks_match '^ +[-+]old plain|^ +[-+]new plain'

step "apply -v shows the unified diff"
echo "old plain" >"$ROOT/etc/plain"
expect_exit 0 tend apply -v site.yaml
stdout_matches '^ +--- '
stdout_matches '^ +\+\+\+ '
stdout_matches '^ +@@'
stdout_matches '^ +-old plain$'
stdout_matches '^ +\+new plain$'

step "-q prints only the summary and failures"
rm "$ROOT/etc/plain" "$ROOT/etc/other"
cat >mixed.yaml <<'EOF'
resources:
  - file: /etc/plain
    content: "new plain\n"
  - exec: broken
    command: ["/bin/false"]
EOF
expect_exit 1 tend apply -q mixed.yaml
stdout_lacks_match '^changed '
stdout_matches '^failed exec:broken'
summary_is "1 changed, 0 ok, 1 failed, 0 skipped"
check "nothing else is printed" test "$(grep -cvE '^(failed |tend: )' "$OUT")" -eq 0
expect_exit 2 tend plan -q site.yaml
stdout_lacks_match '^[-+~] '
summary_is "1 to change, 1 ok, 0 unknown"

step "no ANSI colour when stdout is not a terminal"
expect_exit 2 tend plan -v site.yaml
refute "stdout has no escape character" grep -q $'\033' "$OUT"
expect_exit 2 tend plan --no-color site.yaml
expect_exit 0 tend apply -v site.yaml
refute "stdout has no escape character" grep -q $'\033' "$OUT"

step "sensitive: true redacts values and diffs everywhere, yet applies them"
echo "old-hunter2" >"$ROOT/etc/secret"
chmod 0600 "$ROOT/etc/secret"
cat >secret.yaml <<'EOF'
resources:
  - file: /etc/secret
    content: "new-hunter2\n"
    mode: "0600"
    sensitive: true
EOF
expect_exit 2 tend plan -v secret.yaml
stdout_matches '^~ file:/etc/secret'
stdout_lacks "hunter2"
expect_exit 2 tend plan --json secret.yaml
stdout_lacks "hunter2"
expect_exit 0 tend apply -v secret.yaml
stdout_matches '^changed file:/etc/secret'
stdout_lacks "hunter2"
echo "old-hunter2" >"$ROOT/etc/secret"
expect_exit 0 tend apply --json -v secret.yaml
stdout_lacks "hunter2"
assert_file_content "$ROOT/etc/secret" $'new-hunter2\n'

step "an exec's captured output is capped at 64 KiB"
cat >loud.yaml <<'EOF'
resources:
  - exec: loud
    command: ["/bin/sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'; i=$((i+1)); done"]
EOF
expect_exit 0 tend apply --json loud.yaml
check "the report holds at most 64 KiB of its 208,000 bytes of output" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["resources"][0]
n = len(r["output"].encode())
assert 32 * 1024 <= n <= 64 * 1024 + 256, n
' "$OUT"

done_testing
