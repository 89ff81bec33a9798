#!/bin/bash
# examples/server/demo.sh BUILD_DIR - the configuration server in two minutes.
#
# Starts tend-server on 127.0.0.1 with a scratch state directory, makes a
# read-write and a read-only token, and then, with the tend CLI only:
# looks at the example repository the server created, layers a production
# tag and a node document over the base tag, asks where each value came
# from (explain), shows that an invalid change is refused and that a
# read-only token cannot write, reads the history, reverts a change, and
# clones the repository with plain git.  Everything lives in a temporary
# directory, removed on exit with the server.  Exits non-zero when a step
# does not behave as described.
set -u

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 1
fi
build=$(cd "$1" && pwd) || exit 1
tend=$build/src/tend/tend
server=$build/src/tend-server/tend-server
for b in "$tend" "$server"; do
	[ -x "$b" ] || { echo "demo: $b is not built (make build)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/tend-server-demo.XXXXXX) || exit 1
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/../demo-lib.sh"
cd "$work" || exit 1

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export TEND_SERVER=http://127.0.0.1:$port

say "start tend-server with a fresh state directory (it creates a git repository with an example layout)"
show "\"$server\" --state state token create --role rw --name alice >rw.token"
show "\"$server\" --state state token create --role ro --name dashboard >ro.token"
"$server" --state state --listen "127.0.0.1:$port" >server.log 2>&1 &
pid=$!
for _ in $(seq 1 100); do
	curl -fsS "$TEND_SERVER/v1/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "$TEND_SERVER/v1/health" >/dev/null || { cat server.log; fail "the server did not start"; }
echo "tend-server is listening on $TEND_SERVER (pid $pid)"
export TEND_TOKEN=$(cat rw.token)

say "what the repository holds"
show "\"$tend\" config ls"
show "\"$tend\" config cat tags/base.yaml"

say "a production tag overrides the base tag, and web01's own document overrides both"
cat >production.yaml <<'YAML'
# tags/production.yaml: what every production node has on top of base
vars:
  environment: production
resources:
  - file: /etc/motd
    mode: "0640"
YAML
cat >web01.yaml <<'YAML'
tags: [base, production]
resources:
  - file: /etc/motd
    mode: "0600"
YAML
show "\"$tend\" config put -m 'add the production tag' tags/production.yaml production.yaml"
show "\"$tend\" config put -m 'web01 is a production web server' nodes/web01.yaml web01.yaml"
show "\"$tend\" nodes"

say "explain: where every value of web01's catalog comes from"
show "\"$tend\" explain web01 file:/etc/motd"

say "an invalid change is refused with its position, and nothing is committed"
printf 'resources:\n  - file: /etc/motd\n    mdoe: "0644"\n' >broken.yaml
refused "\"$tend\" config put tags/production.yaml broken.yaml"

say "a read-only token reads, but cannot write"
show "TEND_TOKEN=\$(cat ro.token) \"$tend\" config cat nodes/web01.yaml >/dev/null && echo read ok"
refused "TEND_TOKEN=\$(cat ro.token) \"$tend\" config rm nodes/web01.yaml"

say "history: every change is a commit with its author and time"
show "\"$tend\" config log -n 3"
rev=$("$tend" config log --json -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["commits"][0]["id"])')

say "revert the last change: a new commit that restores the previous bytes"
show "\"$tend\" config revert -m 'back to the shared settings' $rev"
refused "\"$tend\" config cat nodes/web01.yaml 2>/dev/null"
show "\"$tend\" config log -n 1"

say "it is plain git: clone it and see the same history"
show "git clone -q state/config.git clone && git -C clone log --format='%h %an %s' -n 4"

say "the audit log names who did what, from where"
show "curl -fsS -H \"Authorization: Bearer \$TEND_TOKEN\" \"$TEND_SERVER/v1/audit?limit=4\" | python3 -c 'import json,sys; [print(a[\"time\"], a[\"who\"], a[\"address\"], a[\"status\"], a[\"action\"]) for a in json.load(sys.stdin)[\"audit\"]]'"

printf '\ndemo: the configuration server did everything described above.\n'
