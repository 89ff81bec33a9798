#!/bin/bash
# t1120-server-nodes: the inventory through the HTTP API.
#
# The node list is the union of the repository's node documents and the
# nodes that reported; setting a node's tags rewrites only the `tags:`
# value of nodes/NODE.yaml (every other byte kept, flow or block list) or
# creates the document, as a commit by the caller; a tag without a
# tags/TAG.yaml is refused and nothing is committed.  A real `tend apply
# --json` report posted for a node is listed, read back whole, and sets
# the node's status.  The audit log records every write (allowed, refused
# or failed) with who, from where and the answer; a read-only token can
# read all of it and write none of it.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

need git
export HOME=$T GIT_CONFIG_NOSYSTEM=1

server_start || done_testing
GITDIR=$STATE/config.git

# json_ok NAME EXPR - assert the python3 expression EXPR (d: the JSON in $OUT).
json_ok() {
	check "$1" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    print(json.dumps(d)[:3000])
    sys.exit(1)' "$OUT" "$2"
}

# tags_body TAG... - {"tags": [TAG...]} (extra fields from $EXTRA, a JSON fragment).
tags_body() {
	python3 -c 'import json, sys
d = {"tags": sys.argv[2:]}
d.update(json.loads(sys.argv[1] or "{}"))
print(json.dumps(d))' "${EXTRA:-}" "$@"
}

# put_text PATH TEXT - PUT a text file on the current head.
put_text() {
	local body
	body=$(python3 -c 'import json, sys; print(json.dumps({"content": sys.argv[1], "revision": sys.argv[2]}))' "$2" "$(server_head)")
	api PUT "/v1/files/$1" "$body"
}

# raw_file PATH DEST - the bytes of PATH at HEAD, as git has them.
raw_file() {
	git --git-dir="$GITDIR" show "HEAD:$1" >"$2"
}

step "the node list shows the example node of the repository"
api GET /v1/nodes
expect_http 200
json_ok "example is listed with its tags and document" \
	'[n for n in d["nodes"] if n["id"] == "example" and n["tags"] == ["base"] and n["has_document"] is True and n["status"] is None]'
api GET /v1/nodes "" "$RO_TOKEN"
expect_http 200
api GET /v1/nodes "" -
expect_http 401

step "one node"
api GET /v1/nodes/example
expect_http 200
json_ok "its document, tags, no report yet" \
	'd["id"] == "example" and d["document"] == "nodes/example.yaml" and d["tags"] == ["base"] and d["last_report"] is None and d["status"] is None and d["facts"] is None'
api GET /v1/nodes/nosuch
expect_http 404
json_ok "the error names the node" '"nosuch" in d["error"]'
api GET '/v1/nodes/bad!name'
expect_http 400
api GET /v1/nodes/example "" -
expect_http 401

step "a tag to use: tags/web.yaml"
put_text tags/web.yaml $'vars:\n  role: web\n'
expect_http 201

step "set the tags of a node with a document: only the tags value changes"
raw_file nodes/example.yaml "$T/example.before"
H0=$(server_head)
api PUT /v1/nodes/example/tags "$(tags_body base web)"
expect_http 200
json_ok "answer: the new revision and tags" \
	'len(d["revision"]) == 40 and d["tags"] == ["base", "web"] and d["created"] is False'
R1=$(jq_out 'd["revision"]')
check "the branch moved to it" test "$(git --git-dir="$GITDIR" rev-parse HEAD)" = "$R1"
check "its parent is the head before" test "$(git --git-dir="$GITDIR" rev-parse "$R1^")" = "$H0"
sed 's/^tags: \[base\]$/tags: [base, web]/' "$T/example.before" >"$T/example.want"
# a guard on the fixture, not on the server: unless the document had the
# line "tags: [base]", example.want is example.before and the comparison
# below would not show that the tags changed
check "the expected document differs from the one before (the fixture has 'tags: [base]' to edit)" \
	bash -c "! cmp -s '$T/example.before' '$T/example.want'"
raw_file nodes/example.yaml "$T/example.after"
# the new tags, and every other byte as it was
assert_same_file "$T/example.after" "$T/example.want"
check "git log: one commit by the caller, touching only the document" \
	test "$(git --git-dir="$GITDIR" log -1 --format='%an|%s' --name-only "$R1" | tr '\n' ' ')" = \
	"admin|set tags of example: base, web  nodes/example.yaml "
