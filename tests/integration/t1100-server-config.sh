#!/bin/bash
# t1100-server-config: the configuration repository through the HTTP API.
#
# A write is a commit whose author is the token's name, seen as such by
# plain git in a clone; a revert restores the exact previous bytes; two
# writers of the same revision get one 2xx and one 409; a change that
# makes the configuration invalid is refused with file:line errors and
# nothing is committed; files, history and diffs read at any revision;
# bad input is a 4xx with a message.  Finally the server is killed with
# SIGKILL in the middle of 100 concurrent writers: after a restart every
# write that was answered 2xx is in the repository, git fsck is clean and
# the audit log holds one record per commit made through the API.
# (lib.sh moves into a temp dir: name the helpers by absolute path)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/lib-server.sh"

need git
export HOME=$T GIT_CONFIG_NOSYSTEM=1

server_start || done_testing
GITDIR=$STATE/config.git

# body_put FILE REV [MESSAGE] - a PUT body with FILE's bytes (base64) in $T/body.json.
body_put() {
	python3 - "$1" "$2" "${3:-}" >"$T/body.json" <<'EOF'
import base64, json, sys
data = open(sys.argv[1], "rb").read()
d = {"content_base64": base64.b64encode(data).decode(), "revision": sys.argv[2]}
if sys.argv[3]:
    d["message"] = sys.argv[3]
print(json.dumps(d))
EOF
}

# put_text PATH TEXT REV - PUT a text file (content as a JSON string).
put_text() {
	local body
	body=$(python3 -c 'import json, sys; print(json.dumps({"content": sys.argv[1], "revision": sys.argv[2]}))' "$2" "$3")
	api PUT "/v1/files/$1" "$body"
}

# git_head - the branch the server uses, read by git.
git_head() {
	git --git-dir="$GITDIR" rev-parse HEAD
}

step "the repository is created with the example layout"
H0=$(server_head)
check "HEAD is a commit id" test "${#H0}" = 40
check "git sees the same head" test "$(git_head)" = "$H0"
check "nodes/example.yaml names tag base" \
	bash -c "git --git-dir='$GITDIR' show HEAD:nodes/example.yaml | grep -qx 'tags: \[base\]'"

step "put a file: a commit by the token's name"
printf 'first line\r\n\tno newline at end \xff' >"$T/v1"
printf 'second version\n' >"$T/v2"
body_put "$T/v1" "$H0" "add hello"
api PUT /v1/files/files/hello.bin "@$T/body.json"
expect_http 201
R1=$(jq_out 'd["revision"]')
check "answer names the path" test "$(jq_out 'd["path"]')" = files/hello.bin
check "answer names the blob git stored" \
	test "$(jq_out 'd["blob"]')" = "$(git --git-dir="$GITDIR" rev-parse "$R1:files/hello.bin")"
body_put "$T/v2" "$R1"
api PUT /v1/files/files/hello.bin "@$T/body.json"
expect_http 200
R2=$(jq_out 'd["revision"]')
check "the branch moved to the new commit" test "$(git_head)" = "$R2"
body_put "$T/v2" "$R2"
api PUT /v1/files/files/hello.bin "@$T/body.json"
expect_http 200
check "the same bytes again: no commit, the head is answered" \
	test "$(jq_out 'd["revision"]'):$(git_head)" = "$R2:$R2"

step "history shows author and time"
api GET '/v1/history?limit=2'
expect_http 200
check "newest first" test "$(jq_out '[c["id"] for c in d["commits"]]')" = "[\"$R2\", \"$R1\"]"
check "author is the token name" test "$(jq_out 'd["commits"][1]["author"]')" = admin
check "caller trailer" test "$(jq_out 'd["commits"][1]["caller"]')" = admin
check "address trailer" test "$(jq_out 'd["commits"][1]["address"]')" = 127.0.0.1
check "message as given" test "$(jq_out 'd["commits"][1]["message"]')" = "add hello"
check "default message names the file" \
	test "$(jq_out 'd["commits"][0]["message"]')" = "put files/hello.bin"
check "files and status" \
	test "$(jq_out 'd["commits"][0]["files"]')" = '[{"path": "files/hello.bin", "status": "modified"}]'
