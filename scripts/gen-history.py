#!/usr/bin/env python3
"""Generate a git repository with a long access history and evidence notes, for benchmarks.

    scripts/gen-history.py OUT_DIR [--grants 10000] [--commits 20000] [--people 3000]
                           [--apps 200] [--days 540] [--notes 0.9] [--leavers-every 200]
                           [--seed 1]

OUT_DIR becomes a git repository (branch `main`) made with `git fast-import`:

- the first commit holds an organisation of about `--grants` grants (policies, people, apps
  of every risk, grant files of 1-3 grants);
- then `--commits` commits over `--days` days from 2025-01-01, one change each, the way pull
  requests arrive: a grant added (40%), removed (25%), extended (20%),
  an app's grants reviewed (10%), a person leaving (people.yaml and all their grant files in
  one commit, one commit in `--leavers-every`); the grant count stays near `--grants`;
- `refs/notes/portcullis` holds the evidence chain (format: docs/evidence.md): an `apply`
  record for `--notes` of the commits (approvals, one action per grant changed, provisioned
  2-10 minutes after the commit) and `run` records removing grants that expired while held
  (one record per apply run; a run removes what expired since the one before, 5 minutes to
  40 hours after the first of them expired, so some are late against a 24h SLA).

Output is deterministic for a seed. Prints the first and last commit times and a query
instant and app for `audit --at`.
"""

import argparse
import datetime as dt
import hashlib
import heapq
import json
import os
import random
import subprocess
import sys

RISKS = ["low", "medium", "high", "critical"]
MAX_DAYS = {"low": 365, "medium": 180, "high": 90, "critical": 30}
ROLES = ["viewer", "editor", "admin"]
START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Gen:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.people = [f"p{i:05d}" for i in range(a.people)]
        self.dept = {p: f"d{i % 20:02d}" for i, p in enumerate(self.people)}
        self.manager = {}
        heads = {}
        for p in self.people:
            d = self.dept[p]
            if d in heads:
                self.manager[p] = heads[d]
            else:
                heads[d] = p
        self.leavers = set()
        self.apps = [f"a{i:04d}" for i in range(a.apps)]
        self.risk = {app: RISKS[i % 4] for i, app in enumerate(self.apps)}
        # (app, person) -> {role: grant dict}
        self.files = {}
        self.count = 0
        self.expiries = []  # heap of (instant, app, person, role, expires text)

    def expiry(self, app, now):
        days = self.rng.randint(20, MAX_DAYS[self.risk[app]])
        return (now + dt.timedelta(days=days)).date()

    def grant(self, app, role, now):
        d = self.expiry(app, now)
        return {
            "role": role,
            "justification": f"Needs {role} on {app} for the quarterly close work",
            "expires": d.isoformat(),
        }

    def track(self, app, person, g):
        d = dt.date.fromisoformat(g["expires"])
        end = dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc) + dt.timedelta(days=1)
        heapq.heappush(self.expiries, (end, app, person, g["role"], g["expires"]))

    def file_text(self, app, person):
        out = [f"person: {person}", f"app: {app}", "grants:"]
        for g in self.files[(app, person)].values():
            out.append(f"  - role: {g['role']}")
            out.append(f"    justification: {g['justification']}")
            out.append(f"    expires: {g['expires']}")
            if "reviewed" in g:
                out.append(f"    reviewed: {g['reviewed']}")
        return "\n".join(out) + "\n"

    def people_text(self):
        out = ["people:"]
        for p in self.people:
            out += [f"  - id: {p}", f"    name: Person {p}", f"    email: {p}@bench.example",
                    f"    github: {p}-gh", f"    department: {self.dept[p]}"]
            if p in self.manager:
                out.append(f"    manager: {self.manager[p]}")
            out += ["    type: employee",
                    f"    status: {'leaver' if p in self.leavers else 'active'}"]
        return "\n".join(out) + "\n"

    def policies(self):
        files = {
            "policies/settings.yaml": 'org: bench\nsecurity_team: "@bench/security"\n',
            "policies/people.yaml": self.people_text(),
        }
        for i, app in enumerate(self.apps):
            review = "review_every: 90d\n" if i % 2 == 0 else ""
            files[f"policies/apps/{app}.yaml"] = (
                f"id: {app}\nname: App {app}\nowners: [\"@bench/owners-{i}\"]\nrisk: {self.risk[app]}\n"
                f"{review}provisioner: {{type: manual}}\nroles:\n"
                "  viewer:\n    description: Read\n"
                "  editor:\n    description: Write\n"
                "  admin:\n    description: Everything\n    privileged: true\n")
        return files

    def active_people(self):
        return [p for p in self.people if p not in self.leavers]


