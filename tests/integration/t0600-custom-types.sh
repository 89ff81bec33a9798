#!/bin/bash
# t0600-custom-types: an executable in types/ beside the manifest (or in
# $TEND_TYPES_PATH) is a resource type speaking docs/custom-types.md's
# JSON protocol.  The two shipped examples (shell, Python) plan, apply,
# converge and correct drift in a temp root; custom resources take part
# in requires/before/notify with built-in ones both ways; attributes
# arrive typed and rendered; a type that hangs is killed with its whole
# process group at its timeout; invalid JSON, a non-zero exit and too
# much output fail the resource with a clear message; an unknown type is
# still a FILE:LINE:COL error with a suggestion.
. "$(dirname "$0")/lib.sh"

EX=$TOP/examples/types
LOG=$T/calls.log
export TEND_TYPES_PATH=$T/systypes   # never /etc/tend/types of this machine
export CALLS_LOG=$LOG                # for the test types below
mkdir -p "$T/types" "$T/systypes"

# mktype DIR NAME - the executable DIR/NAME from stdin.
mktype() {
	cat >"$1/$2" && chmod +x "$1/$2"
}

# ---------------------------------------------------------------------------
# The shell example: sysctl_value

step "shell example: plan shows the changes and writes nothing"
snapshot "$ROOT" >before
expect_exit 2 tend plan "$EX/sysctl.yaml"
stdout_has "~ sysctl_value:net.ipv4.ip_forward: value (none) -> 1"
stdout_has "~ sysctl_value:vm.swappiness: value (none) -> 10"
stdout_matches "^tend: 4 resources: 4 to change, 0 ok, 0 unknown"
assert_snapshot "plan wrote nothing" before "$ROOT"

step "shell example: apply converges"
expect_exit 0 tend apply "$EX/sysctl.yaml"
stdout_has "changed sysctl_value:net.ipv6.conf.all.forwarding: value (none) -> 1"
summary_is "4 changed, 0 ok, 0 failed, 0 skipped"
assert_lines "$ROOT/etc/sysctl.d/60-router.conf" \
	"net.ipv4.ip_forward = 1" "net.ipv6.conf.all.forwarding = 1"
assert_lines "$ROOT/etc/sysctl.d/vm.swappiness.conf" "vm.swappiness = 10"
assert_mode "$ROOT/etc/sysctl.d/60-router.conf" 644

step "shell example: a second apply changes nothing"
expect_exit 0 tend apply "$EX/sysctl.yaml"
summary_is "0 changed, 4 ok, 0 failed, 0 skipped"

step "shell example: drift by hand is planned and corrected, other lines kept"
printf '# by hand\nnet.ipv4.ip_forward=0\nnet.ipv6.conf.all.forwarding = 1\n' \
	>"$ROOT/etc/sysctl.d/60-router.conf"
expect_exit 2 tend plan "$EX/sysctl.yaml"
stdout_has "~ sysctl_value:net.ipv4.ip_forward: value 0 -> 1"
stdout_matches "^tend: 4 resources: 1 to change, 3 ok"
expect_exit 0 tend apply "$EX/sysctl.yaml"
summary_is "1 changed, 3 ok, 0 failed, 0 skipped"
assert_lines "$ROOT/etc/sysctl.d/60-router.conf" \
	"# by hand" "net.ipv6.conf.all.forwarding = 1" "net.ipv4.ip_forward = 1"

# ---------------------------------------------------------------------------
# The Python example: json_setting

step "python example: plan shows each change with a diff and writes nothing"
snapshot "$ROOT" >before
expect_exit 2 tend plan "$EX/app.yaml"
stdout_has "~ json_setting:listen port: value (none) -> 8080"
stdout_has '~ json_setting:log level: value (none) -> "info"'
stdout_has '~ json_setting:features: value (none) -> ["metrics", "tracing"]'
stdout_has '+    "port": 8080'
stdout_has "~ exec:reload myapp: run"
assert_snapshot "plan wrote nothing" before "$ROOT"

