#!/usr/bin/env python3
"""Print the Roster end-to-end test fixture as LDIF (for ldapadd/ldapmodify -a).

Usage:
    scripts/fixture.py [--base-dn DN] > fixture.ldif
    ldapadd -x -H ldap://127.0.0.1 -D USER -w PASS -f fixture.ldif

Normally run through `scripts/samba-dc.sh load-fixture DIR`.

Content (base DN DC=corp,DC=example,DC=test by default), all under OU=Fixture:
  OU=Staff
    OU=Copenhagen   1,100 users cph-0001 .. cph-1100
    OU=Aarhus         150 users aar-0001 .. aar-0150
  OU=External          20 users ext-0001 .. ext-0020
  OU=Bulk           3,000 users bulk-0001 .. bulk-3000
  OU=Groups           global security groups:
    Sales-DK        cph-0001 .. cph-0100
    Copenhagen-All  all 1,100 cph users
    Staff-DK        groups Sales-DK, Copenhagen-All
    All-Staff       group Staff-DK, user ext-0001
    Admins-CPH      cph-0001 .. cph-0005
    VIP             cph-0002, aar-0001
    Unlinked        aar-0002 .. aar-0010
    Aarhus-All      all 150 aar users
    Cycle-A         group Cycle-B, aar-0011, aar-0013  (two-group cycle; the
    Cycle-B         group Cycle-A, aar-0012    Cycle-A -> Cycle-B link is a later modify)
    Bulk-All        all 3,000 bulk users (more than Windows' 1,500-value range)

Users: no password; userAccountControl 512, or 514 (disabled) for every cph
user whose number is a multiple of 50 (22 users) and for aar-0150.
aar-0013's account expired (accountExpires in 2012); every other account
never expires.
department is Sales for cph-0001 .. cph-0100, Operations otherwise.

Records are ordered so that every member exists before it is referenced.
Output is LF-only; values that are not LDIF-safe are base64-encoded.
Stdlib only.
"""

import argparse
import base64
import sys

DEFAULT_BASE_DN = "DC=corp,DC=example,DC=test"
UPN_SUFFIX = "corp.example.test"
MAIL_DOMAIN = "example.test"

# (prefix, count, OU path relative to OU=Fixture, sn)
USER_SETS = [
    ("cph", 1100, "OU=Copenhagen,OU=Staff", "Copenhagen"),
    ("aar", 150, "OU=Aarhus,OU=Staff", "Aarhus"),
    ("ext", 20, "OU=External", "External"),
    ("bulk", 3000, "OU=Bulk", "Bulk"),
]

# accountExpires (FILETIME) of the one expired account: 2012-01-01.
EXPIRED_ACCOUNT = ("aar", 13)
EXPIRED_FILETIME = "129698208000000000"

# --------------------------------------------------------------------------
# LDIF / DN encoding helpers (RFC 2849, RFC 4514)
# --------------------------------------------------------------------------

_SAFE_INIT_EXCLUDED = {0x00, 0x0A, 0x0D, 0x20, 0x3A, 0x3C}  # NUL LF CR SP : <
_SAFE_EXCLUDED = {0x00, 0x0A, 0x0D}


def _is_safe_string(raw: bytes) -> bool:
    if not raw:
        return True
    if raw[0] in _SAFE_INIT_EXCLUDED or raw[0] > 0x7F:
        return False
    if raw[-1] == 0x20:  # trailing space would be lost by many parsers
        return False
    return all(b not in _SAFE_EXCLUDED and b <= 0x7F for b in raw)


def ldif_line(attr: str, value: str) -> str:
    raw = value.encode("utf-8")
    if _is_safe_string(raw):
        line = f"{attr}: {value}"
    else:
        line = f"{attr}:: {base64.b64encode(raw).decode('ascii')}"
    return fold(line)


def fold(line: str, width: int = 76) -> str:
    """Fold a long LDIF line (continuation lines start with one space)."""
    if len(line) <= width:
        return line
    parts = [line[:width]]
    rest = line[width:]
    while rest:
        parts.append(" " + rest[: width - 1])
        rest = rest[width - 1:]
    return "\n".join(parts)


