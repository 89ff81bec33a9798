#!/bin/bash
# t1400-enroll: enrollment with tend's own CA, through the HTTP API, with
# CSRs made by openssl(1) as any client would.
#
# A node with a one-time token gets a certificate that names only it
# (CN = node, client authentication only, not a CA, no SAN) and chains to
# the CA anyone can fetch; it is registered with the token's tags, written
# to nodes/NODE.yaml as a commit by "enroll:TOKEN".  Refused, and nothing
# spent: a token used up, an expired one, an unknown one (403); a CSR that
# asks for extra names, to be a CA, for another node, or whose signature
# is forged (400, with the reason).  A node without a token waits until
# an administrator approves it (`tend nodes pending`, `tend nodes
# approve`); polling with the same key then returns the certificate.
# Revoking a node puts its serial in the CRL (API and STATE/ca/crl.pem)
# and its key is never certified again.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

need openssl
need git
export HOME=$T GIT_CONFIG_NOSYSTEM=1 OPENSSL_CONF=/dev/null

# the nats-server tend-server runs listens on a free port of its own
NATS_PORT=$(_free_port)
printf 'nats_listen: 127.0.0.1:%s\n' "$NATS_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" || done_testing

# json_ok NAME EXPR - assert the python3 expression EXPR (d: the JSON in $OUT).
json_ok() {
	check "$1" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    print(json.dumps(d)[:3000])
    sys.exit(1)' "$OUT" "$2"
}

# error_says TEXT - the last answer's "error" holds TEXT.
error_says() {
	check "the reason says '$1'" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if sys.argv[2] not in d.get("error", ""):
    print(json.dumps(d)[:3000])
    sys.exit(1)' "$OUT" "$1"
}

# key NAME - a fresh EC P-256 key in $T/NAME.key.
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.key" 2>/dev/null; }

# csr KEY CN [OPENSSL-REQ-ARGS...] - a CSR for CN made with KEY, in $T/req.pem.
csr() {
	local k=$1 cn=$2
	shift 2
	openssl req -new -key "$T/$k.key" -subj "/CN=$cn" "$@" -out "$T/req.pem" 2>"$T/openssl.err"
}

# body NODE [TOKEN] - the enrollment request for NODE with $T/req.pem.
body() {
	python3 -c 'import json, sys
d = {"node": sys.argv[1], "csr": open(sys.argv[2]).read()}
if len(sys.argv) > 3:
    d["token"] = sys.argv[3]
print(json.dumps(d))' "$1" "$T/req.pem" "${@:2}" >"$T/body.json"
}

# enroll NODE [TOKEN] - POST /v1/enroll with $T/req.pem, no API token.
enroll() { body "$@"; api POST /v1/enroll "@$T/body.json" -; }

# token [ARGS...] - an enrollment token (tend-server token create --enroll ARGS).
token() { "$TEND_SERVER_BIN" --state "$STATE" token create --enroll "$@" 2>>"$T/token.err"; }

# save_cert FILE - the "certificate" of the last answer into FILE.
save_cert() { jq_out 'd["certificate"]' >"$1"; }

# cli COMMAND ARGS... - the tend CLI against the server, as admin.
cli() { "$TEND" "$1" --server "$SERVER_URL" --token "$RW_TOKEN" "${@:2}"; }

uses_left() {
	"$TEND_SERVER_BIN" --state "$STATE" token ls --json |
		python3 -c 'import json, sys
print([t["uses_left"] for t in json.load(sys.stdin) if t["name"] == sys.argv[1]][0])' "$1"
}

step "the CA"
api GET /v1/ca '' -
expect_http 200
jq_out 'd["ca"]' >"$T/ca.pem"
check "the CA certificate is a CA limited to one level" \
	sh -c "openssl x509 -in '$T/ca.pem' -noout -text | grep -q 'CA:TRUE, pathlen:0'"
