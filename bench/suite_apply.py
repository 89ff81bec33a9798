#!/usr/bin/env python3
"""suite_apply.py - tend against CFEngine, Puppet and Ansible on the same
files and directories (issue 4), plus the floor: the cost of merely looking.

For every tool and workload (bench/gen.py) two phases are timed:
  create  the tree directory is emptied (and the disk synced) before each
          run, untimed; after each run the tree must be exactly right;
  no-op   everything is already right; after each run the tree must still
          be right and not one entry may have been touched (same inode,
          mtime and ctime), or the tool was not doing a no-op.
Each phase is one warm-up run and then BENCH_RUNS measured runs (Ansible:
no warm-up, one run, W1 only).  A tool that fails, or leaves a tree that
differs from the expected one, stops the harness with a message.
"""
import hashlib
import os
import shutil
import stat
import sys

import benchlib as bl
import gen

ALL_TOOLS = ["tend", "cfengine", "puppet", "ansible", "floor"]
PHASES = ["create", "no-op"]
# Ansible's modules run with Debian's Python when there is one.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Tool:
    """How to run one tool; subclasses fill argv and the expected exits."""
    name = ""
    label = ""
    phases = PHASES
    exits = {"create": {0}, "no-op": {0}}
    workloads = ("w1", "w2")
    single_run = False

    def __init__(self, work):
        self.work = work

    def setup(self):
        pass

    def env(self):
        return None

    def argv(self, inputs):
        raise NotImplementedError

    def version(self):
        return None


class Tend(Tool):
    name, label = "tend", "tend"

    def argv(self, inputs):
        return [bl.env("BENCH_TEND"), "apply", inputs["tend.yaml"]]

    def version(self):
        return bl.command_version([bl.env("BENCH_TEND"), "--version"])


class CFEngine(Tool):
    name, label = "cfengine", "cf-agent"

    def setup(self):
        # A work directory of its own, so the host's /var/lib/cfengine3 is
        # left alone; its state persists across runs as on a real node.
        self.wd = os.path.join(self.work, "cfengine")
        os.makedirs(self.wd, exist_ok=True)
        if not os.path.exists(os.path.join(self.wd, "bin")):
            bindir = os.path.dirname(shutil.which("cf-promises"))
            os.symlink(bindir, os.path.join(self.wd, "bin"))
        if not os.path.exists(os.path.join(self.wd, "ppkeys", "localhost.priv")):
            r = bl.measure(["cf-key"], os.path.join(self.work, "cf-key.log"),
                           os.path.join(self.work, "cf-key.json"), self.env())
            if r["exit"] != 0:
                raise bl.BenchError("cf-key failed; see %s/cf-key.log" % self.work)

    def env(self):
        return {"CFENGINE_TEST_OVERRIDE_WORKDIR": self.wd}

    def argv(self, inputs):
        return ["cf-agent", "-K", "-f", inputs["policy.cf"]]

    def version(self):
        return bl.command_version(["cf-agent", "--version"])


class Puppet(Tool):
    name, label = "puppet", "puppet apply"
    exits = {"create": {2}, "no-op": {0}}   # --detailed-exitcodes

    def setup(self):
        self.var = os.path.join(self.work, "puppet", "var")
        self.conf = os.path.join(self.work, "puppet", "conf")
        os.makedirs(self.var, exist_ok=True)
        os.makedirs(os.path.join(self.conf, "code"), exist_ok=True)

    def argv(self, inputs):
        v, c = self.var, self.conf
        return ["puppet", "apply", "--detailed-exitcodes", "--no-report",
                "--color=false", "--vardir", v, "--confdir", c,
                "--codedir", c + "/code", "--logdir", v + "/log",
                "--rundir", v + "/run", inputs["manifest.pp"]]

    def version(self):
        return bl.command_version(["puppet", "--version"])


