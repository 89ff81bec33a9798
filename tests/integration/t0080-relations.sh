#!/bin/bash
# t0080-relations: requires/before order the run whatever the order of
# declaration; notify/subscribe run a refreshonly exec once, only when its
# source changed; a failed resource skips its dependents (transitively)
# and nothing else; a dependency cycle is an input error naming the cycle.
. "$(dirname "$0")/lib.sh"

LOG=$T/log
mkdir -p "$ROOT/etc"

step "requires and before order the run against declaration order"
: >"$LOG"
# Declared last-first; the only correct order is a, b, c, d.
cat >order.yaml <<EOF
resources:
  - exec: d
    command: ["/bin/sh", "-c", "echo d >> $LOG"]
    requires: exec:c
  - exec: c
    command: ["/bin/sh", "-c", "echo c \$(cat $ROOT/etc/input) >> $LOG"]
    requires: [exec:b, file:/etc/input]
  - exec: b
    command: ["/bin/sh", "-c", "echo b >> $LOG"]
  - file: /etc/input
    content: "written-first"
  - exec: a
    command: ["/bin/sh", "-c", "echo a >> $LOG"]
    before: exec:b
EOF
expect_exit 0 tend apply order.yaml
assert_lines "$LOG" "a" "b" "c written-first" "d"

step "notify: a refreshonly exec runs once when the notifying file changes"
: >"$LOG"
cat >notify.yaml <<EOF
resources:
  - file: /etc/app.conf
    content: "v1\n"
    notify: exec:reload
  - file: /etc/app.extra
    content: "v1\n"
    notify: exec:reload
  - exec: reload
    command: ["/bin/sh", "-c", "echo reload >> $LOG"]
    refreshonly: true
EOF
expect_exit 0 tend apply notify.yaml
check "two changed notifiers: reload ran exactly once" test "$(grep -c reload "$LOG")" -eq 1
stdout_matches '^changed exec:reload'

step "notify: nothing changed, the refreshonly exec does not run"
expect_exit 0 tend apply notify.yaml
summary_is "0 changed, 3 ok, 0 failed, 0 skipped"
check "reload did not run again" test "$(grep -c reload "$LOG")" -eq 1
expect_exit 0 tend plan notify.yaml

step "notify: drift in the notifying file runs it again"
echo tampered >"$ROOT/etc/app.conf"
expect_exit 0 tend apply notify.yaml
check "reload ran a second time" test "$(grep -c reload "$LOG")" -eq 2
assert_file_content "$ROOT/etc/app.conf" $'v1\n'

step "notify: a refreshonly exec that nobody notifies never runs"
: >"$LOG"
cat >lonely.yaml <<EOF
resources:
  - exec: lonely
    command: ["/bin/sh", "-c", "echo lonely >> $LOG"]
    refreshonly: true
EOF
expect_exit 0 tend apply lonely.yaml
check "it did not run" test ! -s "$LOG"
expect_exit 0 tend plan lonely.yaml

step "subscribe: the exec runs when the file it subscribes to changes"
: >"$LOG"
cat >subscribe.yaml <<EOF
resources:
  - exec: restart
    command: ["/bin/sh", "-c", "echo restart >> $LOG"]
    refreshonly: true
    subscribe: file:/etc/svc.conf
  - file: /etc/svc.conf
    content: "on\n"
EOF
expect_exit 0 tend apply subscribe.yaml
expect_exit 0 tend apply subscribe.yaml
check "restart ran exactly once over two runs" test "$(grep -c restart "$LOG")" -eq 1

step "notify: the notified exec runs after the notifier, wherever it is declared"
: >"$LOG"
cat >notify-order.yaml <<EOF
resources:
  - exec: show
    command: ["/bin/sh", "-c", "cat $ROOT/etc/shown >> $LOG"]
    refreshonly: true
  - file: /etc/shown
    content: "fresh\n"
    notify: exec:show
EOF
expect_exit 0 tend apply notify-order.yaml
assert_lines "$LOG" "fresh"

