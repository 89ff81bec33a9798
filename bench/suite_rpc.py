#!/usr/bin/env python3
"""suite_rpc.py - `tend ping` to 1,000, 5,000 and 9,000 emulated agents
against the raw NATS fan-out measured in the same run (issue 7).

tend-server runs with a fresh state directory and its own nats-server
(TLS, client certificates required).  An administrator identity is made
with `tend-server user add bench --role ops`; the policy
(policy/bench.yaml: ping allowed for role ops) is committed to the
configuration repository through the API and given to the emulator.

For each size N:
  1. tend-emulator --agents N: N agents in one process, each with its own
     key and node certificate (enrolled once through POST /v1/enroll with
     a token, as tendd enrolls; the identities are reused by the larger
     sizes), its own TLS connection, and the real request checks
     (certificate chain, signature, age, replay, filter, policy) and
     signed replies.  Its setup time, threads and RSS are recorded.
  2. `tend ping --node GLOB...` picking exactly those N nodes: one warm-up,
     then RUNS measured runs.  Each must exit 0: N answers, every reply
     verified, nobody missing.  Recorded: the CLI's own "answered in"
     figure (from sending the request to the last verified reply), the
     process's wall time (start, identity, TLS connection, inventory
     lookup, printing included) and its max RSS (bench/rusage).
  3. The emulator stops; bench/rpc-floor starts N plain subscribers with
     the same node certificates on the same kind of event loop, and one
     client publishes one request and counts N replies of a few bytes (no
     JSON, no signature, no policy): one warm-up, then RUNS rounds.
Target: the median "answered in" <= 2 x the median floor of the same N.
Beside it, bench/sig-floor times the signature work each node needs (the
agent verifies the request and signs its reply, the CLI verifies the
reply) with tend's own functions: N times that is CPU that tend ping
spends on top of the floor, however the rest is done.

Environment: BENCH_QUICK=1: 1,000 agents only, 3 runs;
BENCH_RPC_SIZES="1000 5000 9000" overrides the sizes.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import benchlib as bl

SIZES = [1000, 5000, 9000]
FACTOR = 2.0
PREFIX = "emu"
POLICY = "rules:\n  - allow: [ping]\n    roles: [ops]\n"
CONNECT_TIMEOUT_S = 1800  # enrollment of the first agents included


def api(url, token, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def server_cmd(server, state, args, what):
    p = subprocess.run([server, "--state", state] + args, capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise bl.BenchError("%s failed: %s" % (what, p.stderr.strip()))
    return p.stdout.strip()


def globs(n):
    """fnmatch globs that pick exactly PREFIX-00001 .. PREFIX-n (5 digits)."""
    digits = "%05d" % n
    out = []
    for i, d in enumerate(digits):
        if d != "0":
            out.append("%s-%s[0-%d]%s" % (PREFIX, digits[:i], int(d) - 1, "?" * (4 - i)))
    out.append("%s-%s" % (PREFIX, digits))
    return out


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def stop(proc, timeout=120):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode


def wait_line(proc, path, pattern, timeout, what):
    """The first line of path matching pattern (a regex), while proc runs."""
    end = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < end:
        with open(path) as f:
            for line in f:
                m = rx.search(line)
                if m:
                    return m
        if proc.poll() is not None:
            raise bl.BenchError("%s exited (%s); see %s" % (what, proc.returncode, path))
        time.sleep(0.2)
    raise bl.BenchError("%s not ready after %d s; see %s" % (what, timeout, path))


class Bench:
    """One tend-server, its broker, the identities; the sizes measured in turn."""

    def __init__(self, work, server, tend, build):
        self.work, self.server, self.tend = work, server, tend
        self.emulator = os.path.join(build, "src", "tend-emulator", "tend-emulator")
        self.floor = os.path.join(build, "bench", "rpc-floor")
        for exe in (self.emulator, self.floor):
            if not os.access(exe, os.X_OK):
                raise bl.BenchError("no %s (meson builds it)" % exe)
        self.logs = os.path.join(work, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.state = os.path.join(work, "rpc-state")
        self.emu_state = os.path.join(work, "rpc-emu")
        self.port, self.nport = bl.free_port(), bl.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.nats = "tls://127.0.0.1:%d" % self.nport
        self.proc = None

    def start(self, max_agents):
        listen = ["--listen", "127.0.0.1:%d" % self.port,
                  "--nats-listen", "127.0.0.1:%d" % self.nport]
        self.rw = server_cmd(self.server, self.state,
                             ["token", "create", "--role", "rw", "--name", "bench"],
                             "token create").splitlines()[-1]
        self.enroll = server_cmd(self.server, self.state,
                                 ["token", "create", "--enroll", "--uses", str(max_agents),
                                  "--ttl", "24h", "--name", "emulator"],
                                 "token create --enroll").splitlines()[-1]
        slog = os.path.join(self.logs, "rpc-server.log")
        with open(slog, "w") as lf:
            self.proc = subprocess.Popen([self.server, "--state", self.state] + listen,
                                         stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
        bl.wait_health(self.url, self.proc, slog)
        self.identity = os.path.join(self.work, "bench.identity")
        server_cmd(self.server, self.state,
                   listen + ["user", "add", "bench", "--role", "ops", "--out", self.identity],
                   "user add")
        head = api(self.url + "/v1/files", self.rw)["revision"]
        api(self.url + "/v1/files/policy/bench.yaml", self.rw, "PUT",
            {"content": POLICY, "revision": head, "message": "bench: ping for ops"})
        self.policy_dir = os.path.join(self.work, "rpc-policy")
        os.makedirs(self.policy_dir, exist_ok=True)
        with open(os.path.join(self.policy_dir, "bench.yaml"), "w") as f:
            f.write(POLICY)

    def stop(self):
        if self.proc:
            stop(self.proc, 30)

    def emulate(self, n):
        """Start tend-emulator with n agents; (proc, log, info) once all are connected."""
        log = os.path.join(self.logs, "emulator-%d.log" % n)
        with open(log, "w") as lf:
            proc = subprocess.Popen([self.emulator, "--agents", str(n), "--state", self.emu_state,
                                     "--nats", self.nats, "--server", self.url, "--token",
                                     self.enroll, "--policy", self.policy_dir, "--prefix", PREFIX],
                                    stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
        try:
            m = wait_line(proc, log, r"(\d+) agents connected in ([\d.]+) s", CONNECT_TIMEOUT_S,
                          "tend-emulator")
            ids = wait_line(proc, log, r"identities of \d+ agents ready in ([\d.]+) s "
                            r"\((\d+) enrolled now\)", 10, "tend-emulator")
        except bl.BenchError:
            stop(proc)
            raise
        time.sleep(2)  # let the broker settle after thousands of subscriptions
        info = {"agents": n, "connect_s": float(m.group(2)),
                "identities_s": float(ids.group(1)), "enrolled": int(ids.group(2)),
                "rss_kb": proc_status(proc.pid, "VmRSS"),
                "threads": len(os.listdir("/proc/%d/task" % proc.pid))}
        bl.log("  tend-emulator: %d agents connected in %.1f s (identities %.1f s, %d enrolled),"
               " %d threads, RSS %.0f MB (%.0f kB per agent)"
               % (n, info["connect_s"], info["identities_s"], info["enrolled"], info["threads"],
                  info["rss_kb"] / 1024, info["rss_kb"] / n))
        return proc, log, info

    def ping(self, n, tag):
        """One `tend ping --json` of the n agents under rusage; its result."""
        argv = [self.tend, "ping", "--json", "--identity", self.identity, "--nats", self.nats,
                "--server", self.url, "--token", self.rw, "--timeout", "120"]
        for g in globs(n):
            argv += ["--node", g]
        log = os.path.join(self.logs, "ping-%d-%s.log" % (n, tag))
        r = bl.measure(argv, log, log + ".json", extra_env={"HOME": self.work},
                       timeout=600)
        with open(log) as f:
            text = f.read()
        try:
            doc = json.loads(text[text.find("{"):text.rfind("}") + 1])
        except ValueError:
            doc = {}
        answered = len(doc.get("answered", []))
        if (r["exit"] != 0 or answered != n or doc.get("refused") or doc.get("rejected")
                or doc.get("missing")):
            raise bl.BenchError("tend ping of %d agents failed (exit %s, %d answered); see %s"
                                % (n, r["exit"], answered, log))
        r["answered_s"] = doc["elapsed_ms"] / 1000.0
        r["answers"] = answered
        return r

    def floor_runs(self, n, runs):
        log = os.path.join(self.logs, "floor-%d.log" % n)
        ca = os.path.join(self.state, "ca")
        argv = [self.floor, "--agents", str(n), "--state", self.emu_state, "--nats", self.nats,
                "--cert", os.path.join(ca, "server.pem"), "--key", os.path.join(ca, "server.key"),
                "--prefix", PREFIX, "--reps", str(runs + 1), "--timeout", "120"]
        with open(log, "w") as lf:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=lf, text=True, timeout=CONNECT_TIMEOUT_S)
        with open(log, "a") as lf:
            lf.write(p.stdout)
        reps = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
        if p.returncode != 0 or len(reps) != runs + 1 or any(x["replies"] != n for x in reps):
            raise bl.BenchError("rpc-floor with %d subscribers failed (exit %d); see %s"
                                % (n, p.returncode, log))
        bl.log("  floor %d: warm-up %.4f s, then %s" % (
            n, reps[0]["seconds"], " ".join("%.4f" % x["seconds"] for x in reps[1:])))
        return [{"seconds": x["seconds"], "maxrss_kb": 0} for x in reps[1:]]


def emulator_summary(log):
    """The counters tend-emulator printed when it stopped."""
    rx = re.compile(r"(\d+) requests for these agents \((\d+) allowed: (\d+) ok, (\d+) failed; "
                    r"(\d+) refused\), (\d+) replies, (\d+) audit records built and dropped, "
                    r"(\d+) not for them, (\d+) errors")
    with open(log) as f:
        for line in f:
            m = rx.search(line)
            if m:
                keys = ("requests", "allowed", "ok", "failed", "refused", "replies", "audits",
                        "skipped", "errors")
                return dict(zip(keys, (int(x) for x in m.groups())))
    raise bl.BenchError("tend-emulator printed no summary; see %s" % log)


def measure_size(b, n, runs):
    proc, log, info = b.emulate(n)
    try:
        warm = b.ping(n, "warmup")
        bl.log("  tend ping %d: warm-up answered in %.3f s (wall %.3f s)"
               % (n, warm["answered_s"], warm["wall_s"]))
        pings = []
        for i in range(runs):
            time.sleep(1)
            r = b.ping(n, str(i))
            pings.append(r)
            bl.log("  tend ping %d run %d: %d answered in %.3f s, wall %.3f s, max RSS %.1f MB"
                   % (n, i + 1, r["answers"], r["answered_s"], r["wall_s"],
                      r["maxrss_kb"] / 1024))
        info["rss_after_kb"] = proc_status(proc.pid, "VmRSS")
    finally:
        rc = stop(proc)
    info["summary"] = emulator_summary(log)
    s = info["summary"]
    if rc != 0 or s["errors"] or s["ok"] != n * (runs + 1) or s["replies"] != s["requests"]:
        raise bl.BenchError("tend-emulator %d: exit %s, %s; see %s" % (n, rc, s, log))
    floor = b.floor_runs(n, runs)
    return info, warm, pings, floor


def sig_floor(build):
    """bench/sig-floor: microseconds of CPU per node for the signatures alone."""
    exe = os.path.join(build, "bench", "sig-floor")
    p = subprocess.run([exe], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise bl.BenchError("sig-floor failed: %s" % p.stderr.strip())
    doc = json.loads(p.stdout)
    bl.log("  signatures: verify %.1f us, sign %.1f us: %.1f us of CPU per node"
           % (doc["verify_us"], doc["sign_us"], doc["per_node_us"]))
    return doc


def rows_for(n, info, pings, floor, sig):
    fl = bl.summarize({"tool": "raw floor", "workload": str(n), "phase": "answer", "unit": "s",
                       "ratio_to": None, "ratio": None}, floor, metric="seconds")
    ans = bl.summarize({"tool": "tend ping", "workload": str(n), "phase": "answer", "unit": "s",
                        "ratio_to": "raw floor"}, pings, metric="answered_s")
    ans["ratio"] = ans["median"] / fl["median"] if fl["median"] > 0 else None
    wall = bl.summarize({"tool": "tend ping", "workload": str(n), "phase": "wall", "unit": "s",
                         "ratio_to": "raw floor"}, pings, metric="wall_s")
    wall["ratio"] = wall["median"] / fl["median"] if fl["median"] > 0 else None
    emu = bl.summarize({"tool": "tend-emulator", "workload": str(n), "phase": "setup",
                        "unit": "s", "ratio_to": None, "ratio": None,
                        "emulator": {k: v for k, v in info.items() if k != "summary"},
                        "emulator_counts": info["summary"]},
                       [{"connect_s": info["connect_s"], "maxrss_kb": info["rss_kb"]}],
                       metric="connect_s")
    target = {"name": "tend ping <= %g x floor, %d agents" % (FACTOR, n),
              "pass": ans["ratio"] is not None and ans["ratio"] <= FACTOR,
              "detail": "median answered in %.3f s vs floor %.3f s (%.2fx); wall %.3f s; "
                        "CLI max RSS %.1f MB; %d answers, every reply verified; the "
                        "signatures alone (bench/sig-floor) are %.2f s of CPU, %.2f s on %d "
                        "cores if perfectly shared, against %.2f s allowed"
                        % (ans["median"], fl["median"], ans["ratio"] or 0, wall["median"],
                           wall["maxrss_kb"] / 1024, n, n * sig["per_node_us"] / 1e6,
                           n * sig["per_node_us"] / 1e6 / (os.cpu_count() or 1),
                           os.cpu_count() or 1, FACTOR * fl["median"])}
    return [ans, wall, fl, emu], target


def sizes(quick):
    s = bl.env("BENCH_RPC_SIZES")
    if s:
        return [int(x) for x in s.split()]
    return SIZES[:1] if quick else SIZES


def main():
    work = bl.env("BENCH_WORK")
    server, tend = bl.env("BENCH_TEND_SERVER"), bl.env("BENCH_TEND")
    quick = bl.env("BENCH_QUICK", "0") == "1"
    runs = int(bl.env("BENCH_RUNS", "3" if quick else "5"))
    if not server or not os.access(server, os.X_OK) or not tend:
        raise bl.BenchError("no tend-server or tend binary (BENCH_TEND_SERVER, BENCH_TEND)")
    build = os.path.dirname(os.path.dirname(os.path.dirname(server)))
    ns = sizes(quick)
    load_start = bl.loadavg()
    b = Bench(work, server, tend, build)
    rows, targets, notes = [], [], []
    sig = sig_floor(build)
    try:
        b.start(max(ns))
        for n in ns:
            info, warm, pings, floor = measure_size(b, n, runs)
            r, t = rows_for(n, info, pings, floor, sig)
            rows += r
            targets.append(t)
            notes.append("%d agents: tend-emulator connected them in %.1f s with %d threads, "
                         "RSS %.0f MB (%.0f kB per agent; %.0f kB after the pings); "
                         "identities ready in %.1f s (%d enrolled through POST /v1/enroll in "
                         "that run); tend ping warm-up %.3f s (every certificate checked for "
                         "the first time)"
                         % (n, info["connect_s"], info["threads"], info["rss_kb"] / 1024,
                            info["rss_kb"] / n, info.get("rss_after_kb", 0) / n,
                            info["identities_s"], info["enrolled"], warm["answered_s"]))
    finally:
        b.stop()
    notes += ["tend ping 'answer' is the CLI's own figure: from publishing the signed request "
              "to the last verified reply; 'wall' is the whole process (start, identity, TLS "
              "connection, inventory lookup, printing); maxRSS is the CLI's",
              "raw floor (bench/rpc-floor): N subscribers with the same node certificates on "
              "the same event loop as the emulator, answering %d-byte messages without "
              "parsing or signing; one client publishes and counts N replies" % 64,
              "tend-server, nats-server, the emulator (or the floor) and the CLI share %s "
              "cores" % os.cpu_count()]
    bl.write_suite({"suite": "rpc",
                    "title": "orchestration: tend ping to emulated agents against the raw "
                             "NATS fan-out",
                    "tools": {"tend": bl.command_version([tend, "--version"]),
                              "nats-server": bl.command_version(["nats-server", "--version"])},
                    "config": {"sizes": ns, "runs": runs, "warmup": 1},
                    "loadavg_start": load_start, "loadavg_end": bl.loadavg(),
                    "notes": notes, "rows": rows, "targets": targets})


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        bl.log("suite rpc: %s" % e)
        sys.exit(1)
