#!/usr/bin/env python3
"""Print the demo's sample company as LDIF (for ldapadd), the same every time.

Usage:
    scripts/demo-fixture.py [--base-dn DN] [--seed N] > company.ldif
    ldapadd -x -H ldap://127.0.0.6 -D USER -w PASS -f company.ldif
    scripts/demo-fixture.py --changes > changes.ldif    # a day later
    ldapmodify -x -H ldap://127.0.0.6 -D USER -w PASS -f changes.ldif

Normally run by scripts/demo.sh, which loads it into its throw-away DC.

The company (base DN DC=corp,DC=example,DC=test by default):
  OU=Staff
    OU=Copenhagen     200 people (the head office)
    OU=Aarhus         100 people
  OU=Contractors       12 people in no group: the import leaves them out
                       ("not linked")
  OU=Groups           global security groups:
    Sales, Finance, Support, Marketing, HR   their department's people
    Platform, Apps                           the engineers, one team each
    Engineering                              groups Platform and Apps, and
                                             the head of engineering
    All-Staff                                the seven department groups
    Office-Copenhagen, Office-Aarhus         everyone in that office's OU
    VIP                                      the heads of department and a
                                             few senior people
    Facilities-Copenhagen                    the office managers in Copenhagen

People have realistic (mostly Danish) names, sAMAccountName
given.surname (ASCII, at most 20 characters, a number added when taken),
userPrincipalName @corp.example.test, mail @example.test, displayName, a
title that fits their department and seniority, telephoneNumber and
department. About 1 in 25 accounts is disabled (userAccountControl 514,
else 512): leavers the import keeps as inactive users. No passwords.

--changes prints a day's changes to that company instead (modify and add
records for ldapmodify): a leaver in Copenhagen's Sales is disabled, someone
moves from Marketing to Sales (department, title and groups), someone in
Aarhus's Support is promoted (title, and into VIP), and a new engineer
joins Apps in Aarhus. The next import shows each of them.

The same --seed (default 12) prints the same LDIF byte for byte. Records
are ordered so that every member exists before it is referenced. Output is
LF-only; values that are not LDIF-safe (names with æ, ø, å) are
base64-encoded. Stdlib only.
"""

import argparse
import os
import random
import sys

# LDIF and DN encoding are shared with the test fixture.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import dn_escape, render  # noqa: E402

DEFAULT_BASE_DN = "DC=corp,DC=example,DC=test"
DEFAULT_SEED = 12
UPN_SUFFIX = "corp.example.test"
MAIL_DOMAIN = "example.test"

# (office, people, telephone prefix)
OFFICES = [("Copenhagen", 200, "+45 33"), ("Aarhus", 100, "+45 86")]
CONTRACTORS = 12
# One account in DISABLED_EVERY is disabled.
DISABLED_EVERY = 25

# Department (or engineering team) -> (weight, head's title, titles of
# senior people, titles of everyone else). The weights share out the
# people of each office.
DEPARTMENTS = {
    "Sales": (6, "Head of Sales", ["Key Account Manager", "Sales Manager"],
              ["Account Executive", "Sales Representative", "Inside Sales Representative"]),
    "Platform": (4, "Head of Engineering", ["Principal Engineer", "Engineering Manager"],
                 ["Software Engineer", "Site Reliability Engineer", "Database Engineer"]),
    "Apps": (4, "Head of Product", ["Staff Engineer", "Product Manager"],
             ["Software Engineer", "Frontend Developer", "Mobile Developer", "UX Designer"]),
    "Finance": (2, "Chief Financial Officer", ["Financial Controller"],
                ["Accountant", "Financial Analyst", "Payroll Specialist"]),
    "Support": (4, "Head of Support", ["Support Team Lead"],
                ["Support Specialist", "Customer Success Manager", "Technical Support Engineer"]),
    "Marketing": (2, "Head of Marketing", ["Marketing Manager"],
                  ["Content Marketer", "Marketing Coordinator", "Graphic Designer"]),
    "HR": (1, "Head of People", ["HR Business Partner"],
           ["HR Coordinator", "Recruiter", "Office Manager"]),
}
# Teams whose AD attribute `department` is Engineering.
ENGINEERING_TEAMS = ("Platform", "Apps")
DEPARTMENT_GROUPS = ["Sales", "Engineering", "Finance", "Support", "Marketing", "HR"]
# Every group, in the order they are written (members before the groups
# holding them), with its description.
GROUPS = {
    "Sales": "Everyone in Sales",
    "Finance": "Everyone in Finance",
    "Support": "Everyone in Support",
    "Marketing": "Everyone in Marketing",
    "HR": "Everyone in HR",
    "Platform": "The Platform team",
    "Apps": "The Apps team",
    "Engineering": "The Platform and Apps teams",
    "All-Staff": "Every department",
    "Office-Copenhagen": "Everyone based in Copenhagen",
    "Office-Aarhus": "Everyone based in Aarhus",
    "VIP": "Heads of department and senior staff",
    "Facilities-Copenhagen": "Runs the Copenhagen office",
}

