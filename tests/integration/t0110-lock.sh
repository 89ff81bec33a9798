#!/bin/bash
# t0110-lock: one apply at a time per root.  A second apply waits (saying
# so on stderr) and only starts after the first has finished; with
# --no-wait it fails at once with exit 1 and applies nothing; applies on
# different roots do not wait for each other.
. "$(dirname "$0")/lib.sh"

LOG=$T/log
: >"$LOG"

# manifest NAME SECONDS - an exec that logs "start NAME", sleeps, logs "end NAME".
manifest() {
	cat >"$1.yaml" <<EOF
resources:
  - exec: slow-$1
    command: ["/bin/sh", "-c", "echo start $1 >> $LOG; sleep $2; echo end $1 >> $LOG"]
EOF
}
manifest first 1
manifest second 0.2
manifest third 0.2
manifest long 4

# wait_for_line TEXT - until the log has TEXT (at most 10 s).
wait_for_line() {
	local i
	for i in $(seq 100); do
		grep -qx "$1" "$LOG" && return 0
		sleep 0.1
	done
	return 1
}

step "a second apply waits until the first has finished"
bg timeout -k 5 60 "$TEND" apply --root "$ROOT" first.yaml >>"$T/bg.out" 2>&1
first=$BG_PID
check "the first apply started its command" wait_for_line "start first"
timeout -k 5 60 "$TEND" apply --root "$ROOT" second.yaml >"$T/second.out" 2>"$T/second.err"
second_rc=$?
wait "$first"
first_rc=$?
check "the first apply exits 0" test "$first_rc" -eq 0
check "the second apply exits 0" test "$second_rc" -eq 0
assert_lines "$LOG" "start first" "end first" "start second" "end second"
check "the second apply said it was waiting for this root" \
	grep -F "tend: waiting for another run on $ROOT" "$T/second.err"

step "--no-wait fails at once while another apply holds the lock"
: >"$LOG"
bg timeout -k 5 60 "$TEND" apply --root "$ROOT" long.yaml >>"$T/bg.out" 2>&1
first=$BG_PID
check "the first apply started its command" wait_for_line "start long"
t0=$(now_ms)
expect_exit 1 tend apply --no-wait third.yaml
note "--no-wait returned in $(($(now_ms) - t0)) ms"
# not timed: the proof that it did not wait is that the other apply's
# 4-second command had not ended when it returned
check "it returned while the other apply still ran: it did not wait" sh -c "! grep -q 'end long' '$LOG'"
check "it said why on stderr: another run holds the lock on this root" \
	grep -qF "another tend run holds the lock on $ROOT" "$ERR"
wait "$first"
assert_lines "$LOG" "start long" "end long"

step "--no-wait succeeds once the lock is free"
expect_exit 0 tend apply --no-wait third.yaml
assert_lines "$LOG" "start long" "end long" "start third" "end third"

step "the lock belongs to the directory, however its path is spelled"
: >"$LOG"
ln -s "$ROOT" "$T/root-link"
bg timeout -k 5 60 "$TEND" apply --root "$ROOT" first.yaml >>"$T/bg.out" 2>&1
first=$BG_PID
check "the first apply started its command" wait_for_line "start first"
run timeout -k 5 60 "$TEND" apply --no-wait --root "$ROOT/" third.yaml
check "--root ROOT/ (trailing slash) is refused under --no-wait" test "$RC" -eq 1
run timeout -k 5 60 "$TEND" apply --no-wait --root "$T/root-link" third.yaml
check "--root via a symlink to ROOT is refused under --no-wait" test "$RC" -eq 1
wait "$first"
assert_lines "$LOG" "start first" "end first"

step "two applies racing for the lock never interleave"
: >"$LOG"
manifest racer-a 0.2
manifest racer-b 0.2
for i in 1 2 3; do
	bg timeout -k 5 60 "$TEND" apply -q --root "$ROOT" racer-a.yaml >>"$T/bg.out" 2>&1
	a=$BG_PID
	bg timeout -k 5 60 "$TEND" apply -q --root "$ROOT" racer-b.yaml >>"$T/bg.out" 2>&1
	b=$BG_PID
	wait "$a"
	wait "$b"
done
check "each start is followed by its own end" python3 -c '
import sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert len(lines) == 12, lines
for s, e in zip(lines[0::2], lines[1::2]):
    assert s.startswith("start ") and e == "end " + s[6:], lines
' "$LOG"

step "applies on different roots run side by side"
: >"$LOG"
mkdir "$T/root2"
manifest other-root 1
bg timeout -k 5 60 "$TEND" apply --root "$ROOT" first.yaml >>"$T/bg.out" 2>&1
first=$BG_PID
check "the first apply started its command" wait_for_line "start first"
t0=$(now_ms)
timeout -k 5 60 "$TEND" apply --no-wait --root "$T/root2" other-root.yaml >"$T/other.out" 2>"$T/other.err"
other_rc=$?
wait "$first"
check "the apply on another root exits 0 under --no-wait" test "$other_rc" -eq 0
check "it ran while the first was still running" python3 -c '
import sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert lines.index("start other-root") < lines.index("end first"), lines
' "$LOG"

done_testing
