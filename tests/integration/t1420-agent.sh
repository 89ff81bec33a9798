#!/bin/bash
# t1420-agent: three agents on one real tend-server and the nats-server it
# supervises, all on loopback, each with its own --state and --root.
#
# They enroll with a token (`tend-server token create --enroll`), which
# registers them with the token's tags; they receive their catalogs over
# the bus, render the templates with their own facts, converge, and their
# reports can be read through the API and `tend nodes`.  A configuration
# change through the API reaches each agent on its next trigger
# (SIGUSR1); asked again with nothing changed, the server answers "not
# modified" and the cached catalog is not rewritten.  `tendd --once`
# converges and exits like `tend apply`.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

[ -x "$TENDD" ] || { echo "not ok 1 - the agent binary exists: $TENDD"; exit 1; }
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null || skip "nats-server is not installed"
export HOME=$T

NATS_PORT=$(_free_port)
printf 'nats_listen: 127.0.0.1:%s\n' "$NATS_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" || done_testing



# reports NODE - how many reports the server holds for NODE.
reports() {
	_curl -s -H "Authorization: Bearer $RO_TOKEN" "$SERVER_URL/v1/nodes/$1/reports?limit=1000" |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["reports"]))' 2>/dev/null || echo 0
}

# has_reports NODE N - the server holds at least N reports of NODE.
has_reports() { [ "$(reports "$1")" -ge "$2" ]; }


step "the configuration the agents get: a tag with a template and a directory"
put_text files/agent-motd.tmpl $'{{ greeting }} from {{ facts.hostname }}\n'
expect_http 201
put_text tags/agents.yaml $'vars:\n  greeting: hello\nresources:\n  - file: /etc/motd\n    template: files/agent-motd.tmpl\n    mode: "0640"\n  - directory: /srv/app\n    mode: "0750"\n'
expect_http 201

step "an enrollment token for three nodes with tag 'agents'"
run "$TEND_SERVER_BIN" --state "$STATE" token create --enroll --tags agents --uses 3
if [ "$RC" -eq 0 ] && grep -q '^tend_enroll_' "$OUT"; then
	ok "the token is printed once"
else
	fail "the token is printed once" "$(_evidence)"
fi
ENROLL_TOKEN=$(head -n 1 "$OUT")

for n in 1 2 3; do
	mkdir -p "$T/a$n/root/etc" "$T/a$n/root/srv"
	echo "host$n" >"$T/a$n/root/etc/hostname"
done

step "each agent enrolls with the token"
for n in 1 2 3; do
	expect_exit 0 timeout 30 "$TENDD" --enroll "$ENROLL_TOKEN" --server "$SERVER_URL" --node "a$n" --state "$T/a$n/state"
done
assert_mode "$T/a1/state" 700
assert_mode "$T/a1/state/node.key" 600
check "agent.conf names the node and a broker" grep -qE '^nats_url = (tls|nats)://' "$T/a1/state/agent.conf"
check "the certificate names the node" sh -c "openssl x509 -in '$T/a2/state/node.pem' -noout -subject | grep -q 'CN *= *a2'"
api GET /v1/nodes/a3
expect_http 200
check "a3 is registered with the token's tags" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["tags"] != ["agents"])' "$OUT"

step "a fourth enrollment with the same token is refused"
expect_exit 1 timeout 30 "$TENDD" --enroll "$ENROLL_TOKEN" --server "$SERVER_URL" --node a4 --state "$T/a4/state"
assert_absent "$T/a4/state/node.pem"

step "the agents start, get their catalogs and converge"
for n in 1 2 3; do
	bg "$TENDD" --state "$T/a$n/state" --root "$T/a$n/root" --interval 1h --alive 1s -v -v 2>"$T/a$n.log"
	eval "PID$n=\$BG_PID"
done
for n in 1 2 3; do
	wait_for 30 "a$n renders the template with its own facts" holds "$T/a$n/root/etc/motd" "hello from host$n"
done
assert_mode "$T/a1/root/etc/motd" 640
assert_mode "$T/a2/root/srv/app" 750
for n in 1 2 3; do
	wait_for 20 "the server holds a report of a$n" has_reports "a$n" 1
done

