#!/bin/bash
# t1500-rpc: signed requests to five real agents over the real broker
# tend-server supervises, on loopback: who may do what (policy/*.yaml,
# default deny), what nobody may do (unsigned, tampered, expired,
# future-dated, replayed requests, a node's certificate as a caller, a
# request held past its TTL), the audit of each on the node and on the
# server, `tend run` with a command that hangs, and `tend up` with a
# failure budget.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

[ -x "$TENDD" ] || { echo "not ok 1 - the agent binary exists: $TENDD"; exit 1; }
command -v nats-server >/dev/null || skip "nats-server is not installed"
TOOLS=$(dirname "$(dirname "$(dirname "$TEND")")")/tests/tools
[ -x "$TOOLS/rpc-forge" ] || skip "no rpc-forge next to the binaries ($TOOLS)"
export HOME=$T

NATS_PORT=$(_free_port)
printf 'nats_listen: 127.0.0.1:%s\n' "$NATS_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" || done_testing
NATS=tls://127.0.0.1:$NATS_PORT
# the inventory, so that the CLI knows which nodes to expect and stops
# waiting once all of them answered
export TEND_SERVER=$SERVER_URL TEND_TOKEN=$RO_TOKEN
NODES="n1 n2 n3 n4 n5"

step "a configuration and a policy, then five agents"
put_text tags/rpc.yaml $'resources:\n  - file: /etc/motd\n    content: "v1\\n"\n'
expect_http 201
api DELETE "/v1/files/nodes/example.yaml?revision=$(server_head)"
POLICY=$'rules:\n  - allow: [ping, facts, plan, apply]\n    roles: [ops]\n  - allow: [run]\n    roles: [ops]\n    commands: ["/bin/echo *", "/bin/sleep *", "/usr/bin/touch *"]\n  - deny: [run]\n    users: [mallory]\n'
put_text policy/ops.yaml "$POLICY"
expect_http 201
put_text policy/broken.yaml $'rules:\n  - alow: [ping]\n'
check "a policy file that does not parse is refused by the API" test "$HTTP" = 400
stdout_has "alow"
agents_enroll rpc $NODES
for n in $NODES; do
	agent_start "$n" --interval 1h --alive 5s -v
done
for n in $NODES; do
	wait_for 30 "$n converges" holds "$T/$n/root/etc/motd" "v1"
done

step "administrators: tend-server user add writes an identity bundle"
for u in alice:ops mallory:ops bob:guest; do
	expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" user add "${u%%:*}" --role "${u##*:}" --out "$T/${u%%:*}.pem"
done
assert_mode "$T/alice.pem" 600
check "the bundle names the broker" grep -q "^nats: $NATS" "$T/alice.pem"
check "the certificate is an administrator's" sh -c "openssl x509 -in '$T/alice.pem' -noout -subject -nameopt RFC2253 | grep -q 'CN=alice,OU=ops,O=tend-admin'"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" user add alice --role ops --out "$T/alice2.pem"
stderr_has "exists"
run "$TEND_SERVER_BIN" --state "$STATE" user ls --json
check "user ls lists the three" test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$OUT")" = 3

# as CODE USER CMD ARGS... - tend CMD as administrator USER, which must exit CODE
as() { local code=$1 u=$2 cmd=$3; shift 3; expect_exit "$code" "$TEND" "$cmd" --identity "$T/$u.pem" "$@"; }

ping_all() { "$TEND" ping --identity "$T/alice.pem" --timeout 3 --json 2>/dev/null | python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)["answered"]) != 5)'; }
wait_for 30 "every agent answers alice's ping" ping_all

step "policy: allowed"
as 0 alice ping --timeout 5
stdout_matches "5 nodes answered"
as 0 alice run --timeout 10 -- /bin/echo hello
stdout_has "hello"
stdout_matches "5 nodes"

step "policy: denied by a rule, by default, and for a command no rule lists"
as 1 mallory run -- /bin/echo hi
as 1 alice run -- /usr/bin/id
as 1 bob ping --timeout 3
refused() { grep -c "\"decision\":\"refused\"" "$T/n1/state/audit.jsonl"; }
check "the node's audit file has each refusal with its reason" python3 - "$T/n1/state/audit.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def has(caller, action, decision, text):
    return any(r["caller"] == caller and r["action"] == action and r["decision"] == decision
               and text in (r.get("reason") or "") for r in recs)
