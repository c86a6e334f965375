#!/usr/bin/env bash
# demo.sh - the whole product in one command: a sample company in a
# throw-away Active Directory, the server with its demo tenant, an agent
# reading the directory, and the console to look at it all (the README's
# "A newcomer's tour").
#
# Usage: sudo scripts/demo.sh [--listen ADDR:PORT]
#        scripts/demo.sh --help
#
# As root on Debian, it
#   1. installs Samba AD DC, the OpenLDAP tools and jq from Debian if they
#      are missing (scripts/samba-dc.sh install), and builds the release
#      binaries (cargo build --release -p roster-server -p roster-agent, into
#      CARGO_TARGET_DIR if set, else target/; cargo does nothing when they
#      are up to date);
#   2. starts a throw-away Samba AD DC on DEMO_DC_IP (default 127.0.0.6, so
#      it never meets scripts/test.sh's DCs on 127.0.0.1, .4 and .5 or the
#      benchmark's on .3) and loads scripts/demo-fixture.py's sample company:
#      300 people in OU=Copenhagen and OU=Aarhus under OU=Staff (some of them
#      disabled), 12 contractors in no group, and 13 groups (departments,
#      Engineering holding Platform and Apps, All-Staff holding the
#      departments, one group per office, VIP, Facilities-Copenhagen);
#   3. starts `roster-server serve --demo` on its own SQLite database and
#      reads what it prints (the demo tenant, its admin token, the job
#      "Demo domain" over the whole domain, a registration token, the demo
#      admin's console set-up link);
#   4. sets the job up through the admin API: accesses (user: Copenhagen,
#      Aarhus and the demo's Headquarters; a department access per
#      department; vip: Lounge; administrator: Copenhagen) and links from
#      the AD groups to them (Office-Copenhagen -> Copenhagen, Office-Aarhus
#      -> Aarhus, All-Staff -> Headquarters, each department group -> its
#      department, VIP -> Lounge, Facilities-Copenhagen -> administrator
#      Copenhagen); the schedule stays the default (daily at 02:00 UTC);
#   5. registers an agent with the registration token (through the
#      environment, never a command line), checks it (roster-agent check)
#      and starts `roster-agent run`; its first full push and import follow
#      by themselves;
#   6. waits until the first import session has succeeded (DEMO_TIMEOUT,
#      default 300 s), then prints the console's address, the set-up link to
#      open, what to try (among it an ldapmodify of a day's changes to the
#      company, scripts/demo-fixture.py --changes, for a second import) and
#      where the logs are, and waits for Ctrl+C.
# Ctrl+C (or any exit, or a failure on the way, which prints the log lines
# that matter) stops the agent, the server and the DC and removes the
# temporary folder (/tmp/roster-demo.XXXXXX) with everything in it:
# database, logs, the DC and the agent's identity.
# Once the binaries are built it reaches the banner in 20-25 s, nearly all
# of it provisioning the DC and loading the company (up to a minute on a
# busy machine); from the agent's start to the imported users takes ~1 s.
# Stopping takes ~5 s.
#
# Options and environment:
#   --listen ADDR:PORT   where the server listens (DEMO_LISTEN; default
#                        127.0.0.1:8080; port 0 picks a free one)
#   DEMO_DC_IP           the DC's loopback address (default 127.0.0.6)
#   DEMO_TIMEOUT         seconds to wait for the first import (default 300)
#   CARGO_TARGET_DIR     where cargo builds (default: target/ in the repository)
#   ROSTER_LOG           log filter of the server and the agent (default info)
# Other ROSTER_* variables of the caller's shell are ignored, so that the
# demo is the same everywhere.
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAMBA_DC=$ROOT/scripts/samba-dc.sh
FIXTURE=$ROOT/scripts/demo-fixture.py
LISTEN=${DEMO_LISTEN:-127.0.0.1:8080}
DC_IP=${DEMO_DC_IP:-127.0.0.6}
TIMEOUT=${DEMO_TIMEOUT:-300}
STOP_TIMEOUT=15

