#!/bin/bash
# t0020-directory: the directory type creates (with parents: true),
# converges, corrects drift (mode, deletion), and removes with
# ensure: absent - refusing a non-empty directory without force: true.
. "$(dirname "$0")/lib.sh"

cat >site.yaml <<'EOF'
resources:
  - directory: /srv/app/releases
    mode: "0750"
    parents: true
EOF

step "apply creates the directory and its missing parents"
umask 077
expect_exit 0 tend apply site.yaml
umask 022
check "/srv/app/releases is a directory" test -d "$ROOT/srv/app/releases"
assert_mode "$ROOT/srv/app/releases" 750
assert_mode "$ROOT/srv/app" 755
assert_mode "$ROOT/srv" 755
stdout_matches '^changed directory:/srv/app/releases'

step "a second run changes nothing"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml
summary_is "0 to change, 1 ok, 0 unknown"

step "drift: mode changed by hand"
chmod 0700 "$ROOT/srv/app/releases"
expect_exit 2 tend plan site.yaml
stdout_matches '^~ directory:/srv/app/releases: .*mode 0700 -> 0750'
expect_exit 0 tend apply site.yaml
assert_mode "$ROOT/srv/app/releases" 750
expect_exit 0 tend plan site.yaml

step "drift: directory removed by hand"
rmdir "$ROOT/srv/app/releases"
expect_exit 2 tend plan site.yaml
stdout_matches '^\+ directory:/srv/app/releases: create'
expect_exit 0 tend apply site.yaml
check "/srv/app/releases is a directory again" test -d "$ROOT/srv/app/releases"
assert_mode "$ROOT/srv/app/releases" 750

step "without parents: true a missing parent fails the resource"
cat >noparents.yaml <<'EOF'
resources:
  - directory: /opt/missing/child
  - directory: /srv/independent
EOF
expect_exit 1 tend apply noparents.yaml
stdout_matches '^failed directory:/opt/missing/child'
assert_absent "$ROOT/opt"
check "an independent directory is still created" test -d "$ROOT/srv/independent"

step "ensure: absent removes an empty directory"
mkdir "$ROOT/srv/empty"
cat >absent.yaml <<'EOF'
resources:
  - directory: /srv/empty
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
stdout_matches '^- directory:/srv/empty: remove'
expect_exit 0 tend apply absent.yaml
assert_absent "$ROOT/srv/empty"
expect_exit 0 tend apply absent.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan absent.yaml

step "ensure: absent refuses a non-empty directory without force"
mkdir -p "$ROOT/srv/full/sub"
echo precious >"$ROOT/srv/full/sub/data"
cat >full.yaml <<'EOF'
resources:
  - directory: /srv/full
    ensure: absent
EOF
snapshot "$ROOT" >before
expect_exit 1 tend apply full.yaml
stdout_matches '^failed directory:/srv/full'
assert_snapshot "the non-empty directory and its contents are untouched" before "$ROOT"

step "ensure: absent with force: true removes a non-empty directory"
cat >force.yaml <<'EOF'
resources:
  - directory: /srv/full
    ensure: absent
    force: true
EOF
expect_exit 0 tend apply force.yaml
assert_absent "$ROOT/srv/full"
check "its parent remains" test -d "$ROOT/srv"
expect_exit 0 tend plan force.yaml

step "many directories: no fsync per directory, one syncfs makes them durable at the end"
if command -v strace >/dev/null 2>&1 && strace -f -qq -e trace=none true 2>/dev/null; then
	{
		echo "resources:"
		for i in $(seq 1 40); do echo "  - directory: /many/d$i"; echo "    parents: true"; done
		echo "  - file: /many/d40/last"
		echo "    content: done"
	} >many.yaml
	# LeakSanitizer cannot run under ptrace: no leak check for this one run
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	run strace -f -qq -e trace=fsync,fdatasync,syncfs,mkdirat,mkdir -o "$T/sync.log" "$TEND" apply --root "$ROOT" many.yaml
	check "apply succeeded" test "$RC" -eq 0
	check "40 directories exist" test "$(find "$ROOT/many" -mindepth 1 -type d | wc -l)" -eq 40
	# fsync and fdatasync alike: neither a directory nor the file is
	# synced on its own, the syncfs at the end does it for all
	check "nothing was fsync'd or fdatasync'd on its own" test "$(grep -cE '^[0-9]* *(fsync|fdatasync)\(' "$T/sync.log")" -eq 0
	check "syncfs ran (batch commit), at most twice" test "$(grep -c 'syncfs(' "$T/sync.log")" -ge 1 -a "$(grep -c 'syncfs(' "$T/sync.log")" -le 2
	check "the last syscall of the run that changes durability is a syncfs" sh -c "grep -E 'syncfs|mkdir|fsync|fdatasync' '$T/sync.log' | tail -n1 | grep -q syncfs"
else
	note "strace is not available: the sync pattern is not checked"
fi

done_testing
