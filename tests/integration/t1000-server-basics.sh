#!/bin/bash
# t1000-server-basics: tend-server creates its state on first start, checks
# its configuration file (errors name file:line), manages tokens (a secret
# shown once, a revoked one refused), authenticates and authorises every
# route of its own OpenAPI document in one dispatcher (401 without a
# token, 403 and an audit record for a read-only token on a write),
# refuses malformed requests with the right 4xx (404, 405, 413, 414, 400
# for bad JSON, unknown fields and '..' paths) without committing
# anything, answers a catalog "not modified" by ETag, serves TLS, stops
# cleanly on SIGTERM and SIGINT, and rebuilds a lost audit record from
# the commit's trailers at the next start.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh"
need openssl

# routes FILE - "METHOD PATH PUBLIC" for every operation of an OpenAPI
# document, path parameters filled in with values that exist.
routes() {
	python3 - "$1" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
fill = {"node": "example", "path": "tags/base.yaml", "id": "1", "rev": "HEAD"}
for path, item in sorted(doc["paths"].items()):
    for method, op in sorted(item.items()):
        if method not in ("get", "put", "post", "delete", "patch"):
            continue
        p = path
        for k, v in fill.items():
            p = p.replace("{%s}" % k, v)
        public = "public" if op.get("security") == [] else "auth"
        print(method.upper(), p, public)
EOF
}

# audit_count EXPR - audit records (newest 1000) for which EXPR (python, r bound) holds.
audit_count() {
	api GET '/v1/audit?limit=1000' "" "$RO_TOKEN"
	jq_out "len([r for r in d['audit'] if $1])"
}

step "first start creates the state directory, the repository and the database"
server_start -v
assert_mode "$STATE" 700
check "the repository is created" test -f "$STATE/config.git/HEAD"
check "the database is created" test -f "$STATE/tend.db"
api GET /v1/health "" -
expect_http 200
check "health says ok" test "$(jq_out 'd["status"]')" = ok
check "health names the head revision" test "$(jq_out 'len(d["revision"])')" = 40

step "token create prints a secret once; ls never shows it; revoke refuses it"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token create --role ro --name temp
stdout_matches '^tend_[A-Za-z0-9_-]{43}$'
secret=$(cat "$OUT")
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token ls
stdout_matches '^temp +ro '
stdout_matches '^admin +rw '
stdout_lacks "$secret"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token ls --json
check "token ls --json lists the three tokens, no secret or hash" python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert sorted(x["name"] for x in t) == ["admin", "reader", "temp"], t
assert all(set(x) <= {"name", "role", "created", "last_used"} for x in t), t
' "$OUT"
api GET /v1/nodes "" "$secret"
expect_http 200 # the new token is accepted while the server runs
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" token create --role rw --name temp
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" token create --role root --name x
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token revoke temp
api GET /v1/nodes "" "$secret"
expect_http 401
check "401 asks for a bearer token" grep -qi '^WWW-Authenticate: Bearer' "$HDR"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" token revoke temp

step "token and user: --help on every subcommand changes nothing; --json output"
for sub in "token" "token create" "token ls" "token revoke" "user" "user add" "user ls" \
	"user revoke"; do
	# shellcheck disable=SC2086 # the subcommand is two words
	expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" $sub --help
	stdout_has "usage: tend-server [OPTIONS] ${sub%% *}"
done
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token ls --json
check "token revoke --help revoked nothing" python3 -c '
import json, sys
assert sorted(x["name"] for x in json.load(open(sys.argv[1]))) == ["admin", "reader"]' "$OUT"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" token ls --bogus
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" token revoke -x
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" user ls extra
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token create --role ro --name j1 --json
check "token create --json gives the secret, name and role" python3 -c '
import json, re, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "j1" and d["role"] == "ro", d
assert re.fullmatch(r"tend_[A-Za-z0-9_-]{43}", d["secret"]), d' "$OUT"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" --json token create --enroll --tags web \
	--uses 2 --ttl 2h
check "an enrollment token in JSON says its tags, uses and lifetime" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["role"] == "enroll" and d["tags"] == ["web"], d
assert d["uses"] == 2 and d["ttl_seconds"] == 7200, d
assert d["secret"].startswith("tend_enroll_"), d' "$OUT"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" token revoke j1
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" user add carol --role ops --out "$T/carol.pem" \
	--json
check "user add --json names the bundle, the role and the certificate" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["file"] == sys.argv[2] and d["name"] == "carol" and d["role"] == "ops", d
assert d["days"] == 365 and len(d["serial"]) >= 16, d' "$OUT" "$T/carol.pem"
assert_mode "$T/carol.pem" 600
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" user revoke carol