check "time is ISO 8601 UTC, within a minute of now" python3 -c '
import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
sys.exit(abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 60)' \
	"$(jq_out 'd["commits"][0]["time"]')"
api GET "/v1/history/$R1"
expect_http 200
check "one commit by id" test "$(jq_out 'd["id"] + " " + d["files"][0]["status"]')" = "$R1 added"
api GET '/v1/history?path=files/hello.bin&limit=10'
check "history of one path" test "$(jq_out 'len(d["commits"])')" = 2
api GET "/v1/history?revision=$R1&limit=1&skip=1"
check "history from a revision, skipping" test "$(jq_out 'd["commits"][0]["id"]')" = "$H0"

step "git clone shows the same commit and bytes"
check "clone" git clone -q "$GITDIR" "$T/clone"
check "same head" test "$(git -C "$T/clone" rev-parse HEAD)" = "$R2"
check "author in git" test "$(git -C "$T/clone" log -1 --format='%an <%ae>' "$R1")" = "admin <admin@tend>"
check "trailer in git" bash -c "git -C '$T/clone' log -1 --format=%B '$R1' | grep -qx 'Tend-Caller: admin'"
check "bytes in git" cmp -s "$T/clone/files/hello.bin" "$T/v2"
check "first version in git" bash -c "git -C '$T/clone' show '$R1:files/hello.bin' | cmp -s - '$T/v1'"

step "revert restores the exact previous bytes"
api POST /v1/revert "{\"commit\": \"$R2\", \"revision\": \"$R2\"}"
expect_http 200
R3=$(jq_out 'd["revision"]')
check "a new commit" test "$(git_head)" = "$R3"
check "its parent is the head reverted on" test "$(git --git-dir="$GITDIR" rev-parse "$R3^")" = "$R2"
api GET '/v1/files/files/hello.bin?raw=1'
expect_http 200
check "raw bytes are the first version's" cmp -s "$OUT" "$T/v1"
check "git has the first version's blob" test "$(git --git-dir="$GITDIR" rev-parse "$R3:files/hello.bin")" = \
	"$(git --git-dir="$GITDIR" rev-parse "$R1:files/hello.bin")"
api GET "/v1/history/$R3"
check "revert message names the commit" bash -c "grep -q 'This reverts commit $R2' '$OUT'"

step "files: list and get at a revision"
api GET "/v1/files?revision=$H0"
expect_http 200
check "old revision lacks the file" test "$(jq_out '"files/hello.bin" in [f["path"] for f in d["files"]]')" = false
check "list names its revision" test "$(jq_out 'd["revision"]')" = "$H0"
api GET '/v1/files?prefix=files/'
check "prefix limits the list" test "$(jq_out 'sorted(f["path"] for f in d["files"])')" = \
	'["files/hello.bin", "files/motd.tmpl"]'
check "size" test "$(jq_out '[f["size"] for f in d["files"] if f["path"] == "files/hello.bin"][0]')" = \
	"$(stat -c %s "$T/v1")"
api GET "/v1/files/files/hello.bin?revision=$R2"
expect_http 200
check "text content as a string" test "$(jq_out 'd["content"]')" = "second version"
check "revision in the answer" test "$(jq_out 'd["revision"]')" = "$R2"
api GET /v1/files/files/hello.bin
check "bytes that are not UTF-8 come base64" \
	bash -c "python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))[\"content_base64\"]))' '$OUT' | cmp -s - '$T/v1'"
api GET "/v1/files/files/hello.bin?raw=1&revision=$R2"
check "raw at a revision" cmp -s "$OUT" "$T/v2"
check "raw is application/octet-stream" grep -qi '^content-type: application/octet-stream' "$HDR"
api GET /v1/files/tags/base.yaml '' "$RO_TOKEN"
expect_http 200

step "two writers edit the same revision: one wins"
H=$(server_head)
wpids=
for w in a b; do
	body=$(printf '{"content": "vars:\\n  from: %s\\n", "revision": "%s"}' "$w" "$H")
	curl -s -m 30 -o "$T/w$w.out" -w '%{http_code}' -X PUT -H "Authorization: Bearer $RW_TOKEN" \
		--data-binary "$body" "$SERVER_URL/v1/files/tags/writer-$w.yaml" >"$T/w$w.code" &
	wpids="$wpids $!"