step "python example: apply converges and notifies the reload once"
expect_exit 0 tend apply "$EX/app.yaml"
summary_is "5 changed, 1 ok, 0 failed, 0 skipped"
check "config.json holds every setting, typed" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d == {"server": {"port": 8080}, "logging": {"level": "info"},
             "features": ["metrics", "tracing"]}, d' "$ROOT/etc/myapp/config.json"
check "the reload ran once" test "$(wc -l <"$ROOT/etc/myapp/reloads")" -eq 1

step "python example: a second apply changes nothing and does not reload"
expect_exit 0 tend apply "$EX/app.yaml"
summary_is "0 changed, 6 ok, 0 failed, 0 skipped"
check "no second reload" test "$(wc -l <"$ROOT/etc/myapp/reloads")" -eq 1

step "python example: drift is planned with a diff and corrected"
python3 - "$ROOT/etc/myapp/config.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["server"]["port"] = 9999
d["server"]["debug"] = True
d["extra"] = "kept"
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_exit 2 tend plan "$EX/app.yaml"
stdout_has "~ json_setting:listen port: value 9999 -> 8080"
stdout_has "- json_setting:no debug endpoint: remove"
stdout_has '+    "port": 8080'
expect_exit 0 tend apply "$EX/app.yaml"
summary_is "3 changed, 3 ok, 0 failed, 0 skipped"
check "drift corrected, unmanaged keys kept" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["server"] == {"port": 8080} and d["extra"] == "kept", d' "$ROOT/etc/myapp/config.json"
check "the change notified the reload" test "$(wc -l <"$ROOT/etc/myapp/reloads")" -eq 2

# ---------------------------------------------------------------------------
# A test type that records every call: marker NAME keeps ROOT/markers/NAME
# holding the attribute text; apply also records whether ROOT/etc/base
# exists at that moment.

mktype "$T/types" marker <<'EOF'
#!/bin/sh
req=$(cat)
printf '%s %s %s\n' "$TEND_OPERATION" "$TEND_NAME" "$req" >>"$CALLS_LOG"
f=$TEND_ROOT/markers/$TEND_NAME
have=$(cat "$f" 2>/dev/null)
case $TEND_OPERATION in
probe)
	if [ "$have" = "$TEND_ATTR_text" ]; then
		echo '{"state": {}, "changes": []}'
	else
		printf '{"changes": [{"what": "text", "from": "%s", "to": "%s"}]}\n' "$have" "$TEND_ATTR_text"
	fi ;;
apply)
	[ -e "$TEND_ROOT/etc/base" ] && b=yes || b=no
	echo "apply $TEND_NAME refresh=$TEND_REFRESH base=$b" >>"$CALLS_LOG.order"
	mkdir -p "$TEND_ROOT/markers" && printf '%s' "$TEND_ATTR_text" >"$f"
	echo '{"changed": true, "message": "marked"}' ;;
esac
EOF

step "attributes reach the type typed, with templates rendered, and the environment is set"
cat >attrs.yaml <<'EOF'
vars:
  who: world
resources:
  - marker: m
    text: "hello {{ who }}"
    port: 8080
    quoted: "8080"
    flag: true
    list: [a, "{{ who }}"]
    map: {k: v}
    timeout: 5
EOF
rm -f "$LOG"
expect_exit 0 tend apply attrs.yaml
check "the request is protocol 1 with typed, rendered attributes and the absolute root" python3 -c '
import json, sys
lines = [l.split(" ", 2) for l in open(sys.argv[1])]
ops = [l[0] for l in lines]
assert ops == ["probe", "apply", "probe"], ops
req = json.loads(lines[0][2])
assert req["protocol"] == 1 and req["operation"] == "probe" and req["name"] == "m", req
assert req["root"] == sys.argv[2], req
assert req["attributes"] == {"text": "hello world", "port": 8080, "quoted": "8080", "flag": True,
                             "list": ["a", "world"], "map": {"k": "v"}}, req["attributes"]
ap = json.loads(lines[1][2])
assert ap["operation"] == "apply" and ap["refresh"] is False, ap
assert ap["plan"] == [{"what": "text", "from": "", "to": "hello world"}], ap["plan"]
' "$LOG" "$ROOT"
assert_file_content "$ROOT/markers/m" "hello world"

