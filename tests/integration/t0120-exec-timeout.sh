#!/bin/bash
# t0120-exec-timeout: an exec past its timeout has its whole process
# group killed - a grandchild that ignores SIGTERM included - within 2 s;
# the resource fails, its dependents are skipped, independent resources
# still apply, and the run exits 1.  --timeout sets the default; a
# resource's own timeout wins.
. "$(dirname "$0")/lib.sh"

mkdir -p "$ROOT/etc"
CHILD=$T/child.pid
GRANDCHILD=$T/grandchild.pid
reap_pidfile "$CHILD"
reap_pidfile "$GRANDCHILD"

# The command's shell forks a grandchild that ignores SIGTERM, records
# both pids outside the root, and sleeps.
cat >site.yaml <<EOF
resources:
  - exec: slow
    command: ["/bin/sh", "-c", "(trap '' TERM; exec sleep 60) & echo \$! > $GRANDCHILD; echo \$\$ > $CHILD; sleep 60"]
    timeout: 1
  - file: /etc/after-slow
    content: "needs slow\n"
    requires: exec:slow
  - file: /etc/independent
    content: "unrelated\n"
EOF

# dead_by PIDFILE DEADLINE_MS - the pid in PIDFILE is gone (or a zombie)
# before the wall clock reaches DEADLINE_MS.
dead_by() {
	local pid
	pid=$(cat "$1" 2>/dev/null)
	[ -n "$pid" ] || return 1
	while [ "$(now_ms)" -lt "$2" ]; do
		alive "$pid" || return 0
		sleep 0.05
	done
	! alive "$pid"
}

step "a command past its timeout is killed with its whole process group"
t0=$(now_ms)
expect_exit 1 tend apply site.yaml
t1=$(now_ms)
check "both pids were recorded" test -s "$CHILD" -a -s "$GRANDCHILD"
check "the run ended at the timeout, not with the 60 s command (took $((t1 - t0)) ms)" test $((t1 - t0)) -lt 30000
# the timeout fires at t0 + 1 s; everything must be gone 2 s later
check "the command's shell is gone within 2 s of the timeout" dead_by "$CHILD" $((t0 + 3000))
check "the grandchild ignoring SIGTERM is gone within 2 s of the timeout" \
	dead_by "$GRANDCHILD" $((t0 + 3000))
stdout_matches '^failed exec:slow: .*timed out'
stdout_matches '^skipped file:/etc/after-slow: .*exec:slow'
summary_is "1 changed, 0 ok, 1 failed, 1 skipped"
assert_absent "$ROOT/etc/after-slow"
assert_file_content "$ROOT/etc/independent" $'unrelated\n'

step "--timeout sets the default timeout"
rm -f "$CHILD" "$GRANDCHILD"
cat >default.yaml <<EOF
resources:
  - exec: slow-default
    command: ["/bin/sh", "-c", "(trap '' TERM; exec sleep 60) & echo \$! > $GRANDCHILD; echo \$\$ > $CHILD; sleep 60"]
EOF
t0=$(now_ms)
expect_exit 1 tend apply --timeout 1 default.yaml
t1=$(now_ms)
check "the run ended at the timeout, not with the 60 s command (took $((t1 - t0)) ms)" test $((t1 - t0)) -lt 30000
check "the command's shell is gone" dead_by "$CHILD" $((t0 + 3000))
check "the grandchild is gone" dead_by "$GRANDCHILD" $((t0 + 3000))
stdout_matches '^failed exec:slow-default: .*timed out'

step "a resource's own timeout overrides --timeout"
cat >override.yaml <<'EOF'
resources:
  - exec: patient
    command: ["/bin/sleep", "1.5"]
    timeout: 10
EOF
expect_exit 0 tend apply --timeout 1 override.yaml
stdout_matches '^changed exec:patient'

done_testing
