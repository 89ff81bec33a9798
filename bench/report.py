#!/usr/bin/env python3
"""report.py - merge the suites' JSON into bench/results.json and print it.

    report.py OUT.json SUITE.json...

Adds what the numbers were measured on (CPU, cores, memory, kernel, OS,
filesystem of the work directory, compiler, tend's git commit), prints one
table per suite and the targets with PASS/MISS.  Exit 0 (a missed target is
information, not a failure).
"""
import datetime
import json
import os
import platform
import subprocess
import sys

import benchlib as bl


def _first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip() if ":" in line \
                        else line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return None


def _git(args):
    try:
        p = subprocess.run(["git"] + args, capture_output=True, text=True,
                           cwd=os.path.dirname(os.path.abspath(__file__)), timeout=30)
        return p.stdout.strip() if p.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine():
    work = bl.env("BENCH_WORK", "/tmp")
    fs = None
    try:
        p = subprocess.run(["df", "--output=fstype", work],
                           capture_output=True, text=True, timeout=30)
        fs = p.stdout.split()[-1] if p.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        pass
    mem = _first("/proc/meminfo", "MemTotal")
    status = _git(["status", "--porcelain"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": _first("/proc/cpuinfo", "model name"),
        "memory": mem,
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME"),
        "work_dir": work,
        "work_fs": fs,
        "cc": bl.command_version(["cc", "--version"]),
        "python": platform.python_version(),
        "tend_commit": _git(["rev-parse", "HEAD"]),
        "tend_tree_dirty": bool(status) if status is not None else None,
        "loadavg_end": bl.loadavg(),
        "quick": bl.env("BENCH_QUICK", "0") == "1",
    }


def fmt_s(v):
    if v is None:
        return "-"
    return "%.4f" % v if v < 10 else "%.2f" % v


def print_rows(rows):
    hdr = "%-17s %-8s %-6s %9s %9s %9s %9s %10s %5s" % (
        "tool", "workload", "phase", "median", "min", "max", "maxRSS",
        "ratio-tend", "runs")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        unit = r.get("unit", "s")
        ratio = r.get("ratio")
        if ratio is None:
            ratio = "-"
        else:
            ratio = ("%.0fx" if ratio >= 100 else "%.1fx" if ratio >= 10 else "%.3fx") % ratio
        print("%-17s %-8s %-6s %9s %9s %9s %7.1fMB %10s %5d" % (
            r["tool"], r["workload"].upper(), r["phase"],
            fmt_s(r["median"]) + unit, fmt_s(r["min"]) + unit,
            fmt_s(r["max"]) + unit, r["maxrss_kb"] / 1024.0, ratio,
            len(r["runs"])))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: report.py OUT.json SUITE.json...\n")
        return 2
    suites = []
    for path in argv[2:]:
        with open(path) as f:
            suites.append(json.load(f))
    doc = {"version": 1, "machine": machine(),
           "tools": {k: v for s in suites for k, v in s.get("tools", {}).items()},
           "suites": suites}
    with open(argv[1] + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(argv[1] + ".tmp", argv[1])

    m = doc["machine"]
    print()
    print("machine: %s cores, %s, %s, kernel %s, %s on %s" % (
        m["nproc"], m["cpu"], m["memory"], m["kernel"], m["os"], m["work_fs"]))
    for name, ver in sorted(doc["tools"].items()):
        print("  %-17s %s" % (name, ver))
    for s in suites:
        print()
        print("== %s" % s.get("title", s["suite"]))
        if s.get("config", {}).get("tree_fs"):
            print("   tree on: %s" % s["config"]["tree_fs"])
        print()
        print_rows(s["rows"])
        la = s.get("loadavg_start")
        if la and la[0] > 1.0:
            print("note: load average %.2f when the suite started: other work was"
                  " running, the numbers are noisy" % la[0])
        for n in s.get("notes", []):
            print("note: %s" % n)
        if s.get("targets"):
            print()
            print("targets:")
            for t in s["targets"]:
                verdict = {True: "PASS", False: "MISS", None: "SKIP"}[t["pass"]]
                print("  %-4s %-36s %s" % (verdict, t["name"], t["detail"]))
    print()
    print("raw numbers: %s" % argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