step "a template error in a custom type's attribute is an input error; nothing runs"
rm -f "$LOG"
printf 'resources:\n  - marker: m\n    text: "{{ nope }}"\n' >badtmpl.yaml
expect_exit 1 tend apply badtmpl.yaml
stderr_matches "badtmpl\.yaml:3:11: .*nope"
check "the type was never run" test ! -e "$LOG"

step "timeout must be a positive duration (FILE:LINE:COL)"
printf 'resources:\n  - marker: m\n    text: x\n    timeout: 0\n' >badtimeout.yaml
expect_exit 1 tend plan badtimeout.yaml
stderr_matches "badtimeout\.yaml:4:14: timeout of marker:m must be more than 0"

step "requires and before order custom resources among built-in ones"
rm -rf "$ROOT/markers" "$ROOT/etc/base" "$LOG.order"
cat >order.yaml <<'EOF'
resources:
  - marker: after
    text: a
    requires: file:/etc/base
  - file: /etc/base
    content: "base\n"
  - marker: before
    text: b
    before: file:/etc/base
EOF
mkdir -p "$ROOT/etc"
expect_exit 0 tend apply order.yaml
summary_is "3 changed, 0 ok, 0 failed, 0 skipped"
check "before ran before the file, after after it" test "$(cat "$LOG.order")" = \
	"$(printf 'apply before refresh=false base=no\napply after refresh=false base=yes')"

step "a changed custom resource notifies a built-in one; a changed built-in refreshes a custom one"
rm -f "$LOG.order"
cat >notify.yaml <<EOF
resources:
  - marker: source
    text: "{{ v }}"
    notify: exec:record
  - exec: record
    command: ["/bin/sh", "-c", "echo ran >> \"\$TEND_ROOT/record\""]
    refreshonly: true
  - file: /etc/trigger
    content: "{{ v }}\n"
    notify: marker:target
  - marker: target
    text: steady
EOF
expect_exit 0 tend apply --var v=1 notify.yaml
check "the exec ran once" test "$(cat "$ROOT/record")" = ran
expect_exit 0 tend apply --var v=1 notify.yaml
summary_is "0 changed, 4 ok, 0 failed, 0 skipped"
rm -f "$LOG" "$LOG.order"
expect_exit 2 tend plan --var v=2 notify.yaml
stdout_has "~ marker:target: refresh (notified)"
stdout_has "~ exec:record: run"
expect_exit 0 tend apply --var v=2 notify.yaml
stdout_has "changed marker:target: refresh (notified)"
summary_is "4 changed, 0 ok, 0 failed, 0 skipped"
check "the exec ran again" test "$(wc -l <"$ROOT/record")" -eq 2
check "the notified custom resource got apply with an empty plan and refresh: true" python3 -c '
import json, sys
calls = [l.split(" ", 2) for l in open(sys.argv[1])]
ap = [json.loads(c[2]) for c in calls if c[0] == "apply" and c[1] == "target"]
assert len(ap) == 1 and ap[0]["refresh"] is True and ap[0]["plan"] == [], ap
' "$LOG"
check "TEND_REFRESH was true" grep -q "^apply target refresh=true " "$LOG.order"

# ---------------------------------------------------------------------------
# Types that misbehave

CHILD=$T/child.pid
GRANDCHILD=$T/grandchild.pid
reap_pidfile "$CHILD"
reap_pidfile "$GRANDCHILD"
mktype "$T/types" hang <<'EOF'
#!/bin/sh
(trap '' TERM; exec sleep 60) &
echo $! >"$(dirname "$CALLS_LOG")/grandchild.pid"
echo $$ >"$(dirname "$CALLS_LOG")/child.pid"
sleep 60
EOF

# dead_by PIDFILE DEADLINE_MS - the pid in PIDFILE is gone before DEADLINE_MS.
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

step "a type that hangs is killed with its process group at its timeout and reported failed"
cat >hang.yaml <<'EOF'
resources:
  - hang: forever
    timeout: 1
  - file: /etc/needs-hang
    content: "x\n"
    requires: hang:forever
  - file: /etc/independent
    content: "y\n"