assert_mode "$STATE/ca" 700
assert_mode "$STATE/ca/ca.key" 600
assert_mode "$STATE/ca/server.key" 600
check "the server certificate chains to the CA" \
	openssl verify -CAfile "$T/ca.pem" "$STATE/ca/server.pem"

step "a token with tags"
api PUT /v1/files/tags/web.yaml "{\"content\": \"vars: {}\\n\", \"revision\": \"$(server_head)\"}"
expect_http 201
TOK_WEB=$(token --tags base,web --ttl 1h --uses 1 --name t-web)
check "the token is printed once, as tend_enroll_..." sh -c "echo '$TOK_WEB' | grep -Eq '^tend_enroll_[A-Za-z0-9_-]{43}$'"
key node1
csr node1 node1
enroll node1 "$TOK_WEB"
expect_http 200
save_cert "$T/node1.pem"
SERIAL1=$(jq_out 'd["serial"]')
json_ok "the answer carries the CA and the broker's URLs" \
	"d['ca'].startswith('-----BEGIN CERTIFICATE') and isinstance(d['nats_urls'], list) and len(d['nats_urls']) >= 1"
check "the certificate chains to the CA" openssl verify -CAfile "$T/ca.pem" "$T/node1.pem"
openssl x509 -in "$T/node1.pem" -noout -text >"$T/node1.txt"
openssl x509 -in "$T/node1.pem" -noout -subject -nameopt RFC2253 >"$T/node1.subject"
assert_file_content "$T/node1.subject" $'subject=CN=node1\n'
check "it is for client authentication only" sh -c "grep -A1 'Extended Key Usage' '$T/node1.txt' | tail -n1 | grep -qx ' *TLS Web Client Authentication'"
check "it is not a CA" grep -q 'CA:FALSE' "$T/node1.txt"
refute "it names nothing else (no SAN)" grep -q 'Subject Alternative Name' "$T/node1.txt"
api GET /v1/files/nodes/node1.yaml
json_ok "the token's tags are the node's document" "d['content'] == 'tags: [base, web]\n'"
git --git-dir "$STATE/config.git" log -1 --format='%an|%s' -- nodes/node1.yaml >"$T/log"
assert_file_content "$T/log" $'enroll:t-web|enroll node1 with token t-web\n'
api GET /v1/nodes/node1
json_ok "the node is registered with its tags" "d['tags'] == ['base', 'web'] and d['first_seen']"

step "the same node and key asking again"
enroll node1 "$TOK_WEB"
expect_http 200
json_ok "get the same certificate (nothing spent)" "d['serial'] == '$SERIAL1'"

step "a used token"
key node2
csr node2 node2
enroll node2 "$TOK_WEB"
expect_http 403
error_says "used already"
api GET /v1/nodes/node2
expect_http 404
api GET '/v1/audit?limit=50'
json_ok "the refusal is audited" \
	"any(a['action'] == 'POST /v1/enroll' and a['status'] == 403 and a['target'] == 'node2' for a in d['audit'])"

step "an expired token"
TOK_SHORT=$(token --ttl 1s)
sleep 2
enroll node2 "$TOK_SHORT"
expect_http 403
error_says "expired"

step "an unknown token"
enroll node2 "tend_enroll_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_http 403
error_says "unknown"
enroll node2 "$RW_TOKEN"
expect_http 403

step "a token for two nodes"
TOK_TWO=$(token --uses 2 --name t-two)
key a1; csr a1 a1; enroll a1 "$TOK_TWO"; expect_http 200
key a2; csr a2 a2; enroll a2 "$TOK_TWO"; expect_http 200
key a3; csr a3 a3; enroll a3 "$TOK_TWO"; expect_http 403
api GET /v1/files/nodes/a1.yaml
expect_http 404

