#!/bin/bash
# t0500-facts: `tend facts` reports the running machine as the kernel sees
# it (memory, CPUs, interfaces, routes, mounts, block devices, uptime),
# the root's own system (os, host name, time zone, packages), and the
# admin's custom facts from ROOT/etc/tend/facts.d, where a broken one is
# skipped with a warning and never fails the run; a NAME prints one fact
# and an unknown NAME exits 1 naming it; templates see it all through
# `tend apply`; and nothing is forked to collect it.
. "$(dirname "$0")/lib.sh"

# jq-like access for assertions: fact PATH reads $T/facts.json
fact() {
	python3 - "$T/facts.json" "$1" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, bool) else str(v).lower())
EOF
}

# equal NAME GOT WANT - an assertion on two values.
equal() {
	if [ "$2" = "$3" ]; then
		ok "$1 ($2)"
	else
		fail "$1" "got:  $2" "want: $3"
	fi
}

step "the whole set is one JSON object"
expect_exit 0 tend facts --json
cp "$OUT" "$T/facts.json"
check "every group is there" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
want = ["arch", "kernel", "hostname", "fqdn", "domain", "os", "cpu", "memory",
        "swap", "blockdevices", "mounts", "interfaces", "virtual", "is_virtual", "uptime"]
missing = [k for k in want if k not in d]
assert not missing, missing
for k in ("count", "model"):
    assert k in d["cpu"], ("cpu", k)
for k in ("total", "available", "total_h"):
    assert k in d["memory"], ("memory", k)
' "$T/facts.json"

step "running-machine facts agree with the kernel"
# kB lines of /proc/meminfo, in bytes
meminfo() {
	echo $(($(awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo) * 1024))
}
equal "memory.total is MemTotal in bytes" "$(fact memory.total)" "$(meminfo MemTotal)"
equal "swap.total is SwapTotal in bytes" "$(fact swap.total)" "$(meminfo SwapTotal)"
check "memory.total_h is in GiB/MiB" grep -qE '"total_h": "[0-9]+\.[0-9] (MiB|GiB|TiB)"' "$T/facts.json"
equal "cpu.count is the number of online CPUs" "$(fact cpu.count)" "$(getconf _NPROCESSORS_ONLN)"
equal "arch is uname -m" "$(fact arch)" "$(uname -m)"
equal "kernel.release is uname -r" "$(fact kernel.release)" "$(uname -r)"
check "uptime.seconds is /proc/uptime's" python3 -c '
import sys
up = float(open("/proc/uptime").read().split()[0])
assert 0 <= up - int(sys.argv[1]) < 60, (sys.argv[1], up)
' "$(fact uptime.seconds)"
check "the root mount has the size statvfs gives" python3 -c '
import json, os, sys
m = json.load(open(sys.argv[1]))["mounts"]["/"]
st = os.statvfs("/")
assert m["size"] == st.f_blocks * st.f_frsize, (m, st)
assert m["fstype"] and m["device"], m
' "$T/facts.json"
check "no pseudo file system is listed" python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["mounts"]
bad = [k for k, v in m.items() if v["fstype"] in ("proc", "sysfs", "cgroup", "cgroup2", "devpts")
       or k.startswith(("/proc", "/sys", "/dev"))]
assert not bad, bad
' "$T/facts.json"
# every device of /sys/block is listed, but for the empty loop, ram and
# zram devices (unused slots), which are left out on purpose
check "every block device of /sys/block is listed, with the size sysfs gives, in bytes" python3 -c '
import json, os, sys
got = json.load(open(sys.argv[1]))["blockdevices"]
want = {}
for name in os.listdir("/sys/block"):
    size = int(open("/sys/block/%s/size" % name).read()) * 512
    if size == 0 and name.startswith(("loop", "ram", "zram")):
        continue
    parts = {p: int(open("/sys/block/%s/%s/size" % (name, p)).read()) * 512
             for p in os.listdir("/sys/block/" + name)
             if os.path.exists("/sys/block/%s/%s/partition" % (name, p))}
    want[name] = (size, parts)
have = {n: (d["size"], {p: v["size"] for p, v in d.get("partitions", {}).items()})
        for n, d in got.items()}
assert have == want, (have, want)
' "$T/facts.json"
if [ -e /sys/class/net/lo ]; then
	check "interfaces.lo has 127.0.0.1/8" python3 -c '
