#!/usr/bin/env python3
"""suite_bus.py - catalog requests answered "not modified" through the
broker (issue 6).

tend-server runs with a fresh state directory: it creates its CA and
starts its own nats-server (TLS, client certificates required).  The
load generator bench/bus-load (C, lib/bus, built by meson next to
tend-server) then connects CONNS times with the server's certificate,
learns the catalog hash of each of NODES node names, and keeps WINDOW
requests in flight per connection for SECONDS: each request names a node
and the hash it has, and each answer sends the next request.  This is
what a fleet of agents does on every run when nothing changed: the
whole path is TLS to the broker, the broker's routing (queue group
"tend-server"), tend-server's handler (HEAD lookup, hash table, answer)
and back.

Metric: not-modified answers per second (every answer must be one, else
the run fails).  Target: >= 20,000/s on this machine.  tend-server,
nats-server and the load generator share the machine's cores.

Then the idle agent: tendd enrolls with a token, converges once on an
empty root, and sits idle; its memory is read from /proc after each of
IDLE_SAMPLES pauses: RSS (the target: <= 6 MB), and for the reader PSS and
private memory, since most of an idle agent's RSS is shared library pages
(libcrypto) whose count depends on how the kernel maps file pages.
Beside it, the same samples of bench/idle-floor with the agent's identity:
one process that only connects to the broker as a node (the same cnats
and OpenSSL, mutual TLS) and subscribes to the node's subject.  What
tendd adds to that floor is what tend itself costs.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import benchlib as bl

NODES = 1000
CONNS = 4
WINDOW = 256
TARGET = 20000.0
IDLE_TARGET_KB = 6 * 1024
IDLE_SAMPLES = 3


def rss_kb(pid, key="VmHWM"):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def smaps_kb(pid):
    """Rss, Pss and private (clean + dirty) kB of pid from smaps_rollup."""
    out = {"Rss": 0, "Pss": 0, "Private": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss"):
                    out[k] = int(v.split()[0])
                elif k in ("Private_Clean", "Private_Dirty"):
                    out["Private"] += int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def idle_agent(server, state, url, work, logs):
    """Enroll a tendd, let it converge once, then sample its idle memory."""
    tendd = os.path.join(os.path.dirname(os.path.dirname(server)), "tendd", "tendd")
    if not os.access(tendd, os.X_OK):
        raise bl.BenchError("no tendd binary at %s" % tendd)
    tok = subprocess.run([server, "--state", state, "token", "create", "--enroll", "--uses", "1"],
                         capture_output=True, text=True, timeout=60).stdout.strip().splitlines()
    if not tok:
        raise bl.BenchError("cannot create an enrollment token")
    ag, root = os.path.join(work, "agent-state"), os.path.join(work, "agent-root")
    os.makedirs(root, exist_ok=True)
    alog = os.path.join(logs, "tendd.log")
    with open(alog, "w") as lf:
        if subprocess.run([tendd, "--enroll", tok[-1], "--server", url, "--node", "bench-idle",
                           "--state", ag], stdout=lf, stderr=lf, timeout=60).returncode:
            raise bl.BenchError("tendd cannot enroll; see %s" % alog)
        proc = subprocess.Popen([tendd, "--state", ag, "--root", root, "--interval", "30m",
                                 "--alive", "5m"], stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    try:
        for _ in range(100):  # the first run has finished once a catalog is cached
            if os.path.exists(os.path.join(ag, "catalog")):
                break
            time.sleep(0.1)
        samples = idle_samples(proc, "tendd", alog)
    finally:
        stop_proc(proc)
    floor = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(server))),
                         "bench", "idle-floor")
    flog = os.path.join(logs, "idle-floor.log")
    with open(flog, "w") as lf:
        proc = subprocess.Popen([floor, ag], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=lf, text=True)
    try:
        if proc.stdout.readline().strip() != "connected":
            raise bl.BenchError("idle-floor did not connect; see %s" % flog)
        floor_samples = idle_samples(proc, "idle-floor", flog)
    finally:
        stop_proc(proc)
    return samples, floor_samples


def idle_samples(proc, what, log):
    """IDLE_SAMPLES readings of proc's memory, 5 s apart."""
    samples = []
    for i in range(IDLE_SAMPLES):
        time.sleep(5)
        if proc.poll() is not None:
            raise bl.BenchError("%s exited (%s); see %s" % (what, proc.returncode, log))
        m = smaps_kb(proc.pid)
        samples.append({"rss_kb": m["Rss"], "pss_kb": m["Pss"], "private_kb": m["Private"],
                        "maxrss_kb": rss_kb(proc.pid)})
        bl.log("  %s idle %d: RSS %d kB, PSS %d kB, private %d kB"
               % (what, i + 1, m["Rss"], m["Pss"], m["Private"]))
    return samples