step "bad requests"
TOK_MANY=$(token --uses 10 --name t-many)
csr node2 node2 -addext "subjectAltName=DNS:node2,DNS:bank.example"
enroll node2 "$TOK_MANY"
expect_http 400
error_says "subjectAltName"
csr node2 node2 -addext "basicConstraints=critical,CA:TRUE"
enroll node2 "$TOK_MANY"
expect_http 400
error_says "never a CA"
csr node2 node2 -addext "extendedKeyUsage=serverAuth"
enroll node2 "$TOK_MANY"
expect_http 400
error_says "Extended Key Usage"
csr node2 other
enroll node2 "$TOK_MANY"
expect_http 400
error_says "not for node 'node2'"
csr node2 node2
python3 -c 'import base64, sys
pem = open(sys.argv[1]).read().split("\n")
der = bytearray(base64.b64decode("".join(l for l in pem if l and not l.startswith("-----"))))
der[-1] ^= 1
b = base64.encodebytes(bytes(der)).decode()
open(sys.argv[1], "w").write("-----BEGIN CERTIFICATE REQUEST-----\n" + b + "-----END CERTIFICATE REQUEST-----\n")' "$T/req.pem"
enroll node2 "$TOK_MANY"
expect_http 400
error_says "signature does not verify"
body node2 "$TOK_MANY"
api POST /v1/enroll '{"node": "node2", "csr": "junk", "token": "x"}' -
expect_http 400
csr node2 tend-server
enroll tend-server "$TOK_MANY"
expect_http 400
error_says "server's own name"
LONG=$(printf 'n%.0s' $(seq 1 65))
csr node2 "$LONG"
enroll "$LONG" "$TOK_MANY"
expect_http 400
api POST /v1/enroll '{"node": "node2", "csr": "x", "colour": "red"}' -
expect_http 400
check "no use of the token was spent" test "$(uses_left t-many)" = 10

step "a node enrolled already, with another key"
key node1b
csr node1b node1
enroll node1 "$TOK_MANY"
expect_http 409
error_says "revoke it first"

step "without a token: pending until approved"
key node4
csr node4 node4
enroll node4
expect_http 202
json_ok "it is pending" "d['status'] == 'pending' and len(d['fingerprint']) == 64"
FPR4=$(jq_out 'd["fingerprint"]')
enroll node4
expect_http 202
csr node4 node4 # a new CSR for the same key: the same request
enroll node4
expect_http 202
key node4b
csr node4b node4
enroll node4
expect_http 409
error_says "waiting for approval"
api GET /v1/enrollments '' "$RO_TOKEN"
expect_http 200
json_ok "the request is listed with its key's fingerprint" \
	"[p['node'] for p in d['pending']] == ['node4'] and d['pending'][0]['fingerprint'] == '$FPR4' and 'csr' not in d['pending'][0]"
api GET /v1/enrollments '' -
expect_http 401
api POST /v1/nodes/node4/approve '' "$RO_TOKEN"
expect_http 403
api POST /v1/nodes/node4/approve '{"fingerprint": "0000000000000000000000000000000000000000000000000000000000000000"}'
expect_http 409
api POST /v1/nodes/node4/approve "{\"fingerprint\": \"$FPR4\"}"
expect_http 200
csr node4 node4
enroll node4
expect_http 200
save_cert "$T/node4.pem"
check "the approved certificate chains to the CA" openssl verify -CAfile "$T/ca.pem" "$T/node4.pem"
api GET /v1/enrollments '' "$RO_TOKEN"
json_ok "nothing waits any more" "d['pending'] == []"
api POST /v1/nodes/node4/approve ''
expect_http 404
api GET /v1/nodes/node4
json_ok "an approved node has no document: no tags were given" "d['document'] is None"

step "the CLI: pending, approve, revoke"
key node5
csr node5 node5
enroll node5
expect_http 202
expect_exit 0 cli nodes pending
stdout_has node5
expect_exit 0 cli nodes pending --json
check "--json is the API's answer" python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["pending"][0]["node"] == "node5"' "$OUT"
expect_exit 0 cli nodes approve node5
stdout_has "node5"
expect_exit 1 cli nodes approve node5
stderr_has "no enrollment request"
expect_exit 0 cli nodes pending
stdout_lacks node5
expect_exit 0 "$TEND" nodes pending --server "$SERVER_URL" --token "$RO_TOKEN"
expect_exit 1 "$TEND" nodes revoke node5 --server "$SERVER_URL" --token "$RO_TOKEN"
stderr_has "read-only"