done
wait $wpids
codes=$(printf '%s\n' "$(cat "$T/wa.code")" "$(cat "$T/wb.code")" | sort | tr '\n' ' ')
check "one 201, one 409 (got $codes)" test "$codes" = "201 409 "
loser=a
[ "$(cat "$T/wa.code")" = 409 ] || loser=b
check "the 409 names the new head" \
	test "$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["head"])' "$T/w$loser.out")" = "$(git_head)"
n=$(git --git-dir="$GITDIR" ls-tree --name-only HEAD tags/ | grep -c writer-)
check "the repository has only one of them" test "$n" = 1
check "and only one commit more" test "$(git --git-dir="$GITDIR" rev-list --count "$H..HEAD")" = 1

step "an invalid change is refused with file:line errors, nothing committed"
H=$(server_head)
put_text tags/base.yaml $'resources:\n  - file: /etc/motd\n    content: [unclosed\n' "$H"
expect_http 400
check "YAML error names tags/base.yaml:LINE" bash -c "grep -Eq 'tags/base\\.yaml:[0-9]+' '$OUT'"
check "errors is a non-empty list" test "$(jq_out 'len(d.get("errors", [])) > 0')" = true
check "HEAD unchanged" test "$(git_head)" = "$H"
put_text tags/base.yaml $'resources:\n  - file: /etc/motd\n    mdoe: "0644"\n' "$H"
expect_http 400
check "unknown attribute named with file:line" \
	bash -c "grep -Eq 'tags/base\\.yaml:3[:0-9]*: [^\"]*mdoe' '$OUT'"
check "HEAD unchanged" test "$(git_head)" = "$H"
# (in a tag a node uses: a tag alone may name resources of other tags)
put_text tags/base.yaml $'resources:\n  - exec: a\n    command: [/bin/true]\n    requires: exec:b\n  - exec: b\n    command: [/bin/true]\n    requires: exec:a\n' "$H"
expect_http 400
check "a cycle is named with file:line" bash -c "grep -Eiq 'tags/base\\.yaml:[0-9]+[^\"]*cycle' '$OUT'"
check "HEAD unchanged" test "$(git_head)" = "$H"
check "nothing new in history" test "$(git --git-dir="$GITDIR" rev-list --count HEAD)" = \
	"$(git --git-dir="$GITDIR" rev-list --count "$H")"

step "diff between revisions"
api GET "/v1/diff?from=$R1&to=$R2"
expect_http 200
check "from and to resolved" test "$(jq_out 'd["from"] + " " + d["to"]')" = "$R1 $R2"
check "files" test "$(jq_out 'd["files"]')" = '[{"path": "files/hello.bin", "status": "modified"}]'
check "a git patch (base64: the old version is not UTF-8)" bash -c "python3 -c 'import base64, json, sys; d = json.load(open(sys.argv[1])); sys.stdout.buffer.write(base64.b64decode(d[\"patch_base64\"]) if d[\"patch\"] is None else b\"\")' '$OUT' | grep -q '^diff --git a/files/hello.bin b/files/hello.bin'"
api GET "/v1/diff?from=$H0&to=$R2&path=files/hello.bin"
check "a text patch is a string" test "$(jq_out 'd["patch"].splitlines()[0]')" = \
	"diff --git a/files/hello.bin b/files/hello.bin"
api GET "/v1/diff?from=$H0&path=tags"
expect_http 200
check "to defaults to HEAD, path limits" test "$(jq_out 'sorted(f["path"] for f in d["files"])')" = \
	'["tags/writer-'$([ $loser = a ] && echo b || echo a)'.yaml"]'
check "patch shows the added line" bash -c "grep -q '+  from: ' '$OUT'"

step "delete a file"
H=$(server_head)
api DELETE /v1/files/files/hello.bin "{\"revision\": \"$H\", \"message\": \"drop hello\"}"
expect_http 200
RD=$(jq_out 'd["revision"]')
check "gone from git" bash -c "! git --git-dir='$GITDIR' cat-file -e '$RD:files/hello.bin' 2>/dev/null"
check "the message" test "$(git --git-dir="$GITDIR" log -1 --format=%s)" = "drop hello"
api GET /v1/files/files/hello.bin
expect_http 404
api GET "/v1/files/files/hello.bin?revision=$R3"
expect_http 200
api DELETE "/v1/files/files/hello.bin?revision=$RD"
expect_http 404
api DELETE /v1/files/tags/base.yaml
expect_http 400
check "missing revision is named" bash -c "grep -q revision '$OUT'"