def stop_proc(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def nats_child(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid), "-x", "nats-server"],
                             capture_output=True, text=True, timeout=10).stdout.split()
        return int(out[0]) if out else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def main():
    work = bl.env("BENCH_WORK")
    server = bl.env("BENCH_TEND_SERVER")
    quick = bl.env("BENCH_QUICK", "0") == "1"
    runs = int(bl.env("BENCH_RUNS", "3" if quick else "5"))
    seconds = 3 if quick else 5
    if not server or not os.access(server, os.X_OK):
        raise bl.BenchError("no tend-server binary (BENCH_TEND_SERVER=%s)" % server)
    load = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(server))),
                        "bench", "bus-load")
    if not os.access(load, os.X_OK):
        raise bl.BenchError("no load generator at %s (meson builds bench/bus-load)" % load)
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    state = os.path.join(work, "bus-state")
    port, nport = bl.free_port(), bl.free_port()
    slog = os.path.join(logs, "bus-server.log")
    with open(slog, "w") as lf:
        proc = subprocess.Popen([server, "--state", state, "--listen", "127.0.0.1:%d" % port,
                                 "--nats-listen", "127.0.0.1:%d" % nport],
                                stdin=subprocess.DEVNULL, stdout=lf, stderr=lf)
    measured = []
    try:
        bl.wait_health("http://127.0.0.1:%d" % port, proc, slog)
        ca = os.path.join(state, "ca")
        argv = [load, "--url", "tls://127.0.0.1:%d" % nport, "--ca", os.path.join(ca, "ca.pem"),
                "--cert", os.path.join(ca, "server.pem"), "--key", os.path.join(ca, "server.key"),
                "--nodes", str(NODES), "--conns", str(CONNS), "--window", str(WINDOW),
                "--seconds", str(seconds)]
        for i in range(runs + 1):  # the first is a warm-up (catalogs compiled, hashes cached)
            log = os.path.join(logs, "bus-%d.log" % i)
            r = bl.measure(argv, log, os.path.join(logs, "bus-%d.json" % i))
            text = open(log).read()
            try:
                doc = json.loads(text[text.find("{"):text.rfind("}") + 1])
            except ValueError:
                raise bl.BenchError("bus-load printed no result; see %s" % log)
            if r["exit"] != 0 or doc.get("other") or not doc.get("not_modified"):
                raise bl.BenchError("bus-load failed (exit %s, %s other answers); see %s"
                                    % (r["exit"], doc.get("other"), log))
            r.update(doc)
            if i:
                measured.append(r)
            bl.log("  run %d: %.0f not-modified answers/s (%d in %.1f s)"
                   % (i, doc["per_second"], doc["not_modified"], doc["seconds"]))
        server_rss = rss_kb(proc.pid)
        npid = nats_child(proc.pid)
        nats_rss = rss_kb(npid) if npid else 0
        idle, floor = idle_agent(server, state, "http://127.0.0.1:%d" % port, work, logs)
    finally:
        stop_proc(proc)
    row = bl.summarize({"tool": "tend-server", "workload": "%d nodes" % NODES,
                        "phase": "not-modified", "unit": "/s", "nodes": NODES,
                        "conns": CONNS, "window": WINDOW, "ratio_to": None, "ratio": None,
                        "server_maxrss_kb": server_rss, "nats_maxrss_kb": nats_rss},
                       measured, metric="per_second")
    target = {"name": ">= %d catalog requests answered not-modified per second" % TARGET,
              "pass": row["median"] >= TARGET,
              "detail": "median %.0f/s (min %.0f, max %.0f); tend-server max RSS %d kB, "
                        "nats-server %d kB" % (row["median"], row["min"], row["max"],
                                                server_rss, nats_rss)}
    irow = bl.summarize({"tool": "tendd", "workload": "1 node", "phase": "idle", "unit": "kB",
                         "ratio_to": None, "ratio": None}, idle, metric="rss_kb")
    frow = bl.summarize({"tool": "idle-floor", "workload": "1 node", "phase": "idle",
                         "unit": "kB", "ratio_to": None, "ratio": None}, floor, metric="rss_kb")

    def med(xs, k):
        return sorted(x[k] for x in xs)[len(xs) // 2]
    itarget = {"name": "idle tendd RSS <= %d kB" % IDLE_TARGET_KB,
               "pass": irow["median"] <= IDLE_TARGET_KB,
               "detail": "median RSS %d kB (PSS %d kB, private %d kB: the rest is shared "
                         "library pages); a bare TLS connection to the broker with the same "
                         "libraries (bench/idle-floor): RSS %d kB, PSS %d kB, private %d kB"
                         % (irow["median"], med(idle, "pss_kb"), med(idle, "private_kb"),
                            frow["median"], med(floor, "pss_kb"), med(floor, "private_kb"))}
    bl.write_suite({"suite": "bus",
                    "title": "the bus: catalog requests answered not-modified per second",
                    "tools": {"tend-server": bl.command_version([server, "--version"]),
                              "nats-server": bl.command_version(["nats-server", "--version"])},
                    "notes": ["bench/bus-load: %d TLS connections x %d requests in flight, "
                              "%d s per run, over %d node names, through the nats-server that "
                              "tend-server runs; maxRSS is the load generator's" %
                              (CONNS, WINDOW, seconds, NODES),
                              "tend-server, nats-server and the load generator share %s cores"
                              % os.cpu_count()],
                    "rows": [row, irow, frow], "targets": [target, itarget]})


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        bl.log("suite bus: %s" % e)
        sys.exit(1)