class Ansible(Tool):
    name, label = "ansible", "ansible-playbook"
    workloads = ("w1",)
    single_run = True

    def setup(self):
        self.home = os.path.join(self.work, "ansible")
        os.makedirs(self.home, exist_ok=True)

    def env(self):
        h = self.home
        return {"ANSIBLE_HOME": h, "ANSIBLE_LOCAL_TEMP": h + "/tmp",
                "ANSIBLE_REMOTE_TEMP": h + "/remote-tmp",
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_CONFIG": os.path.join(h, "none.cfg")}

    def argv(self, inputs):
        return ["ansible-playbook", "-c", "local", "-i", "localhost,",
                "-e", "ansible_python_interpreter=" + PYTHON,
                inputs["playbook.yml"]]

    def version(self):
        return bl.command_version(["ansible-playbook", "--version"])


class Floor(Tool):
    name, label = "floor", "floor"
    phases = ["no-op"]

    def argv(self, inputs):
        return [os.path.join(bl.env("BENCH_TOOLSDIR"), "floor"),
                inputs["paths.txt"]]

    def version(self):
        return "bench/floor.c (cc -O2): lstat dirs; open+fstat+read files"


TOOL_CLASSES = {c.name: c for c in (Tend, CFEngine, Puppet, Ansible, Floor)}


# --- the tree ------------------------------------------------------------

def reset_tree(tree):
    """Make tree an empty directory.  An old tree is moved into the trash
    next to it, not deleted: see empty_trash."""
    if os.path.lexists(tree):
        trash = tree + ".trash"
        os.makedirs(trash, exist_ok=True)
        os.rename(tree, os.path.join(trash, str(len(os.listdir(trash)))))
    os.mkdir(tree)
    os.chmod(tree, 0o755)
    os.sync()


def empty_trash(tree):
    """Delete the old trees.  Done between phases, never while a create
    phase runs: on ext4 without a journal the allocator skips inodes freed
    recently (up to 5 minutes when their inode table block is dirty), and
    a create run right after deleting a tree spent most of its time in that
    search (`recently_deleted` in the kernel profile).  On the harness's
    own journaled filesystem (BENCH_FS=loop, the default) this does not
    arise; with BENCH_FS=dir on such a host it can still slow create runs."""
    trash = tree + ".trash"
    if os.path.lexists(trash):
        shutil.rmtree(trash)
        os.sync()


def build_tree(tree, workload):
    """Write a right tree directly (for the floor, which only looks)."""
    reset_tree(tree)
    for kind, path, n in gen.resources(tree, workload):
        if kind == "d":
            os.mkdir(path)
            os.chmod(path, gen.DIR_MODE)
        else:
            with open(path, "w") as f:
                f.write(gen.content(n))
            os.chmod(path, gen.FILE_MODE)
    os.sync()


def scan_tree(tree):
    """{relpath: (kind, mode, uid, gid, sha256|None)} and {relpath: stat key}."""
    found, keys = {}, {}
    stack = [tree]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                rel = os.path.relpath(e.path, tree)
                keys[rel] = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
                mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISDIR(st.st_mode):
                    found[rel] = ("d", mode, st.st_uid, st.st_gid, None)
                    stack.append(e.path)
                elif stat.S_ISREG(st.st_mode):
                    with open(e.path, "rb") as f:
                        h = hashlib.sha256(f.read()).hexdigest()
                    found[rel] = ("f", mode, st.st_uid, st.st_gid, h)
                else:
                    found[rel] = ("other", mode, st.st_uid, st.st_gid, None)
    return found, keys


def check_tree(tree, expected, what):
    """Raise BenchError naming the first differences from expected."""
    found, keys = scan_tree(tree)
    uid, gid = os.getuid(), os.getgid()
    want = {p: (k, m, uid, gid, h) for p, (k, m, h) in expected.items()}
    if found == want:
        return keys
    diffs = []
    for p in sorted(set(want) | set(found)):
        if want.get(p) != found.get(p):
            diffs.append("  %s: expected %s, found %s" % (p, want.get(p), found.get(p)))
    raise bl.BenchError("%s: the tree is not right (%d differences):\n%s"
                        % (what, len(diffs), "\n".join(diffs[:10])))


# --- running -------------------------------------------------------------

def run_phase(tool, workload, phase, inputs, tree, expected, nruns):
    """Warm-up + nruns measured runs of one tool/workload/phase; a row."""
    logs = os.path.join(tool.work, "logs")
    os.makedirs(logs, exist_ok=True)
    warmup = 0 if tool.single_run else 1
    total = 1 if tool.single_run else nruns
    runs = []
    if phase == "create":
        empty_trash(tree)
    if phase == "no-op":
        before = check_tree(tree, expected, "%s %s before no-op" % (tool.label, workload))
    for i in range(warmup + total):
        tag = "%s-%s-%s-%d" % (tool.name, workload, phase, i)
        what = "%s %s %s run %d" % (tool.label, workload, phase, i)
        if phase == "create":
            reset_tree(tree)
        r = bl.measure(tool.argv(inputs), os.path.join(logs, tag + ".log"),
                       os.path.join(logs, tag + ".json"), tool.env(),
                       cwd=tool.work)
        if r["exit"] not in tool.exits[phase] or r["signal"]:
            raise bl.BenchError("%s: exit %d signal %d (expected %s); see %s"
                                % (what, r["exit"], r["signal"],
                                   sorted(tool.exits[phase]),
                                   os.path.join(logs, tag + ".log")))
        keys = check_tree(tree, expected, what)
        if phase == "no-op" and keys != before:
            touched = [p for p in sorted(before) if before[p] != keys.get(p)]
            raise bl.BenchError("%s: a no-op run touched %d entries, e.g. %s"
                                % (what, len(touched), touched[:3]))
        if r["leftover"]:
            bl.log("  warning: %s left %d processes running; they were killed"
                   % (what, r["leftover"]))
        r["warmup"] = i < warmup
        bl.log("  %-16s %s %-6s %s %8.3f s  %7.1f MB"
               % (tool.label, workload, phase,
                  "warm-up " if r["warmup"] else "run %d/%d" % (i - warmup + 1, total),
                  r["wall_s"], r["maxrss_kb"] / 1024.0))
        runs.append(r)
    row = {"suite": "apply", "tool": tool.label, "workload": workload,
           "phase": phase, "unit": "s", "resources": len(expected),
           "warmup_runs": [r for r in runs if r["warmup"]]}
    return bl.summarize(row, [r for r in runs if not r["warmup"]])


def add_ratios(rows):
    tend = {(r["workload"], r["phase"]): r for r in rows if r["tool"] == "tend"}
    for r in rows:
        t = tend.get((r["workload"], r["phase"]))
        r["ratio_to"] = "tend" if t else None
        r["ratio"] = r["median"] / t["median"] if t and t["median"] > 0 else None


def targets(rows):
    """The issue's targets, each PASS/MISS with its figures (or skipped)."""
    by = {(r["tool"], r["workload"], r["phase"]): r for r in rows}
    out = []

    def ratio_target(name, w, phase, other, limit, key="median", unit="s"):
        t, o = by.get(("tend", w, phase)), by.get((other, w, phase))
        if not t or not o:
            out.append({"name": name, "pass": None,
                        "detail": "not measured (needs tend and %s at %s %s)"
                        % (other, w.upper(), phase)})
            return
        tv, ov = t[key], o[key]
        if unit == "MB":
            tv, ov = tv / 1024.0, ov / 1024.0
        ratio = tv / ov if ov else float("inf")
        out.append({"name": name, "pass": ratio <= limit, "ratio": ratio,
                    "limit": limit, "tend": tv, "other": ov,
                    "detail": "tend %.3f %s vs %s %.3f %s = %.3fx (target <= %gx)"
                    % (tv, unit, other, ov, unit, ratio, limit)})

    ratio_target("no-op W2 <= 0.1 x cf-agent", "w2", "no-op", "cf-agent", 0.1)
    ratio_target("no-op W1 <= 0.2 x cf-agent", "w1", "no-op", "cf-agent", 0.2)
    ratio_target("no-op W2 <= 4 x floor", "w2", "no-op", "floor", 4.0)
    ratio_target("create W1 <= 0.3 x cf-agent", "w1", "create", "cf-agent", 0.3)
    ratio_target("create W2 <= 0.3 x cf-agent", "w2", "create", "cf-agent", 0.3)
    for w in ("w1", "w2"):
        for phase in PHASES:
            ratio_target("maxRSS %s %s <= 0.25 x cf-agent" % (w.upper(), phase),
                         w, phase, "cf-agent", 0.25, key="maxrss_kb", unit="MB")
    return out


def config():
    quick = bl.env("BENCH_QUICK", "0") == "1"
    workloads = bl.env("BENCH_WORKLOADS", "w1" if quick else "w1 w2").split()
    nruns = int(bl.env("BENCH_RUNS", "3" if quick else "5"))
    tools = bl.env("BENCH_TOOLS", " ".join(ALL_TOOLS)).split()
    if bl.env("BENCH_SKIP_ANSIBLE", "0") == "1" and "ansible" in tools:
        tools.remove("ansible")
    for w in workloads:
        if w not in gen.WORKLOADS:
            raise bl.BenchError("unknown workload %r (have %s)" % (w, ", ".join(gen.WORKLOADS)))
    for t in tools:
        if t not in TOOL_CLASSES:
            raise bl.BenchError("unknown tool %r (have %s)" % (t, ", ".join(ALL_TOOLS)))
    if nruns < 1:
        raise bl.BenchError("BENCH_RUNS must be at least 1")
    return workloads, nruns, tools


def main():
    work = bl.env("BENCH_WORK")
    load_start = bl.loadavg()
    workloads, nruns, names = config()
    tree = os.path.join(bl.env("BENCH_TREE_BASE", work), "tree")
    os.umask(0o022)
    tools = [TOOL_CLASSES[n](work) for n in names]
    for t in tools:
        t.setup()
    rows, notes = [], []
    for w in workloads:
        inputs = gen.generate(w, tree, os.path.join(work, "in-" + w))
        expected = gen.expected(tree, w)
        bl.log("apply: %s, %d resources, inputs in %s"
               % (w.upper(), len(expected), os.path.dirname(inputs["tend.yaml"])))
        for t in tools:
            if w not in t.workloads:
                notes.append("%s: not run at %s (minutes per run)" % (t.label, w.upper()))
                continue
            if t.name == "floor":
                build_tree(tree, w)
            for phase in t.phases:
                rows.append(run_phase(t, w, phase, inputs, tree, expected, nruns))
        shutil.rmtree(tree)
        empty_trash(tree)
    add_ratios(rows)
    if any(t.single_run for t in tools):
        notes.append("ansible-playbook: one run per phase, no warm-up")
    bl.write_suite({"suite": "apply",
                    "title": "apply: files and directories, tend vs CFEngine, Puppet, Ansible",
                    "config": {"workloads": workloads, "runs": nruns, "warmup": 1,
                               "tools": names, "tree": tree,
                               "tree_fs": bl.env("BENCH_TREE_FS", "directory")},
                    "tools": {t.label: t.version() for t in tools},
                    "loadavg_start": load_start, "loadavg_end": bl.loadavg(),
                    "notes": notes, "rows": rows, "targets": targets(rows)})


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        bl.log("bench: FAILED: %s" % e)
        sys.exit(1)
