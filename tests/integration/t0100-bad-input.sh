#!/bin/bash
# t0100-bad-input: every kind of bad input makes plan and apply exit 1
# with "tend: FILE:LINE:COL: message" on stderr - the right file, the
# right line, a message that says what is wrong - and changes nothing:
# the valid resources declared before the bad one are not applied and
# no command runs.
. "$(dirname "$0")/lib.sh"

LOG=$T/log
mkdir -p "$ROOT/etc" "$T/files"
echo "seed" >"$ROOT/etc/existing"

# Lines 1-5 of every manifest: a file that would be created and an exec
# that would run, if anything were applied.
header() {
	cat <<EOF
resources:
  - file: /etc/good
    content: "would be written\n"
  - exec: would-run
    command: ["/bin/sh", "-c", "echo ran >> $LOG"]
EOF
}

# bad_input DESCRIPTION FILE LINE ERE - bad.yaml (already written) is
# refused by apply and plan with "tend: FILE:LINE:COL: " followed by a
# message matching ERE, and nothing is written.
bad_input() {
	local file=${2//./\\.} line=$3 ere=$4
	step "$1"
	snapshot "$ROOT" >before
	expect_exit 1 tend apply bad.yaml
	stderr_matches "^tend: ([^ ]*/)?$file:$line:[0-9]+: .*$ere"
	assert_snapshot "nothing changed on disk" before "$ROOT"
	check "no command ran" test ! -e "$LOG"
	summary_absent
	expect_exit 1 tend plan bad.yaml
	stderr_matches "^tend: ([^ ]*/)?$file:$line:[0-9]+: .*$ere"
	assert_snapshot "plan changed nothing either" before "$ROOT"
}

# summary_absent - an input error stops before any resource is reported.
summary_absent() {
	if grep -qE '^(changed|failed|skipped) ' "$OUT"; then
		fail "no resource was reported" "$(_evidence)"
	else
		ok "no resource was reported"
	fi
}

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    content: this: is not yaml
EOF
bad_input "malformed YAML" bad.yaml 7 "mapping values"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    content: "unterminated
EOF
bad_input "malformed YAML: an unterminated string" bad.yaml '[678]' "quoted scalar|unexpected end|found"

{ header; cat <<'EOF'; } >bad.yaml
  - fiel: /etc/bad
    content: "x\n"
EOF
bad_input "unknown resource type" bad.yaml 6 "unknown resource type 'fiel'.*did you mean 'file'"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    content: "x\n"
    mdoe: "0644"
EOF
bad_input "unknown attribute, with a suggestion" bad.yaml 8 "unknown attribute 'mdoe'.*did you mean 'mode'"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    mode: rwx
EOF
bad_input "wrong type: a mode that is not octal" bad.yaml 7 "'mode'.*rwx|rwx.*'mode'"

{ header; cat <<'EOF'; } >bad.yaml
  - directory: /srv/bad
    parents: maybe
EOF
bad_input "wrong type: a boolean that is not true or false" bad.yaml 7 "'parents'.*maybe"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/good
    mode: "0600"
EOF
bad_input "duplicate identity in one file" bad.yaml 6 "duplicate.*file:/etc/good"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    source: files/nope.txt
EOF
bad_input "missing source file" bad.yaml 7 "nope\.txt"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    template: files/nope.tmpl
EOF
bad_input "missing template file" bad.yaml 7 "nope\.tmpl"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    content: "port={{ http_port }}\n"
EOF
bad_input "missing template variable in an attribute" bad.yaml 7 "missing variable 'http_port'"

printf '%s\n' "line one" "line two" "port={{ http_port }}" >"$T/files/app.tmpl"
{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    template: files/app.tmpl
EOF
bad_input "missing template variable in a template file (its own line)" app.tmpl 3 "missing variable 'http_port'"

{ header; cat <<'EOF'; } >bad.yaml
  - file: etc/relative
    content: "x\n"
EOF
bad_input "relative path as a file's name" bad.yaml 6 "absolute"

{ header; cat <<'EOF'; } >bad.yaml
  - line: "x=1"
    path: etc/relative
EOF
bad_input "relative path in line's path" bad.yaml 7 "absolute"

{ header; cat <<'EOF'; } >bad.yaml
  - exec: alpha
    command: ["/bin/true"]
    requires: exec:beta
  - exec: beta
    command: ["/bin/true"]
    requires: exec:alpha
EOF
bad_input "a dependency cycle" bad.yaml '(6|7|8|9|10|11)' \
	"dependency cycle: (exec:alpha -> exec:beta -> exec:alpha|exec:beta -> exec:alpha -> exec:beta)"

{ header; cat <<'EOF'; } >bad.yaml
  - file: /etc/bad
    content: "x\n"
    source: files/app.tmpl
EOF
bad_input "content and source together" bad.yaml '[678]' "content|source"

{ header; cat <<'EOF'; } >bad.yaml
  - exec: echo hi | tee written-by-a-shell
EOF
bad_input "shell syntax in a command without shell: true" bad.yaml 6 "shell"

{ header; cat <<'EOF'; } >bad.yaml
  - exec: piped
    command: "echo hi; true"
EOF
bad_input "shell syntax in a command string without shell: true" bad.yaml 7 "shell"

{ cat <<'EOF'; header | tail -n +2; } >bad.yaml
resources:
  - file: /etc/first
    content: "x\n"
resource:
EOF
bad_input "unknown top-level key" bad.yaml 4 "unknown top-level key 'resource'"

step "an error in the second of two manifests names the second"
header >good.yaml
cat >bad.yaml <<'EOF'
resources:
  - file: /etc/other
    mode: "0644"
    group: [a, b]
EOF
snapshot "$ROOT" >before
expect_exit 1 tend apply good.yaml bad.yaml
stderr_matches '^tend: ([^ ]*/)?bad\.yaml:4:[0-9]+: '
assert_snapshot "nothing changed on disk" before "$ROOT"
check "no command ran" test ! -e "$LOG"

step "a missing manifest"
expect_exit 1 tend apply good.yaml no-such.yaml
stderr_has "no-such.yaml"
assert_snapshot "nothing changed on disk" before "$ROOT"
check "no command ran" test ! -e "$LOG"

done_testing