step "bad input is a 4xx with a message, never a commit"
H=$(server_head)
api GET '/v1/files?revision=0123456789abcdef0123456789abcdef01234567'
expect_http 404
api GET '/v1/files/tags/base.yaml?revision=nosuch'
expect_http 404
api GET '/v1/files?revision=HEAD:tags'
expect_http 400
api GET /v1/history/ffffffffffffffff
expect_http 404
api GET '/v1/history?limit=0'
expect_http 400
api GET '/v1/history?path=../x'
expect_http 400
api GET /v1/files/tags/../../etc/passwd
expect_http 400
api GET /v1/files/tags/%2e%2e/x
expect_http 400
api GET /v1/files/tags//base.yaml
expect_http 400
api GET '/v1/files/tags/base.yaml%00.txt'
expect_http 400
api GET /v1/files/tags
expect_http 404
api GET '/v1/files?prefix=/etc'
expect_http 400
api GET /v1/diff
expect_http 400
api GET '/v1/diff?from=nosuch'
expect_http 404
api GET "/v1/diff?from=$H0&to=a:b"
expect_http 400
api PUT /v1/files/tags/new.yaml '{"content": "vars: {}\n"}'
expect_http 400
check "missing revision is named" bash -c "grep -q \"'revision'\" '$OUT'"
api PUT /v1/files/tags/new.yaml "{\"content\": \"x\", \"revision\": \"$H\", \"mesage\": \"x\"}"
expect_http 400
check "unknown field is named" bash -c "grep -q mesage '$OUT'"
api PUT /v1/files/tags/new.yaml "{\"content\": \"x\", \"content_base64\": \"eA==\", \"revision\": \"$H\"}"
expect_http 400
api PUT /v1/files/tags/new.yaml "{\"content_base64\": \"not base64!\", \"revision\": \"$H\"}"
expect_http 400
api PUT /v1/files/tags/new.yaml "{\"content\": 5, \"revision\": \"$H\"}"
expect_http 400
api PUT /v1/files/tags/new.yaml '[1]'
expect_http 400
api PUT /v1/files/tags/new.yaml "{\"content\": \"x\", \"revision\": \"nosuch\"}"
expect_http 404
api PUT /v1/files/tags/base.yaml/x "{\"content\": \"x\", \"revision\": \"$H\"}"
expect_http 400
api PUT /v1/files/.git/config "{\"content\": \"x\", \"revision\": \"$H\"}"
expect_http 400
api POST /v1/revert "{\"commit\": \"$R2\"}"
expect_http 400
api POST /v1/revert "{\"revision\": \"$H\"}"
expect_http 400
api POST /v1/revert "{\"commit\": \"$H0\", \"revision\": \"$H\"}"
expect_http 400
check "the first commit cannot be reverted" bash -c "grep -q 'first' '$OUT'"
api POST /v1/revert "{\"commit\": \"0123456789abcdef\", \"revision\": \"$H\"}"
expect_http 404
check "HEAD unchanged by all of it" test "$(git_head)" = "$H"

step "revert conflict is a 409 naming the file"
put_text files/c.txt $'one\n' "$H"
C1=$(jq_out 'd["revision"]')
put_text files/c.txt $'two\n' "$C1"
C2=$(jq_out 'd["revision"]')
api POST /v1/revert "{\"commit\": \"$C1\", \"revision\": \"$C2\"}"
expect_http 409
check "names files/c.txt" bash -c "grep -q 'files/c.txt' '$OUT'"
check "HEAD unchanged" test "$(git_head)" = "$C2"
api POST /v1/revert "{\"commit\": \"$C2\", \"revision\": \"$C1\"}"
expect_http 409
check "a stale revision names the head" test "$(jq_out 'd["head"]')" = "$C2"