step "the OpenAPI document is served and describes the API"
api GET /v1/openapi.json "" -
expect_http 200
cp "$OUT" openapi.json
check "it is OpenAPI 3 with a bearer scheme" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["openapi"].startswith("3."), d["openapi"]
assert d["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
' openapi.json
check "it is the document in docs/" cmp -s openapi.json "$TOP/docs/openapi.json"
routes openapi.json >routes.txt
check "it has the 27 routes" test "$(wc -l <routes.txt)" = 27

step "every route: no token is 401 (public routes answer), a wrong method 405"
while read -r method path public; do
	api "$method" "$path" "" -
	if [ "$public" = public ] && [ "$method" = GET ]; then
		expect_http 200
	elif [ "$public" = public ]; then
		expect_http 400 # POST /v1/enroll: authorised by its body, which is missing
	else
		expect_http 401
	fi
	api PATCH "$path" "" "$RW_TOKEN"
	expect_http 405
	check "the 405 names the allowed methods" grep -qi "^Allow: .*$method" "$HDR"
done <routes.txt

step "every write route refuses a read-only token with 403, and audits it"
writes=0
before=$(server_head)
while read -r method path public; do
	{ [ "$method" = GET ] || [ "$public" = public ]; } && continue
	writes=$((writes + 1))
	api "$method" "$path" '{}' "$RO_TOKEN"
	expect_http 403
	check "the 403 names the read-only token" grep -q "read-only" "$OUT"
	check "$method $path is audited as refused" \
		test "$(audit_count "r['who'] == 'reader' and r['status'] == 403 and r['action'] == '$method $path'")" = 1
done <routes.txt
check "7 write routes were tried" test "$writes" = 7
check "nothing was committed" test "$(server_head)" = "$before"

step "unknown paths are 404, also with a valid token"
for p in /v1/nope /v2/health / /v1/nodes/a/b/c /v1/health/x; do
	api GET "$p" "" "$RO_TOKEN"
	expect_http 404
done

step "paths with '.' or '..' components, control characters (%00) or bytes that are not UTF-8 are refused, percent-encoded too"
for p in /v1/files/../../etc/passwd /v1/files/%2e%2e/x /v1/files/tags/%2E%2E%2F%2E%2E%2Fetc \
	/v1/files/tags/./base.yaml /v1/nodes/%2e%2e/catalog /v1/files/tags/base.yaml%00.txt \
	/v1/files/tags/a%0Ab.yaml; do
	api GET "$p" "" "$RO_TOKEN"
	expect_http 400
done
api PUT /v1/files/tags/%2e%2e/evil.yaml "{\"content\":\"x\",\"revision\":\"$before\"}"
expect_http 400
check "nothing was committed" test "$(server_head)" = "$before"
# a name that is not UTF-8 could not be shown in any JSON answer: it was
# committed, then answered 500
api PUT /v1/files/files/caf%E9.txt "{\"content\":\"x\",\"revision\":\"$before\"}"
expect_http 400
stdout_has "UTF-8"
check "nothing was committed for it" test "$(server_head)" = "$before"

step "a path longer than 2048 bytes is 414"
long=$(printf 'x%.0s' $(seq 1 3000))
api GET "/v1/files/$long" "" "$RO_TOKEN"
expect_http 414

step "write routes refuse malformed JSON and bodies that are not objects"
while read -r method path public; do
	{ [ "$method" = GET ] || [ "$public" = public ]; } && continue
	api "$method" "$path" '{"revision": '
	expect_http 400
	check "$method $path: the error says malformed JSON" grep -q "malformed JSON" "$OUT"
	api "$method" "$path" '["revision"]'
	expect_http 400
done <routes.txt

step "unknown query arguments are refused, naming the argument"
api GET "/v1/nodes?bogus=1" "" "$RO_TOKEN"
expect_http 400
check "the error names the argument" grep -q "bogus" "$OUT"
api GET "/v1/history?limt=5" "" "$RO_TOKEN"
expect_http 400
api GET "/v1/history?limit=5" "" "$RO_TOKEN"
expect_http 200

step "unknown JSON fields are refused, naming the field"
api PUT /v1/files/tags/new.yaml "{\"content\":\"vars: {}\\n\",\"revision\":\"$before\",\"colour\":\"red\"}"
expect_http 400
check "the error names the field" grep -q "colour" "$OUT"
api PUT /v1/nodes/example/tags "{\"tags\":[\"base\"],\"revision\":\"$before\",\"colour\":1}"
expect_http 400
check "the error names the field" grep -q "colour" "$OUT"
api POST /v1/revert "{\"commit\":\"$before\",\"revision\":\"$before\",\"colour\":1}"
expect_http 400
check "the error names the field" grep -q "colour" "$OUT"
api DELETE /v1/files/tags/base.yaml "{\"revision\":\"$before\",\"colour\":1}"
expect_http 400
check "the error names the field" grep -q "colour" "$OUT"
check "nothing was committed" test "$(server_head)" = "$before"
check "failed writes are audited" \
	test "$(audit_count "r['who'] == 'admin' and r['status'] == 400")" -ge 14

step "a catalog carries an ETag; If-None-Match with it is 304 without a body"
api GET /v1/nodes/example/catalog "" "$RO_TOKEN"
expect_http 200
etag=$(sed -n 's/^ETag: *//Ip' "$HDR" | tr -d '\r')
check "an ETag is sent" test -n "$etag"
API_ARGS=(-H "If-None-Match: $etag")
api GET /v1/nodes/example/catalog "" "$RO_TOKEN"
expect_http 304
check "the 304 has no body" test ! -s "$OUT"
API_ARGS=(-H 'If-None-Match: "sha256:stale"')
api GET /v1/nodes/example/catalog "" "$RO_TOKEN"
expect_http 200
API_ARGS=()

step "-v logs one line per request"
check "the log has the request lines" grep -q 'GET /v1/health 200' "$SERVER_LOG"

step "SIGTERM stops the server cleanly"
port=$SERVER_PORT
server_stop
check "it exits 0" test "$SERVER_RC" = 0
check "the port is closed" sh -c "! curl -s -m 2 http://127.0.0.1:$port/v1/health"
check "no error was logged" sh -c "! grep -Ei 'error|sanitizer|assert' '$SERVER_LOG'"

step "--check validates the configuration file and the repository"
cat >good.yaml <<EOF
# a valid server configuration
listen: 127.0.0.1:1
body_max: 4K
default_tags: [base]
EOF
cat >bad.yaml <<'EOF'
listen: 127.0.0.1:1
body_max: 4K
colour: red
EOF
cat >bad2.yaml <<'EOF'
default_tags:
  - base
  - "not a tag"
EOF
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" --config good.yaml --check
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" --config good.yaml --check --json
check "--check --json says ok" test "$(jq_out 'd["ok"]')" = true
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" --config bad.yaml --check
stderr_has "bad.yaml:3:1: unknown key 'colour'"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" --config bad2.yaml --check
stderr_has "bad2.yaml:3:5: default_tags"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" --config bad.yaml --listen 127.0.0.1:1
stderr_has "bad.yaml:3:1:"
expect_exit 1 "$TEND_SERVER_BIN" --state "$STATE" --tls-cert /nonexistent.pem
stderr_has "tls_key"
expect_exit 0 "$TEND_SERVER_BIN" --state "$T/fresh" --check
check "--check creates nothing" test ! -e "$T/fresh"

step "bodies over body_max are 413, before or after they are read"
cat >small.yaml <<'EOF'
body_max: 4K
EOF
server_start --config small.yaml
python3 -c 'import json; print(json.dumps({"content": "x" * 8000, "revision": "HEAD"}))' >big.json
api PUT /v1/files/tags/big.yaml @big.json
expect_http 413
API_ARGS=(-H 'Transfer-Encoding: chunked')
api PUT /v1/files/tags/big.yaml @big.json
expect_http 413
API_ARGS=()
check "a refused body is audited" \
	test "$(audit_count "r['who'] == 'admin' and r['status'] == 413")" = 2
api PUT /v1/files/tags/big.yaml @big.json "$RO_TOKEN"
expect_http 403
api PUT /v1/files/tags/big.yaml @big.json -
expect_http 401
check "nothing was committed" test "$(server_head)" = "$before"

step "SIGINT stops the server cleanly too"
kill -INT "$SERVER_PID"
wait "$SERVER_PID"
check "it exits 0" test "$?" = 0
SERVER_PID=

step "TLS with a certificate and key"
run openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
check "openssl made a certificate" test -s cert.pem
SERVER_CACERT=$T/cert.pem
server_start --tls-cert cert.pem --tls-key key.pem
case $SERVER_URL in https://*) ok "the URL is https" ;; *) fail "the URL is https" "$SERVER_URL" ;; esac
api GET /v1/health "" -
expect_http 200
api GET /v1/nodes "" "$RO_TOKEN"
expect_http 200 # tokens work over TLS
check "plain HTTP gets no answer" \
	sh -c "! curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$SERVER_PORT/v1/health | grep -q 200"
server_stop
check "it exits 0" test "$SERVER_RC" = 0
SERVER_CACERT=

step "a commit whose audit record was lost (server killed) is recorded at the next start"
server_start
head=$(server_head)
api PUT /v1/files/files/note.txt "{\"content\":\"hi\\n\",\"revision\":\"$head\"}"
expect_http 201
rev=$(jq_out 'd["revision"]')
server_stop
check "the audit record is dropped behind the server's back" python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("DELETE FROM audit WHERE \"commit\" = ?", (sys.argv[2],)).rowcount
db.commit()
assert n == 1, n
' "$STATE/tend.db" "$rev"
server_start
check "the commit is audited again, from its trailers" test "$(audit_count \
	"r['commit'] == '$rev' and r['who'] == 'admin' and r['detail'] == 'recorded at start from the commit'")" = 1
server_stop
server_start
check "a second start does not record it twice" \
	test "$(audit_count "r['commit'] == '$rev'")" = 1
server_stop

done_testing