EOF
t0=$(now_ms)
expect_exit 1 tend apply hang.yaml
t1=$(now_ms)
check "the run ended at the timeout, not with the 60 s command (took $((t1 - t0)) ms)" test $((t1 - t0)) -lt 30000
stdout_has "failed hang:forever: probe timed out after 1 s (process group killed)"
stdout_matches "^skipped file:/etc/needs-hang: .*hang:forever"
summary_is "1 changed, 0 ok, 1 failed, 1 skipped"
check "both pids were recorded" test -s "$CHILD" -a -s "$GRANDCHILD"
check "the type's process is gone" dead_by "$CHILD" $((t0 + 3000))
check "its grandchild ignoring SIGTERM is gone" dead_by "$GRANDCHILD" $((t0 + 3000))
assert_absent "$ROOT/etc/needs-hang"
assert_file_content "$ROOT/etc/independent" $'y\n'
rm -f "$CHILD" "$GRANDCHILD"
expect_exit 1 tend plan hang.yaml
stdout_has "failed hang:forever: probe timed out after 1 s"
check "plan killed it too" dead_by "$GRANDCHILD" $(($(now_ms) + 2000))

step "invalid JSON on stdout fails the resource with a clear message"
mktype "$T/types" badjson <<'EOF'
#!/bin/sh
echo "some diagnostics" >&2
echo '{"state": {"a": 1}, "changes": [}'
EOF
printf 'resources:\n  - badjson: x\n' >badjson.yaml
expect_exit 1 tend plan badjson.yaml
stdout_matches "^failed badjson:x: probe: invalid answer from $T/types/badjson: invalid JSON in its answer: .*\(line [0-9]+, column [0-9]+\)"

step "no JSON at all, or an answer of the wrong shape, fails too"
mktype "$T/types" nojson <<'EOF'
#!/bin/sh
echo "hello, I am not JSON"
EOF
printf 'resources:\n  - nojson: x\n' >nojson.yaml
expect_exit 1 tend apply nojson.yaml
stdout_has "failed nojson:x: probe: invalid answer from $T/types/nojson: no JSON object in its output"
mktype "$T/types" badshape <<'EOF'
#!/bin/sh
echo '{"changes": {"what": "x"}}'
EOF
printf 'resources:\n  - badshape: x\n' >badshape.yaml
expect_exit 1 tend apply badshape.yaml
stdout_has "failed badshape:x: probe: invalid answer from $T/types/badshape: 'changes' must be a list, not an object"

step "exit status 1 fails the resource with its message (JSON, else the output's tail)"
mktype "$T/types" broken <<'EOF'
#!/bin/sh
if [ "$TEND_ATTR_how" = json ]; then
	echo "trace: looking" >&2
	echo '{"message": "the disk is on fire"}'
else
	echo "line one" >&2
	echo "cannot reach the frobnicator" >&2
fi
exit 1
EOF
printf 'resources:\n  - broken: a\n    how: json\n  - broken: b\n    how: text\n' >broken.yaml
expect_exit 1 tend apply broken.yaml
stdout_has "failed broken:a: probe failed: the disk is on fire"
stdout_has "failed broken:b: probe failed: line one cannot reach the frobnicator"
summary_is "0 changed, 0 ok, 2 failed, 0 skipped"

step "apply that exits 1 fails the resource with its message; the run goes on"
mktype "$T/types" applyfails <<'EOF'
#!/bin/sh
case $TEND_OPERATION in
probe) echo '{"changes": [{"what": "thing", "from": "a", "to": "b"}]}' ;;
apply) echo '{"changed": false, "message": "permission denied on the widget"}'; exit 1 ;;
esac
EOF
printf 'resources:\n  - applyfails: x\n  - file: /etc/after\n    content: "z\\n"\n' >applyfails.yaml
expect_exit 1 tend apply applyfails.yaml
stdout_has "failed applyfails:x: apply failed: permission denied on the widget"
assert_file_content "$ROOT/etc/after" $'z\n'

step "more than 1 MiB of output fails the resource"
mktype "$T/types" chatty <<'EOF'
#!/bin/sh
head -c 2000000 /dev/zero | tr '\0' x
EOF
printf 'resources:\n  - chatty: x\n' >chatty.yaml
expect_exit 1 tend plan chatty.yaml
stdout_has "failed chatty:x: probe: $T/types/chatty printed more than 1048576 bytes"