step "revoke"
expect_exit 0 cli nodes revoke node1
stdout_has "$SERIAL1"
api GET /v1/ca '' -
jq_out 'd["crl"]' >"$T/crl.pem"
SERIAL1_UP=$(echo "$SERIAL1" | tr a-f A-F)
check "the CRL the API serves holds the serial" \
	sh -c "openssl crl -in '$T/crl.pem' -noout -text | grep -q 'Serial Number: $SERIAL1_UP'"
check "so does STATE/ca/crl.pem" \
	sh -c "openssl crl -in '$STATE/ca/crl.pem' -noout -text | grep -q 'Serial Number: $SERIAL1_UP'"
check "the CRL is signed by the CA" openssl crl -in "$T/crl.pem" -CAfile "$T/ca.pem" -noout
cat "$T/ca.pem" "$T/crl.pem" >"$T/ca-crl.pem"
refute "openssl refuses the revoked certificate" \
	openssl verify -crl_check -CAfile "$T/ca-crl.pem" "$T/node1.pem"
check "and accepts another node's" openssl verify -crl_check -CAfile "$T/ca-crl.pem" "$T/node4.pem"
csr node1 node1
enroll node1 "$TOK_MANY"
expect_http 403
error_says "revoked"
enroll node1
expect_http 403
expect_exit 1 cli nodes revoke node1
key node1c
csr node1c node1
enroll node1 "$TOK_MANY"
expect_http 200
json_ok "a new key enrolls again, with a new serial" "d['serial'] != '$SERIAL1'"

step "revoke drops a waiting request"
key node6
csr node6 node6
enroll node6
expect_http 202
api POST /v1/nodes/node6/revoke ''
expect_http 200
json_ok "no certificate revoked, the request dropped" "d['revoked'] == [] and d['request_dropped']"
api GET /v1/enrollments '' "$RO_TOKEN"
json_ok "nothing waits" "d['pending'] == []"

step "token ls and revoke"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token ls
stdout_has "t-many"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token revoke t-many
key node7
csr node7 node7
enroll node7 "$TOK_MANY"
expect_http 403

step "tendd --enroll, with a token and without"
TENDD=${TENDD:-$(dirname "$(dirname "$TEND")")/tendd/tendd}
if [ -x "$TENDD" ]; then
	TOK_AGENT=$(token --tags web --name t-agent)
	expect_exit 0 "$TENDD" --enroll "$TOK_AGENT" --server "$SERVER_URL" --node agent1 --state "$T/agent1"
	assert_mode "$T/agent1/node.key" 600
	check "its certificate chains to the CA" openssl verify -CAfile "$T/ca.pem" "$T/agent1/node.pem"
	api GET /v1/files/nodes/agent1.yaml
	json_ok "its tags are in its document" "d['content'] == 'tags: [web]\n'"
	expect_exit 3 "$TENDD" --enroll --server "$SERVER_URL" --node agent2 --state "$T/agent2"
	expect_exit 0 cli nodes approve agent2
	expect_exit 0 "$TENDD" --enroll --server "$SERVER_URL" --node agent2 --state "$T/agent2"
	check "the approved certificate chains to the CA" openssl verify -CAfile "$T/ca.pem" "$T/agent2/node.pem"
else
	note "no tendd binary at $TENDD: its enrollment is not tried"
fi

step "the server stops cleanly"
server_stop
check "exit status 0" test "$SERVER_RC" = 0
refute "no sanitizer report" grep -E 'Sanitizer|runtime error' "$SERVER_LOG"

done_testing