import json, sys
lo = json.load(open(sys.argv[1]))["interfaces"]["lo"]
assert "127.0.0.1/8" in lo.get("ipv4", []), lo
assert lo["mtu"] == int(open("/sys/class/net/lo/mtu").read()), lo
' "$T/facts.json"
fi
check "every interface has the MAC and MTU sysfs gives" python3 -c '
import json, os, sys
ifs = json.load(open(sys.argv[1]))["interfaces"]
for name in os.listdir("/sys/class/net"):
    if not os.path.exists("/sys/class/net/%s/ifindex" % name):
        continue
    i = ifs[name]
    assert i["mtu"] == int(open("/sys/class/net/%s/mtu" % name).read()), name
    mac = open("/sys/class/net/%s/address" % name).read().strip()
    assert i.get("mac", "") == mac, (name, i, mac)
' "$T/facts.json"
check "the default IPv4 route is /proc/net/route's" python3 -c '
import json, socket, struct, sys
d = json.load(open(sys.argv[1]))
best = None
for line in open("/proc/net/route").read().splitlines()[1:]:
    w = line.split()
    if w[1] == "00000000" and w[7] == "00000000" and int(w[3], 16) & 3 == 3:
        if best is None or int(w[6]) < best[0]:
            best = (int(w[6]), w[0], socket.inet_ntoa(struct.pack("=I", int(w[2], 16))))
got = d.get("default_route", {}).get("ipv4")
if best is None:
    assert got is None, got
else:
    assert got["interface"] == best[1] and got["gateway"] == best[2], (got, best)
' "$T/facts.json"
check "virtual is a known word and is_virtual agrees" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["virtual"] and " " not in d["virtual"], d["virtual"]
assert d["is_virtual"] == (d["virtual"] != "none"), d
' "$T/facts.json"

step "root facts come from the root"
mkdir -p "$ROOT/etc" "$ROOT/var/lib/dpkg" "$ROOT/usr/share/zoneinfo/Europe"
cat >"$ROOT/etc/os-release" <<'EOF'
NAME="Test OS"
ID=testos
ID_LIKE=debian
VERSION_ID="7.2"
VERSION="7.2 (Hornet)"
VERSION_CODENAME=hornet
PRETTY_NAME="Test OS 7.2 (Hornet)"
EOF
echo "node42" >"$ROOT/etc/hostname"
printf '127.0.1.1 node42.lab.example node42\n' >"$ROOT/etc/hosts"
ln -s ../usr/share/zoneinfo/Europe/Oslo "$ROOT/etc/localtime"
printf 'Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: deinstall ok config-files\n\nPackage: c\nStatus: install ok installed\n' \
	>"$ROOT/var/lib/dpkg/status"
expect_exit 0 tend facts os.id
assert_file_content "$OUT" $'testos\n'
expect_exit 0 tend facts --json
cp "$OUT" "$T/facts.json"
equal "os.family from ID_LIKE" "$(fact os.family)" debian
equal "os.codename" "$(fact os.codename)" hornet
equal "os.version_major" "$(fact os.version_major)" 7
equal "hostname from ROOT/etc/hostname" "$(fact hostname)" node42
equal "fqdn from ROOT/etc/hosts" "$(fact fqdn)" node42.lab.example
equal "domain" "$(fact domain)" lab.example
equal "timezone from the ROOT/etc/localtime link" "$(fact timezone)" Europe/Oslo
equal "packages.count from ROOT's dpkg status" "$(fact packages.count)" 2

step "text output is flat 'name = value', sorted"
expect_exit 0 tend facts os
stdout_has "os.id = testos"
stdout_has "os.pretty_name = Test OS 7.2 (Hornet)"
check "lines are sorted by name" bash -c 'cut -d" " -f1 "$1" | LC_ALL=C sort -c' _ "$OUT"
expect_exit 0 tend facts
stdout_matches '^memory\.total = [0-9]+$'
stdout_matches '^cpu\.count = [0-9]+$'
stdout_matches '^hostname = node42$'

step "an unknown fact exits 1 and names it"
expect_exit 1 tend facts os.idd
stderr_has "no fact named 'os.idd'"
stderr_has "did you mean 'os.id'"
check "and prints nothing" test ! -s "$OUT"
expect_exit 1 tend facts --json no.such.thing
stderr_has "no.such.thing"