api GET /v1/nodes/example
json_ok "the node has the new tags" 'd["tags"] == ["base", "web"]'

step "a block list stays a block list; comments and other keys stay"
put_text nodes/db1.yaml $'# the database\ntags:   # roles\n  - base\n  - web\nvars:\n  x: 1   # keep me\n'
expect_http 201
api PUT /v1/nodes/db1/tags "$(tags_body web)"
expect_http 200
raw_file nodes/db1.yaml "$T/db1.after"
assert_file_content "$T/db1.after" $'# the database\ntags:   # roles\n  - web\nvars:\n  x: 1   # keep me\n'
api PUT /v1/nodes/db1/tags "$(tags_body)"
expect_http 200
raw_file nodes/db1.yaml "$T/db1.after"
assert_file_content "$T/db1.after" $'# the database\ntags: []   # roles\nvars:\n  x: 1   # keep me\n'

step "a node without a document gets one"
api PUT /v1/nodes/web1.example.org/tags "$(tags_body web base)"
expect_http 200
json_ok "created" 'd["created"] is True and d["document"] == "nodes/web1.example.org.yaml"'
raw_file nodes/web1.example.org.yaml "$T/web1"
assert_file_content "$T/web1" $'tags: [web, base]\n'
api GET /v1/nodes
json_ok "listed with its document" \
	'[n for n in d["nodes"] if n["id"] == "web1.example.org" and n["has_document"] and n["tags"] == ["web", "base"]]'

step "setting the same tags again commits nothing"
H1=$(server_head)
api PUT /v1/nodes/web1.example.org/tags "$(tags_body web base)"
expect_http 200
check "the head did not move" test "$(server_head)" = "$H1"

step "an unknown tag is refused and nothing is committed"
H1=$(server_head)
api PUT /v1/nodes/example/tags "$(tags_body base nosuch)"
expect_http 400
json_ok "the error names the tag and its missing document" \
	'"nosuch" in d["error"] and "tags/nosuch.yaml" in d["error"]'
check "the head did not move" test "$(server_head)" = "$H1"
raw_file nodes/example.yaml "$T/example.now"
assert_same_file "$T/example.now" "$T/example.want"

step "bad input is a 400 naming the problem, nothing committed"
api PUT '/v1/nodes/bad!name/tags' "$(tags_body base)"
expect_http 400
json_ok "bad node name" '"bad node name" in d["error"]'
api PUT /v1/nodes/example/tags "$(tags_body 'two words')"
expect_http 400
api PUT /v1/nodes/example/tags "$(tags_body base base)"
expect_http 400
json_ok "listed twice" '"twice" in d["error"]'
api PUT /v1/nodes/example/tags '{"tags": "base"}'
expect_http 400
api PUT /v1/nodes/example/tags '{"tags": ["base"], "colour": "red"}'
expect_http 400
json_ok "unknown field named" '"colour" in d["error"]'
api PUT /v1/nodes/example/tags '{"tags": [base]}'
expect_http 400
check "the head did not move" test "$(server_head)" = "$H1"

step "a stale revision is a 409"
EXTRA="{\"revision\": \"$H0\"}" tags_body web >"$T/stale.json"
api PUT /v1/nodes/example/tags "@$T/stale.json"
expect_http 409
json_ok "the answer names the head" "d['head'] == '$H1'"
check "the head did not move" test "$(server_head)" = "$H1"

step "a read-only token cannot set tags"
api PUT /v1/nodes/example/tags "$(tags_body web)" "$RO_TOKEN"
expect_http 403
check "the head did not move" test "$(server_head)" = "$H1"

step "post a real report of tend apply --json"
mkdir -p "$ROOT/etc"
cat >site.yaml <<'EOF'
resources:
  - file: /etc/motd
    content: "managed\n"
EOF
expect_exit 0 tend apply --json site.yaml
cp "$OUT" "$T/report1.json"
api POST /v1/nodes/example/reports "@$T/report1.json"
expect_http 201
json_ok "its id and the status it means" 'd["id"] >= 1 and d["status"] == "changed"'
ID1=$(jq_out 'd["id"]')
api GET /v1/nodes/example/reports
expect_http 200
json_ok "listed with its summary, without the body" \
	"len(d['reports']) == 1 and d['reports'][0]['id'] == $ID1 and d['reports'][0]['summary']['changed'] == 1 and 'report' not in d['reports'][0]"
