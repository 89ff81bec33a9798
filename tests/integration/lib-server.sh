# lib-server.sh - helpers for integration tests that drive a real
# tend-server on loopback.  Source it after lib.sh, through $TOP (lib.sh
# has already changed into $T, so a path relative to $0 no longer works):
#
#     . "$(dirname "$0")/lib.sh"
#     . "$TOP/tests/integration/lib-server.sh"
#
# What a test gets:
#   server_start [ARGS...]  start $TEND_SERVER_BIN with state dir $STATE
#           (default $T/state) on 127.0.0.1:FREEPORT, after creating two
#           tokens (rw "admin", ro "reader") unless RW_TOKEN is already set
#           (a restart reuses them).  Sets SERVER_URL, SERVER_PORT, STATE,
#           RW_TOKEN, RO_TOKEN, SERVER_PID; fails the test when /v1/health
#           does not answer within 20 s.  Extra ARGS go to tend-server.
#           With SERVER_CACERT set (a PEM file) the URL is https and curl
#           trusts that certificate.  The server's stderr goes to
#           $SERVER_LOG.  The server is killed when the test exits.
#   server_stop             SIGTERM, wait for exit; SERVER_RC is its status.
#   api METHOD PATH [BODY_JSON|@FILE] [TOKEN]
#           curl $SERVER_URL$PATH with "Authorization: Bearer TOKEN"
#           (default $RW_TOKEN; "-" sends none).  HTTP is the status code
#           (000 when nothing answered), the body is in $OUT, the response
#           headers in $HDR.  Extra curl arguments can be put in the array
#           API_ARGS (e.g. API_ARGS=(-H 'If-None-Match: "x"')).  Never
#           fails by itself.
#   expect_http CODE        assert that the last api call answered CODE.
#   jq_out EXPR             the python3 expression EXPR with d bound to the
#           JSON in $OUT; strings print bare, anything else as JSON.
#   server_head             the current HEAD revision (GET /v1/files);
#           leaves $OUT and $HTTP alone.
#   put_text PATH TEXT      PUT a text file on the current head (api).
#   wait_for SECS NAME CMD...  assert that CMD succeeds within SECS.
#   holds FILE TEXT         FILE exists and holds exactly TEXT.
# Agents (tendd, found as $TENDD):
#   agents_enroll TAGS NODE...  an enrollment token for TAGS, then each
#           NODE enrolls with it: state $T/NODE/state, root $T/NODE/root
#           (with etc/hostname = NODE).
#   agent_start NODE [ARGS...]  start tendd for NODE (log $T/NODE.log);
#           its pid is in AGENT_PID[NODE].

need curl

if [ ! -x "$TEND_SERVER_BIN" ]; then
	echo "not ok 1 - the server binary exists: $TEND_SERVER_BIN"
	exit 1
fi

HDR=$T/.headers
SERVER_LOG=$T/server.log
SERVER_PID=
SERVER_RC=
SERVER_CACERT=${SERVER_CACERT:-}
API_ARGS=()

# _free_port - a TCP port nobody listens on right now (on 127.0.0.1).
_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# _curl ARGS... - curl bounded in time, trusting $SERVER_CACERT when set.
_curl() {
	if [ -n "$SERVER_CACERT" ]; then
		curl --cacert "$SERVER_CACERT" -m "$TEND_TIMEOUT" "$@"
	else
		curl -m "$TEND_TIMEOUT" "$@"
	fi
}

# _token ROLE NAME - create a token, print its secret.
_token() {
	"$TEND_SERVER_BIN" --state "$STATE" token create --role "$1" --name "$2" 2>>"$SERVER_LOG"
}