def data(text):
    b = text.encode()
    return b"data %d\n" % len(b) + b + b"\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--grants", type=int, default=10000)
    ap.add_argument("--commits", type=int, default=20000)
    ap.add_argument("--people", type=int, default=3000)
    ap.add_argument("--apps", type=int, default=200)
    ap.add_argument("--days", type=int, default=540)
    ap.add_argument("--notes", type=float, default=0.9)
    ap.add_argument("--leavers-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    g = Gen(a)
    rng = g.rng
    os.makedirs(a.out, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", a.out], check=True)
    subprocess.run(["git", "-C", a.out, "config", "gc.auto", "0"], check=True)
    fi = subprocess.Popen(["git", "-C", a.out, "fast-import", "--quiet", "--export-marks=.git/bench-marks"],
                          stdin=subprocess.PIPE)
    w = fi.stdin
    commit_times = []
    records = []  # (time, kind, commit mark, payload)
    mark = 0

    def commit(now, message, changes):
        nonlocal mark
        mark += 1
        t = int(now.timestamp())
        w.write(b"commit refs/heads/main\nmark :%d\n" % mark)
        w.write(b"author Bench <bench@example.com> %d +0000\n" % t)
        w.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
        w.write(data(message))
        if mark > 1:
            w.write(b"from :%d\n" % (mark - 1))
        for path, text in changes:
            if text is None:
                w.write(b"D %s\n" % path.encode())
            else:
                w.write(b"M 100644 inline %s\n" % path.encode())
                w.write(data(text))
        w.write(b"\n")
        commit_times.append(now)
        return mark

    # The organisation.
    now = START
    changes = list(g.policies().items())
    pairs = set()
    while g.count < a.grants:
        app = rng.choice(g.apps)
        person = rng.choice(g.people)
        if (app, person) in pairs:
            continue
        pairs.add((app, person))
        n = min(rng.choice([1, 1, 1, 2, 2, 3]), a.grants - g.count)
        roles = rng.sample(ROLES, n)
        g.files[(app, person)] = {}
        for r in roles:
            gr = g.grant(app, r, now)
            g.files[(app, person)][r] = gr
            g.track(app, person, gr)
            g.count += 1
        changes.append((f"access/{app}/{person}.yaml", g.file_text(app, person)))
    commit(now, "The organisation", changes)

    step = dt.timedelta(days=a.days) / max(a.commits, 1)
    for i in range(a.commits):
        now = START + step * (i + 1)
        # Grants that expired while held are removed by the next apply run, one run record
        # for all of them; some runs come late.
        expired = []
        first = None
        while g.expiries and g.expiries[0][0] <= now:
            end, app, person, role, text = heapq.heappop(g.expiries)
            cur = g.files.get((app, person), {}).get(role)
            if cur is None or cur["expires"] != text:
                continue
            first = first or end
            expired.append(("remove", app, person, role))
        if expired:
            delay = dt.timedelta(minutes=rng.choice([5, 20, 60, 180, 600, 1500, 2400]))
            records.append((first + delay, "run", mark, expired))
        acts = []
        changes = []
        r = rng.random()
        low, high = g.count < a.grants * 0.97, g.count > a.grants * 1.03
        keys = list(g.files.keys())
        if i % a.leavers_every == a.leavers_every - 1:
            # A leaver: marked in people.yaml, every grant removed in the same change.
            person = rng.choice(g.active_people())
            g.leavers.add(person)
            changes.append(("policies/people.yaml", g.people_text()))
            for (app, p) in [k for k in keys if k[1] == person]:
                for role in g.files[(app, p)]:
                    acts.append(("remove", app, p, role))
                    g.count -= 1
                del g.files[(app, p)]
                changes.append((f"access/{app}/{p}.yaml", None))
            message = f"People sync: {person} left"
        elif (r < 0.40 or low) and not high:
            app = rng.choice(g.apps)
            person = rng.choice(g.active_people())
            held = g.files.get((app, person), {})
            free = [x for x in ROLES if x not in held]
            if not free:
                continue
            role = rng.choice(free)
            gr = g.grant(app, role, now)
            g.files.setdefault((app, person), {})[role] = gr
            g.track(app, person, gr)
            g.count += 1
            acts.append(("add", app, person, role))
            changes.append((f"access/{app}/{person}.yaml", g.file_text(app, person)))
            message = f"Access request: {person} {app}:{role}"
        elif r < 0.65 or high:
            app, person = rng.choice(keys)
            grants = g.files[(app, person)]
            role = rng.choice(list(grants))
            del grants[role]
            g.count -= 1
            acts.append(("remove", app, person, role))
            if grants:
                changes.append((f"access/{app}/{person}.yaml", g.file_text(app, person)))
            else:
                del g.files[(app, person)]
                changes.append((f"access/{app}/{person}.yaml", None))
            message = f"Remove {person} {app}:{role}"
        elif r < 0.85:
            app, person = rng.choice(keys)
            role = rng.choice(list(g.files[(app, person)]))
            gr = g.files[(app, person)][role]
            gr["expires"] = g.expiry(app, now).isoformat()
            g.track(app, person, gr)
            changes.append((f"access/{app}/{person}.yaml", g.file_text(app, person)))
            message = f"Extend {person} {app}:{role}"
        else:
            app = rng.choice(g.apps)
            day = now.date().isoformat()
            files = [k for k in keys if k[0] == app][:20]
            for k in files:
                for gr in g.files[k].values():
                    gr["reviewed"] = day
                changes.append((f"access/{k[0]}/{k[1]}.yaml", g.file_text(*k)))
            message = f"Access review of {app}"
            if not files:
                continue
        m = commit(now, message, changes)
        if rng.random() < a.notes:
            records.append((now + dt.timedelta(minutes=rng.randint(2, 10)), "apply", m, acts))
    w.close()
    if fi.wait() != 0:
        sys.exit("git fast-import failed")

    marks = {}
    with open(os.path.join(a.out, ".git/bench-marks")) as f:
        for line in f:
            k, sha = line.split()
            marks[int(k[1:])] = sha
    # The evidence chain, in time order.
    records.sort(key=lambda x: x[0])
    notes = {}
    prev = None
    for seq, (t, kind, m, acts) in enumerate(records, start=1):
        sha = marks[m]
        pr = seq if kind == "apply" else None
        rec = {
            "version": 1, "seq": seq, "kind": kind, "commit": sha, "pr": pr,
            "pr_head": sha if pr else None,
            "approvals": [{"reviewer": "reviewer-gh", "review_id": 100000 + seq, "as": "owner"}] if pr else [],
            "override": None, "bypass": None,
            "run": {"id": f"run-{seq}", "started_at": stamp(t), "finished_at": stamp(t)},
            "actions": [{"op": op, "app": app, "person": p, "role": role, "target": f"{app}_{role}",
                         "account": p, "result": "changed", "error": None, "at": stamp(t)}
                        for (op, app, p, role) in acts],
            "prev": prev,
        }
        rec["hash"] = hashlib.sha256(canonical(rec).encode()).hexdigest()
        prev = rec["hash"]
        notes.setdefault(sha, []).append(canonical(rec))
    fi = subprocess.Popen(["git", "-C", a.out, "fast-import", "--quiet"], stdin=subprocess.PIPE)
    w = fi.stdin
    t = int((START + dt.timedelta(days=a.days + 1)).timestamp())
    w.write(b"commit refs/notes/portcullis\n")
    w.write(b"committer Bench <bench@example.com> %d +0000\n" % t)
    w.write(data("Evidence notes"))
    for sha, lines in notes.items():
        w.write(b"N inline %s\n" % sha.encode())
        w.write(data("\n".join(lines) + "\n"))
    w.write(b"\n")
    w.close()
    if fi.wait() != 0:
        sys.exit("git fast-import of the notes failed")
    subprocess.run(["git", "-C", a.out, "reset", "-q", "--hard", "main"], check=True)
    mid = commit_times[len(commit_times) // 2]
    print(json.dumps({
        "first": stamp(commit_times[0]), "last": stamp(commit_times[-1]), "grants": g.count,
        "commits": len(commit_times), "records": len(records), "at": stamp(mid),
        "app": g.apps[7],
    }))


if __name__ == "__main__":
    main()
