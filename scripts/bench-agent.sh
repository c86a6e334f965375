#!/usr/bin/env bash
# bench-agent.sh - the agent's read rate against ldapsearch, and its memory.
#
# Usage: scripts/bench-agent.sh [--help]
#
# Prints, from one run, for two directory sizes (BENCH_SMALL and BENCH_LARGE
# users in OU=Bench, default 2,000 and 20,000):
#   - the release agent's read rate divided by ldapsearch's paged dump of the
#     same searches (target >= 1.2, issue 14's at 20,000 users: the agent
#     has to read in parallel to meet it),
#   - the agent's peak RSS (`/usr/bin/time -v` "Maximum resident set size";
#     target: under 64 MiB at both sizes, and flat: the large size's at most
#     1.2 x the small size's),
#   - the delta ratio at both sizes: bytes a delta moves after changing 1 %
#     of the users / bytes of a full snapshot (target <= 0.02), and the
#     users the delta holds (target: at least the changed ones; the rest is
#     whatever else changed on the DC meanwhile, normally nothing).
# Each rate and RSS measurement is repeated BENCH_RUNS times (default 3);
# medians are printed. The delta is measured once per size (its bytes do not
# vary between runs). It is a report, not a test: it prints PASS/FAIL per
# target and exits 0 unless something broke (then non-zero).
#
# The directory: a throw-away Samba AD DC (scripts/samba-dc.sh, default
# mode, with BENCH_DC_MODEL as its process model: default 'samba -M
# standard', a process per connection, so the DC answers connections in
# parallel as a Windows DC does; 'single' answers them in turn) on
# BENCH_DC_IP (default 127.0.0.3, so it never
# collides with scripts/test.sh's DC on 127.0.0.1), loaded with
# scripts/bench-fixture.py's users through ldapadd (~1,000 users / 6-7 s).
# The loaded DC directory is cached as a tarball (zstd if installed, else
# gzip) in BENCH_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/roster-bench),
# keyed by size, address, Samba version and a hash of bench-fixture.py; later
# runs restore it (fixing the absolute paths in etc/smb.conf) instead of
# loading again. The large directory is built from the small one's cache.
# BENCH_REBUILD=1 ignores (and replaces) the cache.
#
# Like with like: `roster-agent read --path OU=Bench --group-path OU=Bench`
# makes three paged searches: users (&(objectCategory=person)(objectClass=user))
# under OU=Bench with the agent's user attributes, groups (objectClass=group)
# under OU=Bench with the extended-DN control (there are none there), and
# OUs (objectClass=organizationalUnit) in the whole domain (a handful). The
# ldapsearch side makes exactly these three searches, with the same
# attributes, controls and page size (1,000), writing to /dev/null; so both
# sides pay for process start, bind, and the same round trips, and the users
# dominate both. The agent also reads the rootDSE and the domain SID and
# writes gzip chunks plus a manifest: that is part of the agent's cost.
# Rate = users read / wall-clock seconds of the whole command.
#
# Delta: after the rate runs at each size, on the same DC: a full `read`
# (same scope; its printed "bytes" = compressed bytes of all chunks, and
# manifest.json's watermark.usn = highestCommittedUSN read before it), then
# one `ldapmodify` batch replacing `title` on every 100th bench user (1 %,
# N/100 of N users, with a value the fixture never uses), then
# `read --since-usn <watermark.usn>` with the same scope. A delta reads
# changed users/groups/OUs across the whole base DN, everything under
# changed OUs, and tombstones. Ratio = delta bytes / full bytes. The change
# only touches the DC restored into this run's temporary folder, after the
# cache was written or restored: the cached tarballs are never modified
# (checked: the script fails if a tarball's size or mtime changed).
#
# Environment: BENCH_SMALL (2000), BENCH_LARGE (20000), BENCH_RUNS (3),
# BENCH_DC_IP (127.0.0.3), BENCH_DC_MODEL (standard), BENCH_CACHE_DIR, BENCH_REBUILD (0), BENCH_FLAT_FACTOR (1.2),
# ROSTER_AGENT_BIN (default target/release/roster-agent; built with
# `cargo build --release -p roster-agent` if missing). Needs root (the DC
# binds port 389), samba, ldap-utils, python3; installs `time` if missing.
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "bench-agent.sh: unexpected argument: $1 (see --help)" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAMBA_DC=$ROOT/scripts/samba-dc.sh
FIXTURE=$ROOT/scripts/bench-fixture.py
BENCH_SMALL=${BENCH_SMALL:-2000}
BENCH_LARGE=${BENCH_LARGE:-20000}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DC_IP=${BENCH_DC_IP:-127.0.0.3}
BENCH_DC_MODEL=${BENCH_DC_MODEL:-standard}
BENCH_CACHE_DIR=${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roster-bench}
BENCH_REBUILD=${BENCH_REBUILD:-0}
ROSTER_AGENT_BIN=${ROSTER_AGENT_BIN:-$ROOT/target/release/roster-agent}
CACHE_FORMAT=1          # bump when the cached directory's layout changes
PAGE_SIZE=1000
TARGET_RATIO=1.2
RSS_LIMIT_MIB=64
FLAT_FACTOR=${BENCH_FLAT_FACTOR:-1.2}
DELTA_TARGET=0.02

