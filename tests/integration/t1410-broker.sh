#!/bin/bash
# t1410-broker: tend-server runs the NATS broker itself.  It starts
# nats-server with a generated configuration: TLS only, a client
# certificate of the tend CA required and mapped to a user, each node
# allowed its own subjects only.  It restarts the broker when it dies,
# stops it on shutdown, and starts none when nats_urls names a broker
# run by someone else.  Over the bus a node gets its catalog, signed by
# the server, or "not modified" for the hash it has; its reports are
# stored once per id, its events are kept and shown by `tend events`.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh"

command -v nats-server >/dev/null 2>&1 || skip "nats-server is not installed"
need nats-server
need openssl
need python3
BUSC=$(dirname "$(dirname "$(dirname "$TEND")")")/tests/tools/bus-client
[ -x "$BUSC" ] || skip "no bus-client next to the binaries ($BUSC)"

NATS_PORT=$(_free_port)
NATS_URL=tls://127.0.0.1:$NATS_PORT

# nats_pid - the nats-server that tend-server runs (its child), or nothing.
nats_pid() {
	pgrep -P "$SERVER_PID" -x nats-server 2>/dev/null | head -n 1
}

# bus AS CMD... - bus-client as identity AS (server or a node name).
bus() {
	local who=$1
	shift
	local cert=$STATE/ca/server.pem key=$STATE/ca/server.key
	if [ "$who" != server ]; then
		cert=$T/$who.pem
		key=$T/$who.key
	fi
	timeout -k 5 30 "$BUSC" --url "${BUS_URL:-$NATS_URL}" --ca "$STATE/ca/ca.pem" \
		--cert "$cert" --key "$key" --timeout 3000 "$@"
}

# expect_bus CODE NAME AS CMD... - run bus and assert its exit status.
expect_bus() {
	local want=$1 name=$2
	shift 2
	run bus "$@"
	if [ "$RC" -eq "$want" ]; then
		ok "$name"
	else
		fail "$name" "$(_evidence)"
	fi
}

# py NAME CODE ARGS... - assert that python3 CODE succeeds.
py() {
	local name=$1 code=$2
	shift 2
	check "$name" python3 -c "$code" "$@"
}

step "tend-server starts nats-server with a generated TLS configuration"
server_start --nats-listen "127.0.0.1:$NATS_PORT"
NPID=$(nats_pid)
if [ -n "$NPID" ]; then ok "nats-server runs as tend-server's child"; else
	fail "nats-server runs as tend-server's child" "$(ps -ef | grep nats)"; fi
conf=$STATE/nats/nats.conf
check "the configuration is in the state directory" test -f "$conf"
check "it listens where configured" grep -q "listen: \"127.0.0.1:$NATS_PORT\"" "$conf"
check "it requires client certificates mapped to users" grep -q 'verify_and_map: true' "$conf"
check "its TLS uses the server certificate of the tend CA" grep -q "cert_file: \"$STATE/ca/server.pem\"" "$conf"
check "only tend-server is a user before any enrollment" \
	test "$(grep -c 'user:' "$conf")" = 1
check "nobody else can read it" test "$(stat -c %a "$conf")" = 600

