#!/bin/bash
# t0090-exitcodes-json: apply --detailed-exitcodes is 0 (nothing changed),
# 2 (changed), 4 (failures), 6 (both); without it a failure is 1; --json
# prints one JSON document whose summary agrees with its resources and
# with what happened; an input error with --json is {"error": ...}.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc"
cat >good.yaml <<'EOF'
resources:
  - file: /etc/a
    content: "a\n"
  - file: /etc/b
    content: "b\n"
EOF
cat >bad.yaml <<'EOF'
resources:
  - exec: broken
    command: ["/bin/false"]
  - file: /etc/after-broken
    content: "x\n"
    requires: exec:broken
EOF

step "--detailed-exitcodes"
expect_exit 2 tend apply --detailed-exitcodes good.yaml
expect_exit 0 tend apply --detailed-exitcodes good.yaml
rm "$ROOT/etc/a"
expect_exit 6 tend apply --detailed-exitcodes good.yaml bad.yaml
check "the change was made despite the failure" test -f "$ROOT/etc/a"
expect_exit 4 tend apply --detailed-exitcodes good.yaml bad.yaml

step "without --detailed-exitcodes"
rm "$ROOT/etc/b"
expect_exit 0 tend apply good.yaml
expect_exit 1 tend apply bad.yaml

# json_check NAME PYTHON - assert PYTHON passes with `d` the parsed $OUT
# (sys.argv[2] is $ROOT).
json_check() {
	local name=$1 code=$2
	check "$name" python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
$code
" "$OUT" "$ROOT"
}

step "plan --json"
rm "$ROOT/etc/a"
echo changed >"$ROOT/etc/b"
expect_exit 2 tend plan --json good.yaml bad.yaml
check "stdout is exactly one valid JSON document" python3 -m json.tool "$OUT"
json_check "it describes a plan of this root" '
assert d["version"] == 1, d["version"]
assert d["command"] == "plan", d["command"]
import os
assert os.path.realpath(d["root"]) == os.path.realpath(sys.argv[2]), d["root"]
assert isinstance(d["duration_ms"], (int, float))'
json_check "summary counts agree with the resources" '
s, rs = d["summary"], d["resources"]
assert s["total"] == 4 == len(rs), (s, len(rs))
assert s["changed"] == 4, s  # both files, the exec, and its dependent
assert s["changed"] == sum(r["status"] == "change" for r in rs), (s, rs)
assert s["ok"] == sum(r["status"] == "ok" for r in rs), (s, rs)
assert s["unknown"] == sum(r["status"] == "unknown" for r in rs), (s, rs)
assert s["changed"] + s["ok"] + s["unknown"] == 4, s'
json_check "each resource names its type, name, file and line" '
r = {x["id"]: x for x in d["resources"]}
a = r["file:/etc/a"]
assert (a["type"], a["name"], a["status"], a["line"]) == ("file", "/etc/a", "change", 2), a
assert a["file"].endswith("good.yaml"), a
b = r["file:/etc/b"]
assert b["status"] == "change" and b["line"] == 4, b
c = [c for c in b["changes"] if c["what"] == "content"][0]
assert "-changed" in c["diff"] and "+b" in c["diff"], c
e = r["exec:broken"]
assert e["status"] == "change" and e["file"].endswith("bad.yaml") and e["line"] == 2, e'

step "apply --json"
expect_exit 1 tend apply --json good.yaml bad.yaml
check "stdout is exactly one valid JSON document" python3 -m json.tool "$OUT"
json_check "summary counts agree with the resources and the run" '
assert d["command"] == "apply", d["command"]
s, rs = d["summary"], d["resources"]
st = {r["id"]: r["status"] for r in rs}
assert st == {"file:/etc/a": "changed", "file:/etc/b": "changed",
              "exec:broken": "failed", "file:/etc/after-broken": "skipped"}, st
assert (s["total"], s["changed"], s["ok"], s["failed"], s["skipped"]) == (4, 2, 0, 1, 1), s
for k in ("changed", "ok", "failed", "skipped"):
    assert s[k] == sum(v == k for v in st.values()), (k, s, st)'
expect_exit 0 tend apply --json good.yaml
json_check "a converged run counts every resource ok" '
s = d["summary"]
assert (s["total"], s["ok"], s["changed"], s["failed"], s["skipped"]) == (2, 2, 0, 0, 0), s
assert all(r["status"] == "ok" for r in d["resources"]), d["resources"]'

step "plan exits 1 when a resource cannot be probed"
mkdir "$ROOT/etc/a-dir"
cat >probe-dir.yaml <<'EOF'
resources:
  - line: "x=1"
    path: /etc/a-dir
EOF
expect_exit 1 tend plan probe-dir.yaml
echo "a regular file" >"$ROOT/etc/not-a-dir"
cat >probe-notdir.yaml <<'EOF'
resources:
  - file: /etc/not-a-dir/child
    content: "x\n"
EOF
# lstat of /etc/not-a-dir/child fails with ENOTDIR: its state is unknowable
expect_exit 1 tend plan probe-notdir.yaml
stdout_lacks_match '^\+ file:/etc/not-a-dir/child'

step "an input error with --json"
cat >typo.yaml <<'EOF'
resources:
  - file: /etc/a
    mdoe: "0644"
EOF
expect_exit 1 tend apply --json typo.yaml
check "stdout is exactly one valid JSON document" python3 -m json.tool "$OUT"
json_check "it is {\"error\": \"FILE:LINE:COL: message\"}" '
import re
assert list(d) == ["error"], d
assert re.match(r"^(.*/)?typo\.yaml:3:5: .*mdoe", d["error"]), d'

done_testing