server_start() {
	local i code scheme=http
	STATE=${STATE:-$T/state}
	if [ -z "${RW_TOKEN:-}" ]; then
		RW_TOKEN=$(_token rw admin) && RO_TOKEN=$(_token ro reader)
		if [ -z "${RW_TOKEN:-}" ] || [ -z "${RO_TOKEN:-}" ]; then
			fail "server_start: tokens are created" "$(tail -n 20 "$SERVER_LOG")"
			return 1
		fi
	fi
	[ -n "$SERVER_CACERT" ] && scheme=https
	# the broker tend-server supervises gets a free port of its own, so no
	# test uses (or collides on) the default 4222; tests that configure the
	# bus themselves pass --nats-listen or a --config file
	case " $* " in
	*" --nats-listen "* | *" --config "* | *" -c "*) ;;
	*) set -- "$@" --nats-listen "127.0.0.1:$(_free_port)" ;;
	esac
	for i in 1 2 3; do
		SERVER_PORT=$(_free_port)
		SERVER_URL=$scheme://127.0.0.1:$SERVER_PORT
		bg "$TEND_SERVER_BIN" --state "$STATE" --listen "127.0.0.1:$SERVER_PORT" "$@" 2>>"$SERVER_LOG"
		SERVER_PID=$BG_PID
		for _ in $(seq 1 200); do
			code=$(_curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/v1/health" 2>/dev/null)
			[ "$code" = 200 ] && return 0
			alive "$SERVER_PID" || break
			sleep 0.1
		done
		if alive "$SERVER_PID"; then
			break # running but not answering: no point retrying another port
		fi
		wait "$SERVER_PID" 2>/dev/null
		# the port may have been taken in between: try another one, unless
		# the server refused to start for a reason of its own
		grep -q 'Address already in use' "$SERVER_LOG" || break
	done
	fail "server_start: $SERVER_URL/v1/health answers within 20 s" "$(tail -n 20 "$SERVER_LOG")"
	return 1
}

server_stop() {
	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_RC=$?
	SERVER_PID=
	return 0
}

api() {
	local method=$1 path=$2 body=${3:-} token=${4:-${RW_TOKEN:-}}
	local args=(-s -o "$OUT" -D "$HDR" -w '%{http_code}' -X "$method" --path-as-is)
	if [ "$token" != - ]; then
		args+=(-H "Authorization: Bearer $token")
	fi
	if [ -n "$body" ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$body")
	fi
	: >"$OUT"
	HTTP=$(_curl "${args[@]}" "${API_ARGS[@]+"${API_ARGS[@]}"}" "$SERVER_URL$path" 2>"$ERR")
	[ -n "$HTTP" ] || HTTP=000
	return 0
}

expect_http() {
	if [ "$HTTP" = "$1" ]; then
		ok "answers $1"
	else
		fail "answers $1" "got: $HTTP" "$(head -c 2000 "$OUT")"
	fi
}

jq_out() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
r = eval(sys.argv[2])
print(r if isinstance(r, str) else json.dumps(r))' "$OUT" "$1"
}

server_head() {
	_curl -s -H "Authorization: Bearer ${RO_TOKEN:-$RW_TOKEN}" "$SERVER_URL/v1/files" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["revision"])'
}

put_text() {
	local body
	body=$(python3 -c 'import json, sys; print(json.dumps({"content": sys.argv[1], "revision": sys.argv[2]}))' "$2" "$(server_head)")
	api PUT "/v1/files/$1" "$body"
}

wait_for() {
	local secs=$1 name=$2 i
	shift 2
	for i in $(seq 1 $((secs * 10))); do
		if "$@" >/dev/null 2>&1; then
			ok "$name"
			return 0
		fi
		sleep 0.1
	done
	fail "$name" "$(_show "$*") still fails after $secs s"
	return 1
}

holds() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

TENDD=${TENDD:-$(dirname "$(dirname "$TEND")")/tendd/tendd}
declare -A AGENT_PID=()

agents_enroll() {
	local tags=$1 token n
	shift
	token=$("$TEND_SERVER_BIN" --state "$STATE" token create --enroll --tags "$tags" --uses $# 2>>"$SERVER_LOG")
	for n in "$@"; do
		mkdir -p "$T/$n/root/etc"
		echo "$n" >"$T/$n/root/etc/hostname"
		expect_exit 0 timeout 30 "$TENDD" --enroll "$token" --server "$SERVER_URL" --node "$n" --state "$T/$n/state"
	done
}

agent_start() {
	local n=$1
	shift
	bg "$TENDD" --state "$T/$n/state" --root "$T/$n/root" "$@" 2>>"$T/$n.log"
	AGENT_PID[$n]=$BG_PID
}
