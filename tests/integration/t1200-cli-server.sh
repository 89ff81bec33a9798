#!/bin/bash
# t1200-cli-server: the remote commands (tend config, tend nodes, tend
# explain) against a real tend-server on loopback: where the server and
# the token come from (flag > environment > cli.conf, and a cli.conf
# anyone can read refused when it holds a token), every command's text
# and --json output, optimistic concurrency (a stale revision is a clear
# "fetch and retry"), a read-only token refused, an invalid change
# refused with each error as FILE:LINE, revert restoring the exact
# bytes, explain's origin chain, and an unreachable server named.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh"

export HOME=$T/home
mkdir -p "$HOME"
unset XDG_CONFIG_HOME TEND_TOKEN TEND_CACERT
CONF=$HOME/.config/tend/cli.conf
# The CLI's TEND_SERVER is a URL (the server binary is TEND_SERVER_BIN),
# given to it as CLI_SERVER says (unset: none).
CLI_SERVER=

# tc ARGS... - the CLI, bounded in time (no --root: these commands have none).
tc() {
	if [ -n "$CLI_SERVER" ]; then
		TEND_SERVER=$CLI_SERVER timeout -k 5 "$TEND_TIMEOUT" "$TEND" "$@"
	else
		env -u TEND_SERVER timeout -k 5 "$TEND_TIMEOUT" "$TEND" "$@"
	fi
}

# json_is NAME EXPR - the last stdout is JSON and the python3 EXPR (d = it) holds.
json_is() {
	local name=$1 out
	if out=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$OUT" "$2" 2>&1); then
		ok "$name"
	else
		fail "$name" "$2" "$out" "$(_evidence)"
	fi
}

# assert_eq NAME GOT WANT
assert_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "got:  $2" "want: $3"
	fi
}

server_start || done_testing

step "without a server or a token, the CLI says what is missing"
expect_exit 1 tc config ls
stderr_has "no server"
expect_exit 1 tc config ls --server "$SERVER_URL"
stderr_has "no token"
stderr_has "TEND_TOKEN"

step "an unreachable server is named"
dead=$(_free_port)
expect_exit 1 tc config ls --server "http://127.0.0.1:$dead" --token "$RW_TOKEN"
stderr_has "http://127.0.0.1:$dead"
stderr_has "cannot reach"

step "usage errors exit 2; --help exits 0 on every command"
expect_exit 2 tc config
expect_exit 2 tc config frobnicate
stderr_has "frobnicate"
expect_exit 2 tc config put tags/x.yaml
expect_exit 2 tc config ls --message hello
expect_exit 2 tc nodes show
expect_exit 2 tc nodes frob
expect_exit 2 tc explain
for c in "config" "config ls" "config cat" "config put" "config rm" "config log" \
	"config diff" "config revert" "nodes" "explain"; do
	# shellcheck disable=SC2086
	expect_exit 0 tc $c --help
	stdout_has "usage: tend ${c%% *}"
done
expect_exit 0 tc config put --help
stdout_has "--message"
stdout_has "--revision"
expect_exit 0 "$TEND" --help
stdout_has "config"
stdout_has "explain"

step "token and server: flag over environment over cli.conf"
CLI_SERVER=$SERVER_URL
TEND_TOKEN=$RO_TOKEN expect_exit 0 tc config ls
stdout_has "tags/base.yaml"
TEND_TOKEN=tend_not_a_token expect_exit 0 tc config ls --token "$RW_TOKEN"
TEND_TOKEN=$RW_TOKEN expect_exit 1 tc config ls --token tend_not_a_token
stderr_has "did not accept the token"
CLI_SERVER=
mkdir -p "$(dirname "$CONF")"
printf '# the test server\nserver = %s\ntoken = %s\n' "$SERVER_URL" "$RW_TOKEN" >"$CONF"
chmod 600 "$CONF"
expect_exit 0 tc config ls
stdout_has "tags/base.yaml"
TEND_TOKEN=tend_not_a_token expect_exit 1 tc config ls
stderr_has "did not accept the token"
printf 'server = %s\ntoken = tend_not_a_token\n' "$SERVER_URL" >"$CONF"
TEND_TOKEN=$RW_TOKEN expect_exit 0 tc config ls
expect_exit 0 tc config ls --server "$SERVER_URL" --token "$RW_TOKEN"