GIVEN_NAMES = [
    "Anne", "Mette", "Kirsten", "Hanne", "Helle", "Susanne", "Lene", "Camilla",
    "Louise", "Maria", "Sofie", "Ida", "Emma", "Freja", "Signe", "Line",
    "Maja", "Julie", "Astrid", "Karen", "Birgitte", "Nanna", "Cecilie", "Sara",
    "Peter", "Jens", "Lars", "Michael", "Henrik", "Søren", "Thomas", "Niels",
    "Rasmus", "Anders", "Mads", "Jesper", "Martin", "Christian", "Mikkel",
    "Frederik", "Kasper", "Jakob", "Emil", "Magnus", "Oliver", "Jonas",
    "Bjørn", "Troels", "Esben", "Ahmed", "Priya", "Lukas", "Elena", "Tomasz",
    "Aisha", "Mateo", "Yusuf", "Ingrid", "Kristoffer", "Asger",
]
SURNAMES = [
    "Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen",
    "Larsen", "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen",
    "Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen",
    "Møller", "Mortensen", "Knudsen", "Jakobsen", "Mikkelsen", "Frederiksen",
    "Lund", "Holm", "Schmidt", "Eriksen", "Kjær", "Dahl", "Skov", "Bach",
    "Lauridsen", "Østergaard", "Vestergaard", "Bertelsen", "Winther",
    "Nygaard", "Lindberg", "Bjerregaard", "Khan", "Kowalski", "Ali", "Rossi",
    "Nowak", "Müller", "Haugaard", "Juhl", "Brandt", "Lykke",
]
CONTRACTOR_TITLES = ["Consultant", "Contractor", "Freelance Developer", "Interim Controller"]

ASCII_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "ü": "ue", "é": "e",
                            "Æ": "Ae", "Ø": "Oe", "Å": "Aa", "Ü": "Ue"})


def account_name(given: str, surname: str, taken: set) -> str:
    """given.surname folded to ASCII, lower case, at most 20 characters
    (sAMAccountName's limit), with a number added when it is taken."""
    base = f"{given}.{surname}".translate(ASCII_FOLD).lower()[:20]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[:20 - len(str(n))]}{n}"
    taken.add(name)
    return name


def people(rng: random.Random):
    """Yield dicts describing every person, offices first, then contractors."""
    used_names, taken = set(), set()
    serial = 0

    def person(office: str, department: str, title: str, phone_prefix: str):
        nonlocal serial
        serial += 1
        while True:
            given, surname = rng.choice(GIVEN_NAMES), rng.choice(SURNAMES)
            if (given, surname) not in used_names:
                used_names.add((given, surname))
                break
        return {
            "given": given, "surname": surname, "office": office, "department": department,
            "title": title, "sam": account_name(given, surname, taken),
            "phone": f"{phone_prefix} {rng.randrange(10, 100)} {rng.randrange(10, 100)} {rng.randrange(10, 100)}",
            "disabled": serial % DISABLED_EVERY == 0,
        }

    weights = [w for w, *_ in DEPARTMENTS.values()]
    for office, count, phone_prefix in OFFICES:
        head_office = office == OFFICES[0][0]
        # The heads of department sit in the head office; one senior person
        # per department in every office; the rest drawn by weight.
        plan = []
        for dept, (_, head, seniors, _) in DEPARTMENTS.items():
            if head_office:
                plan.append((dept, head, True))
            plan.append((dept, rng.choice(seniors), True))
        while len(plan) < count:
            dept = rng.choices(list(DEPARTMENTS), weights)[0]
            plan.append((dept, rng.choice(DEPARTMENTS[dept][3]), False))
        for dept, title, senior in plan:
            p = person(office, dept, title, phone_prefix)
            p["senior"] = senior
            yield p
    for _ in range(CONTRACTORS):
        p = person("Contractors", "", rng.choice(CONTRACTOR_TITLES), "+45 70")
        p["senior"] = False
        yield p


