#!/bin/bash
# t1550-emulator: tend-emulator runs 50 agents in one process.  Each
# enrolls with the same multi-use token exactly as tendd does (its own
# key, a CSR, POST /v1/enroll), so the server knows it and its broker
# lets it in; each has its own TLS connection, on one event loop, and
# checks every request with the real agent code (certificate chain,
# signature, freshness, replay, filter, policy).  `tend ping` sees 50
# verified answers; a filter picks a subset; a role no rule names is
# refused by every agent; the identities are reused by the next run.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

EMU=$(dirname "$(dirname "$TEND")")/tend-emulator/tend-emulator
[ -x "$EMU" ] || { echo "not ok 1 - the emulator binary exists: $EMU"; exit 1; }
command -v nats-server >/dev/null || skip "nats-server is not installed"
need openssl
export HOME=$T
N=50

NATS_PORT=$(_free_port)
printf 'nats_listen: 127.0.0.1:%s\n' "$NATS_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" || done_testing
NATS=tls://127.0.0.1:$NATS_PORT

step "an administrator, and a policy that lets role ops ping"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" --config "$T/server.yaml" user add alice --role ops --out "$T/alice.pem"
expect_exit 0 "$TEND_SERVER_BIN" --state "$STATE" --config "$T/server.yaml" user add bob --role guest --out "$T/bob.pem"
POLICY=$'rules:\n  - allow: [ping]\n    roles: [ops]\n'
put_text policy/ping.yaml "$POLICY"
expect_http 201
mkdir -p "$T/policy"
printf '%s' "$POLICY" >"$T/policy/ping.yaml"

step "$N agents enroll with one token and connect"
TOKEN=$("$TEND_SERVER_BIN" --state "$STATE" token create --enroll --uses $N 2>>"$SERVER_LOG")
# emu_start - the emulator in the background (EMU_PID), output in $T/emu.out
emu_start() {
	bg "$EMU" --agents $N --state "$T/emu" --nats "$NATS" --server "$SERVER_URL" \
		--token "$TOKEN" --policy "$T/policy" --tags emulated >"$T/emu.out" 2>"$T/emu.err"
	EMU_PID=$BG_PID
}
emu_start
wait_for 120 "the emulator says all $N agents are connected" grep -q "^$N agents connected in" "$T/emu.out"
check "it enrolled $N identities" grep -q "identities of $N agents ready in .* ($N enrolled now)" "$T/emu.out"
check "each agent has its own key and certificate" \
	test "$(ls "$T"/emu/agents/*.key | wc -l)-$(ls "$T"/emu/agents/*.pem | wc -l)" = "$N-$N"
assert_mode "$T/emu/agents/emu-00001.key" 600
check "a certificate names its agent and nothing else" sh -c \
	"openssl x509 -in '$T/emu/agents/emu-00042.pem' -noout -subject -nameopt RFC2253 | grep -qx 'subject=CN=emu-00042'"
check "two agents have two different keys" sh -c \
	"! cmp -s '$T/emu/agents/emu-00001.key' '$T/emu/agents/emu-00002.key'"
api GET /v1/nodes
check "the server's inventory has the $N nodes" \
	test "$(jq_out "len([n for n in d['nodes'] if n['id'].startswith('emu-')])")" = $N
threads=$(ls "/proc/$EMU_PID/task" | wc -l)
check "a handful of threads for $N connections ($threads)" test "$threads" -lt 16

step "tend ping: $N verified answers"
# within SECS NAME CMD... - assert that CMD succeeds within SECS of wall time
within() {
	local secs=$1 name=$2 end=$((SECONDS + $1))
	shift 2
	while [ "$SECONDS" -lt "$end" ]; do
		if "$@" >/dev/null 2>&1; then
			ok "$name"
			return 0
		fi
		sleep 0.2
	done
	fail "$name" "$(_show "$*") still fails after $secs s"
	return 1
}
# the inventory (which tells ping whom to wait for) also holds the
# server's example node: pick the agents
SRV=(--server "$SERVER_URL" --token "$RO_TOKEN")
ALL=("${SRV[@]}" --node 'emu-*')
ping_all() { timeout 10 "$TEND" ping --identity "$T/alice.pem" --timeout 5 "${ALL[@]}"; }
within 30 "every emulated agent answers" ping_all
run "$TEND" ping --identity "$T/alice.pem" --timeout 20 "${ALL[@]}"
check "tend ping exits 0" test "$RC" = 0
stdout_matches "^$N nodes answered in [0-9.]+ s"
run "$TEND" ping --identity "$T/alice.pem" --timeout 20 --json "${ALL[@]}"
check "the JSON lists $N answers, none rejected, nobody missing" python3 - "$OUT" $N <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(a["node"] for a in d["answered"])
want = ["emu-%05d" % i for i in range(1, int(sys.argv[2]) + 1)]
sys.exit(not (names == want and not d["rejected"] and not d["refused"] and not d["missing"]))
PY

step "a filter: only the agents it picks answer"
run "$TEND" ping --identity "$T/alice.pem" --timeout 20 "${SRV[@]}" --node 'emu-0000?' --json
check "emu-00001 .. emu-00009 answer, the others stay silent" python3 - "$OUT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(a["node"] for a in d["answered"])
sys.exit(names != ["emu-%05d" % i for i in range(1, 10)])
PY
run "$TEND" ping --identity "$T/alice.pem" --timeout 3 "${ALL[@]}" --fact os.id=debian --fact 'memory.total>4G'
stdout_matches "^$N nodes answered"
run "$TEND" ping --identity "$T/alice.pem" --timeout 3 "${ALL[@]}" --fact 'memory.total>16G'
stdout_matches "^0 nodes answered"

step "default deny: bob's role has no rule, every agent refuses him"
run "$TEND" ping --identity "$T/bob.pem" --timeout 20 "${ALL[@]}"
check "tend ping exits 1" test "$RC" = 1
check "$N agents say why" test "$(grep -c 'refused: no rule allows ping for bob' "$OUT")" = $N

step "SIGTERM stops the emulator cleanly, with what its agents saw"
kill -TERM "$EMU_PID"
wait "$EMU_PID"
check "it exits 0" test "$?" = 0
check "it counted the refusals and sent no reply it could not build" \
	grep -qE "[0-9]+ requests .*; $N refused\), [0-9]+ replies, [0-9]+ audit records built and dropped, [0-9]+ not for them, 0 errors" "$T/emu.out"

step "a second run reuses the identities: nothing is enrolled again"
emu_start
wait_for 120 "all $N agents are connected again" grep -q "^$N agents connected in" "$T/emu.out"
check "no enrollment this time" grep -q "(0 enrolled now)" "$T/emu.out"
within 30 "every emulated agent answers again" ping_all
kill -TERM "$EMU_PID"
wait "$EMU_PID"
check "it exits 0 again" test "$?" = 0

done_testing