step "reports through the API"
api GET /v1/nodes/a1/reports "" "$RO_TOKEN"
expect_http 200
check "the first run changed the file and the directory" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = d["reports"][-1]
sys.exit(not (r["status"] == "changed" and r["summary"]["changed"] == 2 and r["summary"]["failed"] == 0))
' "$OUT"
RID=$(jq_out 'd["reports"][-1]["id"]')
api GET "/v1/reports/$RID" "" "$RO_TOKEN"
expect_http 200
check "the whole report names its catalog, fresh, and its own id" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["report"]
c = d["catalog"]
sys.exit(not (c["hash"].startswith("sha256:") and c["stale_since"] is None and len(d["uuid"]) == 36
              and {r["id"] for r in d["resources"]} == {"file:/etc/motd", "directory:/srv/app"}))
' "$OUT"
api GET /v1/nodes/a1 "" "$RO_TOKEN"
check "a1 has a last report and a status" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not d["last_report"] or d["status"] not in ("changed", "converged"))' "$OUT"

step "tend nodes lists the three agents with their status"
run "$TEND" nodes --server "$SERVER_URL" --token "$RO_TOKEN"
for n in 1 2 3; do
	stdout_matches "^a$n .*(changed|converged)"
done

step "a configuration change reaches the agents on their next trigger"
mtime_before=$(stat -c %Y.%N "$T/a3/state/catalog/catalog.json")
put_text tags/agents.yaml $'vars:\n  greeting: bonjour\nresources:\n  - file: /etc/motd\n    template: files/agent-motd.tmpl\n    mode: "0640"\n  - directory: /srv/app\n    mode: "0750"\n'
expect_http 200
check "before the trigger, a1 still has the old text" holds "$T/a1/root/etc/motd" "hello from host1"
kill -USR1 "$PID1" "$PID2"
wait_for 20 "a1 converges to the new configuration" holds "$T/a1/root/etc/motd" "bonjour from host1"
wait_for 20 "a2 converges to the new configuration" holds "$T/a2/root/etc/motd" "bonjour from host2"
check "a3, not triggered, still has the old one" holds "$T/a3/root/etc/motd" "hello from host3"
kill -USR1 "$PID3"
wait_for 20 "a3 converges on its trigger" holds "$T/a3/root/etc/motd" "bonjour from host3"
check "a3 kept a new catalog" test "$(stat -c %Y.%N "$T/a3/state/catalog/catalog.json")" != "$mtime_before"
check "the catalog it replaced is kept as the previous one" test -s "$T/a3/state/catalog.prev/catalog.json"

step "an identical catalog is not sent again: not-modified"
n_before=$(reports a1)
mtime_before=$(stat -c %Y "$T/a1/state/catalog/catalog.json")
sig_before=$(sha256sum <"$T/a1/state/catalog/catalog.json")
notmod_before=$(grep -c 'not modified' "$T/a1.log")
sleep 1.1
kill -USR1 "$PID1"
wait_for 20 "the run is reported" has_reports a1 $((n_before + 1))
check "the agent was told 'not modified'" test "$(grep -c 'not modified' "$T/a1.log")" -gt "$notmod_before"
check "the cached catalog was not rewritten" test "$(stat -c %Y "$T/a1/state/catalog/catalog.json")" = "$mtime_before"
check "and is the same" test "$(sha256sum <"$T/a1/state/catalog/catalog.json")" = "$sig_before"

step "a drifted file is put back on the next run"
echo "changed by hand" >"$T/a2/root/etc/motd"
kill -USR1 "$PID2"
wait_for 20 "a2 puts its motd back" holds "$T/a2/root/etc/motd" "bonjour from host2"

step "SIGTERM: the agents stop cleanly"
for n in 1 2 3; do
	eval "kill -TERM \$PID$n"
done
for n in 1 2 3; do
	eval "wait \$PID$n"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "a$n exits 0"; else fail "a$n exits 0" "exit $rc" "$(tail -n 20 "$T/a$n.log")"; fi
done
check "nothing waits in the spool" test -z "$(ls "$T/a1/state/spool" 2>/dev/null)"

step "tendd --once converges once and exits like tend apply"
rm -f "$T/a3/root/etc/motd"
expect_exit 0 timeout 60 "$TENDD" --once --state "$T/a3/state" --root "$T/a3/root"
check "the file is back" holds "$T/a3/root/etc/motd" "bonjour from host3"

step "usage errors"
expect_exit 2 "$TENDD" --interval soon
expect_exit 2 "$TENDD" --enroll "$ENROLL_TOKEN"
expect_exit 1 "$TENDD" --once --state "$T/nothing-here" --root "$T/a3/root"
stderr_has "enroll this node first"

done_testing