def dn_escape(value: str) -> str:
    """Escape an RDN attribute value per RFC 4514."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=':
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        elif (i == 0 and ch in " #") or (i == len(value) - 1 and ch == " "):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------
# Fixture model
# --------------------------------------------------------------------------


def user_name(prefix: str, n: int) -> str:
    return f"{prefix}-{n:04d}"


def is_disabled(prefix: str, n: int) -> bool:
    return (prefix == "cph" and n % 50 == 0) or (prefix == "aar" and n == 150)


def build(base_dn: str):
    fixture = f"OU=Fixture,{base_dn}"
    records = []  # list of (dn, changetype, [(attr, value) | (op, attr, [values])])

    def ou(rdn_value: str, parent: str) -> str:
        dn = f"OU={dn_escape(rdn_value)},{parent}"
        records.append((dn, "add", [("objectClass", "top"),
                                    ("objectClass", "organizationalUnit"),
                                    ("ou", rdn_value)]))
        return dn

    ou("Fixture", base_dn)
    staff = ou("Staff", fixture)
    ou("Copenhagen", staff)
    ou("Aarhus", staff)
    ou("External", fixture)
    ou("Bulk", fixture)
    groups_ou = ou("Groups", fixture)

    user_dn = {}
    for prefix, count, ou_path, sn in USER_SETS:
        parent = f"{ou_path},{fixture}"
        for n in range(1, count + 1):
            name = user_name(prefix, n)
            dn = f"CN={dn_escape(name)},{parent}"
            user_dn[name] = dn
            given = f"Given{n:04d}"
            dept = "Sales" if prefix == "cph" and n <= 100 else "Operations"
            uac = "514" if is_disabled(prefix, n) else "512"
            records.append((dn, "add", [
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
                ("department", dept),
                ("title", "Engineer"),
                ("telephoneNumber", f"+45 1000 {n:04d}"),
                ("userAccountControl", uac),
            ] + ([("accountExpires", EXPIRED_FILETIME)] if (prefix, n) == EXPIRED_ACCOUNT else [])))

    group_dn = {}

    def group(name: str, members):
        dn = f"CN={dn_escape(name)},{groups_ou}"
        group_dn[name] = dn
        attrs = [("objectClass", "top"), ("objectClass", "group"),
                 ("cn", name), ("sAMAccountName", name)]
        attrs += [("member", m) for m in members]
        records.append((dn, "add", attrs))

    def users(prefix, first, last):
        return [user_dn[user_name(prefix, n)] for n in range(first, last + 1)]

    group("Sales-DK", users("cph", 1, 100))
    group("Copenhagen-All", users("cph", 1, 1100))
    group("Staff-DK", [group_dn["Sales-DK"], group_dn["Copenhagen-All"]])
    group("All-Staff", [group_dn["Staff-DK"], user_dn["ext-0001"]])
    group("Admins-CPH", users("cph", 1, 5))
    group("VIP", [user_dn["cph-0002"], user_dn["aar-0001"]])
    group("Unlinked", users("aar", 2, 10))
    group("Aarhus-All", users("aar", 1, 150))
    group("Cycle-A", [user_dn["aar-0011"], user_dn["aar-0013"]])
    group("Cycle-B", [group_dn["Cycle-A"], user_dn["aar-0012"]])
    group("Bulk-All", users("bulk", 1, 3000))
    # Close the cycle now that both groups exist.
    records.append((group_dn["Cycle-A"], "modify",
                    [("add", "member", [group_dn["Cycle-B"]])]))
    return records


def render(records, out):
    out.write("version: 1\n")
    for dn, changetype, body in records:
        out.write("\n")
        out.write(ldif_line("dn", dn) + "\n")
        out.write(f"changetype: {changetype}\n")
        if changetype == "add":
            for attr, value in body:
                out.write(ldif_line(attr, value) + "\n")
        else:
            for op, attr, values in body:
                out.write(f"{op}: {attr}\n")
                for value in values:
                    out.write(ldif_line(attr, value) + "\n")
                out.write("-\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Print the Roster test fixture (OU=Fixture: 4,270 users, "
                    "11 groups) as LDIF on stdout.")
    parser.add_argument("--base-dn", default=DEFAULT_BASE_DN,
                        help=f"domain naming context (default: {DEFAULT_BASE_DN})")
    args = parser.parse_args(argv)
    # newline="\n": never emit CRLF, whatever the platform.
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n",
               closefd=False)
    render(build(args.base_dn), out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
