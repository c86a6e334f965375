#!/usr/bin/env python3
"""Print LDIF for the benchmark directory: N users in OU=Bench (for ldapadd).

Usage:
    scripts/bench-fixture.py --count 2000 > bench.ldif              # OU + users 1..2000
    scripts/bench-fixture.py --first 2001 --count 6000 > more.ldif  # users 2001..8000 only
    ldapadd -x -H ldap://127.0.0.3 -D USER -w PASS -f bench.ldif

Normally run by scripts/bench-agent.sh, which loads it once and caches the
loaded DC (the cache key includes a hash of this file: change the content
here and the next benchmark rebuilds its directories).

Content (base DN DC=corp,DC=example,DC=test by default):
  OU=Bench                      written only when --first is 1
    CN=bench-000001 .. CN=bench-NNNNNN
Each user has the attributes scripts/fixture.py gives its users:
objectClass top/person/organizationalPerson/user, cn, sAMAccountName,
userPrincipalName (@corp.example.test), mail (@example.test), givenName,
sn, displayName, department, title, telephoneNumber, userAccountControl
(514 = disabled for every 50th user, else 512). department cycles through a
few values so values differ like a real directory's. No passwords.

Output is LF-only LDIF; values that are not LDIF-safe are base64-encoded.
Stdlib only.
"""

import argparse
import os
import sys

# LDIF encoding is shared with the test fixture.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture import ldif_line  # noqa: E402

DEFAULT_BASE_DN = "DC=corp,DC=example,DC=test"
UPN_SUFFIX = "corp.example.test"
MAIL_DOMAIN = "example.test"
DEPARTMENTS = ["Sales", "Operations", "Engineering", "Finance", "Support"]
TITLES = ["Engineer", "Manager", "Analyst", "Consultant"]


def user_name(n: int) -> str:
    return f"bench-{n:06d}"


def records(base_dn: str, ou: str, first: int, count: int):
    """Yield (dn, [(attr, value), ...]) add records."""
    parent = f"OU={ou},{base_dn}"
    if first == 1:
        yield parent, [("objectClass", "top"), ("objectClass", "organizationalUnit"), ("ou", ou)]
    for n in range(first, first + count):
        name = user_name(n)
        given = f"Given{n:06d}"
        sn = "Bench"
        yield f"CN={name},{parent}", [
            ("objectClass", "top"),
            ("objectClass", "person"),
            ("objectClass", "organizationalPerson"),
            ("objectClass", "user"),
            ("cn", name),
            ("sAMAccountName", name),
            ("userPrincipalName", f"{name}@{UPN_SUFFIX}"),
            ("mail", f"{name}@{MAIL_DOMAIN}"),
            ("givenName", given),
            ("sn", sn),
            ("displayName", f"{given} {sn}"),
            ("department", DEPARTMENTS[n % len(DEPARTMENTS)]),
            ("title", TITLES[n % len(TITLES)]),
            ("telephoneNumber", f"+45 2{n // 10000:03d} {n % 10000:04d}"),
            ("userAccountControl", "514" if n % 50 == 0 else "512"),
        ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Print N benchmark users in OU=Bench as LDIF on stdout.")
    parser.add_argument("--count", type=int, required=True, help="number of users")
    parser.add_argument("--first", type=int, default=1,
                        help="number of the first user (default 1; the OU is "
                             "written only when this is 1)")
    parser.add_argument("--base-dn", default=DEFAULT_BASE_DN,
                        help=f"domain naming context (default: {DEFAULT_BASE_DN})")
    parser.add_argument("--ou", default="Bench", help="OU name (default: Bench)")
    args = parser.parse_args(argv)
    if args.count < 0 or args.first < 1 or args.first + args.count - 1 > 999999:
        parser.error("users are numbered 1..999999")
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", closefd=False)
    out.write("version: 1\n")
    for dn, attrs in records(args.base_dn, args.ou, args.first, args.count):
        out.write("\n" + ldif_line("dn", dn) + "\nchangetype: add\n")
        for attr, value in attrs:
            out.write(ldif_line(attr, value) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
