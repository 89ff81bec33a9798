#!/bin/bash
# t1110-server-explain: tag hierarchy, catalogs and explain through the API.
#
# A value set in tags/base.yaml, overridden in tags/production.yaml and in
# the node's own document is reported by explain with all three origins,
# file:line, oldest first, the node's winning.  A catalog carries its
# content hash as ETag: asked again with If-None-Match it is 304; a change
# that alters the catalog changes the hash, one that does not keep it, and
# nodes with the same tags and no document of their own share it.  Older
# revisions stay readable; /v1/tags lists tags with the nodes using them;
# templates naming facts are accepted (the node renders them); a change
# that breaks a catalog is refused with its file:line.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh"

server_start || done_testing

# put PATH TEXT - PUT a text file at the current head; sets REV on 2xx.
put() {
	local body
	body=$(python3 -c 'import json, sys; print(json.dumps({"content": sys.argv[1], "revision": sys.argv[2]}))' "$2" "$(server_head)")
	api PUT "/v1/files/$1" "$body"
	case $HTTP in 2??) REV=$(jq_out 'd["revision"]') ;; esac
}

# etag - the ETag of the last answer, without quotes.
etag() {
	tr -d '\r' <"$HDR" | sed -n 's/^[Ee][Tt][Aa][Gg]: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p'
}

step "documents go in through the API"
put tags/base.yaml 'vars:
  greeting: hello
  port: 80
resources:
  - file: /etc/motd
    template: files/motd.tmpl
    mode: "0644"
  - package: nginx
'
expect_http 200
put tags/production.yaml 'vars:
  port: 8080
resources:
  - file: /etc/motd
    mode: "0640"
  - service: nginx
    requires: package:nginx
'
expect_http 201
put nodes/web01.yaml '# web01: production web server
tags: [base, production]
resources:
  - file: /etc/motd
    mode: "0600"
'
expect_http 201
R3=$REV

step "explain shows the three origins, oldest first"
api GET /v1/nodes/web01/explain
expect_http 200
check "documents in merge order" test "$(jq_out 'd["documents"]')" = \
	'["tags/base.yaml", "tags/production.yaml", "nodes/web01.yaml"]'
MODE='[r for r in d["resources"] if r["id"] == "file:/etc/motd"][0]["attrs"]["mode"]'
check "mode: base, production, node" test "$(jq_out "[(o['value'], o['origin']) for o in $MODE]")" = \
	'[["0644", "tags/base.yaml:7"], ["0640", "tags/production.yaml:5"], ["0600", "nodes/web01.yaml:5"]]'
check "port: base then production" test "$(jq_out '[o["origin"] for o in d["vars"]["port"]]')" = \
	'["tags/base.yaml:3", "tags/production.yaml:2"]'
check "revision is the head" test "$(jq_out 'd["revision"]')" = "$R3"
api GET '/v1/nodes/web01/explain?id=service:nginx'
expect_http 200
check "?id= limits it to one resource" test "$(jq_out '[r["id"] for r in d["resources"]]')" = '["service:nginx"]'
api GET '/v1/nodes/web01/explain?id=service:apache'
expect_http 404
api GET '/v1/nodes/web01/explain?id=nocolon'
expect_http 400

step "a catalog's ETag is its hash; asked again with it: 304"
api GET /v1/nodes/web01/catalog
expect_http 200
H1=$(jq_out 'd["hash"]')
check "hash is sha256" bash -c "[[ '$H1' =~ ^sha256:[0-9a-f]{64}$ ]]"
check "ETag is the hash" test "$(etag)" = "$H1"
check "the node's value wins" test "$(jq_out '[r for r in d["resources"] if r["name"] == "/etc/motd"][0]["attrs"]["mode"]')" = 0600
check "the template travels with it" test "$(jq_out '"files/motd.tmpl" in d["files"]')" = true
API_ARGS=(-H "If-None-Match: \"$H1\"")
api GET /v1/nodes/web01/catalog
expect_http 304
check "304 has no body" test ! -s "$OUT"
API_ARGS=(-H 'If-None-Match: "sha256:0000"')
api GET /v1/nodes/web01/catalog
expect_http 200
API_ARGS=()

step "a change that alters the catalog changes the hash"
put nodes/web01.yaml 'tags: [base, production]
resources:
  - file: /etc/motd
    mode: "0700"