step "tokens: none 401, read-only 403 on every write route"
api GET /v1/files '' -
expect_http 401
for r in "PUT /v1/files/tags/x.yaml" "DELETE /v1/files/tags/base.yaml" "POST /v1/revert"; do
	api ${r% *} ${r#* } "{\"content\": \"x\", \"revision\": \"$C2\"}" "$RO_TOKEN"
	expect_http 403
done
check "HEAD unchanged" test "$(git_head)" = "$C2"

step "kill -9 during 20 concurrent writes; restart; every 2xx write is there"
# writer N HEAD - put files/load/N.txt, retrying on 409 from the head it names
writer() {
	local n=$1 head=$2 code i
	for i in $(seq 1 400); do
		code=$(curl -s -m 30 -o "$T/load/$n.out" -w '%{http_code}' -X PUT \
			-H "Authorization: Bearer $RW_TOKEN" \
			--data-binary "{\"content\": \"write $n\\n\", \"revision\": \"$head\"}" \
			"$SERVER_URL/v1/files/files/load/$n.txt")
		case $code in
		2??) echo "$n $code $(sed -n 's/.*"revision":"\([0-9a-f]*\)".*/\1/p' "$T/load/$n.out")" \
			>>"$T/load/answered"; return 0 ;;
		409) head=$(sed -n 's/.*"head":"\([0-9a-f]*\)".*/\1/p' "$T/load/$n.out") ;;
		*) return 0 ;; # the server is gone
		esac
	done
}
mkdir "$T/load"
: >"$T/load/answered"
H=$(server_head)
pids=
for n in $(seq 1 20); do
	writer "$n" "$H" &
	pids="$pids $!"
done
# kill while writes are still under way: after a few have been answered
for _ in $(seq 1 600); do
	[ "$(wc -l <"$T/load/answered")" -ge 5 ] && break
	sleep 0.05
done
kill -KILL "$SERVER_PID"
wait $pids
{ wait "$SERVER_PID"; } 2>/dev/null
SERVER_PID=
answered=$(wc -l <"$T/load/answered")
note "$answered writes answered 2xx before the kill"
check "some writes were answered, not all" test "$answered" -ge 1 -a "$answered" -lt 20
check "git fsck is clean after the kill" bash -c "set -o pipefail; git --git-dir='$GITDIR' fsck --strict --no-dangling --no-progress 2>&1 | (! grep .)"
server_start || done_testing
missing=
while read -r n code rev; do
	got=$(git --git-dir="$GITDIR" cat-file blob "HEAD:files/load/$n.txt" 2>/dev/null)
	[ "$got" = "write $n" ] || missing="$missing $n"
	git --git-dir="$GITDIR" merge-base --is-ancestor "$rev" HEAD || missing="$missing $n@$rev"
done <"$T/load/answered"
check "every write answered 2xx is in the repository (missing:$missing)" test -z "$missing"
check "git fsck is clean after the restart" bash -c "set -o pipefail; git --git-dir='$GITDIR' fsck --strict --no-dangling --no-progress 2>&1 | (! grep .)"
api PUT /v1/files/files/after.txt "{\"content\": \"after\\n\", \"revision\": \"$(server_head)\"}"
expect_http 201

step "the audit log has one record per commit made through the API"
git --git-dir="$GITDIR" log --format='%H %(trailers:key=Tend-Caller,valueonly,separator=)' HEAD |
	awk 'NF == 2 { print $1 }' | sort >"$T/api-commits"
python3 - "$SERVER_URL" "$RW_TOKEN" >"$T/audit-commits" <<'EOF'
import json, sys, urllib.request
url, token = sys.argv[1], sys.argv[2]
before = 0
while True:
    q = f"{url}/v1/audit?limit=1000" + (f"&before={before}" if before else "")
    req = urllib.request.Request(q, headers={"Authorization": f"Bearer {token}"})
    try:
        recs = json.load(urllib.request.urlopen(req))["audit"]
    except Exception as e:
        sys.exit(f"GET /v1/audit: {e}")
    if not recs:
        break
    for r in recs:
        if r.get("commit"):
            print(r["commit"])
    before = min(r["id"] for r in recs)
EOF
sort -o "$T/audit-commits" "$T/audit-commits"
note "$(wc -l <"$T/api-commits") commits through the API, $(wc -l <"$T/audit-commits") audit records with a commit"
check "audit commits are exactly the API's commits, each once" \
	diff "$T/api-commits" "$T/audit-commits"

server_stop
check "the server stops cleanly" test "$SERVER_RC" = 0
done_testing