log() { echo "demo.sh: $*" >&2; }
die() { echo "demo.sh: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }
# tail_of FILE: its last lines, indented, for an error message.
tail_of() { if [[ -s $1 ]]; then echo "--- last lines of $1:"; tail -n 25 "$1" | sed 's/^/  /'; fi >&2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --listen)
      [[ $# -ge 2 && -n $2 ]] || die "--listen needs ADDR:PORT (see --help)"
      LISTEN=$2; shift 2 ;;
    --listen=*) LISTEN=${1#--listen=}; shift ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ $LISTEN =~ ^([0-9.]+|\[[0-9a-fA-F:]+\]):([0-9]{1,5})$ ]] \
  || die "--listen must be ADDR:PORT, e.g. 127.0.0.1:8080, got '$LISTEN'"
LISTEN_HOST=${BASH_REMATCH[1]}
LISTEN_PORT=${BASH_REMATCH[2]}
[[ $DC_IP =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "DEMO_DC_IP must be a 127.x.y.z address, got '$DC_IP'"
case $DC_IP in
  127.0.0.1|127.0.0.3|127.0.0.4|127.0.0.5)
    die "DEMO_DC_IP $DC_IP is one of the test suite's or the benchmark's DCs (127.0.0.1, .3, .4, .5); choose another" ;;
esac
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "DEMO_TIMEOUT must be a positive number of seconds"
[[ $EUID -eq 0 ]] || die "run as root (sudo): the DC binds ports 389 and 636 on $DC_IP, and missing packages come from apt-get"

# The demo is the same whatever the caller's shell holds (ROSTER_LOG aside).
while read -r name; do [[ $name == ROSTER_LOG ]] || unset "$name"; done < <(compgen -e ROSTER_ || true)

# Listening sockets that would take port $2 on address $1.
listeners_on() {
  ss -ltnH 2>/dev/null | awk -v ip="$1" -v port="$2" '{
      n = split($4, a, ":"); p = a[n]; h = substr($4, 1, length($4) - length(p) - 1)
      sub(/%.*/, "", h)
      if (p == port && (h == ip || h == "0.0.0.0" || h == "*" || h == "[::]" || ip == "0.0.0.0" || ip == "[::]")) print
    }' || true
}
if [[ $LISTEN_PORT != 0 ]]; then
  busy=$(listeners_on "$LISTEN_HOST" "$LISTEN_PORT")
  [[ -z $busy ]] || die "port $LISTEN_PORT on $LISTEN_HOST is in use; stop what listens there or choose another with --listen (e.g. --listen 127.0.0.1:8081):
$busy"
fi
for port in 389 636; do
  busy=$(listeners_on "$DC_IP" "$port")
  [[ -z $busy ]] || die "port $port on $DC_IP is in use (another demo still running?); stop it or choose another DEMO_DC_IP:
$busy"
done

started=$(now)
WORK=$(mktemp -d /tmp/roster-demo.XXXXXX)
LOGS=$WORK/logs
DC_DIR=$WORK/dc
mkdir -p "$LOGS"
server_pid='' agent_pid='' dc_started=false

# stop PID NAME: SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
stop() {
  local pid=$1 name=$2 deadline
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( $(date +%s) >= deadline )); then
      log "the $name (pid $pid) did not stop within $STOP_TIMEOUT s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$? stopped=()
  trap - INT TERM
  if [[ -n $agent_pid ]]; then stop "$agent_pid" agent; stopped+=(agent); fi
  if [[ -n $server_pid ]]; then stop "$server_pid" server; stopped+=(server); fi
  if $dc_started; then
    "$SAMBA_DC" stop "$DC_DIR" >> "$LOGS/dc.log" 2>&1 || log "warning: could not stop the DC in $DC_DIR ($(tail -n 1 "$LOGS/dc.log"))"
    stopped+=(DC)
  fi
  rm -rf "$WORK"
  case ${#stopped[@]} in
    0) log "removed $WORK" ;;
    1) log "stopped the ${stopped[0]}; removed $WORK" ;;
    2) log "stopped the ${stopped[0]} and the ${stopped[1]}; removed $WORK" ;;
    *) log "stopped the ${stopped[0]}, the ${stopped[1]} and the ${stopped[2]}; removed $WORK" ;;
  esac
  exit "$status"
}
trap cleanup EXIT
trap 'echo >&2; log "stopping"; exit 130' INT
trap 'exit 143' TERM

