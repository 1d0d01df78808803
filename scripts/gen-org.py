#!/usr/bin/env python3
"""Generate a synthetic but realistic portcullis organisation for benchmarks.

    scripts/gen-org.py OUT_DIR --grant-files N [--people 50000] [--apps 500] [--seed 1]

The result passes `portcullis check --as-of 2026-11-22` with no errors and no warnings:

- policies/settings.yaml     org `synth`, security team `@synth/security`
- policies/people.yaml       ~50k people in 40 departments; managers form one tree under the
                             CEO; ~5% contractors (end_date 2027-06-30); a few leavers (no grants)
- policies/apps/app-NNN.yaml apps of every risk and provisioner type, 3-6 roles each
- policies/sod.yaml          ~20 maker/checker rules (some across apps) and a few exceptions,
                             each excusing exactly one deliberate conflict
- policies/birthright.yaml   a few department rules
- access/app-NNN/<person>.yaml  N grant files, 1-3 grants each; no SoD conflict without an
                             exception, every expiry 10+ days after as-of and within its maximum
- schemas/                   copied from this repository when present

Nothing depends on the clock or on git: apps have no `review_every`. Output is deterministic
for a given seed. OUT_DIR must not already contain access/ or policies/.
"""

import argparse
import datetime as dt
import os
import random
import shutil
import sys
import time

AS_OF = dt.date(2026, 11, 22)
CONTRACT_END = dt.date(2027, 6, 30)
MIN_OFFSET = 10  # days after as-of; warn_days is 7
RISK_MAX = {"low": 365, "medium": 180, "high": 90, "critical": 30}
ORG = "synth"

FIRST = """
aaron abigail adam adrian ahmed aisha alan albert alex alice amara amelia amir ana andre andrea
andrew angela anna anton arjun arthur asha ava ben bianca boris brandon bruno caleb camila carl
carlos carmen caroline chen chloe chris clara colin daniel david diana diego dmitri dylan eduardo
elena eli elias elif ella emma eric erik esther ethan eva fatima felix fernando fiona francesca
gabriel george grace hannah hamza harper hassan helen henry hugo ian ines irene isaac isabel ivan
jack jacob james jana jasmine javier jin joao john jonas jorge jose joseph julia julian kai kamal
karen kate kenji kevin kim kofi kwame lara laura layla leah lena leo liam lily linh lucas lucia
luis luka maria marco marek maria mark marta mateo maya mei mia michael miguel mila mohammed
nadia naomi nathan nia nico nina noah nora olga oliver omar oscar pablo patrick paul pedro
peter pia priya quinn rafael rahul rania rebecca ren rosa ruby rui ryan sakura sam samira sana
sara sean sergei simon sofia sophie stefan sunita tariq tessa thomas tim tomas tyler valentina
vera victor vikram wei william xavier yara yasmin yusuf zara zoe
""".split()

LAST = """
adams ahmed ali alvarez anderson andersson bakker banerjee becker bianchi brown bruno campbell
castro chen clark collins costa cruz davies dias diaz dubois edwards evans fernandes fischer
fontaine garcia gomez gonzalez green gupta hall hansen harris hernandez hill hoffmann hughes
ibrahim ivanova jackson jansen jensen johansson johnson jones kaur khan kim king kowalski kumar
larsen laurent lee lewis li lindqvist lopez martin martinez meyer miller mitchell moore morales
moreau muller murphy nakamura nguyen nielsen novak nowak oconnor okafor olsen ortiz park patel
perez petrov phillips ramos reyes ricci roberts robinson rodriguez rossi russo sanchez santos
schmidt schneider scott silva singh smith sousa suzuki tanaka taylor thomas thompson torres
turner vargas volkov wagner walker wang weber white williams wilson wong wright yamamoto yilmaz
young zhang zimmermann
""".split()