ok = (has("alice", "ping", "allowed", "policy/ops.yaml")
      and has("mallory", "run", "refused", "denied by policy/ops.yaml")
      and has("alice", "run", "refused", "no rule allows run of '/usr/bin/id' for alice (role ops)")
      and has("bob", "ping", "refused", "no rule allows ping for bob (role guest)"))
sys.exit(not ok)
PY
wait_for 20 "the server holds the node's audit records" sh -c "'$TEND' audit --server '$SERVER_URL' --token '$RO_TOKEN' --node n1 --refused --json | grep -q mallory"
run "$TEND" audit --server "$SERVER_URL" --token "$RO_TOKEN" --caller bob
stdout_has "no rule"

step "requests nobody may send: none runs, all are audited"
sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' "$T/alice.pem" >"$T/alice.key"
chmod 600 "$T/alice.key"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/alice.pem" | awk '/BEGIN/{n++} n==1' >"$T/alice.crt"
CA=$T/n2/state/ca.pem
busc() { "$TOOLS/bus-client" --url "$NATS" --ca "$CA" --cert "$T/alice.crt" --key "$T/alice.key" --timeout 5000 "$@"; }
forge() { "$TOOLS/rpc-forge" --cert "$T/alice.crt" --key "$T/alice.key" "$@"; }
for bad in unsigned tamper expired future; do
	case $bad in
	unsigned) env=$(forge --unsigned run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-$bad\"]}") ;;
	tamper) env=$(forge --tamper run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-$bad\"]}") ;;
	expired) env=$(forge --age 120000 --ttl 60000 run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-$bad\"]}") ;;
	future) env=$(forge --age -600000 run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-$bad\"]}") ;;
	esac
	run busc request tend.rpc.n2 "$env"
	stdout_has '\"status\":\"refused\"'
	assert_absent "$T/ran-$bad"
done
env=$(forge run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-once\"]}")
run busc request tend.rpc.n2 "$env"
stdout_has '\"status\":\"ok\"'
check "a good request runs" test -f "$T/ran-once"
rm -f "$T/ran-once"
run busc request tend.rpc.n2 "$env"
stdout_has "replayed"
assert_absent "$T/ran-once"
kill -TERM "${AGENT_PID[n2]}"
wait "${AGENT_PID[n2]}"
agent_start n2 --interval 1h --alive 5s -v
wait_for 20 "n2 is back" sh -c "'$TOOLS/bus-client' --url '$NATS' --ca '$CA' --cert '$T/alice.crt' --key '$T/alice.key' --timeout 1000 request tend.rpc.n2 \"\$('$TOOLS/rpc-forge' --cert '$T/alice.crt' --key '$T/alice.key' ping)\""
run busc request tend.rpc.n2 "$env"
stdout_has "replayed"
assert_absent "$T/ran-once"
check "n2 audited each of them" python3 - "$T/n2/state/audit.jsonl" <<'PY'
import json, sys
reasons = [json.loads(l).get("reason") or "" for l in open(sys.argv[1])]
want = ["signature", "expired", "future", "replayed"]
sys.exit(not all(any(w in r for r in reasons) for w in want))
PY

step "a request held past its TTL never runs"
kill -STOP "${AGENT_PID[n3]}"
env=$(forge --ttl 2000 run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-held\"]}")
busc publish tend.rpc.n3 "$env" >/dev/null 2>&1
sleep 3
kill -CONT "${AGENT_PID[n3]}"
wait_for 10 "n3 audits it as expired" grep -q expired "$T/n3/state/audit.jsonl"
assert_absent "$T/ran-held"

step "a node's certificate cannot send requests"
cat "$T/n4/state/node.key" "$T/n4/state/node.pem" "$T/n4/state/ca.pem" | { echo "nats: $NATS"; cat; } >"$T/node.pem"
chmod 600 "$T/node.pem"
run "$TEND" ping --identity "$T/node.pem" --timeout 3
check "tend ping with a node's certificate fails" test "$RC" != 0
stderr_has "the certificate is not an administrator's"
SRV=$STATE/ca
env=$("$TOOLS/rpc-forge" --cert "$SRV/server.pem" --key "$SRV/server.key" run "{\"argv\":[\"/usr/bin/touch\",\"$T/ran-server\"]}")
run "$TOOLS/bus-client" --url "$NATS" --ca "$CA" --cert "$SRV/server.pem" --key "$SRV/server.key" request tend.rpc.n4 "$env"
stdout_has "not an administrator"
assert_absent "$T/ran-server"

