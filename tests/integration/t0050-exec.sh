#!/bin/bash
# t0050-exec: commands run as argv (no shell) or with shell: true; the
# creates/unless/onlyif guards decide whether they run (and so whether
# plan shows a change); returns widens success; env reaches the command;
# output is captured in the report; plan never runs a command.
. "$(dirname "$0")/lib.sh"

# Side effects go to $T/log (outside the root): one line per run.
LOG=$T/log
: >"$LOG"
runs() { grep -c "^$1\$" "$LOG"; }

mkdir -p "$ROOT/var/lib"
cat >site.yaml <<EOF
resources:
  - exec: build-index
    command: ["/bin/sh", "-c", "echo build >> $LOG && touch $ROOT/var/lib/ready"]
    creates: /var/lib/ready
EOF

step "plan shows an exec that would run, and does not run it"
expect_exit 2 tend plan site.yaml
stdout_matches '^[+~] exec:build-index'
check "the command did not run" test "$(runs build)" -eq 0
assert_absent "$ROOT/var/lib/ready"

step "apply runs it when the 'creates' path is missing in the root"
expect_exit 0 tend apply site.yaml
stdout_matches '^changed exec:build-index'
check "the command ran once" test "$(runs build)" -eq 1
check "it created ROOT/var/lib/ready" test -e "$ROOT/var/lib/ready"

step "a second run does not run it again"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
check "the command still ran only once" test "$(runs build)" -eq 1
expect_exit 0 tend plan site.yaml

step "drift: removing the 'creates' path makes it run again"
rm "$ROOT/var/lib/ready"
expect_exit 2 tend plan site.yaml
expect_exit 0 tend apply site.yaml
check "the command ran a second time" test "$(runs build)" -eq 2
expect_exit 0 tend plan site.yaml

step "unless: runs only while the check command fails"
cat >unless.yaml <<EOF
resources:
  - exec: make-flag
    command: ["/bin/sh", "-c", "echo unless >> $LOG && touch $T/flag"]
    unless: ["/bin/test", "-e", "$T/flag"]
EOF
expect_exit 2 tend plan unless.yaml
expect_exit 0 tend apply unless.yaml
expect_exit 0 tend apply unless.yaml
check "ran once" test "$(runs unless)" -eq 1
expect_exit 0 tend plan unless.yaml

step "onlyif: runs only while the check command succeeds"
touch "$T/todo"
cat >onlyif.yaml <<EOF
resources:
  - exec: consume-todo
    command: ["/bin/sh", "-c", "echo onlyif >> $LOG && rm $T/todo"]
    onlyif: ["/bin/test", "-e", "$T/todo"]
EOF
expect_exit 2 tend plan onlyif.yaml
expect_exit 0 tend apply onlyif.yaml
expect_exit 0 tend apply onlyif.yaml
check "ran once" test "$(runs onlyif)" -eq 1
expect_exit 0 tend plan onlyif.yaml

step "an unguarded exec runs every time"
cat >always.yaml <<EOF
resources:
  - exec: always
    command: ["/bin/sh", "-c", "echo always >> $LOG"]
EOF
expect_exit 0 tend apply always.yaml
expect_exit 0 tend apply always.yaml
check "ran twice" test "$(runs always)" -eq 2
expect_exit 2 tend plan always.yaml

step "a command list is argv: no shell interprets it"
cat >argv.yaml <<EOF
resources:
  - exec: argv
    command: ["/bin/touch", "$T/a file;with \$(shell) chars"]
EOF
expect_exit 0 tend apply argv.yaml
check "the single argument became one file name" test -e "$T/a file;with \$(shell) chars"

step "shell: true runs a string through /bin/sh -c"
cat >shell.yaml <<EOF
resources:
  - exec: shelled
    command: "for i in 1 2 3; do echo shell\$i; done >> $LOG"
    shell: true
EOF
expect_exit 0 tend apply shell.yaml
check "the loop ran" test "$(runs shell3)" -eq 1

step "without command, the name is the command, split on spaces"
cat >named.yaml <<EOF
resources:
  - exec: /bin/touch $T/named-1 $T/named-2
EOF
expect_exit 0 tend apply named.yaml
check "both arguments were passed" test -e "$T/named-1" -a -e "$T/named-2"

step "a non-zero exit fails the resource and the run"
cat >false.yaml <<'EOF'
resources:
  - exec: fails
    command: ["/bin/sh", "-c", "echo oops; exit 4"]
EOF
expect_exit 1 tend apply false.yaml
stdout_matches '^failed exec:fails'
summary_is "0 changed, 0 ok, 1 failed, 0 skipped"

step "returns: lists the exit codes that count as success"
cat >returns.yaml <<'EOF'
resources:
  - exec: three-is-fine
    command: ["/bin/sh", "-c", "exit 3"]
    returns: [0, 3]
EOF
expect_exit 0 tend apply returns.yaml
stdout_matches '^changed exec:three-is-fine'

step "env: reaches the command"
cat >env.yaml <<EOF
resources:
  - exec: env-map
    command: ["/bin/sh", "-c", "echo \"env=\$GREETING/\$OTHER\" >> $LOG"]
    env:
      GREETING: hello
      OTHER: world
  - exec: env-list
    command: ["/bin/sh", "-c", "echo \"envl=\$ONE\" >> $LOG"]
    env: ["ONE=1"]
EOF
expect_exit 0 tend apply env.yaml
check "the map form set both variables" test "$(runs 'env=hello/world')" -eq 1
check "the list form set the variable" test "$(runs 'envl=1')" -eq 1

step "the command's output is captured in the JSON report"
cat >output.yaml <<'EOF'
resources:
  - exec: talk
    command: ["/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"]
EOF
expect_exit 0 tend apply --json output.yaml
check "the report's output holds both streams" python3 -c '
import json, sys
r = [x for x in json.load(open(sys.argv[1]))["resources"] if x["id"] == "exec:talk"][0]
assert r["status"] == "changed", r
assert "to-stdout" in r["output"] and "to-stderr" in r["output"], r
' "$OUT"

done_testing