step "a cli.conf holding a token that anyone can read is refused"
printf 'server = %s\ntoken = %s\n' "$SERVER_URL" "$RW_TOKEN" >"$CONF"
chmod 644 "$CONF"
expect_exit 1 tc config ls
stderr_has "$CONF"
stderr_has "chmod 600"
stdout_lacks "tags/base.yaml"
printf 'server = %s\n' "$SERVER_URL" >"$CONF"
TEND_TOKEN=$RW_TOKEN expect_exit 0 tc config ls
printf 'server = %s\ntokn = x\n' "$SERVER_URL" >"$CONF"
chmod 600 "$CONF"
TEND_TOKEN=$RW_TOKEN expect_exit 1 tc config ls
stderr_has "cli.conf:2"
stderr_has "did you mean 'token'"
printf 'server = %s\ntoken = %s\n' "$SERVER_URL" "$RW_TOKEN" >"$CONF"

step "config ls: a table, or the API's JSON"
expect_exit 0 tc config ls
stdout_matches '^PATH +SIZE +BLOB'
stdout_matches '^tags/base\.yaml +[0-9]+ +[0-9a-f]{12}$'
expect_exit 0 tc config ls --json
json_is "ls --json lists tags/base.yaml" \
	'any(f["path"] == "tags/base.yaml" for f in d["files"]) and len(d["revision"]) == 40'
expect_exit 0 tc config ls tags
stdout_has "tags/base.yaml"
stdout_lacks "nodes/"

step "config cat prints the exact bytes"
api GET "/v1/files/tags/base.yaml?raw=1"
cp "$OUT" "$T/base.orig"
expect_exit 0 tc config cat tags/base.yaml
assert_same_file "$OUT" "$T/base.orig"
expect_exit 0 tc config cat --json tags/base.yaml
json_is "cat --json has path, revision and content" \
	'd["path"] == "tags/base.yaml" and len(d["revision"]) == 40 and "content" in d'
expect_exit 1 tc config cat tags/none.yaml
stderr_has "tags/none.yaml"
stderr_has "404"

step "config put: a new file, then a change from standard input"
printf 'resources:\n  - file: /etc/issue\n    content: "hello\\n"\n' >"$T/web.yaml"
expect_exit 0 tc config put -m "add the web tag" tags/web.yaml "$T/web.yaml"
stdout_matches '^created tags/web\.yaml: revision [0-9a-f]{40}$'
expect_exit 0 tc config cat tags/web.yaml
assert_same_file "$OUT" "$T/web.yaml"
printf 'resources:\n  - file: /etc/issue\n    content: "bye\\n"\n' >"$T/web2.yaml"
run tc config put --json tags/web.yaml - <"$T/web2.yaml"
assert_eq "put from stdin exits 0" "$RC" 0
json_is "put --json answers the new revision" 'len(d["revision"]) == 40 and d["path"] == "tags/web.yaml"'
expect_exit 0 tc config cat tags/web.yaml
assert_same_file "$OUT" "$T/web2.yaml"

step "config put of the same bytes commits nothing"
expect_exit 0 tc config put tags/web.yaml "$T/web2.yaml"
stdout_matches '^unchanged tags/web\.yaml: revision [0-9a-f]{40}$'

step "config put of bytes that are not UTF-8 keeps them"
printf 'a\000b\377c\n' >"$T/blob.bin"
expect_exit 0 tc config put files/blob.bin "$T/blob.bin"
expect_exit 0 tc config cat files/blob.bin
assert_same_file "$OUT" "$T/blob.bin"

step "config log: author, time, message and files"
expect_exit 0 tc config log -n 3
stdout_matches '^[0-9a-f]{12} [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z admin  add the web tag$'
stdout_matches '^    A tags/web\.yaml$'
stdout_matches '^    M tags/web\.yaml$'
expect_exit 0 tc config log --json -n 2 tags/web.yaml
json_is "log --json: newest first, by admin, touching the path" \
	'len(d["commits"]) == 2 and all(c["author"] == "admin" for c in d["commits"]) and d["commits"][1]["message"].startswith("add the web tag") and d["commits"][1]["files"][0]["path"] == "tags/web.yaml"'