step "custom facts: executables, JSON and YAML; broken ones are skipped with a warning"
d="$ROOT/etc/tend/facts.d"
mkdir -p "$d"
cat >"$d/rack.sh" <<'EOF'
#!/bin/sh
# TEND_ROOT tells a custom fact which root it describes
echo "{\"row\": \"B\", \"unit\": 12, \"root\": \"$TEND_ROOT\"}"
EOF
chmod 755 "$d/rack.sh"
printf '{"tier": "gold", "replicas": 3}\n' >"$d/service.json"
printf 'port: 2222\nbanner: "Welcome"\nadmins: [alice, bob]\n' >"$d/app.yaml"
printf '{"broken": \n' >"$d/broken.json"
printf '#!/bin/sh\necho "cannot reach the CMDB" >&2\nexit 2\n' >"$d/failing"
chmod 755 "$d/failing"
printf '#!/bin/sh\necho not json\n' >"$d/garbage"
chmod 755 "$d/garbage"
expect_exit 0 tend facts --json
cp "$OUT" "$T/facts.json"
equal "custom.rack from an executable" "$(fact custom.rack.row)/$(fact custom.rack.unit)" "B/12"
equal "the executable saw TEND_ROOT" "$(fact custom.rack.root)" "$ROOT"
equal "custom.service from JSON" "$(fact custom.service.tier)" gold
equal "custom.app from YAML, typed" "$(fact custom.app.port)" 2222
equal "YAML lists" "$(fact custom.app.admins.1)" bob
stderr_has "broken.json: invalid JSON"
stderr_has "failing: exited with status 2: cannot reach the CMDB"
stderr_has "garbage: invalid JSON"
check "broken ones are left out and listed in custom_errors" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d["custom"]) == ["app", "rack", "service"], d["custom"]
errs = d["custom_errors"]
assert len(errs) == 3 and all("/etc/tend/facts.d/" in e for e in errs), errs
' "$T/facts.json"
expect_exit 0 tend facts custom.app.port
assert_file_content "$OUT" $'2222\n'
# $T is the working directory: a relative root works for executables too
expect_exit 0 timeout 60 "$TEND" facts --root root custom.rack.row
assert_file_content "$OUT" $'B\n'

step "a custom fact that hangs is killed at its timeout"
printf '#!/bin/sh\nsleep 300\n' >"$d/hangs"
chmod 755 "$d/hangs"
start=$(now_ms)
expect_exit 0 tend facts --json custom.rack.row
took=$(($(now_ms) - start))
stderr_has "hangs: killed after its timeout of 10 s"
check "it took the timeout, not the sleep ($took ms)" test "$took" -lt 30000
rm -f "$d/hangs"

step "templates see the facts through tend apply"
cat >"$T/site.yaml" <<'EOF'
resources:
  - file: /etc/motd
    content: "{{ facts.hostname }} {{ facts.os.id }} {{ facts.memory.total }} {{ facts.cpu.count }} {{ facts.custom.app.port }} {{ facts.custom.service.tier }}\n"
EOF
expect_exit 0 tend apply "$T/site.yaml"
assert_file_content "$ROOT/etc/motd" \
	"node42 testos $(meminfo MemTotal) $(getconf _NPROCESSORS_ONLN) 2222 gold"$'\n'

step "nothing is forked to collect facts"
rm -rf "$d"
if command -v strace >/dev/null 2>&1 && strace -f -qq -e trace=none true 2>/dev/null; then
	# LeakSanitizer cannot run under ptrace: no leak check for this one run
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	run strace -f -qq -e trace=execve,fork,vfork,clone,clone3 -o "$T/strace.log" \
		"$TEND" facts --json --root "$ROOT"
	check "tend facts succeeds under strace" test "$RC" = 0
	check "and prints the facts as JSON" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["hostname"] == "node42" and d["os"]["id"] == "testos", d
assert d["memory"]["total"] > 0 and d["cpu"]["count"] > 0, d
' "$OUT"
	# threads (CLONE_VM: the sanitizers' own) are not processes
	check "one execve (tend itself), no new process" python3 -c '
import re, sys
log = open(sys.argv[1]).read().splitlines()
execs = [l for l in log if "execve(" in l]
procs = [l for l in log if re.search(r"\b(fork|vfork)\(", l)
         or (re.search(r"\bclone3?\(", l) and "CLONE_VM" not in l)]
assert len(execs) == 1 and not procs, (execs, procs)
' "$T/strace.log"
else
	note "strace is not available: the no-fork check is skipped"
fi

step "collection is fast"
start=$(now_ms)
failed=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
	"$TEND" facts --json --root "$ROOT" >/dev/null || failed=$((failed + 1))
done
took=$(($(now_ms) - start))
note "10 runs of tend facts --json: $took ms"
check "every one of the 10 runs succeeds ($failed failed)" test "$failed" = 0
check "10 runs take under 10 s even under sanitizers ($took ms)" test "$took" -lt 10000

done_testing