step "an unknown answer makes the plan say unknown, and apply fail"
mktype "$T/types" unsure <<'EOF'
#!/bin/sh
echo '{"unknown": "the service is not installed yet"}'
EOF
printf 'resources:\n  - unsure: x\n' >unsure.yaml
expect_exit 2 tend plan unsure.yaml
stdout_has "? unsure:x: unknown: the service is not installed yet"
expect_exit 1 tend apply unsure.yaml
stdout_has "failed unsure:x: the service is not installed yet"

step "a type that does not converge fails verification"
mktype "$T/types" stubborn <<'EOF'
#!/bin/sh
case $TEND_OPERATION in
probe) echo '{"changes": [{"what": "x", "from": "1", "to": "2"}]}' ;;
apply) echo '{"changed": true}' ;;
esac
EOF
printf 'resources:\n  - stubborn: x\n' >stubborn.yaml
expect_exit 1 tend apply stubborn.yaml
stdout_matches "^failed stubborn:x: did not converge"

# ---------------------------------------------------------------------------
# Lookup

step "an unknown type is a FILE:LINE:COL error that suggests a built-in and names the types dirs"
printf 'resources:\n  - file: /etc/x\n    content: "x\\n"\n  - fiel: /etc/y\n' >unknown.yaml
snapshot "$ROOT" >before
expect_exit 1 tend apply unknown.yaml
stderr_matches "^tend: unknown\.yaml:4:5: unknown resource type 'fiel' \(did you mean 'file'\? no executable 'fiel' in the custom types directories \./types, $T/systypes\)"
assert_snapshot "nothing changed" before "$ROOT"
printf 'resources:\n  - Bad-Name: x\n' >badname.yaml
expect_exit 1 tend plan badname.yaml
stderr_matches "badname\.yaml:2:5: unknown resource type 'Bad-Name' .*\[a-z\]\[a-z0-9_\]\*"

step "types/ beside the manifest is found from any working directory"
mkdir -p "$T/site/types"
cp "$T/types/marker" "$T/site/types/marker"
printf 'resources:\n  - marker: elsewhere\n    text: e\n' >"$T/site/m.yaml"
(cd / && timeout 60 "$TEND" apply --root "$ROOT" "$T/site/m.yaml") >"$OUT" 2>"$ERR"
RC=$?
check "apply from / exits 0" test "$RC" -eq 0
assert_file_content "$ROOT/markers/elsewhere" "e"

step "TEND_TYPES_PATH is searched after types/ beside the manifest"
mktype "$T/systypes" systype <<'EOF'
#!/bin/sh
echo '{"changes": []}'
EOF
mkdir -p "$T/other"
mktype "$T/other" othertype <<'EOF'
#!/bin/sh
echo '{"changes": []}'
EOF
printf 'resources:\n  - systype: x\n  - othertype: y\n' >path.yaml
TEND_TYPES_PATH=$T/nonexistent:$T/systypes expect_exit 1 tend plan path.yaml
stderr_has "path.yaml:3:5: unknown resource type 'othertype'"
TEND_TYPES_PATH=$T/nonexistent:$T/systypes:$T/other expect_exit 0 tend plan path.yaml
stdout_matches "^tend: 2 resources: 0 to change, 2 ok"

step "a type file that is not executable is an error, not skipped"
printf '#!/bin/sh\n' >"$T/types/noexec"
chmod 644 "$T/types/noexec"
printf 'resources:\n  - noexec: x\n' >noexec.yaml
expect_exit 1 tend plan noexec.yaml
stderr_matches "noexec\.yaml:2:5: custom type 'noexec': .*/types/noexec is not executable"

step "built-in types win over an executable of the same name"
mktype "$T/types" file <<'EOF'
#!/bin/sh
echo ran >>"$CALLS_LOG.file"
echo '{"changes": []}'
EOF
printf 'resources:\n  - file: /etc/builtin\n    content: "b\\n"\n' >builtin.yaml
expect_exit 0 tend apply builtin.yaml
assert_file_content "$ROOT/etc/builtin" $'b\n'
check "types/file never ran" test ! -e "$LOG.file"

done_testing