step "a stale revision is refused with 'fetch and retry'"
expect_exit 0 tc config cat --json tags/web.yaml
old=$(jq_out 'd["revision"]')
printf 'resources:\n  - file: /etc/issue\n    content: "third\\n"\n' >"$T/web3.yaml"
expect_exit 0 tc config put tags/web.yaml "$T/web3.yaml"
head=$(server_head)
expect_exit 1 tc config put --revision "$old" tags/web.yaml "$T/web2.yaml"
stderr_has "someone else changed the configuration since revision $old; fetch and retry"
assert_eq "nothing was committed" "$(server_head)" "$head"
expect_exit 0 tc config cat tags/web.yaml
assert_same_file "$OUT" "$T/web3.yaml"

step "a read-only token cannot change anything"
expect_exit 1 tc config put --token "$RO_TOKEN" tags/web.yaml "$T/web2.yaml"
stderr_has "read-only token"
expect_exit 1 tc nodes tags --token "$RO_TOKEN" example base
stderr_has "read-only token"
assert_eq "nothing was committed" "$(server_head)" "$head"

step "an invalid change is refused, each error printed as FILE:LINE"
printf 'resources:\n  - file: /etc/motd\n    mdoe: "0644"\n' >"$T/bad.yaml"
expect_exit 1 tc config put --json tags/base.yaml "$T/bad.yaml"
stderr_has "invalid"
stderr_matches '^tags/base\.yaml:3(:[0-9]+)?: .*mdoe'
python3 -c 'import json, sys
errs = json.load(open(sys.argv[1]))["errors"]
lines = open(sys.argv[2]).read().splitlines()
assert errs, "no errors"
missing = [e for e in errs if e not in lines]
assert not missing, missing' "$OUT" "$ERR" && ok "every error of the answer is a line on stderr" ||
	fail "every error of the answer is a line on stderr" "$(_evidence)"
assert_eq "nothing was committed" "$(server_head)" "$head"

step "config rm"
echo scratch >"$T/scratch.txt"
expect_exit 0 tc config put files/scratch.txt "$T/scratch.txt"
expect_exit 0 tc config rm -m "drop scratch" files/scratch.txt
stdout_matches '^removed files/scratch\.txt: revision [0-9a-f]{40}$'
expect_exit 1 tc config cat files/scratch.txt
expect_exit 1 tc config rm files/scratch.txt
stderr_has "files/scratch.txt"

step "config diff prints the patch"
r1=$(server_head)
printf 'line one\n' >"$T/notes1"
printf 'line one\nline two\n' >"$T/notes2"
expect_exit 0 tc config put files/notes.txt "$T/notes1"
r2=$(server_head)
expect_exit 0 tc config put -m "second line" files/notes.txt "$T/notes2"
r3=$(server_head)
expect_exit 0 tc config diff "$r2" "$r3"
stdout_matches '^\+line two$'
stdout_has "files/notes.txt"
expect_exit 0 tc config diff --json --path files "$r1"
json_is "diff --json: files and patch" \
	'any(f["path"] == "files/notes.txt" for f in d["files"]) and "+line one" in d["patch"]'

step "config revert restores the exact bytes"
expect_exit 0 tc config revert -m "undo the second line" "$r3"
stdout_matches '^reverted [0-9a-f]+: revision [0-9a-f]{40}$'
expect_exit 0 tc config cat files/notes.txt
assert_same_file "$OUT" "$T/notes1"
expect_exit 0 tc config log -n 1
stdout_has "undo the second line"
r4=$(server_head)
expect_exit 1 tc config revert --revision "$r3" "$r4"
stderr_has "someone else changed the configuration since revision $r3; fetch and retry"
assert_eq "nothing was committed" "$(server_head)" "$r4"
expect_exit 0 tc config put files/notes.txt "$T/notes2"
r5=$(server_head)
printf 'line one\nline TWO\n' >"$T/notes3"
expect_exit 0 tc config put files/notes.txt "$T/notes3"
r6=$(server_head)
expect_exit 1 tc config revert "$r5"
stderr_has "files/notes.txt"
stderr_lacks "fetch and retry"
assert_eq "a conflicting revert commits nothing" "$(server_head)" "$r6"

