"""benchlib.py - what every benchmark suite under bench/ shares.

A suite is a script bench/suite_NAME.py that bench/run.sh runs with the
environment below; it measures, prints progress on stderr, and writes one
JSON document (write_suite) that bench/report.py merges into
bench/results.json and prints:

    {"suite": NAME, "tools": {tool: version}, "notes": [str],
     "rows": [{"tool", "workload", "phase", "metric", "unit",
               "runs": [{...one measured run...}], "median", "min", "max",
               "maxrss_kb", "ratio_to": tool or null, "ratio": float or null}],
     "targets": [{"name", "pass": bool or null, "detail"}]}

Environment given by run.sh:
    BENCH_WORK     a fresh temporary directory for this run of the harness
    BENCH_TOOLSDIR where the harness's helpers (rusage, floor) are built
    BENCH_TEND     the release build of tend
    BENCH_OUT      where this suite writes its JSON
    BENCH_QUICK, BENCH_TOOLS, BENCH_RUNS, BENCH_WORKLOADS, BENCH_SKIP_ANSIBLE
"""
import json
import os
import statistics
import subprocess
import socket
import sys
import time
import urllib.request


def env(name, default=None):
    v = os.environ.get(name)
    return default if v is None or v == "" else v


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class BenchError(Exception):
    """Something broke: the harness stops and exits non-zero."""


def measure(argv, log_path, out_json, extra_env=None, cwd=None, timeout=3600):
    """Run argv once under the rusage helper; return its result dict.

    stdout and stderr of the command go to log_path.  The result has
    wall_s, user_s, sys_s, ru_maxrss_kb, tree_rss_kb, exit, signal and
    maxrss_kb = max(ru_maxrss_kb, tree_rss_kb) (see bench/rusage.c).
    """
    rusage = os.path.join(env("BENCH_TOOLSDIR"), "rusage")
    e = dict(os.environ)
    if extra_env:
        e.update(extra_env)
    with open(log_path, "w") as lf:
        p = subprocess.run([rusage, "-o", out_json, "--"] + list(argv),
                           stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                           env=e, cwd=cwd, timeout=timeout)
    try:
        with open(out_json) as f:
            r = json.load(f)
    except (OSError, ValueError):
        raise BenchError("rusage gave no result for %s (exit %d); see %s"
                         % (argv[0], p.returncode, log_path))
    r["maxrss_kb"] = max(r["ru_maxrss_kb"], r["tree_rss_kb"])
    return r


def summarize(row, runs, metric="wall_s"):
    """Fill row's runs, median, min, max (of metric) and maxrss_kb."""
    vals = [r[metric] for r in runs]
    row["runs"] = runs
    row["metric"] = metric
    row["median"] = statistics.median(vals)
    row["min"] = min(vals)
    row["max"] = max(vals)
    row["maxrss_kb"] = max(r.get("maxrss_kb", 0) for r in runs)
    return row


def loadavg():
    """The 1, 5 and 15 minute load averages, or None."""
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def command_version(argv):
    """First line of `argv` output, or None when it cannot run."""
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout or p.stderr).strip()
    return text.splitlines()[0] if text else None


def write_suite(doc):
    out = env("BENCH_OUT")
    with open(out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(out + ".tmp", out)


def free_port():
    """a TCP port nobody listens on right now, on 127.0.0.1"""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_health(url, proc, log):
    """wait until tend-server (process proc, log file log) answers /v1/health at url"""
    for _ in range(300):
        if proc.poll() is not None:
            raise BenchError("tend-server exited (%s); see %s" % (proc.returncode, log))
        try:
            with urllib.request.urlopen(url + "/v1/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError("tend-server does not answer on %s; see %s" % (url, log))