BASE_DN='DC=corp,DC=example,DC=test'
BENCH_DN="OU=Bench,$BASE_DN"
BIND_DN='Administrator@CORP.EXAMPLE.TEST'
BIND_PW='Passw0rd!Passw0rd'
LDAP_URL=ldap://$BENCH_DC_IP
USER_FILTER='(&(objectCategory=person)(objectClass=user))'
# The agent's USER_ATTRIBUTES (agent/src/ldap/entry.rs); the bench users
# have no mS-DS-ConsistencyGuid, asking for it costs nothing.
USER_ATTRS=(objectGUID sAMAccountName userPrincipalName mail givenName sn displayName
  telephoneNumber department title userAccountControl accountExpires mS-DS-ConsistencyGuid
  distinguishedName uSNChanged whenChanged)
GROUP_ATTRS=(objectGUID cn distinguishedName member groupType)
OU_ATTRS=(objectGUID ou distinguishedName)
# Extended-DN control, string form: BER SEQUENCE { INTEGER 1 }.
EXTENDED_DN='1.2.840.113556.1.4.529=::MAMCAQE='

log() { echo "bench-agent.sh: $*" >&2; }
die() { echo "bench-agent.sh: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

for size in "$BENCH_SMALL" "$BENCH_LARGE" "$BENCH_RUNS"; do
  [[ $size =~ ^[1-9][0-9]*$ ]] || die "BENCH_SMALL, BENCH_LARGE and BENCH_RUNS must be positive integers"
done
(( BENCH_SMALL < BENCH_LARGE )) || die "BENCH_SMALL must be smaller than BENCH_LARGE"
[[ $(id -u) -eq 0 ]] || die "run as root (the DC binds port 389)"

WORK=$(mktemp -d /tmp/roster-bench.XXXXXX)
DC_DIR=   # the DC this script started, if any
cleanup() {
  local status=$?
  if [[ -n $DC_DIR ]]; then
    "$SAMBA_DC" stop "$DC_DIR" >/dev/null 2>&1 || log "warning: could not stop the DC in $DC_DIR"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -----------------------------------------------------------------
[[ -x /usr/bin/time ]] || {
  log "installing package 'time' (for /usr/bin/time -v)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null 2>&1 \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y time >/dev/null; } \
    || die "cannot install package 'time'"
}
for c in samba ldapsearch ldapadd ldapmodify python3 tar; do
  command -v "$c" >/dev/null || die "$c not found (scripts/samba-dc.sh install)"
done
if command -v zstd >/dev/null; then COMPRESS=(zstd -q -T0); DECOMPRESS=(zstd -q -d -c); EXT=tar.zst
else COMPRESS=(gzip -1); DECOMPRESS=(gzip -d -c); EXT=tar.gz; fi
if [[ ! -x $ROSTER_AGENT_BIN ]]; then
  [[ $ROSTER_AGENT_BIN == "$ROOT/target/release/roster-agent" ]] || die "ROSTER_AGENT_BIN $ROSTER_AGENT_BIN is not executable"
  log "no release agent; building it: cargo build --release -p roster-agent"
  (cd "$ROOT" && cargo build --release -p roster-agent) >&2
fi
[[ $("$ROSTER_AGENT_BIN" read --help 2>/dev/null || true) == *--since-usn* ]] \
  || die "$ROSTER_AGENT_BIN has no 'read --since-usn' (stale? cargo build --release -p roster-agent)"

# --- the cached, loaded directories ------------------------------------------
fixture_hash=$(sha256sum "$FIXTURE" | cut -c1-12)
samba_version=$(samba --version | tr -c 'A-Za-z0-9.\n' '_')
cache_file() { echo "$BENCH_CACHE_DIR/dc-$1users-${BENCH_DC_IP}-${samba_version}-${fixture_hash}-v${CACHE_FORMAT}.$EXT"; }

dc_start_fresh() {
  DC_DIR=$1
  DC_IP=$BENCH_DC_IP DC_PROCESS_MODEL=$BENCH_DC_MODEL "$SAMBA_DC" start "$DC_DIR" >"$WORK/dc.log" 2>&1 \
    || { cat "$WORK/dc.log" >&2; die "could not start a DC on $BENCH_DC_IP"; }
}

dc_restart() {
  DC_DIR=$1
  DC_PROCESS_MODEL=$BENCH_DC_MODEL "$SAMBA_DC" restart "$DC_DIR" >"$WORK/dc.log" 2>&1 \
    || { cat "$WORK/dc.log" >&2; die "could not start the DC in $DC_DIR"; }
}

dc_stop() {
  "$SAMBA_DC" stop "$DC_DIR" >"$WORK/dc.log" 2>&1 \
    || { cat "$WORK/dc.log" >&2; die "could not stop the DC in $DC_DIR"; }
  DC_DIR=
}

# restore TARBALL DIR: unpack a cached DC and point its smb.conf at DIR.
restore() {
  local tarball=$1 dir=$2 old
  mkdir -p "$dir"
  "${DECOMPRESS[@]}" "$tarball" | tar -C "$dir" -xf -
  mkdir -p "$dir/run" "$dir/log"
  old=$(cat "$dir/bench-origin")
  # The only absolute paths of a provisioned DC are in etc/smb.conf.
  sed -i "s|$old|$dir|g" "$dir/etc/smb.conf"
  echo "$dir" > "$dir/bench-origin"
}

# archive DIR N: store the (stopped) DC in the cache, atomically.
archive() {
  local dir=$1 n=$2 f tmp
  f=$(cache_file "$n")
  tmp=$f.tmp.$$
  mkdir -p "$BENCH_CACHE_DIR"
  echo "$dir" > "$dir/bench-origin"
  tar -C "$dir" --exclude=./run --exclude=./log --exclude=./env --exclude=ldapi -cf - . | "${COMPRESS[@]}" > "$tmp"
  mv "$tmp" "$f"
  log "cached $n users: $f ($(du -h "$f" | cut -f1))"
}

# load FIRST COUNT: add users FIRST..FIRST+COUNT-1 (and OU=Bench if FIRST is 1).
load_users() {
  local first=$1 count=$2 t0 ldif=$WORK/load.ldif
  python3 "$FIXTURE" --first "$first" --count "$count" > "$ldif"
  t0=$(now)
  ldapadd -x -H "$LDAP_URL" -D "$BIND_DN" -w "$BIND_PW" -f "$ldif" > "$WORK/load.log" 2>&1 \
    || { tail -n 20 "$WORK/load.log" >&2; die "ldapadd of bench users failed"; }
  log "loaded users $first..$(( first + count - 1 )) in $(elapsed "$t0") s"
  rm -f "$ldif"
}

count_users() {
  ldapsearch -x -H "$LDAP_URL" -D "$BIND_DN" -w "$BIND_PW" -E pr=1000/noprompt \
    -b "$BENCH_DN" -LLL "$USER_FILTER" 1.1 2>/dev/null | grep -c '^dn:' || true
}

# prepare N: leave a running DC holding exactly N bench users in DC_DIR.
prepare() {
  local n=$1 dir=$WORK/dc-$1 f small_f have=0 t0
  t0=$(now)
  f=$(cache_file "$n")
  if [[ $BENCH_REBUILD != 1 && -s $f ]]; then
    restore "$f" "$dir"
    dc_restart "$dir"
    log "restored $n users from the cache in $(elapsed "$t0") s"
  else
    small_f=$(cache_file "$BENCH_SMALL")
    if (( n > BENCH_SMALL )) && [[ -s $small_f ]]; then
      restore "$small_f" "$dir"
      dc_restart "$dir"
      have=$BENCH_SMALL
    else
      dc_start_fresh "$dir"
      log "provisioned a DC on $BENCH_DC_IP in $(elapsed "$t0") s"
    fi
    log "loading $(( n - have )) users (once; ~6-7 s per 1,000)"
    load_users $(( have + 1 )) $(( n - have ))
    dc_stop
    archive "$dir" "$n"
    dc_restart "$dir"
    log "built the $n-user directory in $(elapsed "$t0") s"
  fi
  local got
  got=$(count_users)
  [[ $got -eq $n ]] || die "the DC holds $got bench users, expected $n"
}

# --- measurements ------------------------------------------------------------
ldapsearch_dump() {
  local common=(-x -H "$LDAP_URL" -D "$BIND_DN" -w "$BIND_PW" -E "pr=$PAGE_SIZE/noprompt" -LLL)
  ldapsearch "${common[@]}" -b "$BENCH_DN" "$USER_FILTER" "${USER_ATTRS[@]}" > /dev/null
  ldapsearch "${common[@]}" -E "$EXTENDED_DN" -b "$BENCH_DN" '(objectClass=group)' "${GROUP_ATTRS[@]}" > /dev/null
  ldapsearch "${common[@]}" -b "$BASE_DN" '(objectClass=organizationalUnit)' "${OU_ATTRS[@]}" > /dev/null
}

# Prints "seconds".
time_ldapsearch() {
  local t0
  t0=$(now)
  ldapsearch_dump || die "ldapsearch failed"
  elapsed "$t0"
}

# agent_read OUT [ARG...]: `roster-agent read --out OUT` with the bench
# scope and ARGs; its JSON goes to $WORK/agent.json, `time -v` to agent.time.
agent_read() {
  local out=$1 state=$WORK/agent-state
  shift
  rm -rf "$out" "$state"
  mkdir -p "$state"
  env ROSTER_LDAP_URL="$LDAP_URL" ROSTER_LDAP_BIND_DN="$BIND_DN" ROSTER_LDAP_PASSWORD="$BIND_PW" \
    ROSTER_LDAP_ALLOW_INSECURE=true ROSTER_LDAP_PAGE_SIZE=$PAGE_SIZE ROSTER_AGENT_STATE_DIR="$state" \
    /usr/bin/time -v -o "$WORK/agent.time" \
    "$ROSTER_AGENT_BIN" read --out "$out" --path OU=Bench --group-path OU=Bench "$@" \
    > "$WORK/agent.json" 2> "$WORK/agent.err" \
    || { tail -n 20 "$WORK/agent.err" >&2; die "roster-agent read $* failed"; }
}

# json_fields FILE KEY...: the values of keys (dotted for nested: a.b) of a
# JSON file, one line, space-separated; -1 for a missing one.
json_fields() {
  python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def get(o, path):
    for k in path.split("."):
        if not isinstance(o, dict) or k not in o:
            return -1
        o = o[k]
    return o
print(" ".join(str(get(d, k)) for k in sys.argv[2:]))
PY
}

# Prints "seconds rss_kib bytes users cpu_seconds".
time_agent() {
  local out=$WORK/agent-out t0 secs rss bytes users cpu
  t0=$(now)
  agent_read "$out"
  secs=$(elapsed "$t0")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$WORK/agent.time")
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.3f", s }' "$WORK/agent.time")
  # The printed JSON has "users" and "bytes" (the chunks' size); if its shape
  # changes, count the folder instead and skip the users check.
  read -r users bytes < <(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(int(d.get("users", -1)), int(d.get("bytes", -1)))' "$WORK/agent.json" 2>/dev/null || echo "-1 -1")
  [[ $bytes -ge 0 ]] || bytes=$(du -sb "$out" | cut -f1)
  echo "$secs $rss $bytes $users $cpu"
}

RESULTS=$WORK/results.tsv
: > "$RESULTS"
measure() {
  local n=$1 r ls ag
  ldapsearch_dump || die "ldapsearch failed"   # warm-up (DC caches), not timed
  for (( r = 1; r <= BENCH_RUNS; r++ )); do
    # Alternate the order so neither side always runs on a warmer DC.
    if (( r % 2 )); then ls=$(time_ldapsearch); ag=$(time_agent)
    else ag=$(time_agent); ls=$(time_ldapsearch); fi
    read -r a_secs a_rss a_bytes a_users a_cpu <<<"$ag"
    [[ $a_users == -1 || $a_users -eq $n ]] || die "the agent read $a_users users, expected $n"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$ls" "$a_secs" "$a_rss" "$a_bytes" "$a_cpu" >> "$RESULTS"
    log "$n users, run $r: ldapsearch $ls s, agent $a_secs s (CPU $a_cpu s), agent peak RSS $(( a_rss / 1024 )) MiB"
  done
}

DELTA_RESULTS=$WORK/delta.tsv
: > "$DELTA_RESULTS"
DELTA_TITLE='Bench Delta Title'   # not one of bench-fixture.py's TITLES
# measure_delta N: full read, change every 100th of the N users, delta read.
measure_delta() {
  local n=$1 full=$WORK/delta-full delta=$WORK/delta-delta ldif=$WORK/delta.ldif
  local f_users f_bytes usn kind d_users d_groups d_ous d_deleted d_bytes d_secs changed=0 i t0
  agent_read "$full"
  read -r f_users f_bytes < <(json_fields "$WORK/agent.json" users bytes)
  read -r usn < <(json_fields "$full/manifest.json" watermark.usn)
  [[ $f_users -eq $n ]] || die "the full read for the delta held $f_users users, expected $n"
  [[ $f_bytes -gt 0 && $usn =~ ^[0-9]+$ ]] || die "no bytes or watermark.usn from the full read (see $full/manifest.json)"
  {
    echo "version: 1"
    for (( i = 100; i <= n; i += 100 )); do
      printf '\ndn: CN=bench-%06d,%s\nchangetype: modify\nreplace: title\ntitle: %s\n-\n' "$i" "$BENCH_DN" "$DELTA_TITLE"
      changed=$(( changed + 1 ))
    done
  } > "$ldif"
  (( changed > 0 )) || die "fewer than 100 users: nothing to change for the delta"
  ldapmodify -x -H "$LDAP_URL" -D "$BIND_DN" -w "$BIND_PW" -f "$ldif" > "$WORK/modify.log" 2>&1 \
    || { tail -n 20 "$WORK/modify.log" >&2; die "ldapmodify of bench users failed"; }
  t0=$(now)
  agent_read "$delta" --since-usn "$usn"
  d_secs=$(elapsed "$t0")
  read -r kind d_users d_groups d_ous d_deleted d_bytes < <(json_fields "$WORK/agent.json" kind users groups ous deleted bytes)
  [[ $kind == delta ]] || die "read --since-usn printed kind '$kind', expected 'delta'"
  [[ $d_bytes -ge 0 ]] || die "read --since-usn printed no bytes"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$changed" "$usn" "$f_bytes" \
    "$d_bytes" "$d_users" "$d_groups" "$d_ous" "$d_deleted" "$d_secs" >> "$DELTA_RESULTS"
  log "$n users: full $f_bytes bytes (watermark USN $usn); changed $changed users; delta $d_bytes bytes," \
    "$d_users users, $d_groups groups, $d_ous OUs, $d_deleted tombstones, in $d_secs s"
}

# The cached tarballs, "path size mtime" each, to check they stay as they were.
cache_stamp() {
  local f
  for f in "$(cache_file "$BENCH_SMALL")" "$(cache_file "$BENCH_LARGE")"; do
    if [[ -e $f ]]; then stat -c '%n %s %Y' "$f"; else echo "$f absent"; fi
  done
}

started=$(now)
log "agent: $ROSTER_AGENT_BIN ($("$ROSTER_AGENT_BIN" --version 2>/dev/null || echo '?'))"
for n in "$BENCH_SMALL" "$BENCH_LARGE"; do
  prepare "$n"
  measure "$n"
  # The DC now runs from this run's restored copy; the cache is written.
  stamp=$(cache_stamp)
  measure_delta "$n"
  dc_stop
  [[ $(cache_stamp) == "$stamp" ]] || die "a cached tarball changed during the delta measurement"
done

# --- report ------------------------------------------------------------------
python3 - "$RESULTS" "$TARGET_RATIO" "$RSS_LIMIT_MIB" "$FLAT_FACTOR" "$BENCH_RUNS" <<'PY'
import statistics, sys
path, target, limit, flat, runs = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
rows = {}
for line in open(path):
    n, r, ls, ag, rss, size, cpu = line.split("\t")
    rows.setdefault(int(n), []).append((float(ls), float(ag), int(rss), int(size), float(cpu)))
sizes = sorted(rows)
med = {}
print()
print(f"Agent read vs ldapsearch (paged {1000}, same searches and attributes; median of {runs} runs)")
print(f"{'users':>7} {'ldapsearch/s':>13} {'agent/s':>9} {'ratio':>6} {'agent CPU':>10} {'agent peak RSS':>15} {'snapshot':>10}")
for n in sizes:
    ls = statistics.median(x[0] for x in rows[n])
    ag = statistics.median(x[1] for x in rows[n])
    rss = statistics.median(x[2] for x in rows[n]) / 1024
    size = statistics.median(x[3] for x in rows[n])
    cpu = statistics.median(x[4] for x in rows[n])
    med[n] = (n / ls, n / ag, (n / ag) / (n / ls), rss, size)
    print(f"{n:>7} {n / ls:>13.0f} {n / ag:>9.0f} {med[n][2]:>6.2f} {cpu:>8.2f} s {rss:>11.1f} MiB {size / 1024:>7.0f} KiB")
print()
verdict = lambda ok: "PASS" if ok else "FAIL"
for n in sizes:
    print(f"{verdict(med[n][2] >= target)}: read rate at {n} users is {med[n][2]:.2f} x ldapsearch's (target >= {target})")
rss = [med[n][3] for n in sizes]
print(f"{verdict(max(rss) < limit)}: peak RSS {' / '.join(f'{x:.1f}' for x in rss)} MiB at {' / '.join(map(str, sizes))} users (target < {limit:.0f} MiB)")
growth = (rss[-1] - rss[0]) * 1024 / ((sizes[-1] - sizes[0]) / 1000)
print(f"{verdict(rss[-1] <= flat * rss[0])}: peak RSS flat: {rss[-1]:.1f} MiB at {sizes[-1]} users vs {rss[0]:.1f} MiB at {sizes[0]} "
      f"({rss[-1] / rss[0]:.2f} x, {growth:+.0f} KiB per 1,000 users; target <= {flat} x for {sizes[-1] / sizes[0]:.0f} x the users)")
PY

# --- delta: bytes moved after changing 1 % of users ---------------------------
# Measured by measure_delta above, on each size's DC, after its rate runs.
python3 - "$DELTA_RESULTS" "$DELTA_TARGET" <<'PY'
import sys
path, target = sys.argv[1], float(sys.argv[2])
rows = [line.rstrip("\n").split("\t") for line in open(path)]
print()
print("Delta after changing 1 % of the users (title of every 100th bench user, one ldapmodify)")
print(f"{'users':>7} {'changed':>8} {'full':>10} {'delta':>10} {'ratio':>7} {'delta users':>12} {'groups/OUs/deleted':>19} {'delta read':>11}")
for n, changed, usn, full, delta, users, groups, ous, deleted, secs in rows:
    print(f"{n:>7} {changed:>8} {int(full) / 1024:>6.0f} KiB {int(delta) / 1024:>6.1f} KiB {int(delta) / int(full):>7.4f} "
          f"{users:>12} {groups + ' / ' + ous + ' / ' + deleted:>19} {float(secs):>9.2f} s")
print()
verdict = lambda ok: "PASS" if ok else "FAIL"
for n, changed, usn, full, delta, users, groups, ous, deleted, secs in rows:
    ratio = int(delta) / int(full)
    print(f"{verdict(ratio <= target)}: a delta after changing {changed} of {n} users moves {ratio:.4f} x "
          f"a full snapshot's bytes ({delta} / {full}; target <= {target})")
    extra = int(users) - int(changed)
    print(f"{verdict(extra >= 0)}: the delta at {n} users holds {users} users "
          f"({int(users) / int(n):.2%} of the users; {changed} changed, {extra:+d} other)")
PY

log "done in $(elapsed "$started") s"