step "tend run with a command that hangs: killed at --timeout"
start=$(now_ms)
as 1 alice run --timeout 2 -- /bin/sleep 60
check "and returns soon" test $(( $(now_ms) - start )) -lt 20000
stdout_matches "timed out"

step "a command that runs for long does not hold back the requests behind it"
bg "$TEND" run --identity "$T/alice.pem" --node n1 --timeout 30 -- /bin/sleep 7.3
long_run=$BG_PID
wait_for 10 "n1 runs the long command" pgrep -f "^/bin/sleep 7.3$"
as 0 alice ping --node n1 --timeout 3
check "the long command still runs on n1 meanwhile" pgrep -f "^/bin/sleep 7.3$"
wait "$long_run"
check "and it ends well, answered" test "$?" = 0

step "the policy file broken: everything is denied"
git clone -q "$STATE/config.git" "$T/clone" && (cd "$T/clone" && printf 'rules:\n  - alow: [ping]\n' >policy/ops.yaml && git -c user.name=t -c user.email=t@t commit -qam broken && git push -q origin HEAD) 2>>"$T/git.log"
for n in $NODES; do kill -USR1 "${AGENT_PID[$n]}"; done
# every_agent_refuses - all five refuse alice's ping, for the broken file
every_agent_refuses() { "$TEND" ping --identity "$T/alice.pem" --timeout 3 --json 2>/dev/null | python3 -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(not (len(d["refused"]) == 5 and not d["answered"]
              and all("policy/ops.yaml:2" in r["reason"] for r in d["refused"])))'; }
wait_for 30 "every agent reloads the broken policy and refuses alice's ping" every_agent_refuses
as 1 alice ping --timeout 3
wait_for 10 "the refusal names the broken file" grep -q 'policy/ops.yaml:2' "$T/n1/state/audit.jsonl"
(cd "$T/clone" && printf '%s' "$POLICY" >policy/ops.yaml && git -c user.name=t -c user.email=t@t commit -qam fixed && git push -q origin HEAD) 2>>"$T/git.log"
for n in $NODES; do kill -USR1 "${AGENT_PID[$n]}"; done
wait_for 30 "with the policy mended, every agent answers again" ping_all

step "tend up: n1 fails to apply; --max-failures 1 goes on without it"
put_text nodes/n1.yaml $'tags: [rpc]\nresources:\n  - exec: fail\n    command: /bin/false\n'
put_text tags/rpc.yaml $'resources:\n  - file: /etc/motd\n    content: "v2\\n"\n'
as 1 alice up --yes --batch 2 --max-failures 1 --json
for n in n2 n3 n4 n5; do check "$n converged to v2" holds "$T/$n/root/etc/motd" "v2"; done
check "the record: n1 failed to apply, was left out, and the other four converged" python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {u["node"]: u for u in d["nodes"]}
n1 = st["n1"]
ok = (not d["converged"] and not d["stopped"] and d["budget"] == 1 and d["failures"] == 1
      and sorted(st) == ["n1", "n2", "n3", "n4", "n5"]
      and n1["state"] == "failed" and n1["stage"] == "apply" and n1["counted"]
      and "exec:fail" in (n1["reason"] or "") and n1["applied"] == 0
      and all(st[n]["state"] == "converged" and st[n]["applied"] >= 1
              for n in ["n2", "n3", "n4", "n5"])
      # after its failure n1 is in no later batch
      and [b["failed"] for b in d["batches"] if "n1" in b["nodes"]] == [["n1"]]
      and all("n1" not in b["applied"] for b in d["batches"]))
sys.exit(not ok)
PY

step "tend up: --max-failures 0 stops after the failure"
put_text tags/rpc.yaml $'resources:\n  - file: /etc/motd\n    content: "v3\\n"\n'
as 1 alice up --yes --batch 1 --max-failures 0 --json
check "the record: stopped after n1 failed, the nodes after it not started" python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {u["node"]: u for u in d["nodes"]}
ok = (d["stopped"] and not d["converged"] and d["budget"] == 0 and d["failures"] == 1
      and sorted(st) == ["n1", "n2", "n3", "n4", "n5"]
      and st["n1"]["state"] == "failed" and st["n1"]["stage"] == "apply"
      and all(st[n]["state"] == "not started" and st[n]["applied"] == 0
              for n in ["n2", "n3", "n4", "n5"])
      and [(b["nodes"], b["failed"]) for b in d["batches"]] == [(["n1"], ["n1"])])
sys.exit(not ok)
PY
for n in n2 n3 n4 n5; do check "$n still holds v2" holds "$T/$n/root/etc/motd" "v2"; done

step "a revoked administrator is refused by the broker"
sed -n '/BEGIN PRIVATE KEY/,/END PRIVATE KEY/p' "$T/mallory.pem" >"$T/mallory.key"
chmod 600 "$T/mallory.key"
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/mallory.pem" | awk '/BEGIN/{n++} n==1' >"$T/mallory.crt"
# mallory_via_alice NODE - a ping signed by mallory, published through
# alice's connection, as a broker that was not told of a revocation would
# let it through; the reply is kept in $T/mallory-NODE.reply
mallory_via_alice() {
	run busc request "tend.rpc.$1" "$("$TOOLS/rpc-forge" --cert "$T/mallory.crt" --key "$T/mallory.key" ping)"
	cp "$OUT" "$T/mallory-$1.reply"
}
check "the agents keep the CA's revocation list (from their first catalog answer)" test -s "$T/n5/state/crl.pem"
crl_before=$(openssl crl -in "$T/n5/state/crl.pem" -noout -crlnumber)
cp "$T/n5/state/crl.pem" "$T/crl-before.pem"
mallory_via_alice n4
check "before the revocation, n4 answers mallory" grep -qF '\"status\":\"ok\"' "$T/mallory-n4.reply"
as 0 mallory ping --timeout 3
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" user revoke mallory
wait_for 10 "the broker no longer admits mallory" sh -c "! '$TEND' ping --identity '$T/mallory.pem' --timeout 2 2>&1 | grep -q 'answered'"
run "$TEND_SERVER_BIN" --state "$STATE" user ls --json
check "user ls shows the revocation" python3 -c 'import json,sys; d={u["name"]: u for u in json.load(open(sys.argv[1]))}; sys.exit(not d["mallory"]["revoked"] or d["alice"]["revoked"])' "$OUT"
as 0 alice ping --timeout 5

step "the agents refuse a revoked administrator too, where a broker would still let one in"
newer() {
	local c
	c=$(openssl crl -in "$T/$1/state/crl.pem" -noout -crlnumber 2>/dev/null) &&
		[ -n "$c" ] && [ "$c" != "$crl_before" ]
}
for n in $NODES; do
	wait_for 10 "$n gets the newer list at once, without asking for a catalog" newer "$n"
done
mallory_serial=$(openssl x509 -in "$T/mallory.crt" -noout -serial | sed 's/^serial=//')
check "mallory's certificate has a serial number" test -n "$mallory_serial"
check "the newer list revokes mallory's serial number" sh -c "openssl crl -in '$T/n5/state/crl.pem' -noout -text | grep -qx ' *Serial Number: $mallory_serial'"
check "the older list did not" sh -c "! openssl crl -in '$T/crl-before.pem' -noout -text | grep -qx ' *Serial Number: $mallory_serial'"
for n in n4 n5; do
	mallory_via_alice "$n"
	check "$n refuses mallory" grep -qF '\"status\":\"refused\"' "$T/mallory-$n.reply"
	check "$n says why: the certificate is revoked" grep -q 'certificate revoked' "$T/mallory-$n.reply"
done
wait_for 10 "n5's audit has the refusal and its reason" sh -c "grep '\"caller\":\"mallory\"' '$T/n5/state/audit.jsonl' | grep -q revoked"

for n in $NODES; do kill -TERM "${AGENT_PID[$n]}"; done
for n in $NODES; do wait "${AGENT_PID[$n]}"; done
done_testing