DEPARTMENTS = [
    # (id, display name, relative size)
    ("exec", "Executive", 0.2), ("engineering", "Engineering", 14), ("platform", "Platform", 4),
    ("sre", "Site Reliability", 3), ("security", "Security", 2), ("data", "Data Engineering", 4),
    ("ml", "Machine Learning", 2), ("mobile", "Mobile", 3), ("web", "Web", 3), ("qa", "Quality", 2),
    ("it", "IT", 2), ("finance", "Finance", 3), ("treasury", "Treasury", 0.6),
    ("accounting", "Accounting", 2), ("payroll", "Payroll", 0.8), ("procurement", "Procurement", 1),
    ("legal", "Legal", 1), ("compliance", "Compliance", 1), ("internal-audit", "Internal Audit", 0.5),
    ("hr", "People", 2), ("recruiting", "Recruiting", 1.5), ("sales", "Sales", 10),
    ("sales-ops", "Sales Operations", 1.5), ("marketing", "Marketing", 4), ("growth", "Growth", 2),
    ("partnerships", "Partnerships", 1), ("customer-success", "Customer Success", 4),
    ("support", "Support", 9), ("operations", "Operations", 6), ("logistics", "Logistics", 5),
    ("fleet", "Fleet", 3), ("warehouse", "Warehouse", 5), ("facilities", "Facilities", 1),
    ("product", "Product", 2.5), ("design", "Design", 1.5), ("research", "User Research", 0.7),
    ("analytics", "Analytics", 2), ("billing", "Billing", 1.5), ("risk", "Risk", 1),
    ("fraud", "Fraud", 1),
]

APP_NOUNS = """
Ledger Console Portal Warehouse Tracker Gateway Vault Dashboard Registry Planner Scheduler Router
Catalog Inbox Desk Hub Studio Monitor Forge Billing Payroll Exchange Archive Index Pipeline Relay
""".split()
APP_ADJ = """
Carrier Fleet Customer Partner Freight Billing Finance Treasury Vendor Driver Route Cargo Dock
Invoice Contract Quote Claims Shipment Customs Pricing Supplier Tariff Yard Depot Fuel Audit
""".split()

# Role templates: (id, description, kind). kind: read | write | maker | checker | privileged
READ_ROLES = [
    ("viewer", "Read-only dashboards and reports", "read"),
    ("read-only", "Read records and exports, no changes", "read"),
    ("reader", "Browse data and download standard reports", "read"),
]
WRITE_ROLES = [
    ("editor", "Create and edit records", "write"),
    ("operator", "Run day-to-day operations and scheduled jobs", "write"),
    ("analyst", "Build queries, saved views and ad-hoc reports", "write"),
    ("support", "Look up customer records to answer tickets", "write"),
    ("deploy", "Roll out and roll back releases", "write"),
    ("integrations", "Manage API keys and webhooks of integrations", "write"),
]
MAKER_ROLES = [
    ("submit", "Prepare and submit transactions for approval", "maker"),
    ("create-payment", "Create outgoing payments and payment runs", "maker"),
    ("initiate", "Key in changes for someone else to release", "maker"),
]
CHECKER_ROLES = [
    ("approve", "Approve submitted transactions (second pair of eyes)", "checker"),
    ("approve-payment", "Approve outgoing payments and payment runs", "checker"),
    ("release", "Release changes another person keyed in", "checker"),
]
PRIVILEGED_ROLES = [
    ("admin", "Full control of settings, users, integrations and data exports", "privileged"),
    ("superuser", "Unrestricted database and console access for DBA work", "privileged"),
    ("break-glass", "Emergency administrator access during incidents", "privileged"),
]

