#!/usr/bin/env python3
"""suite_server.py - tend-server compiling catalogs (issue 5).

A configuration repository is generated with git fast-import: a tag
`base` (12 resources: packages, a templated file, services with
relations, a user), 20 role tags (5 resources and 2 vars each), two
environment tags, and 10,000 nodes over 50 distinct tag lists
(base + two roles + an environment).  Two variants:

  shared    each node document only lists its tags: nodes with the same
            tags share one compiled catalog (50 compiles, 9,950 hits);
  override  every node document also sets a variable of its own: 10,000
            catalogs, each compiled.

Timed: `tend-server --state DIR --check --json`, a fresh process (cold
cache) that opens the repository and the database and compiles and
validates every node's catalog at HEAD (and every tag document).
catalogs/s = nodes / wall time of the whole process; max RSS from
bench/rusage.  Target: >= 5,000 catalogs/s on one core.
"""
import json
import os
import subprocess
import sys

import benchlib as bl

NODES = 10000
SETS = 50
ROLES = 20
TARGET = 5000.0

BASE = """# base: every node
vars:
  motd_greeting: Welcome
  ntp_server: ntp.example.org
  admin_email: root@example.org
resources:
  - package: openssh-server
  - package: chrony
  - package: rsyslog
  - file: /etc/motd
    template: files/motd.tmpl
    mode: "0644"
  - file: /etc/chrony/chrony.conf
    template: files/chrony.conf.tmpl
    mode: "0644"
    requires: package:chrony
    notify: service:chrony
  - service: chrony
    state: running
    enabled: true
  - service: ssh
    state: running
    enabled: true
    requires: package:openssh-server
  - service: rsyslog
    state: running
    requires: package:rsyslog
  - user: ops
    groups: [sudo]
    shell: /bin/bash
  - directory: /srv
    mode: "0755"
  - file: /etc/issue.net
    content: "{{ motd_greeting }} to {{ facts.hostname }}\\n"
  - exec: refresh-apt
    command: [/usr/bin/apt-get, update]
    creates: /var/lib/apt/periodic/update-success-stamp
"""


def role(i):
    return """# role%02d
vars:
  role%02d_port: %d
  role%02d_workers: %d
resources:
  - package: app%02d
  - directory: /srv/role%02d
    mode: "0750"
    owner: ops
  - file: /srv/role%02d/app.conf
    template: files/app.conf.tmpl
    mode: "0640"
    requires: package:app%02d
    notify: service:app%02d
  - service: app%02d
    state: running
    enabled: true
  - file: /etc/motd
    mode: "0640"
""" % (i, i, 8000 + i, i, 2 + i % 8, i, i, i, i, i, i)


ENVS = {
    "production": "vars:\n  motd_greeting: Production system\n  ntp_server: ntp1.prod.example.org\n",
    "staging": "vars:\n  motd_greeting: Staging\nresources:\n  - package: strace\n",
}

FILES = {
    "files/motd.tmpl": "{{ motd_greeting }} to {{ facts.hostname }}.\n",
    "files/chrony.conf.tmpl": "server {{ ntp_server }} iburst\nmakestep 1.0 3\n",
    "files/app.conf.tmpl": "listen {{ facts.ipv4 | default(\"0.0.0.0\") }}\nadmin {{ admin_email }}\n",
}


def tag_sets():
    sets = []
    for a in range(ROLES):
        for b in range(a + 1, ROLES):
            env = "production" if (a + b) % 2 else "staging"
            sets.append(["base", "role%02d" % a, "role%02d" % b, env])
            if len(sets) == SETS:
                return sets
    return sets


def files(variant):
    out = {"tags/base.yaml": BASE}
    for i in range(ROLES):
        out["tags/role%02d.yaml" % i] = role(i)
    for name, text in ENVS.items():
        out["tags/%s.yaml" % name] = text
    out.update(FILES)
    sets = tag_sets()
    for n in range(NODES):
        doc = "tags: [%s]\n" % ", ".join(sets[n % len(sets)])
        if variant == "override":
            doc += "vars:\n  node_index: %d\n" % n
        out["nodes/node%05d.example.org.yaml" % n] = doc
    return out