api GET "/v1/reports/$ID1" "" "$RO_TOKEN"
expect_http 200
check "read back whole: the same JSON as posted" python3 -c '
import json, sys
got = json.load(open(sys.argv[1]))["report"]
sent = json.load(open(sys.argv[2]))
sys.exit(0 if got == sent else 1)' "$OUT" "$T/report1.json"
api GET /v1/nodes/example
json_ok "the node's status follows the report" \
	"d['status'] == 'changed' and d['last_report']['id'] == $ID1 and d['last_seen'] is not None"

expect_exit 0 tend apply --json site.yaml
cp "$OUT" "$T/report2.json"
api POST /v1/nodes/example/reports "@$T/report2.json"
expect_http 201
ID2=$(jq_out 'd["id"]')
api GET /v1/nodes/example
json_ok "a run that changed nothing: converged" \
	"d['status'] == 'converged' and d['last_report']['id'] == $ID2"
api GET '/v1/nodes/example/reports?limit=1'
json_ok "newest first, limited" "[r['id'] for r in d['reports']] == [$ID2]"
api GET /v1/nodes
json_ok "the list shows the status" \
	'[n for n in d["nodes"] if n["id"] == "example" and n["status"] == "converged" and n["last_seen"]]'

step "a node that reports without a document joins the list"
api POST /v1/nodes/lonely/reports "@$T/report1.json"
expect_http 201
api GET /v1/nodes
json_ok "listed, no document, default tags" \
	'[n for n in d["nodes"] if n["id"] == "lonely" and n["has_document"] is False and n["status"] == "changed" and isinstance(n["tags"], list)]'
api GET /v1/nodes/lonely
expect_http 200
json_ok "shown, without a document" 'd["document"] is None and d["status"] == "changed"'

step "bad reports and report ids"
api POST /v1/nodes/example/reports '{"version": 1}'
expect_http 400
json_ok "a report needs a summary" '"summary" in d["error"]'
api POST /v1/nodes/example/reports '[1, 2]'
expect_http 400
api POST /v1/nodes/example/reports '{"summary": {"failed": "x"}}'
expect_http 400
api POST '/v1/nodes/bad!name/reports' "@$T/report1.json"
expect_http 400
api POST /v1/nodes/example/reports "@$T/report1.json" "$RO_TOKEN"
expect_http 403
api GET /v1/reports/abc
expect_http 400
api GET /v1/reports/999999
expect_http 404
api GET '/v1/nodes/example/reports?limit=0'
expect_http 400
api GET /v1/nodes/nosuch/reports
expect_http 404
api GET /v1/nodes/example/reports
json_ok "nothing refused was stored" "len(d['reports']) == 2"

step "the audit log lists the writes with who, address and answer"
api GET /v1/audit "" "$RO_TOKEN"
expect_http 200
json_ok "newest first" 'all(a["id"] > b["id"] for a, b in zip(d["audit"], d["audit"][1:]))'
json_ok "the tags write, with its commit" \
	"[a for a in d['audit'] if a['action'] == 'PUT /v1/nodes/example/tags' and a['who'] == 'admin' and a['address'] == '127.0.0.1' and a['status'] == 200 and a['commit'] == '$R1' and a['target'] == 'nodes/example.yaml']"
json_ok "the refused read-only write" \
	'[a for a in d["audit"] if a["action"] == "PUT /v1/nodes/example/tags" and a["who"] == "reader" and a["status"] == 403]'
json_ok "the refused unknown tag" \
	'[a for a in d["audit"] if a["action"] == "PUT /v1/nodes/example/tags" and a["status"] == 400 and a["commit"] is None]'
json_ok "the report posts" \
	"[a for a in d['audit'] if a['action'] == 'POST /v1/nodes/example/reports' and a['status'] == 201 and a['target'] == 'example']"
json_ok "no read is audited" 'not [a for a in d["audit"] if a["action"].startswith("GET ")]'
api GET '/v1/audit?limit=2'
expect_http 200
json_ok "paged" 'len(d["audit"]) == 2 and d["next"] == d["audit"][1]["id"]'
NEXT=$(jq_out 'd["next"]')
api GET "/v1/audit?limit=2&before=$NEXT"
json_ok "the next page starts below" "len(d['audit']) == 2 and d['audit'][0]['id'] < $NEXT"
api GET '/v1/audit?limit=abc'
expect_http 400
api GET /v1/audit "" -
expect_http 401

server_stop
done_testing
