#!/bin/bash
# t0900: the shipped examples still work: examples/demo.sh plans, applies,
# converges and corrects manual drift in a temp root (it checks each step
# and exits non-zero when one misbehaves).
top=$(cd "$(dirname "$0")/../.." && pwd)
TEND=${TEND:-$top/build/src/tend/tend}
cd "$top" || exit 1
if out=$(bash examples/demo.sh "$TEND" 2>&1); then
	echo "ok - examples/demo.sh ran to its end"
	exit 0
fi
echo "not ok - examples/demo.sh failed:"
printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'
exit 1