def make_repo(git_dir, content):
    """A bare repository whose branch main holds content, in one pack."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", git_dir], check=True)
    chunks = []
    for path, text in sorted(content.items()):
        data = text.encode()
        chunks.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
    msg = b"benchmark layout\n"
    stream = (b"commit refs/heads/main\n"
              b"committer bench <bench@tend> 1700000000 +0000\n"
              b"data %d\n%s" % (len(msg), msg)) + b"".join(chunks) + b"done\n"
    subprocess.run(["git", "--git-dir", git_dir, "fast-import", "--quiet", "--done"],
                   input=stream, check=True)


def main():
    work = bl.env("BENCH_WORK")
    server = bl.env("BENCH_TEND_SERVER")
    runs = int(bl.env("BENCH_RUNS", "3" if bl.env("BENCH_QUICK", "0") == "1" else "5"))
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)
    if not server or not os.access(server, os.X_OK):
        raise bl.BenchError("no tend-server binary (BENCH_TEND_SERVER=%s)" % server)
    rows, targets = [], []
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": work}
    for variant in ("shared", "override"):
        state = os.path.join(work, "server-" + variant)
        os.makedirs(state, mode=0o700)
        make_repo(os.path.join(state, "config.git"), files(variant))
        argv = [server, "--state", state, "--check", "--json"]
        measured = []
        for i in range(runs + 1):  # the first is a warm-up (page cache, database created)
            log = os.path.join(logs, "server-%s-%d.log" % (variant, i))
            r = bl.measure(argv, log, os.path.join(logs, "server-%s-%d.json" % (variant, i)),
                           extra_env=env)
            out = open(log).read()
            start = out.find("{")
            try:
                doc = json.loads(out[start:out.rfind("}") + 1])
            except ValueError:
                raise bl.BenchError("tend-server --check printed no JSON; see %s" % log)
            if r["exit"] != 0 or not doc.get("ok") or doc.get("nodes") != NODES:
                raise bl.BenchError("tend-server --check failed (exit %s, %s nodes, errors %s); see %s"
                                    % (r["exit"], doc.get("nodes"), doc.get("errors", [])[:3], log))
            r["catalogs_per_s"] = NODES / r["wall_s"] if r["wall_s"] > 0 else 0.0
            if i:
                measured.append(r)
            bl.log("  %s run %d: %.3f s, %.0f catalogs/s, %d kB"
                   % (variant, i, r["wall_s"], r["catalogs_per_s"], r["maxrss_kb"]))
        row = bl.summarize({"tool": "tend-server", "workload": variant, "phase": "check",
                            "unit": "/s", "nodes": NODES, "tag_lists": SETS,
                            "ratio_to": None, "ratio": None},
                           measured, metric="catalogs_per_s")
        rows.append(row)
        targets.append({"name": "%s: >= %d catalogs/s from a cold cache" % (variant, TARGET),
                        "pass": row["median"] >= TARGET,
                        "detail": "median %.0f catalogs/s (%.3f s for %d nodes), max RSS %d kB"
                                  % (row["median"], NODES / row["median"] if row["median"] else 0,
                                     NODES, row["maxrss_kb"])})
    bl.write_suite({"suite": "server",
                    "title": "tend-server: catalogs compiled per second (%d nodes, %d tag lists)"
                             % (NODES, SETS),
                    "tools": {"tend-server": bl.command_version([server, "--version"])},
                    "notes": ["tend-server --check --json: a fresh process per run (cold cache): "
                              "open the repository and database, compile and validate every "
                              "node's catalog at HEAD; catalogs/s = %d / wall time" % NODES,
                              "shared: node documents list only tags (%d distinct tag lists); "
                              "override: each node document also sets a variable of its own"
                              % SETS],
                    "rows": rows, "targets": targets})


if __name__ == "__main__":
    try:
        main()
    except bl.BenchError as e:
        bl.log("suite server: %s" % e)
        sys.exit(1)