step "a connection without TLS is refused"
py "plain NATS gets no PONG" 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
info = s.recv(4096).decode()
assert info.startswith("INFO ") and "\"tls_required\":true" in info, info
s.sendall(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
got = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
except (socket.timeout, ConnectionResetError):
    pass
assert b"PONG" not in got, got' "$NATS_PORT"

step "a TLS connection without a client certificate is refused"
py "TLS without a certificate gets no PONG" 'import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
info = s.recv(4096)
assert info.startswith(b"INFO "), info
got = b""
try:
    t = ctx.wrap_socket(s)
    t.sendall(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
    while True:
        b = t.recv(4096)
        if not b:
            break
        got += b
except (ssl.SSLError, OSError):
    pass
assert b"PONG" not in got, got' "$NATS_PORT" "$STATE/ca/ca.pem"

step "a certificate from another CA is refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=tend-server -keyout "$T/rogue.key" -out "$T/rogue.pem" 2>/dev/null
expect_bus 2 "bus-client with a self-made 'tend-server' certificate never connects" \
	rogue request tend.catalog.x '{"hash":null}'

step "an enrolled node gets its catalog, signed by the server"
enroll() { # NODE - key, CSR, POST /v1/enroll with a token; cert in $T/NODE.pem
	local tok
	tok=$("$TEND_SERVER_BIN" --state "$STATE" token create --enroll 2>>"$SERVER_LOG")
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$T/$1.key" -out "$T/$1.csr" 2>/dev/null
	python3 -c 'import json, sys
print(json.dumps({"node": sys.argv[1], "csr": open(sys.argv[2]).read(), "token": sys.argv[3]}))' \
		"$1" "$T/$1.csr" "$tok" >"$T/$1.req"
	api POST /v1/enroll "@$T/$1.req" -
	jq_out 'd["certificate"]' >"$T/$1.pem"
}
enroll node1
expect_http 200
# the configuration is rewritten a moment later, once for every node enrolled meanwhile
wait_for 5 "the broker lets node1 in from now on" grep -q 'user: "CN=node1"' "$conf"
expect_bus 0 "node1 asks for its catalog" node1 request tend.catalog.node1 '{"hash": null}'
cp "$OUT" "$T/answer.json"
python3 -c 'import base64, json, sys
d = json.load(open(sys.argv[1]))
open(sys.argv[2] + "/catalog.txt", "wb").write(d["catalog"].encode())
open(sys.argv[2] + "/catalog.sig", "wb").write(base64.b64decode(d["signature"]))
open(sys.argv[2] + "/signer.pem", "w").write(d["signer"])
print(json.loads(d["catalog"])["hash"])' "$T/answer.json" "$T" >"$T/hash" 2>"$ERR"
py "the answer is a catalog for node1" 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ok", d
c = json.loads(d["catalog"])
assert c["node"] == "node1" and c["hash"].startswith("sha256:"), c' "$T/answer.json"
check "the signer is the server, issued by the tend CA" \
	openssl verify -CAfile "$STATE/ca/ca.pem" "$T/signer.pem"
check "the signer's subject is CN tend-server" \
	sh -c "openssl x509 -in '$T/signer.pem' -noout -subject | grep -q 'CN *= *tend-server'"
openssl x509 -in "$T/signer.pem" -noout -pubkey >"$T/signer.pub"
check "the signature verifies over the exact catalog text" \
	openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/catalog.sig" "$T/catalog.txt"
printf 'x' >>"$T/catalog.txt"
run openssl dgst -sha256 -verify "$T/signer.pub" -signature "$T/catalog.sig" "$T/catalog.txt"
if [ "$RC" -ne 0 ]; then ok "a changed catalog does not verify"; else
	fail "a changed catalog does not verify"; fi

step "the same hash is answered 'not modified'; a change is sent"
HASH=$(cat "$T/hash")
expect_bus 0 "node1 asks with its hash" node1 request tend.catalog.node1 "{\"hash\": \"$HASH\"}"
py "the answer is not-modified" 'import json, sys
assert json.load(open(sys.argv[1])) == {"status": "not-modified"}' "$OUT"
expect_bus 0 "node1 asks with its hash and the number of its revocation list (none)" node1 request tend.catalog.node1 "{\"hash\": \"$HASH\", \"crl\": 0}"
py "the CA's revocation list comes with the answer" 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "not-modified" and "BEGIN X509 CRL" in d["crl"], d' "$OUT"
expect_bus 0 "node1 asks with a list as new as the server's" node1 request tend.catalog.node1 "{\"hash\": \"$HASH\", \"crl\": 1000000}"
py "no list comes with it" 'import json, sys
assert json.load(open(sys.argv[1])) == {"status": "not-modified"}' "$OUT"
api PUT /v1/nodes/node1/tags '{"tags": ["base"]}'
expect_http 200
expect_bus 0 "node1 asks again after its tags changed" node1 request tend.catalog.node1 "{\"hash\": \"$HASH\"}"
py "the new catalog is sent" 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "ok" and json.loads(d["catalog"])["hash"] != sys.argv[2], d' "$OUT" "$HASH"
expect_bus 0 "a request that is not JSON gets an error answer" node1 request tend.catalog.node1 'nope'
py "the answer says error" 'import json, sys
assert json.load(open(sys.argv[1]))["status"] == "error"' "$OUT"

step "a node may publish and subscribe only on its own subjects"
expect_bus 5 "node1 cannot ask for node2's catalog" node1 request tend.catalog.node2 '{"hash": null}'
expect_bus 5 "node1 cannot send node2's report" node1 publish tend.report.node2 '{}'
expect_bus 5 "node1 cannot send node2's events" node1 publish tend.event.node2.alive '{}'
expect_bus 5 "node1 cannot pose as node1.x" node1 publish tend.event.node1.x.alive '{}'
expect_bus 5 "node1 cannot listen to other nodes' replies" node1 listen '_INBOX.>' 1
expect_bus 5 "node1 cannot listen to catalog requests" node1 listen 'tend.catalog.>' 1
bus node1 listen tend.rpc.node1 1 >"$T/rpc.out" 2>"$T/rpc.err" &
rpc_pid=$!
for _ in $(seq 1 50); do grep -q listening "$T/rpc.out" && break; sleep 0.1; done
run bus server publish tend.rpc.node1 '{"action":"ping"}'
wait "$rpc_pid"
if [ $? -eq 0 ] && grep -q '"action":"ping"' "$T/rpc.out"; then
	ok "node1 receives what is sent to tend.rpc.node1"
else
	fail "node1 receives what is sent to tend.rpc.node1" "$(cat "$T/rpc.out" "$T/rpc.err")"
fi

step "a report sent twice is stored once"
REPORT='{"id": "0b7e2a6c-1f00-4c5e-9d1e-2a9b8c7d6e5f", "time": "2026-11-22T06:00:00Z",
 "report": {"command": "apply", "summary": {"ok": 2, "changed": 1, "failed": 0}}}'
expect_bus 0 "node1 sends a report" node1 request tend.report.node1 "$REPORT"
py "it is acknowledged" 'import json, sys
assert json.load(open(sys.argv[1])) == {"ok": True}' "$OUT"
expect_bus 0 "node1 sends it again" node1 request tend.report.node1 "$REPORT"
py "it is acknowledged again" 'import json, sys
assert json.load(open(sys.argv[1])) == {"ok": True}' "$OUT"
api GET /v1/nodes/node1/reports
expect_http 200
check "the server holds one report" test "$(jq_out 'len(d["reports"])')" = 1
check "the node's status comes from it" test "$(jq_out 'd["reports"][0]["status"]')" = changed
expect_bus 0 "a malformed report is answered, not stored" node1 request tend.report.node1 '{"id": "x"}'
py "the answer says it will not be stored" 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["retry"] is False, d' "$OUT"

step "facts and events are stored; tend events shows them"
expect_bus 0 "node1 sends its facts" node1 request tend.facts.node1 '{"facts": {"os": {"family": "debian"}}}'
api GET /v1/nodes/node1
check "the facts are the node's" test "$(jq_out 'd["facts"]["os"]["family"]')" = debian
expect_bus 0 "node1 says it is alive" node1 publish tend.event.node1.alive \
	'{"type": "alive", "node": "node1", "time": "2026-11-22T06:01:02Z", "data": {"uptime": 42}}'
expect_bus 0 "node1 ran" node1 publish tend.event.node1.run \
	'{"type": "run", "node": "node1", "time": "2026-11-22T06:01:03Z", "data": {"changed": 1}}'
expect_bus 0 "an event whose body names another node is dropped" node1 publish tend.event.node1.alive \
	'{"type": "alive", "node": "node2", "time": "2026-11-22T06:01:04Z"}'
# publishing is not waiting for the server: wait until it has handled the
# three, the one it refuses (logged) and the two it stores
wait_for 30 "the server refuses the event that names another node" \
	grep -q 'bus: event tend.event.node1.alive refused: event names another node' "$SERVER_LOG"
node1_events() { # N - GET /v1/events?node=node1 holds N events
	api GET "/v1/events?node=node1" && [ "$HTTP" = 200 ] && [ "$(jq_out 'len(d["events"])')" = "$1" ]
}
wait_for 30 "the server stores node1's two events" node1_events 2
api GET "/v1/events?node=node1"
expect_http 200
check "two events, oldest first" test "$(jq_out '[e["type"] for e in d["events"]]')" = '["alive", "run"]'
check "with the node's time and data" \
	test "$(jq_out '[d["events"][0]["time"], d["events"][0]["data"]["uptime"]]')" = '["2026-11-22T06:01:02Z", 42]'
since=$(jq_out 'd["events"][0]["id"]')
api GET "/v1/events?since=$since"
check "?since= gives what came after" test "$(jq_out '[e["type"] for e in d["events"]]')" = '["run"]'
api GET "/v1/events?limit=0"
expect_http 400
expect_exit 0 "$TEND" events --server "$SERVER_URL" --token "$RO_TOKEN" --node node1
check "tend events prints one line per event" \
	sh -c "grep -c 'node1' '$OUT' | grep -qx 2 && grep -q 'alive' '$OUT' && grep -q '\"uptime\":42' '$OUT'"
expect_exit 0 "$TEND" events --server "$SERVER_URL" --token "$RO_TOKEN" --json
py "tend events --json is the API's answer" 'import json, sys
assert len(json.load(open(sys.argv[1]))["events"]) == 2' "$OUT"
timeout 20 "$TEND" events --server "$SERVER_URL" --token "$RO_TOKEN" --follow --json \
	>"$T/follow.out" 2>&1 &
follow_pid=$!
sleep 1.5
bus node1 publish tend.event.node1.shutdown '{"type": "shutdown", "node": "node1"}' >/dev/null 2>&1
for _ in $(seq 1 40); do grep -q shutdown "$T/follow.out" && break; sleep 0.2; done
kill "$follow_pid" 2>/dev/null
wait "$follow_pid" 2>/dev/null
check "tend events --follow prints a new event as it comes, once" \
	test "$(grep -c '"shutdown"' "$T/follow.out")" = 1

step "a revoked node is refused by the broker"
api POST /v1/nodes/node1/revoke '{}'
expect_http 200
check "node1 is no user of the broker any more" sh -c "! grep -q 'CN=node1' '$conf'"
expect_bus 2 "node1 cannot connect" node1 request tend.catalog.node1 '{"hash": null}'

step "tend-server restarts nats-server when it dies"
NPID=$(nats_pid)
kill -9 "$NPID"
NEW=
for _ in $(seq 1 100); do
	NEW=$(nats_pid)
	[ -n "$NEW" ] && [ "$NEW" != "$NPID" ] && break
	sleep 0.1
done
if [ -n "$NEW" ] && [ "$NEW" != "$NPID" ]; then ok "a new nats-server runs"; else
	fail "a new nats-server runs" "$(tail -n 20 "$SERVER_LOG")"; fi
for _ in $(seq 1 50); do
	run bus server request tend.catalog.node3 '{"hash": null}'
	[ "$RC" -eq 0 ] && break
	sleep 0.2
done
if [ "$RC" -eq 0 ]; then ok "tend-server's own client reconnected and answers catalogs"; else
	fail "tend-server's own client reconnected and answers catalogs" "$(_evidence)"; fi
check "the restart was logged" grep -q 'nats-server (pid [0-9]*) was killed by signal 9' "$SERVER_LOG"

step "tend-server stops nats-server when it stops"
NPID=$(nats_pid)
server_stop
check "tend-server exited 0" test "$SERVER_RC" = 0
gone=no
for _ in $(seq 1 50); do
	kill -0 "$NPID" 2>/dev/null || { gone=yes; break; }
	sleep 0.1
done
check "nats-server is gone" test "$gone" = yes

step "with nats_urls, tend-server starts no broker and uses that one"
OTHER_PORT=$(_free_port)
sed "s/^listen: .*/listen: \"127.0.0.1:$OTHER_PORT\"/" "$conf" >"$T/other.conf"
bg nats-server -c "$T/other.conf" 2>"$T/other.log"
for _ in $(seq 1 50); do grep -q 'Server is ready' "$T/other.log" && break; sleep 0.1; done
printf 'nats_urls: [tls://127.0.0.1:%s]\n' "$OTHER_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" --nats-listen "127.0.0.1:$NATS_PORT"
sleep 0.5
check "tend-server has no nats-server child" test -z "$(nats_pid)"
BUS_URL=tls://127.0.0.1:$OTHER_PORT
for _ in $(seq 1 50); do
	run bus server request tend.catalog.node3 '{"hash": null}'
	[ "$RC" -eq 0 ] && break
	sleep 0.2
done
if [ "$RC" -eq 0 ]; then ok "catalogs are answered through the configured broker"; else
	fail "catalogs are answered through the configured broker" "$(_evidence)"; fi
BUS_URL=$NATS_URL
expect_bus 2 "nothing listens on the default broker address" server request tend.catalog.x '{}'
server_stop

step "a broker that cannot start is retried; the API serves meanwhile"
BUSY_PORT=$(_free_port)
# (python3 may be a wrapper that forks: the listener says its own pid)
bg python3 -c 'import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
open(sys.argv[2], "w").write("%d" % os.getpid())
time.sleep(600)' "$BUSY_PORT" "$T/busy.pid"
reap_pidfile "$T/busy.pid"
for _ in $(seq 1 50); do [ -s "$T/busy.pid" ] && break; sleep 0.1; done
server_start --nats-listen "127.0.0.1:$BUSY_PORT"
api GET /v1/health - -
expect_http 200
wait_for 30 "the failure is logged" grep -q 'broker: nats-server exited with status' "$SERVER_LOG"
kill "$(cat "$T/busy.pid")"
BUS_URL=tls://127.0.0.1:$BUSY_PORT
# the supervisor waits at most 10 s between tries, our client 2 s and a jitter
deadline=$((SECONDS + 40))
while [ "$SECONDS" -lt "$deadline" ]; do
	run bus server request tend.catalog.node3 '{"hash": null}'
	[ "$RC" -eq 0 ] && break
	sleep 0.2
done
if [ "$RC" -eq 0 ]; then ok "once the port is free, the broker runs and catalogs are answered"; else
	fail "once the port is free, the broker runs and catalogs are answered" "$(_evidence)" "$(grep -v INF "$SERVER_LOG" | tail -n 20)"; fi
server_stop
check "tend-server exited 0" test "$SERVER_RC" = 0

done_testing