'
expect_http 200
API_ARGS=(-H "If-None-Match: \"$H1\"")
api GET /v1/nodes/web01/catalog
API_ARGS=()
expect_http 200
H2=$(jq_out 'd["hash"]')
check "the new hash is sha256" bash -c "[[ '$H2' =~ ^sha256:[0-9a-f]{64}$ ]]"
check "new hash" test "$H2" != "$H1"
check "ETag follows" test "$(etag)" = "$H2"
put files/unrelated.txt 'not in any catalog'
expect_http 201
api GET /v1/nodes/web01/catalog
expect_http 200
check "an unrelated change keeps the hash" test "$(jq_out 'd["hash"]')" = "$H2"
api GET "/v1/nodes/web01/catalog?revision=$R3"
expect_http 200
check "?revision= reads the catalog of then" test "$(jq_out 'd["hash"]')" = "$H1"
check "... and says which revision" test "$(jq_out 'd["revision"]')" = "$R3"
api GET '/v1/nodes/web01/catalog?revision=0123456789abcdef0123456789abcdef01234567'
expect_http 404

step "nodes with the same tags and no document of their own share a hash"
put nodes/web02.yaml 'tags: [base, production]'
expect_http 201
put nodes/web03.yaml '# another comment, another blob
tags: [base, production]'
expect_http 201
api GET /v1/nodes/web02/catalog
expect_http 200
W2=$(jq_out 'd["hash"]')
check "web02's hash is sha256" bash -c "[[ '$W2' =~ ^sha256:[0-9a-f]{64}$ ]]"
api GET /v1/nodes/web03/catalog
expect_http 200
W3=$(jq_out 'd["hash"]')
check "web03's hash is sha256" bash -c "[[ '$W3' =~ ^sha256:[0-9a-f]{64}$ ]]"
check "... of the catalog its tags make (production's mode wins)" test "$(jq_out '[r for r in d["resources"] if r["name"] == "/etc/motd"][0]["attrs"]["mode"]')" = 0640
check "web02 and web03 share one catalog" test "$W3" = "$W2"
check "... which is not web01's" test "$W2" != "$H2"
check "each is named" test "$(jq_out 'd["node"]')" = web03

step "tags route"
put nodes/db01.yaml 'tags: [base]'
api GET /v1/tags
expect_http 200
check "base is used by the example and four nodes" test \
	"$(jq_out '[t["nodes"] for t in d["tags"] if t["name"] == "base"][0]')" = \
	'["db01", "example", "web01", "web02", "web03"]'
check "production has its file" test \
	"$(jq_out '[t["file"] for t in d["tags"] if t["name"] == "production"][0]')" = tags/production.yaml

step "facts are left to the node"
put tags/base.yaml 'vars:
  greeting: hello
resources:
  - file: /etc/motd
    content: "{{ greeting }} from {{ facts.hostname }}\n"
    mode: "0644"
  - package: nginx
'
expect_http 200
api GET /v1/nodes/db01/catalog
expect_http 200
check "content is kept unrendered" test \
	"$(jq_out 'repr(d["resources"][0]["attrs"]["content"])')" = "'{{ greeting }} from {{ facts.hostname }}\\n'"

step "a change that breaks a catalog is refused with its file:line"
HEAD=$(server_head)
put tags/production.yaml 'resources:
  - file: /etc/motd
    mdoe: "0640"
'
expect_http 400
check "the error names file and line" test \
	"$(jq_out 'd["errors"][0]')" = \
	"tags/production.yaml:3:5: unknown attribute 'mdoe' in file:/etc/motd (did you mean 'mode'?)"
put nodes/web01.yaml 'tags: [base, nope]'
expect_http 400
check "an unknown tag is named where it is listed" test \
	"$(jq_out 'd["errors"][0]')" = "nodes/web01.yaml:1:14: unknown tag 'nope': no tags/nope.yaml in the repository"
check "nothing was committed" test "$(server_head)" = "$HEAD"

step "reading needs a token; a read-only one will do"
api GET /v1/nodes/web01/catalog "" -
expect_http 401
api GET /v1/nodes/web01/explain "" "$RO_TOKEN"
expect_http 200
api GET '/v1/nodes/bad%20name/catalog'
expect_http 400

done_testing
