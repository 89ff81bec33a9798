#!/bin/bash
# t1430-agent-offline: agents without their broker.
#
# While the nats-server tend-server supervises is down (killed each time
# it is started again, for several seconds), two agents keep converging
# every second from their cached catalogs - a file removed by hand comes
# back - and spool their reports, which say the catalog is stale.  A
# catalog damaged on disk meanwhile is refused (one truncated, one edited
# so that its signature no longer matches) and the previous good one is
# used instead; the edit never reaches the managed root.  Once the broker
# is back the agents reconnect by themselves, deliver every spooled report
# exactly once (counted by report id through the API), and fetch the
# current catalog again.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/integration/lib-server.sh" # lib.sh moved to $T

[ -x "$TENDD" ] || { echo "not ok 1 - the agent binary exists: $TENDD"; exit 1; }
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null || skip "nats-server is not installed"
need pgrep
export HOME=$T

NATS_PORT=$(_free_port)
printf 'nats_listen: 127.0.0.1:%s\n' "$NATS_PORT" >"$T/server.yaml"
server_start --config "$T/server.yaml" || done_testing

spooled() { ls "$1/state/spool/" 2>/dev/null | grep -c '\.json$'; }
spool_empty() { [ "$(spooled "$1")" -eq 0 ]; }
spool_has() { [ "$(spooled "$1")" -ge "$2" ]; }

# broker_pid - the nats-server our tend-server runs (its child), if any.
# outage_runs NODE N - at least N run events NODE sent during the outage are stored.
outage_runs() {
	_curl -s -H "Authorization: Bearer $RO_TOKEN" "$SERVER_URL/v1/events?node=$1&limit=1000" |
		python3 -c '
import calendar, json, sys, time
start, end, want = int(sys.argv[1]) + 1, int(sys.argv[2]) - 1, int(sys.argv[3])
def t(v):
    if isinstance(v, (int, float)):
        return v
    return calendar.timegm(time.strptime(v[:19], "%Y-%m-%dT%H:%M:%S"))
runs = [e for e in json.load(sys.stdin)["events"]
        if e["type"] == "run" and start <= t(e["time"]) <= end]
sys.exit(len(runs) < want)
' "$OUT_START" "$OUT_END" "$2"
}

