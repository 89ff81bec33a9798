#!/bin/bash
# t1510: examples/fleet/demo.sh, the fleet part of `make demo`, runs to
# its end: it checks each of its steps (a server and its broker, three
# agents enrolled and converged, an administrator's identity, ping, run,
# refusals by policy, a rolling change with tend up, the audit) and exits
# non-zero when one misbehaves.
command -v nats-server >/dev/null || { echo "skip: nats-server is not installed"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
TEND=${TEND:-$top/build/src/tend/tend}
build=$(dirname "$(dirname "$(dirname "$TEND")")")
cd "$top" || exit 1
if out=$(bash examples/fleet/demo.sh "$build" 2>&1); then
	echo "ok - examples/fleet/demo.sh ran to its end"
	exit 0
fi
echo "not ok - examples/fleet/demo.sh failed:"
printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'
exit 1