# --- 1. tools and binaries ----------------------------------------------------
"$SAMBA_DC" install >> "$LOGS/install.log" 2>&1 || { tail_of "$LOGS/install.log"; die "installing Samba and the LDAP tools failed"; }
if ! command -v jq >/dev/null; then
  log "installing jq from Debian"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y jq; } >> "$LOGS/install.log" 2>&1 \
    || { tail_of "$LOGS/install.log"; die "installing jq failed"; }
fi
for c in curl python3 ss ldapadd; do
  command -v "$c" >/dev/null || die "$c not found"
done
target=${CARGO_TARGET_DIR:-target}
[[ $target == /* ]] || target=$ROOT/$target
SERVER_BIN=$target/release/roster-server
AGENT_BIN=$target/release/roster-agent
if command -v cargo >/dev/null; then
  [[ -x $SERVER_BIN && -x $AGENT_BIN ]] || log "building the release binaries into $target/release (the first build takes several minutes)"
  (cd "$ROOT" && cargo build --release --locked -p roster-server -p roster-agent) >&2 \
    || die "cargo build --release -p roster-server -p roster-agent failed (above)"
elif [[ -x $SERVER_BIN && -x $AGENT_BIN ]]; then
  log "cargo not found; using the binaries already in $target/release"
else
  die "cargo not found and no binaries in $target/release; install the Rust toolchain"
fi

# --- 2. the directory ---------------------------------------------------------
log "starting a Samba AD DC on $DC_IP and loading the sample company"
t0=$(now)
dc_started=true
DC_IP=$DC_IP "$SAMBA_DC" start "$DC_DIR" >> "$LOGS/dc.log" 2>&1 \
  || { tail_of "$LOGS/dc.log"; tail_of "$DC_DIR/log/samba.out"; die "the DC did not start"; }
# shellcheck disable=SC1091  # written by samba-dc.sh start
. "$DC_DIR/env"
# Ours to read, not the server's or the agent's.
export -n ROSTER_TEST_LDAP_URL ROSTER_TEST_LDAPS_URL ROSTER_TEST_LDAP_CA_FILE ROSTER_TEST_LDAP_BIND_DN \
  ROSTER_TEST_LDAP_PASSWORD ROSTER_TEST_LDAP_BASE_DN ROSTER_TEST_SAMBA_DIR
python3 "$FIXTURE" --base-dn "$ROSTER_TEST_LDAP_BASE_DN" > "$WORK/company.ldif"
python3 "$FIXTURE" --base-dn "$ROSTER_TEST_LDAP_BASE_DN" --changes > "$WORK/changes.ldif"
( umask 077; printf '%s' "$ROSTER_TEST_LDAP_PASSWORD" > "$WORK/ldap-password" )
ldapadd -x -H "$ROSTER_TEST_LDAP_URL" -D "$ROSTER_TEST_LDAP_BIND_DN" -y "$WORK/ldap-password" \
  -f "$WORK/company.ldif" > "$LOGS/company-load.log" 2>&1 \
  || { tail_of "$LOGS/company-load.log"; die "loading the sample company failed"; }
log "DC up with $(grep -c '^dn' "$WORK/company.ldif") entries loaded in $(elapsed "$t0") s"

# --- 3. the server --------------------------------------------------------------
log "starting roster-server serve --demo on $LISTEN"
ROSTER_DATABASE_URL=sqlite://$WORK/roster.db "$SERVER_BIN" serve --demo --listen "$LISTEN" \
  < /dev/null > "$WORK/server.out" 2> "$LOGS/server.log" &
server_pid=$!
deadline=$(( $(date +%s) + 60 ))
until grep -q '^roster-server listening on ' "$WORK/server.out"; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" || true
    server_pid=''
    tail_of "$LOGS/server.log"
    die "roster-server exited during start-up (log: above)"
  fi
  (( $(date +%s) < deadline )) || { tail_of "$LOGS/server.log"; die "roster-server did not say where it listens within 60 s"; }
  sleep 0.1
done
# print_demo's lines (server/src/main.rs).
field() {
  local value
  value=$(sed -n "$1" "$WORK/server.out" | head -n 1)
  [[ -n $value ]] || { tail_of "$WORK/server.out"; die "could not read the $2 from what roster-server --demo printed (above)"; }
  printf '%s' "$value"
}
URL=$(field 's/^roster-server listening on //p' "server's address")
TENANT=$(field 's/^Demo tenant //p' "demo tenant")
ADMIN_TOKEN=$(field 's/^ *admin token: *//p' "admin token")
JOB=$(field 's/^ *job: *//p' "job id")
REGISTRATION_TOKEN=$(field 's/^ *registration token: *\([^ ]*\).*/\1/p' "registration token")
SETUP_LINK=$(field 's/^ *\(http[^ ]*\/setup?token=[^ ]*\)$/\1/p' "set-up link")
# The admin token goes to curl in a file, never on a command line.
( umask 077; printf 'Authorization: Bearer %s\n' "$ADMIN_TOKEN" > "$WORK/auth-header" )

# api METHOD PATH [JSON]: the admin API's answer; a status other than 2xx
# stops the demo, naming the request and the problem's detail.
api() {
  local method=$1 path=$2 body=${3:-} status out=$WORK/api-answer.json
  local args=(-sS -X "$method" -H "@$WORK/auth-header" -o "$out" -w '%{http_code}')
  [[ -z $body ]] || args+=(-H 'Content-Type: application/json' --data-binary "$body")
  status=$(curl "${args[@]}" "$URL$path") || die "$method $path: curl could not reach $URL"
  if [[ $status != 2?? ]]; then
    die "$method $path answered $status: $(jq -r '.detail // .title // .' "$out" 2>/dev/null || cat "$out")"
  fi
  cat "$out"
}

# --- 4. accesses and links --------------------------------------------------------
# access KIND NAME: the id of that access, created if missing (idempotent).
access() { api POST /api/v1/accesses "$(jq -nc --arg kind "$1" --arg name "$2" '{$kind, $name}')" | jq -er .id; }
groups_dn=OU=Groups,$ROSTER_TEST_LDAP_BASE_DN
links=()
# link GROUP KIND NAME: GROUP's members get access KIND NAME.
link() {
  local id
  id=$(access "$2" "$3")
  links+=("$(jq -nc --arg group "CN=$1,$groups_dn" --arg id "$id" '{$group, access_id: $id}')")
}
link Office-Copenhagen user Copenhagen
link Office-Aarhus user Aarhus
link All-Staff user Headquarters
for department in Sales Engineering Finance Support Marketing HR; do
  link "$department" department "$department"
done
link VIP vip Lounge
link Facilities-Copenhagen administrator Copenhagen
saved=$(api PUT "/api/v1/jobs/$JOB/links" "$(printf '%s\n' "${links[@]}" | jq -sc .)")
log "job 'Demo domain': $(jq '.links | length' <<<"$saved") links to $(api GET /api/v1/accesses | jq '.items | length') accesses; schedule $(api GET "/api/v1/jobs/$JOB/schedule" | jq -r '.schedule | if .enabled then "daily at \(.daily_at) \(.time_zone)" else "off" end')"

# --- 5. the agent -----------------------------------------------------------------
AGENT_STATE=$WORK/agent
agent_env=(
  ROSTER_LDAP_URL="$ROSTER_TEST_LDAPS_URL"
  ROSTER_LDAP_CA_FILE="$ROSTER_TEST_LDAP_CA_FILE"
  ROSTER_LDAP_BIND_DN="$ROSTER_TEST_LDAP_BIND_DN"
  ROSTER_LDAP_PASSWORD_FILE="$WORK/ldap-password"
)
ROSTER_REGISTRATION_TOKEN=$REGISTRATION_TOKEN "$AGENT_BIN" --state-dir "$AGENT_STATE" register --server "$URL" \
  > "$LOGS/agent-register.log" 2>&1 || { tail_of "$LOGS/agent-register.log"; die "roster-agent register failed"; }
env "${agent_env[@]}" "$AGENT_BIN" --state-dir "$AGENT_STATE" check > "$LOGS/agent-check.log" 2>&1 \
  || { tail_of "$LOGS/agent-check.log"; die "roster-agent check failed"; }
log "agent registered and checked; starting roster-agent run"
env "${agent_env[@]}" "$AGENT_BIN" --state-dir "$AGENT_STATE" run < /dev/null > "$LOGS/agent.log" 2>&1 &
agent_pid=$!

# --- 6. the first import -----------------------------------------------------------
log "waiting for the agent's first push and its import (up to $TIMEOUT s)"
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
  session=$(api GET "/api/v1/jobs/$JOB/sessions?limit=1" | jq -c '.items[0] // empty')
  status=$(jq -r '.status // empty' <<<"$session")
  case $status in
    succeeded) break ;;
    failed|rejected)
      tail_of "$LOGS/agent.log"; tail_of "$LOGS/server.log"
      die "the first import session $(jq -r .id <<<"$session") $status: $(jq -r '.error // "no error given"' <<<"$session")" ;;
    held)
      die "the first import session $(jq -r .id <<<"$session") was held: $(jq -r '.held_reasons | join("; ")' <<<"$session")" ;;
  esac
  if ! kill -0 "$agent_pid" 2>/dev/null; then
    wait "$agent_pid" || true
    agent_pid=''
    tail_of "$LOGS/agent.log"
    die "roster-agent run exited before the first import"
  fi
  kill -0 "$server_pid" 2>/dev/null || { tail_of "$LOGS/server.log"; die "roster-server exited"; }
  if (( $(date +%s) >= deadline )); then
    tail_of "$LOGS/agent.log"; tail_of "$LOGS/server.log"
    die "no successful import within $TIMEOUT s (the newest session: ${status:-none yet})"
  fi
  sleep 1
