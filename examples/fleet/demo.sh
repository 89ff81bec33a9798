#!/bin/bash
# examples/fleet/demo.sh BUILD_DIR - a managed fleet in three minutes.
#
# Starts tend-server (and the nats-server it supervises) on 127.0.0.1,
# enrolls three agents, each managing a scratch directory as its root
# filesystem, lets them converge, then acts on them as an administrator:
# an identity from tend's CA, a policy in the configuration repository,
# `tend ping`, `tend run`, a refused request, a rolling change with
# `tend up`, and the audit of it all.  Everything lives in a temporary
# directory, removed on exit with the processes.  Exits non-zero when a
# step does not behave as described.
set -u

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 1
fi
build=$(cd "$1" && pwd) || exit 1
tend=$build/src/tend/tend
server=$build/src/tend-server/tend-server
tendd=$build/src/tendd/tendd
for b in "$tend" "$server" "$tendd"; do
	[ -x "$b" ] || { echo "demo: $b is not built (make build)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "demo: nats-server is not installed (make deps)" >&2; exit 1; }

work=$(mktemp -d /tmp/tend-fleet-demo.XXXXXX) || exit 1
pids=()
cleanup() {
	for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
. "$(dirname "$0")/../demo-lib.sh"
cd "$work" || exit 1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
put() { # put PATH TEXT: a file of the configuration repository, through the API
	local rev
	rev=$(curl -fsS -H "Authorization: Bearer $TEND_TOKEN" "$TEND_SERVER/v1/files" | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
	python3 -c 'import json, sys; print(json.dumps({"content": sys.argv[1], "revision": sys.argv[2]}))' "$2" "$rev" |
		curl -fsS -o /dev/null -X PUT -H "Authorization: Bearer $TEND_TOKEN" -H 'Content-Type: application/json' --data-binary @- "$TEND_SERVER/v1/files/$1"
}

port=$(free_port)
export TEND_SERVER=http://127.0.0.1:$port
printf 'nats_listen: 127.0.0.1:%s\n' "$(free_port)" >server.yaml

say "start tend-server: it makes its CA and runs a broker that only admits certificates of that CA"
show "\"$server\" --state state token create --role rw --name demo >rw.token"
"$server" --state state --config server.yaml --listen "127.0.0.1:$port" >server.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	curl -fsS "$TEND_SERVER/v1/health" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fsS "$TEND_SERVER/v1/health" >/dev/null || { cat server.log; fail "the server did not start"; }
export TEND_TOKEN=$(cat rw.token)
put tags/web.yaml $'resources:\n  - file: /etc/motd\n    content: "managed by tend, version 1\\n"\n' || fail "put tags/web.yaml"
put policy/ops.yaml $'# who may do what on which nodes (default: nothing)\nrules:\n  - allow: [ping, facts, plan, apply]\n    roles: [ops]\n  - allow: [run]\n    roles: [ops]\n    commands: ["/bin/uname *", "/usr/bin/uptime"]\n' || fail "put policy/ops.yaml"
echo "a tag 'web' manages /etc/motd; policy/ops.yaml lets role 'ops' ping, plan, apply and run two commands"

say "three agents enroll with a one-time token and converge"
show "\"$server\" --state state token create --enroll --tags web --uses 3 >enroll.token"
for i in 1 2 3; do
	mkdir -p "web$i/root/etc"
	echo "web$i" >"web$i/root/etc/hostname"
	show "\"$tendd\" --enroll \$(cat enroll.token) --server \$TEND_SERVER --node web$i --state web$i/state"
	"$tendd" --state "web$i/state" --root "web$i/root" --interval 1h >"web$i.log" 2>&1 &
	pids+=($!)
done
for _ in $(seq 1 300); do
	[ -f web1/root/etc/motd ] && [ -f web2/root/etc/motd ] && [ -f web3/root/etc/motd ] && break
	sleep 0.1
done
show "cat web1/root/etc/motd"

say "an administrator's identity: a key and a certificate of tend's CA, role ops"
show "\"$server\" --state state user add alice --role ops --out alice.pem"
show "\"$server\" --state state user add guest --role visitor --out guest.pem"
for _ in $(seq 1 100); do # the broker reloads its users
	"$tend" ping --identity alice.pem --timeout 2 >/dev/null 2>&1 && break
	sleep 0.2
done

say "who is there? every agent verifies the signed request, checks the policy and signs its answer"
show "\"$tend\" ping --identity alice.pem"

say "run a command everywhere (no shell); identical output is shown once"
show "\"$tend\" run --identity alice.pem -- /bin/uname -s"

say "what the policy does not allow is refused by every node, with the reason"
refused "\"$tend\" run --identity alice.pem -- /bin/cat /etc/shadow"
refused "\"$tend\" ping --identity guest.pem --timeout 3"

say "a rolling change: version 2 of the motd, analysed on every node, then applied in batches of one"
put tags/web.yaml $'resources:\n  - file: /etc/motd\n    content: "managed by tend, version 2\\n"\n' || fail "put tags/web.yaml"
show "\"$tend\" up --identity alice.pem --yes --batch 1 --max-failures 0"
show "cat web3/root/etc/motd"
grep -q "version 2" web3/root/etc/motd || fail "web3 did not get version 2"

say "the audit: every request each node saw, allowed or refused, and why"
sleep 1
show "\"$tend\" audit --limit 8"

printf '\ndemo: done\n'