step "explain shows each value's origin chain"
printf 'vars:\n  http_port: 8080\nresources:\n  - file: /etc/motd\n    mode: "0640"\n' >"$T/prod.yaml"
printf '# base\nvars:\n  http_port: 80\nresources:\n  - file: /etc/motd\n    content: "hello\\n"\n    mode: "0644"\n' >"$T/base.yaml"
printf 'tags: [base, production]\nvars:\n  http_port: 8081\nresources:\n  - file: /etc/motd\n    mode: "0600"\n' >"$T/web01.yaml"
expect_exit 0 tc config put tags/production.yaml "$T/prod.yaml"
expect_exit 0 tc config put tags/base.yaml "$T/base.yaml"
expect_exit 0 tc config put nodes/web01.yaml "$T/web01.yaml"
expect_exit 0 tc explain web01
stdout_matches '^  http_port += 8081 +tags/base\.yaml:3 -> tags/production\.yaml:2 -> nodes/web01\.yaml:3$'
stdout_matches '^  mode += "0600" +tags/base\.yaml:7 -> tags/production\.yaml:5 -> nodes/web01\.yaml:6$'
stdout_matches '^  content += "hello\\n" +tags/base\.yaml:6$'
stdout_matches '^file:/etc/motd'
expect_exit 0 tc explain web01 file:/etc/motd
stdout_has "tags/base.yaml:7 -> tags/production.yaml:5 -> nodes/web01.yaml:6"
expect_exit 0 tc explain --json web01
json_is "explain --json: three origins of http_port, the node's last" \
	'[o["origin"] for o in d["vars"]["http_port"]] == ["tags/base.yaml:3", "tags/production.yaml:2", "nodes/web01.yaml:3"] and d["vars"]["http_port"][-1]["value"] == 8081'
expect_exit 1 tc explain web01 file:/nowhere
stderr_has "file:/nowhere"

step "nodes: list, show, set tags"
expect_exit 0 tc nodes
stdout_matches '^NODE +TAGS +STATUS +LAST SEEN +DOCUMENT$'
stdout_matches '^web01 +base,production +'
expect_exit 0 tc nodes ls --json
json_is "nodes --json lists web01 with its tags" \
	'[n["tags"] for n in d["nodes"] if n["id"] == "web01"] == [["base", "production"]]'
expect_exit 0 tc nodes show web01
stdout_matches '^tags: +base, production$'
stdout_matches '^document: +nodes/web01\.yaml$'
expect_exit 0 tc nodes show --json web01
json_is "nodes show --json" 'd["id"] == "web01" and d["document"] == "nodes/web01.yaml"'
expect_exit 1 tc nodes show nosuchnode
stderr_has "nosuchnode"
expect_exit 0 tc nodes tags -m "web01 leaves production" web01 base
stdout_matches '^web01: tags base: revision [0-9a-f]{40}$'
expect_exit 0 tc config cat nodes/web01.yaml
stdout_matches '^tags: *\[ *base *\]$|^tags:$'
stdout_has "http_port: 8081"
stdout_has 'mode: "0600"'
expect_exit 0 tc explain --json web01
json_is "explain after the tag change: production is gone" \
	'[o["origin"] for o in d["vars"]["http_port"]] == ["tags/base.yaml:3", "nodes/web01.yaml:3"]'
expect_exit 2 tc nodes tags web01 "base,,web"

step "https: the server's certificate is trusted with --cacert, TEND_CACERT or cli.conf"
if ! command -v openssl >/dev/null 2>&1; then
	note "openssl is not installed: https not tested"
elif openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1; then
	server_stop
	SERVER_CACERT=$T/cert.pem
	server_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" || done_testing
	case $SERVER_URL in https://*) ok "the server answers https" ;; *) fail "https URL: $SERVER_URL" ;; esac
	expect_exit 0 tc config ls --server "$SERVER_URL" --cacert "$T/cert.pem"
	stdout_has "tags/base.yaml"
	CLI_SERVER=$SERVER_URL
	TEND_CACERT=$T/cert.pem expect_exit 0 tc nodes
	stdout_has "web01"
	CLI_SERVER=
	printf 'server = %s\ntoken = %s\ncacert = %s\n' "$SERVER_URL" "$RW_TOKEN" "$T/cert.pem" >"$CONF"
	expect_exit 0 tc explain web01
	stdout_has "nodes/web01.yaml:3"
	printf 'server = %s\ntoken = %s\n' "$SERVER_URL" "$RW_TOKEN" >"$CONF"
	expect_exit 1 tc config ls
	stderr_has "$SERVER_URL"
	stderr_matches 'certificate|SSL'
	expect_exit 1 tc config ls --cacert "$T/no-such.pem"
	stderr_has "no-such.pem"
else
	fail "openssl makes a self-signed certificate"
fi

done_testing