broker_pid() {
	local f
	for f in "$STATE"/nats/*.pid; do
		[ -s "$f" ] && alive "$(cat "$f")" && { cat "$f"; return 0; }
	done
	pgrep -P "$SERVER_PID" -x nats-server | head -n 1
}

# report_ids NODE - the agent's id (uuid) of every report the server holds for NODE, one a line.
report_ids() {
	local id
	for id in $(_curl -s -H "Authorization: Bearer $RO_TOKEN" "$SERVER_URL/v1/nodes/$1/reports?limit=1000" |
		python3 -c 'import json, sys; print("\n".join(str(r["id"]) for r in json.load(sys.stdin)["reports"]))'); do
		_curl -s -H "Authorization: Bearer $RO_TOKEN" "$SERVER_URL/v1/reports/$id" |
			python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["report"].get("uuid", "none"))'
	done
}

tags_v() { # N - tags/agents.yaml, version N of the motd
	printf 'resources:\n  - file: /etc/motd\n    content: "version %s\\n"\n' "$1"
}

step "two agents enrolled and converged on version 1, then version 2"
put_text tags/agents.yaml "$(tags_v 1)"
expect_http 201
TOKEN=$("$TEND_SERVER_BIN" --state "$STATE" token create --enroll --tags agents --uses 2 2>>"$SERVER_LOG")
for n in 1 2; do
	mkdir -p "$T/a$n/root/etc"
	expect_exit 0 timeout 30 "$TENDD" --enroll "$TOKEN" --server "$SERVER_URL" --node "o$n" --state "$T/a$n/state"
	bg "$TENDD" --state "$T/a$n/state" --root "$T/a$n/root" --interval 1s --splay 0 --alive 1s --timeout 2s -v -v 2>"$T/a$n.log"
	eval "PID$n=\$BG_PID"
done
for n in 1 2; do
	wait_for 30 "o$n converges on version 1" holds "$T/a$n/root/etc/motd" "version 1"
done
put_text tags/agents.yaml "$(tags_v 2)"
expect_http 200
for n in 1 2; do
	wait_for 30 "o$n converges on version 2" holds "$T/a$n/root/etc/motd" "version 2"
	check "o$n keeps version 1 as the previous catalog" grep -q 'version 1' "$T/a$n/state/catalog.prev/catalog.json"
	wait_for 20 "o$n has nothing waiting in its spool" spool_empty "$T/a$n"
done

step "the broker goes away and stays away"
OUT_START=$(date -u +%s)
BROKER=$(broker_pid)
if [ -n "$BROKER" ]; then ok "tend-server runs a nats-server (pid $BROKER)"; else fail "tend-server runs a nats-server" "$(tail -n 20 "$SERVER_LOG")"; fi
# kill it, and kill it again each time tend-server restarts it, until $T/outage-over exists
(
	while [ ! -e "$T/outage-over" ]; do
		p=$(broker_pid)
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
		sleep 0.05
	done
) &
KILLER=$!
_bg_pids="$_bg_pids $KILLER"

step "offline, the agents keep converging from their cached catalogs and spool their reports"
for n in 1 2; do
	wait_for 20 "o$n spools reports" spool_has "$T/a$n" 2
done
rm -f "$T/a1/root/etc/motd"
wait_for 20 "o1 puts back a removed file from its cached catalog" holds "$T/a1/root/etc/motd" "version 2"
check "o1 says it uses the cached catalog" grep -q 'using the cached one' "$T/a1.log"
SPOOL1=$(ls "$T/a1/state/spool" | head -n 1)
check "a spooled report says the catalog is stale, and since when" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
c = d["report"]["catalog"]
sys.exit(not (c["hash"].startswith("sha256:") and c["stale_since"].endswith("Z")))
' "$T/a1/state/spool/$SPOOL1"

step "a truncated catalog on disk is refused; the previous good one is used"
truncate -s 100 "$T/a1/state/catalog/catalog.json"
wait_for 20 "o1 converges on the previous catalog" holds "$T/a1/root/etc/motd" "version 1"
check "o1 says why" grep -q 'refused the cached catalog' "$T/a1.log"

step "an edited catalog on disk is refused: its signature no longer matches"
sed -i 's/version 2/version 666/' "$T/a2/state/catalog/catalog.json"
check "the edit is there" grep -q 'version 666' "$T/a2/state/catalog/catalog.json"
wait_for 20 "o2 converges on the previous catalog" holds "$T/a2/root/etc/motd" "version 1"
check "o2 names the bad signature" grep -q 'bad signature' "$T/a2.log"
check "the edited content never reached the root" sh -c "! grep -rq 666 '$T/a2/root'"

# every report spooled during the outage, by id
sleep 1.5
for n in 1 2; do
	ls "$T/a$n/state/spool" | grep '\.json$' | sed 's/\.json$//' >"$T/spooled$n"
done
note "spooled: o1 $(wc -l <"$T/spooled1"), o2 $(wc -l <"$T/spooled2")"

step "the broker is back: the agents reconnect by themselves and deliver their spools"
OUT_END=$(date -u +%s)
touch "$T/outage-over"
wait "$KILLER" 2>/dev/null
for n in 1 2; do
	wait_for 60 "o$n empties its spool" spool_empty "$T/a$n"
done
for n in 1 2; do
	report_ids "o$n" >"$T/ids$n"
	missing=0 twice=0
	while read -r id; do
		c=$(grep -cx "$id" "$T/ids$n")
		[ "$c" -eq 0 ] && missing=$((missing + 1))
		[ "$c" -gt 1 ] && twice=$((twice + 1))
	done <"$T/spooled$n"
	if [ "$missing" -eq 0 ] && [ "$twice" -eq 0 ] && [ -s "$T/spooled$n" ]; then
		ok "each of o$n's $(wc -l <"$T/spooled$n") spooled reports arrived exactly once"
	else
		fail "each of o$n's spooled reports arrived exactly once" "missing $missing, twice $twice" "$(head -n 5 "$T/ids$n")"
	fi
	if [ -z "$(sort "$T/ids$n" | uniq -d)" ]; then
		ok "no report of o$n is stored twice"
	else
		fail "no report of o$n is stored twice" "$(sort "$T/ids$n" | uniq -d | head)"
	fi
done

step "events sent while the broker was away arrive once it is back"
# tendd publishes a run event after every run (here every second); the
# client library keeps what is published while the connection is down and
# sends it on reconnecting
for n in 1 2; do
	wait_for 30 "o$n's run events of the outage are stored" outage_runs "o$n" 2
done

step "back online, the agents fetch the current catalog again"
for n in 1 2; do
	wait_for 30 "o$n converges on version 2 again" holds "$T/a$n/root/etc/motd" "version 2"
	check "o$n's catalog on disk verifies again" grep -q 'version 2' "$T/a$n/state/catalog/catalog.json"
done

for n in 1 2; do
	eval "kill -TERM \$PID$n"
	eval "wait \$PID$n"
	rc=$?
	if [ "$rc" -eq 0 ]; then ok "o$n stops cleanly"; else fail "o$n stops cleanly" "exit $rc" "$(tail -n 20 "$T/a$n.log")"; fi
done

done_testing