def build(base_dn: str, seed: int):
    """(records, changes): the company's add records, and a day's changes
    to it (modify and add records), as fixture.render takes them."""
    rng = random.Random(seed)
    records = []  # (dn, changetype, body)

    def ou(name: str, parent: str) -> str:
        dn = f"OU={dn_escape(name)},{parent}"
        records.append((dn, "add", [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", name)]))
        return dn

    staff = ou("Staff", base_dn)
    parents = {office: ou(office, staff) for office, _, _ in OFFICES}
    parents["Contractors"] = ou("Contractors", base_dn)
    groups_ou = ou("Groups", base_dn)
    group_dn = {name: f"CN={dn_escape(name)},{groups_ou}" for name in GROUPS}

    members = {name: [] for name in GROUPS}  # group -> [DN]

    def user_record(p):
        display = f"{p['given']} {p['surname']}"
        p["dn"] = f"CN={dn_escape(display)},{parents[p['office']]}"
        attrs = [
            ("objectClass", "top"), ("objectClass", "person"),
            ("objectClass", "organizationalPerson"), ("objectClass", "user"),
            ("cn", display), ("sAMAccountName", p["sam"]),
            ("userPrincipalName", f"{p['sam']}@{UPN_SUFFIX}"),
            ("mail", f"{p['sam']}@{MAIL_DOMAIN}"),
            ("givenName", p["given"]), ("sn", p["surname"]), ("displayName", display),
            ("title", p["title"]), ("telephoneNumber", p["phone"]),
            ("physicalDeliveryOfficeName", p["office"]),
        ]
        if p["department"]:
            attrs.append(("department", ad_department(p["department"])))
        attrs.append(("userAccountControl", "514" if p["disabled"] else "512"))
        return (p["dn"], "add", attrs)

    everyone = list(people(rng))
    for p in everyone:
        records.append(user_record(p))
        if p["office"] == "Contractors":
            continue
        members[f"Office-{p['office']}"].append(p["dn"])
        # The head of engineering sits above both teams.
        members["Engineering" if p["title"] == "Head of Engineering" else p["department"]].append(p["dn"])
        if p["title"].startswith(("Head of", "Chief")) or (p["senior"] and rng.random() < 0.3):
            members["VIP"].append(p["dn"])
        if p["office"] == "Copenhagen" and p["title"] == "Office Manager":
            members["Facilities-Copenhagen"].append(p["dn"])

    # Groups of groups come after the groups they hold.
    members["Engineering"][:0] = [group_dn[t] for t in ENGINEERING_TEAMS]
    members["All-Staff"] = [group_dn[d] for d in DEPARTMENT_GROUPS]
    for name, description in GROUPS.items():
        attrs = [("objectClass", "top"), ("objectClass", "group"), ("cn", name),
                 ("sAMAccountName", name), ("description", description)]
        attrs += [("member", m) for m in members[name]]
        records.append((group_dn[name], "add", attrs))
    return records, day_of_changes(everyone, members, group_dn, user_record, rng)


def ad_department(team: str) -> str:
    """The `department` attribute of a department or engineering team."""
    return "Engineering" if team in ENGINEERING_TEAMS else team


def day_of_changes(everyone, members, group_dn, user_record, rng):
    """A leaver (disabled), a mover (Marketing to Sales), a promotion (into
    VIP) and a new hire (Apps, Aarhus): what a next import picks up."""
    def first(office, department):
        return next(p for p in everyone if p["office"] == office and p["department"] == department
                    and not p["senior"] and not p["disabled"])

    leaver, mover, promoted = first("Copenhagen", "Sales"), first("Copenhagen", "Marketing"), first("Aarhus", "Support")
    taken = {p["sam"] for p in everyone}
    used = {(p["given"], p["surname"]) for p in everyone}
    given, surname = next((g, s) for g in GIVEN_NAMES for s in SURNAMES if (g, s) not in used)
    hire = {"given": given, "surname": surname, "office": "Aarhus", "department": "Apps",
            "title": "Software Engineer", "sam": account_name(given, surname, taken),
            "phone": f"+45 86 {rng.randrange(10, 100)} {rng.randrange(10, 100)} {rng.randrange(10, 100)}",
            "disabled": False, "senior": False}
    return [
        (leaver["dn"], "modify", [("replace", "userAccountControl", ["514"])]),
        (mover["dn"], "modify", [("replace", "department", ["Sales"]), ("replace", "title", ["Account Executive"])]),
        (group_dn["Marketing"], "modify", [("delete", "member", [mover["dn"]])]),
        (group_dn["Sales"], "modify", [("add", "member", [mover["dn"]])]),
        (promoted["dn"], "modify", [("replace", "title", ["Support Team Lead"])]),
        (group_dn["VIP"], "modify", [("add", "member", [promoted["dn"]])]),
        user_record(hire),
        (group_dn["Apps"], "modify", [("add", "member", [hire["dn"]])]),
        (group_dn["Office-Aarhus"], "modify", [("add", "member", [hire["dn"]])]),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Print the demo's sample company (300 people in two offices, "
                    "12 contractors, 13 groups) as LDIF on stdout.")
    parser.add_argument("--base-dn", default=DEFAULT_BASE_DN,
                        help=f"domain naming context (default: {DEFAULT_BASE_DN})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed; the same seed prints the same LDIF (default: {DEFAULT_SEED})")
    parser.add_argument("--changes", action="store_true",
                        help="print a day's changes to the loaded company instead (for ldapmodify)")
    args = parser.parse_args(argv)
    records, changes = build(args.base_dn, args.seed)
    # newline="\n": never emit CRLF, whatever the platform.
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", closefd=False)
    render(changes if args.changes else records, out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