JUSTIFICATIONS = {
    "read": [
        "Weekly {dept} reporting needs read access to {app}",
        "Reviews {app} records for the monthly {dept} close",
        "Looks up {app} data while answering escalations",
        "Follows status in {app} for the {dept} team stand-up",
    ],
    "write": [
        "Day-to-day {dept} work in {app} (ticket {ticket})",
        "Maintains {app} records for the {dept} team",
        "Runs the {dept} operational jobs in {app}",
        "Owns the {dept} integrations that write to {app}",
    ],
    "maker": [
        "Prepares the {dept} transactions in {app} every week",
        "Keys in {dept} runs in {app} for a second person to release",
    ],
    "checker": [
        "Second approver for the {dept} runs in {app}",
        "Releases {app} transactions prepared by the {dept} team",
    ],
    "privileged": [
        "On-call administrator for {app} this rotation ({ticket})",
        "Upgrade and migration of {app}, change {ticket}",
        "Incident follow-up in {app}, restore and verify ({ticket})",
    ],
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--grant-files", type=int, required=True, metavar="N")
    p.add_argument("--people", type=int, default=50000)
    p.add_argument("--apps", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.people < 100 or a.apps < 10 or a.grant_files < 0:
        p.error("need at least 100 people and 10 apps")
    return a


# ---------------------------------------------------------------------------------------------
# people


def make_people(rng, n):
    """Returns a list of dicts in people.yaml order, and the CEO's index."""
    weights = [w for _, _, w in DEPARTMENTS]
    total = sum(weights)
    sizes = [max(3, int(n * w / total)) for w in weights]
    sizes[1] += n - sum(sizes)  # engineering absorbs the rounding
    used = set()
    people = []

    def new_id(first, last):
        base = f"{first}.{last}"
        pid, k = base, 1
        while pid in used:
            k += 1
            pid = f"{base}{k}"
        used.add(pid)
        return pid

    def person(dept, dept_name, title, manager, kind="employee", status="active"):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        pid = new_id(first, last)
        p = {
            "id": pid,
            "name": f"{first.capitalize()} {last.capitalize()}",
            "github": pid.replace(".", "-") + "-gh" if len(pid) < 34 else None,
            "department": dept,
            "dept_name": dept_name,
            "title": title,
            "manager": manager,
            "type": kind,
            "status": status,
        }
        people.append(p)
        return p

    ceo = person("exec", "Executive", "Chief Executive Officer", None)
    for (dept, name, _), size in zip(DEPARTMENTS, sizes):
        members = []
        for i in range(size):
            fan = 7
            if i == 0:
                manager = ceo["id"]
                title = "Chief Operating Officer" if dept == "exec" else f"Head of {name}"
            else:
                manager = members[(i - 1) // fan]["id"]
            has_reports = fan * i + 1 < size
            if i > 0:
                title = f"{name} Manager" if has_reports else rng.choice(
                    [f"{name} Specialist", f"Senior {name} Specialist", f"{name} Associate",
                     f"{name} Lead" if dept != "exec" else "Chief of Staff"])
            kind, status = "employee", "active"
            if not has_reports and i > 0:
                r = rng.random()
                if r < 0.058:
                    kind = "contractor"
                elif r < 0.064:
                    status = "leaver"
            members.append(person(dept, name, title, manager, kind, status))
    return people


def write_people(path, people):
    out = [
        "# yaml-language-server: $schema=../schemas/people.schema.json\n"
        "# The people directory (synthetic benchmark data, synced from HR).\n"
        "people:\n"
    ]
    for p in people:
        s = (f"  - id: {p['id']}\n    name: {p['name']}\n    email: {p['id']}@synth.example\n")
        if p["github"]:
            s += f"    github: {p['github']}\n"
        s += f"    department: {p['department']}\n    title: {p['title']}\n"
        if p["manager"]:
            s += f"    manager: {p['manager']}\n"
        s += f"    type: {p['type']}\n    status: {p['status']}\n"
        if p["type"] != "employee":
            s += f"    end_date: {CONTRACT_END.isoformat()}\n"
        out.append(s)
    with open(path, "w") as f:
        f.write("".join(out))


# ---------------------------------------------------------------------------------------------
# apps


def provisioner(kind, app_id, rng):
    env = app_id.upper().replace("-", "_")
    if kind == "github-team":
        return f'provisioner: {{type: github-team, org: {ORG}, login: "{{github}}"}}\n'
    if kind == "postgres":
        return f'provisioner: {{type: postgres, dsn_env: {env}_DSN, login: "{{id}}"}}\n'
    if kind == "scim":
        return (f'provisioner: {{type: scim, url_env: {env}_SCIM_URL, token_env: {env}_SCIM_TOKEN, '
                f'login: "{{email}}"}}\n')
    if kind == "ldap":
        return ("provisioner:\n  type: ldap\n  url_env: LDAP_URL\n"
                f'  bind_dn: "cn=portcullis,ou=services,dc={ORG},dc=example"\n'
                "  bind_password_env: LDAP_BIND_PASSWORD\n"
                f"  group_base: ou=groups,dc={ORG},dc=example\n"
                f'  login: "uid={{id}},ou=people,dc={ORG},dc=example"\n')
    if kind == "manual":
        return ("provisioner:\n  type: manual\n  checklist:\n"
                "    - Add or remove the user in the application's admin console\n"
                "    - Assign or remove the permission set named by the role's target\n"
                "    - Paste the confirmation from the console into this issue and close it\n")
    # command
    s = (f"provisioner:\n  type: command\n  command: scripts/provision-{app_id}\n"
         f"  timeout_seconds: {rng.choice([30, 60, 120])}\n")
    if rng.random() < 0.5:
        s += f"  env: [{env}_API_URL, {env}_API_TOKEN]\n"
    return s


def duration_text(days, rng):
    if days % 7 == 0 and rng.random() < 0.3:
        return f"{days // 7}w"
    return f"{days}d"


def make_apps(rng, n):
    risks = ["low"] * 35 + ["medium"] * 35 + ["high"] * 20 + ["critical"] * 10
    kinds = ["github-team", "postgres", "ldap", "scim", "manual", "command"]
    apps = []
    for i in range(n):
        app_id = f"app-{i:03d}"
        risk = risks[rng.randrange(len(risks))]
        kind = kinds[i % len(kinds)] if rng.random() < 0.7 else rng.choice(kinds)
        nroles = rng.randint(3, 6)
        roles = [rng.choice(READ_ROLES)]
        pool = list(WRITE_ROLES)
        rng.shuffle(pool)
        # about one app in five has a maker/checker pair for SoD rules to name
        if nroles >= 4 and risk != "low" and rng.random() < 0.35:
            k = rng.randrange(len(MAKER_ROLES))
            roles += [MAKER_ROLES[k], CHECKER_ROLES[k]]
        if rng.random() < 0.6 or risk in ("high", "critical"):
            roles.append(rng.choice(PRIVILEGED_ROLES))
        while len(roles) < nroles and pool:
            roles.append(pool.pop())
        default = RISK_MAX[risk]
        role_defs = []
        for rid, desc, rkind in roles:
            max_days = None
            if rkind == "privileged":
                max_days = min(default, rng.choice([14, 21, 30]))
            elif rng.random() < 0.25:
                choices = [d for d in (14, 28, 30, 60, 90, 120) if d < default]
                max_days = rng.choice(choices) if choices else None
            approvals = None
            if rkind in ("maker", "checker"):
                approvals = "[manager, owner]"
            elif rkind == "privileged" and rng.random() < 0.3:
                approvals = "[manager, owner, security]"
            elif rkind == "write" and rng.random() < 0.15:
                approvals = f'[manager, "@{ORG}/{app_id}-owners"]'
            auto = rkind == "read" and risk == "low" and rng.random() < 0.5
            role_defs.append({
                "id": rid, "description": desc, "kind": rkind, "max_days": max_days,
                "approvals": approvals, "auto": auto,
                "limit": min(default, max_days or default),
            })
        noun = f"{rng.choice(APP_ADJ)} {rng.choice(APP_NOUNS)}"
        owners = [f"@{ORG}/{app_id}-owners"]
        if rng.random() < 0.2:
            owners.append(rng.choice([f"@{ORG}/sre", f"@{ORG}/it", f"@{ORG}/platform"]))
        apps.append({"id": app_id, "name": noun, "risk": risk, "kind": kind,
                     "owners": owners, "roles": role_defs,
                     "unmanaged": rng.random() < 0.15})
    return apps


def write_app(path, app, rng):
    s = ["# yaml-language-server: $schema=../../schemas/app.schema.json\n",
         f"id: {app['id']}\n",
         f"name: {app['name']} ({app['id']})\n",
         f"description: Synthetic {app['risk']}-risk application used by the portcullis benchmark.\n",
         "owners: [" + ", ".join(f'"{o}"' for o in app["owners"]) + "]\n",
         f"risk: {app['risk']}\n"]
    if app["unmanaged"]:
        s.append(f"unmanaged: [{app['id']}-service, {app['id']}-ci]   # service accounts\n")
    s.append(provisioner(app["kind"], app["id"], rng))
    s.append("roles:\n")
    for r in app["roles"]:
        s.append(f"  {r['id']}:\n    description: {r['description']}\n")
        s.append(f"    target: {app['id'].replace('-', '_')}_{r['id'].replace('-', '_')}\n")
        if r["approvals"]:
            s.append(f"    approvals: {r['approvals']}\n")
        if r["kind"] == "privileged":
            s.append("    privileged: true\n")
        if r["max_days"]:
            s.append(f"    max_duration: {duration_text(r['max_days'], rng)}\n")
        if r["auto"]:
            s.append("    auto_approve: {peer_adoption: 0.8, min_peers: 5}\n")
    with open(path, "w") as f:
        f.write("".join(s))


# ---------------------------------------------------------------------------------------------
# SoD


def make_sod(rng, apps, want=20):
    """Rules as lists of sets of (app, role)."""
    pairs = []  # (app, maker, checker)
    for a in apps:
        ids = {r["id"]: r["kind"] for r in a["roles"]}
        makers = [r for r, k in ids.items() if k == "maker"]
        checkers = [r for r, k in ids.items() if k == "checker"]
        if makers and checkers:
            pairs.append((a, makers[0], checkers[0]))
    rng.shuffle(pairs)
    rules = []
    for i, (a, m, c) in enumerate(pairs[:want]):
        sets = [[(a["id"], m)], [(a["id"], c)]]
        kind = "maker-checker"
        # every third rule also spans another app's checker (a cross-app rule)
        if i % 3 == 2 and len(pairs) > want:
            b, _, c2 = pairs[(i + want) % len(pairs)]
            if b["id"] != a["id"]:
                sets[1].append((b["id"], c2))
                kind = "cross-app-maker-checker"
        rules.append({
            "id": f"{a['id']}-{kind}",
            "description": f"Nobody both prepares and approves transactions in {a['name']}",
            "severity": "warning" if i % 5 == 4 else "error",
            "sets": sets,
        })
    return rules


def write_sod(path, rules, exceptions):
    s = ["# yaml-language-server: $schema=../schemas/sod.schema.json\n",
         "# Segregation-of-duties rules agreed with internal audit.\n", "rules:\n"]
    for r in rules:
        s.append(f"  - id: {r['id']}\n    description: {r['description']}\n"
                 f"    severity: {r['severity']}\n    conflicts:\n")
        for st in r["sets"]:
            s.append("      - [" + ", ".join(f"{a}:{b}" for a, b in st) + "]\n")
    if exceptions:
        s.append("exceptions:\n")
        for e in exceptions:
            s.append(f"  - rule: {e['rule']}\n    person: {e['person']}\n"
                     f"    justification: {e['justification']}\n    expires: {e['expires']}\n")
    with open(path, "w") as f:
        f.write("".join(s))


# ---------------------------------------------------------------------------------------------
# grants


def expiry_for(rng, role, person, risk, allow_none=True):
    """Returns the `expires:` text or None."""
    must = (role["kind"] == "privileged" or risk in ("high", "critical")
            or person["type"] != "employee")
    if not must and allow_none and rng.random() < 0.35:
        return None
    limit = role["limit"]  # days; a date D is valid through D+1 00:00, so offset <= limit-1
    hi = limit - 2
    if person["type"] != "employee":
        hi = min(hi, (CONTRACT_END - AS_OF).days)
    lo = MIN_OFFSET + 1
    off = rng.randint(lo, max(lo, hi))
    d = AS_OF + dt.timedelta(days=off)
    if rng.random() < 0.05:
        return f"{d.isoformat()}T18:00:00Z"
    return d.isoformat()


def grant_text(rng, role, person, app, expires, justification=None):
    if justification is None:
        tmpl = rng.choice(JUSTIFICATIONS[role["kind"]])
        justification = tmpl.format(dept=person["dept_name"], app=app["name"],
                                    ticket=f"OPS-{rng.randint(1000, 99999)}")
    s = f"  - role: {role['id']}\n    justification: {justification}\n"
    if expires:
        s += f"    expires: {expires}\n"
    r = rng.random()
    if r < 0.2:
        s += f"    ticket: ACC-{rng.randint(100, 999999)}\n"
    elif r < 0.3:
        s += "    reviewed: 2026-10-05\n"
    return s


HEADER = "# yaml-language-server: $schema=../../schemas/grant.schema.json\n"


def main():
    args = parse_args()
    t0 = time.time()
    rng = random.Random(args.seed)
    out = args.out_dir
    for sub in ("access", "policies"):
        if os.path.exists(os.path.join(out, sub)):
            sys.exit(f"gen-org: {os.path.join(out, sub)} already exists; use an empty directory")
    os.makedirs(os.path.join(out, "policies", "apps"), exist_ok=True)
    os.makedirs(os.path.join(out, "access"), exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    schemas = os.path.join(here, "..", "schemas")
    if os.path.isdir(schemas):
        shutil.copytree(schemas, os.path.join(out, "schemas"), dirs_exist_ok=True)

    with open(os.path.join(out, "policies", "settings.yaml"), "w") as f:
        f.write("# yaml-language-server: $schema=../schemas/settings.schema.json\n"
                f"org: {ORG}\n"
                f'security_team: "@{ORG}/security"\n'
                f'emergency_approvers: "@{ORG}/oncall"\n'
                "warn_days: 7\nmin_justification: 15\n"
                "default_max_duration: {low: 365d, medium: 180d, high: 90d, critical: 30d}\n"
                "emergency_max_duration: 24h\nrequest_ttl: 30d\n")

    people = make_people(rng, args.people)
    write_people(os.path.join(out, "policies", "people.yaml"), people)
    apps = make_apps(rng, args.apps)
    for a in apps:
        write_app(os.path.join(out, "policies", "apps", a["id"] + ".yaml"), a, rng)
    rules = make_sod(rng, apps)

    # birthright: a low-risk app with a read role, for a few departments
    low = [a for a in apps if a["risk"] == "low"][:3]
    with open(os.path.join(out, "policies", "birthright.yaml"), "w") as f:
        f.write("# yaml-language-server: $schema=../schemas/birthright.schema.json\nrules:\n")
        if low:
            f.write(f"  - type: employee\n    grants: [{low[0]['id']}:{low[0]['roles'][0]['id']}]\n")
        for a, dept in zip(low[1:], ("engineering", "sales")):
            f.write(f"  - department: {dept}\n    grants: [{a['id']}:{a['roles'][0]['id']}]\n")

    # SoD index: (app, role) -> list of (rule index, set index)
    sod_index = {}
    for ri, r in enumerate(rules):
        for si, st in enumerate(r["sets"]):
            for key in st:
                sod_index.setdefault(key, []).append((ri, si))
    held = {}  # person id -> {(rule index, set index)} of SoD-named roles they hold

    def conflicts(pid, key):
        mine = held.get(pid)
        if not mine:
            return False
        for ri, si in sod_index.get(key, ()):
            for hri, hsi in mine:
                if hri == ri and hsi != si:
                    return True
        return False

    def hold(pid, key):
        for x in sod_index.get(key, ()):
            held.setdefault(pid, set()).add(x)

    eligible = [p for p in people if p["status"] == "active"]
    by_id = {p["id"]: p for p in people}
    app_weights = [1.0 / (k + 1) ** 0.8 for k in range(len(apps))]
    rng.shuffle(app_weights)
    role_weight = {"read": 10, "write": 5, "maker": 2, "checker": 2, "privileged": 0.6}

    files = {}  # (app index, person id) -> text
    made_dirs = set()
    written = 0

    def emit(ai, pid, body):
        nonlocal written
        a = apps[ai]
        d = os.path.join(out, "access", a["id"])
        if a["id"] not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(a["id"])
        text = f"{HEADER}person: {pid}\napp: {a['id']}\ngrants:\n{body}"
        with open(os.path.join(d, pid + ".yaml"), "w") as f:
            f.write(text)
        files[(ai, pid)] = True
        written += 1

    # a few deliberate conflicts, each excused by an exception
    exceptions = []
    app_pos = {a["id"]: i for i, a in enumerate(apps)}
    if args.grant_files >= 200:
        for r in rules[:3]:
            p = rng.choice([q for q in eligible if q["type"] == "employee"])
            if p["id"] in held:
                continue
            (a1, r1), (a2, r2) = r["sets"][0][0], r["sets"][1][0]
            if a1 == a2:
                app = apps[app_pos[a1]]
                roles = {x["id"]: x for x in app["roles"]}
                body = "".join(grant_text(rng, roles[x], p, app, expiry_for(rng, roles[x], p, app["risk"]))
                               for x in (r1, r2))
                emit(app_pos[a1], p["id"], body)
            for key in ((a1, r1), (a2, r2)):
                hold(p["id"], key)
            exceptions.append({
                "rule": r["id"], "person": p["id"],
                "justification": ("Only trained person in the regional office until the second "
                                  "hire starts; internal audit re-checks every transaction monthly"),
                "expires": "2027-02-28"})
    write_sod(os.path.join(out, "policies", "sod.yaml"), rules, exceptions)

    # the bulk
    nwant = args.grant_files
    if nwant > len(eligible) * len(apps) // 2:
        sys.exit("gen-org: too many grant files for this many people and apps")
    while written < nwant:
        batch = min(65536, (nwant - written) * 2)
        ais = rng.choices(range(len(apps)), weights=app_weights, k=batch)
        for ai in ais:
            if written >= nwant:
                break
            p = eligible[rng.randrange(len(eligible))]
            pid = p["id"]
            if (ai, pid) in files:
                continue
            app = apps[ai]
            roles = app["roles"]
            k = min(len(roles), rng.choices((1, 2, 3), weights=(60, 30, 10))[0])
            chosen = []
            cand = list(roles)
            while len(chosen) < k and cand:
                r = rng.choices(cand, weights=[role_weight[c["kind"]] for c in cand])[0]
                cand.remove(r)
                key = (app["id"], r["id"])
                if key in sod_index:
                    if conflicts(pid, key):
                        continue
                    hold(pid, key)
                chosen.append(r)
            if not chosen:  # every pick conflicted: the read role never does
                chosen = [roles[0]]
            body = "".join(grant_text(rng, r, p, app, expiry_for(rng, r, p, app["risk"]))
                           for r in chosen)
            emit(ai, pid, body)

    contractors = sum(1 for p in people if p["type"] == "contractor")
    print(f"gen-org: {len(people)} people ({contractors} contractors), {len(apps)} apps, "
          f"{len(rules)} SoD rules, {len(exceptions)} exceptions, {written} grant files "
          f"in {time.time() - t0:.1f}s -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
