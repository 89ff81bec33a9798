#!/bin/bash
# t0130-kill9-atomic: writes are atomic.  An apply of 2,000 files (old
# content on disk, new content in the manifest) is killed with SIGKILL at
# 20 random moments; after every kill each file is exactly its old
# content or exactly its new content (a file that did not exist before is
# absent or new) - never partial, never missing.  One more apply then
# converges and plan exits 0.
#
# TEND_TEST_SEED=N replays a run's kill moments.
#
# SIGKILL tests process death, not power loss (the page cache survives),
# so a tmpfs serves as well as a disk and keeps 2,000 file creations per
# round cheap: /dev/shm is used unless TMPDIR says otherwise.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
. "$(dirname "$0")/lib.sh"

N=2000
PRE=1900     # f0000..f1899 exist beforehand; f1900..f1999 do not
KILLS=20
SEED=${TEND_TEST_SEED:-$$}
RANDOM=$SEED
note "seed $SEED"

# The manifest, the pristine old tree and every file's expected checksums.
python3 - "$T" "$N" "$PRE" <<'EOF'
import hashlib, os, sys
t, n, pre = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{t}/pristine/data")
with open(f"{t}/site.yaml", "w") as m, open(f"{t}/expected", "w") as exp:
    m.write("resources:\n")
    for i in range(n):
        name = f"f{i:04d}"
        # different lengths and text: any mix or truncation is detectable
        new = "".join(f"new {name} line {k:02d} " + "n" * 40 + "\n" for k in range(16))
        old = "".join(f"old {name} line {k:02d} " + "o" * 52 + "\n" for k in range(12))
        m.write(f"  - file: /data/{name}\n    mode: \"0644\"\n    content: |\n")
        m.write("".join("      " + l + "\n" for l in new.splitlines()))
        if i < pre:
            with open(f"{t}/pristine/data/{name}", "w") as f:
                f.write(old)
        exp.write("%s %s %s %d\n" % (name, hashlib.sha256(old.encode()).hexdigest(),
                                      hashlib.sha256(new.encode()).hexdigest(), i < pre))
EOF

reset_root() {
	rm -rf "$ROOT/data"
	cp -a "$T/pristine/data" "$ROOT/data"
}

# verify - every file is whole: old or new (pre-existing), absent or new
# (not pre-existing).  Prints a tally; lists offenders and fails otherwise.
verify() {
	python3 - "$ROOT/data" "$T/expected" <<'EOF'
import hashlib, os, sys
d, expected = sys.argv[1], sys.argv[2]
bad, tally = [], {"old": 0, "new": 0, "absent": 0}
names = set()
for line in open(expected):
    name, old, new, pre = line.split()
    names.add(name)
    p = os.path.join(d, name)
    try:
        if os.path.islink(p) or not os.path.isfile(p):
            raise FileNotFoundError if not os.path.lexists(p) else IsADirectoryError
        h = hashlib.sha256(open(p, "rb").read()).hexdigest()
    except FileNotFoundError:
        if pre == "1":
            bad.append(f"{name}: missing (it existed before the apply)")
        else:
            tally["absent"] += 1
        continue
    except IsADirectoryError:
        bad.append(f"{name}: not a regular file")
        continue
    if h == new:
        tally["new"] += 1
    elif h == old and pre == "1":
        tally["old"] += 1
    else:
        bad.append(f"{name}: partial or foreign content ({os.path.getsize(p)} bytes)")
stray = sorted(set(os.listdir(d)) - names)
print(f"new {tally['new']} old {tally['old']} absent {tally['absent']} stray {len(stray)}")
for b in bad[:10]:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
}

step "a full apply, timed"
reset_root
t0=$(now_ms)
expect_exit 0 tend apply -q site.yaml
full=$(($(now_ms) - t0))
note "a full apply of $N files takes $full ms"
check "it converged: every file is new" test "$(verify)" = "new $N old 0 absent 0 stray 0"
window=$full
if [ "$window" -gt 4000 ]; then
	note "kill window capped at 4000 ms to bound the test's duration"
	window=4000
fi
[ "$window" -ge 2 ] || window=2

step "kill -9 at random moments never leaves a partial file"
midway=0
for i in $(seq "$KILLS"); do
	reset_root
	ms=$((1 + (RANDOM * 32768 + RANDOM) % window))
	"$TEND" apply -q --root "$ROOT" site.yaml >/dev/null 2>&1 &
	pid=$!
	_bg_pids="$_bg_pids $pid"
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	st=$?
	if tally=$(verify); then
		ok "kill $i after $ms ms (exit $st): $tally"
	else
		fail "kill $i after $ms ms (exit $st): every file is whole" "$tally"
	fi
	case $tally in
	*" stray 0") # no temp file: caught half-way only if some files are new and some not
		case $tally in
		"new 0 "* | *" old 0 absent 0 "*) ;;
		*) midway=$((midway + 1)) ;;
		esac ;;
	*) midway=$((midway + 1)) ;; # staged temps on disk: killed while writing
	esac
done
# Kills that all landed before the first write or after the last prove
# nothing: at least one must have caught the apply half-way.
check "$midway of $KILLS kills landed while files were being written" test "$midway" -gt 0

step "after the last kill, one more apply converges"
expect_exit 0 tend apply -q site.yaml
tally=$(verify)
check "every file has its new content ($tally)" test "${tally% stray *}" = "new $N old 0 absent 0"
check "no temp file of a killed run is left after the converging run" test "${tally##* stray }" = 0
expect_exit 0 tend plan -q site.yaml

done_testing
