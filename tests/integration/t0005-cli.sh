#!/bin/bash
# t0005-cli: the command line - --version, help in its three spellings,
# facts (text and JSON), and misuse (no manifest, unknown command or
# option, apply-only options given to plan) exiting 1 without touching
# the root.
. "$(dirname "$0")/lib.sh"

step "--version"
expect_exit 0 "$TEND" --version
stdout_matches '^tend [0-9]+\.[0-9]+\.[0-9]+'

step "help"
expect_exit 0 "$TEND" --help
stdout_has "plan"
stdout_has "apply"
stdout_has "facts"
expect_exit 0 "$TEND" help apply
stdout_has "--no-wait"
stdout_has "--detailed-exitcodes"
expect_exit 0 "$TEND" apply --help
stdout_has "--no-wait"
expect_exit 0 "$TEND" plan --help
stdout_has "--root"

step "facts"
expect_exit 0 tend facts --json
check "facts --json is a JSON object with the minimal facts" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("hostname", "fqdn", "arch", "kernel", "os"):
    assert k in d, (k, d)
assert d["hostname"], d
' "$OUT"
expect_exit 0 tend facts --json arch
check "a single fact by name" python3 -c '
import json, platform, sys
assert json.load(open(sys.argv[1])) == platform.machine()
' "$OUT"

step "misuse exits 1 and changes nothing"
echo 'resources: [{file: /x, content: "x"}]' >site.yaml
snapshot "$ROOT" >before
expect_exit 1 tend apply
stderr_has "manifest"
expect_exit 1 tend plan
expect_exit 1 tend apply --no-such-option site.yaml
stderr_has "no-such-option"
expect_exit 1 tend plan --no-wait site.yaml
expect_exit 1 tend plan --detailed-exitcodes site.yaml
expect_exit 2 "$TEND" no-such-command
stderr_has "no-such-command"
expect_exit 2 "$TEND"
stderr_has "usage: tend COMMAND"
expect_exit 0 "$TEND" help
stdout_has "usage: tend COMMAND"
expect_exit 1 tend apply --var NOEQUALS site.yaml
stderr_has "NOEQUALS"
expect_exit 1 tend apply --root "$T/no-such-root" site.yaml
assert_snapshot "the root is untouched" before "$ROOT"
assert_absent "$T/no-such-root"

step "flow-style YAML is YAML"
expect_exit 0 tend apply site.yaml
assert_file_content "$ROOT/x" x

done_testing