done
inactive=$(api GET "/api/v1/users?job=$JOB&limit=1000" | jq '[.items[] | select(.active | not)] | length')
counts=$(jq -r --arg inactive "$inactive" '.counts | "\(.created) users created (\($inactive) inactive: disabled in AD), \(.not_linked) in no linked group"' <<<"$session")

cat <<EOF

Roster's demo runs (ready in $(elapsed "$started") s).

  Console:       $URL/console
  Open once to set the demo admin's password ($(sed -n 's/.*password (\(.*\)), once.*/\1/p' "$WORK/server.out")):
                 $SETUP_LINK
  First import:  $counts

What to try in the console:
  Import users -> Demo domain -> Sessions: the first import, each user it created
  Import users -> Demo domain -> Linking: the AD groups and the accesses they grant
  Users: who came in with which accesses (nested groups: All-Staff holds the
    departments, Engineering holds Platform and Apps)
  A day later: apply AD changes (a leaver, a mover, a promotion, a new hire),
      ldapmodify -x -H $ROSTER_TEST_LDAP_URL -D $ROSTER_TEST_LDAP_BIND_DN -y $WORK/ldap-password -f $WORK/changes.ldif
    then Sessions -> "Perform import" and open the new session.

The admin API:  curl -H @$WORK/auth-header '$URL/api/v1/users?limit=10'
  (tenant $TENANT, job $JOB, admin token $ADMIN_TOKEN)
Logs:           $LOGS (server.log, agent.log, dc.log; the DC's own: $DC_DIR/log)

Ctrl+C stops and removes everything.
EOF

# Until Ctrl+C, or until the server or the agent ends by itself.
ended=0
wait -n "$server_pid" "$agent_pid" || ended=$?
if ! kill -0 "$server_pid" 2>/dev/null; then
  tail_of "$LOGS/server.log"; die "roster-server stopped by itself (exit status $ended)"
fi
tail_of "$LOGS/agent.log"
die "roster-agent run stopped by itself (exit status $ended)"