step "a failed resource skips its dependents, transitively, and nothing else"
: >"$LOG"
cat >failure.yaml <<EOF
resources:
  - exec: broken
    command: ["/bin/false"]
  - file: /etc/needs-broken
    content: "x\n"
    requires: exec:broken
  - exec: needs-needs-broken
    command: ["/bin/sh", "-c", "echo transitive >> $LOG"]
    requires: file:/etc/needs-broken
  - file: /etc/independent
    content: "still applied\n"
EOF
expect_exit 1 tend apply failure.yaml
stdout_matches '^failed exec:broken'
stdout_matches '^skipped file:/etc/needs-broken: .*exec:broken'
stdout_matches '^skipped exec:needs-needs-broken'
summary_is "1 changed, 0 ok, 1 failed, 2 skipped"
assert_absent "$ROOT/etc/needs-broken"
check "the transitive dependent did not run" test ! -s "$LOG"
assert_file_content "$ROOT/etc/independent" $'still applied\n'

step "before, notify and subscribe are dependencies too: a failure skips through them"
: >"$LOG"
cat >failure2.yaml <<EOF
resources:
  - exec: fails
    command: ["/bin/false"]
    before: file:/etc/after-fails
  - file: /etc/after-fails
    content: "x\n"
  - file: /no/such/dir/conf
    content: "x\n"
    notify: exec:refresh
  - exec: refresh
    command: ["/bin/sh", "-c", "echo refresh >> $LOG"]
    refreshonly: true
  - exec: subscriber
    command: ["/bin/sh", "-c", "echo subscriber >> $LOG"]
    subscribe: exec:fails
EOF
expect_exit 1 tend apply failure2.yaml
stdout_matches '^skipped file:/etc/after-fails: .*exec:fails'
stdout_matches '^skipped exec:refresh: .*file:/no/such/dir/conf'
stdout_matches '^skipped exec:subscriber: .*exec:fails'
summary_is "0 changed, 0 ok, 2 failed, 3 skipped"
assert_absent "$ROOT/etc/after-fails"
check "neither exec ran" test ! -s "$LOG"

step "a dependency cycle is an input error that names it and writes nothing"
: >"$LOG"
cat >cycle.yaml <<EOF
resources:
  - file: /etc/would-be-written
    content: "no\n"
  - exec: alpha
    command: ["/bin/sh", "-c", "echo alpha >> $LOG"]
    requires: exec:beta
  - exec: beta
    command: ["/bin/sh", "-c", "echo beta >> $LOG"]
    requires: exec:alpha
EOF
snapshot "$ROOT" >before
expect_exit 1 tend apply cycle.yaml
stderr_matches '^tend: ([^ ]*/)?cycle\.yaml:[0-9]+:[0-9]+: dependency cycle: '
stderr_matches 'exec:alpha -> exec:beta -> exec:alpha|exec:beta -> exec:alpha -> exec:beta'
assert_snapshot "nothing was written" before "$ROOT"
check "no command ran" test ! -s "$LOG"
expect_exit 1 tend plan cycle.yaml
stderr_has "dependency cycle"

step "a cycle through before: is found too"
cat >cycle2.yaml <<'EOF'
resources:
  - file: /etc/one
    content: "1\n"
    before: file:/etc/two
  - file: /etc/two
    content: "2\n"
    before: file:/etc/one
EOF
expect_exit 1 tend apply cycle2.yaml
stderr_has "dependency cycle"
stderr_has "file:/etc/one"
stderr_has "file:/etc/two"
assert_absent "$ROOT/etc/one"

step "requiring an undeclared resource is an input error"
cat >dangling.yaml <<'EOF'
resources:
  - file: /etc/orphan
    content: "x\n"
    requires: exec:nowhere
EOF
expect_exit 1 tend apply dangling.yaml
stderr_matches '^tend: ([^ ]*/)?dangling\.yaml:4:[0-9]+: .*exec:nowhere'
assert_absent "$ROOT/etc/orphan"

done_testing
