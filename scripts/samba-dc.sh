#!/usr/bin/env bash
# samba-dc.sh - manage a throw-away Samba AD DC on 127.0.0.1 for Roster's
# end-to-end tests (see docs in /work/shared/ad-testing.md).
#
# Usage:
#   scripts/samba-dc.sh install            apt-get install samba & tools if missing
#   scripts/samba-dc.sh start DIR          provision a fresh DC into DIR, set up
#                                          verified TLS, start it, write DIR/env
#   scripts/samba-dc.sh load-fixture DIR   load scripts/fixture.py's LDIF (OU=Fixture)
#   scripts/samba-dc.sh status DIR         is the DC in DIR running/answering?
#   scripts/samba-dc.sh stop DIR           stop the DC, wait until port 389 is free
#   scripts/samba-dc.sh --help
#
# Typical use (as root; the DC must bind 127.0.0.1:389/636):
#   D=$(mktemp -d)
#   scripts/samba-dc.sh start "$D" && scripts/samba-dc.sh load-fixture "$D"
#   . "$D/env"      # ROSTER_TEST_LDAP_URL, ..._LDAPS_URL, ..._CA_FILE, ...
#   ...run tests...
#   scripts/samba-dc.sh stop "$D"; rm -rf "$D"
#
# The DC: realm CORP.EXAMPLE.TEST, domain CORP, host dc1, dns-backend NONE,
# 'server services = ldap', interfaces = lo, Administrator password
# 'Passw0rd!Passw0rd'. All state lives under DIR: DIR/etc/smb.conf,
# DIR/private, DIR/tls (test CA + server cert for IP:127.0.0.1 and
# DNS:localhost), DIR/run/samba.pid, DIR/log.
# Only one DC per loopback address can run at a time (ports are fixed).
#
# Environment knobs: START_TIMEOUT (default 60 s), STOP_TIMEOUT (default 30 s).
set -euo pipefail

REALM=CORP.EXAMPLE.TEST
DOMAIN=CORP
HOST=dc1
ADMIN_PASS='Passw0rd!Passw0rd'
BIND_DN="Administrator@${REALM}"
BASE_DN='DC=corp,DC=example,DC=test'
LDAP_URL=ldap://127.0.0.1
LDAPS_URL=ldaps://127.0.0.1
START_TIMEOUT=${START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "samba-dc.sh: error: $*" >&2; exit 1; }
log() { echo "samba-dc.sh: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Single-quote a value for a POSIX shell.
shquote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

need_dir_arg() {
  [[ $# -ge 1 && -n $1 ]] || die "missing DIR argument (see --help)"
  DIR=$(realpath -m -- "$1")
  CONF=$DIR/etc/smb.conf
  PIDFILE=$DIR/run/samba.pid
}

port_listeners() { ss -ltnH "( sport = :$1 )" 2>/dev/null || true; }

samba_pid() {
  # Prints the pid of the DC of DIR if it is running.
  [[ -s $PIDFILE ]] || return 1
  local pid
  pid=$(tr -dc '0-9' < "$PIDFILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
  # Make sure the pid was not reused by something else.
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == samba ]] || return 1
  echo "$pid"
}

ldap_up() { ldapsearch -x -H "$LDAP_URL" -s base -b '' -LLL dn >/dev/null 2>&1; }

cmd_install() {
  local missing=()
  command -v samba-tool >/dev/null || missing+=(samba-tool)
  command -v ldapsearch >/dev/null || missing+=(ldapsearch)
  command -v openssl >/dev/null || missing+=(openssl)
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "samba-tool, ldapsearch and openssl already installed"
    return 0
  fi
  log "missing: ${missing[*]}; installing packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y samba samba-ad-dc samba-ad-provision ldap-utils \
    ldb-tools python3-samba openssl
}

make_tls() {
  local t=$DIR/tls
  mkdir -p "$t"
  (
    umask 077
    cd "$t"
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -keyout ca.key -out ca.pem -subj '/CN=Roster test CA' \
      -addext 'basicConstraints=critical,CA:TRUE' \
      -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -sha256 \
      -keyout key.pem -out server.csr -subj "/CN=${HOST}.${REALM,,}" 2>/dev/null
    cat > server.ext <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:${HOST}.${REALM,,}
EOF
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -days 3650 -sha256 -extfile server.ext -out cert.pem 2>/dev/null
    rm -f server.csr
  )
  chmod 0600 "$t/key.pem" "$t/ca.key"
  chmod 0644 "$t/ca.pem" "$t/cert.pem"
  openssl verify -CAfile "$t/ca.pem" "$t/cert.pem" >/dev/null \
    || die "generated server certificate does not verify against the CA"
}

# Insert "key = value" lines right after [global] in smb.conf.
add_global_options() {
  local tmp=$CONF.tmp
  OPTS=$(printf '\t%s\n' "$@") awk '
    { print }
    /^\[global\][[:space:]]*$/ && !done { print ENVIRON["OPTS"]; done = 1 }
  ' "$CONF" > "$tmp"
  mv "$tmp" "$CONF"
  grep -q '^\[global\]' "$CONF" || die "no [global] section in $CONF"
}

write_env() {
  local f=$DIR/env tmp=$DIR/env.tmp
  {
    echo "# Written by scripts/samba-dc.sh start; source it: . $(shquote "$f")"
    local kv
    for kv in \
      "ROSTER_TEST_LDAP_URL=$LDAP_URL" \
      "ROSTER_TEST_LDAPS_URL=$LDAPS_URL" \
      "ROSTER_TEST_LDAP_CA_FILE=$DIR/tls/ca.pem" \
      "ROSTER_TEST_LDAP_BIND_DN=$BIND_DN" \
      "ROSTER_TEST_LDAP_PASSWORD=$ADMIN_PASS" \
      "ROSTER_TEST_LDAP_BASE_DN=$BASE_DN" \
      "ROSTER_TEST_SAMBA_DIR=$DIR"; do
      echo "export ${kv%%=*}=$(shquote "${kv#*=}")"
    done
  } > "$tmp"
  mv "$tmp" "$f"
}

verify_tls() {
  local out
  out=$(LDAPTLS_CACERT=$DIR/tls/ca.pem LDAPTLS_REQCERT=demand \
        ldapsearch -x -H "$LDAPS_URL" -D "$BIND_DN" -w "$ADMIN_PASS" \
        -s base -b "$BASE_DN" -LLL dn 2>&1) \
    || die "LDAPS with the test CA failed: $out"
  out=$(LDAPTLS_CACERT=$DIR/tls/ca.pem LDAPTLS_REQCERT=demand \
        ldapsearch -x -ZZ -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" \
        -s base -b "$BASE_DN" -LLL dn 2>&1) \
    || die "StartTLS with the test CA failed: $out"
  out=$(ldapsearch -x -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" \
        -s base -b "$BASE_DN" -LLL dn 2>&1) \
    || die "plain LDAP simple bind failed: $out"
}

cmd_start() {
  need_dir_arg "$@"
  local t0 pid deadline
  t0=$(now)
  [[ -n $(port_listeners 389) ]] && die "something already listens on port 389 \
(another DC? stop it first: scripts/samba-dc.sh stop ITS_DIR):
$(ss -ltnpH '( sport = :389 )')"
  [[ -e $CONF || -e $DIR/private ]] && die "$DIR already holds a provisioned DC; use a fresh directory"
  if [[ -d $DIR ]] && [[ -n $(ls -A "$DIR") ]]; then
    die "$DIR is not empty; use a fresh directory (e.g. \$(mktemp -d))"
  fi
  for c in samba samba-tool ldapsearch openssl; do
    command -v "$c" >/dev/null || die "$c not found; run: $0 install"
  done
  mkdir -p "$DIR/run" "$DIR/log"

  log "provisioning $REALM into $DIR"
  samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" \
    --server-role=dc --dns-backend=NONE --host-name="$HOST" \
    --adminpass="$ADMIN_PASS" --targetdir="$DIR" \
    --option='interfaces=lo' --option='bind interfaces only=yes' \
    --option="pid directory=$DIR/run" --option="ncalrpc dir=$DIR/run/ncalrpc" \
    --option="winbindd socket directory=$DIR/run/winbindd" \
    --option="ntp signd socket directory=$DIR/run/ntp_signd" \
    --option="log file=$DIR/log/log.%m" --option='server services=ldap' \
    > "$DIR/log/provision.log" 2>&1 \
    || { tail -n 30 "$DIR/log/provision.log" >&2; die "provision failed (log: $DIR/log/provision.log)"; }
  log "provisioned in $(elapsed "$t0") s"

  make_tls
  # provision silently drops 'ldap server require strong auth'; TLS options
  # are added here too so the whole set is visible in one place.
  add_global_options \
    'ldap server require strong auth = no' \
    'tls enabled = yes' \
    "tls certfile = $DIR/tls/cert.pem" \
    "tls keyfile = $DIR/tls/key.pem" \
    "tls cafile = $DIR/tls/ca.pem"

  # -F: foreground, no daemonising, and unlike -i it does not exit when
  # stdin is closed. samba writes its own pid to DIR/run/samba.pid
  # ('pid directory'). setsid: survive the caller's terminal/session.
  setsid samba -F -M single -s "$CONF" --debug-stdout \
    < /dev/null > "$DIR/log/samba.out" 2>&1 &
  local spawned=$!
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until ldap_up; do
    if ! kill -0 "$spawned" 2>/dev/null; then
      tail -n 40 "$DIR/log/samba.out" >&2 || true
      die "samba exited during start-up (log: $DIR/log/samba.out)"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 40 "$DIR/log/samba.out" >&2 || true
      kill "$spawned" 2>/dev/null || true
      die "DC did not answer on $LDAP_URL within ${START_TIMEOUT} s"
    fi
    sleep 0.1
  done
  # Normally samba has written the pid file itself; make sure it exists.
  [[ -s $PIDFILE ]] || echo "$spawned" > "$PIDFILE"
  pid=$(samba_pid) || die "DC answers but $PIDFILE does not name a running samba"

  verify_tls
  write_env
  log "DC running (pid $pid), provision+start took $(elapsed "$t0") s; LDAP, LDAPS and StartTLS verified"
  log "environment: . $DIR/env"
}

cmd_load_fixture() {
  need_dir_arg "$@"
  samba_pid >/dev/null || die "no running DC for $DIR (start it first)"
  local fixture_dn="OU=Fixture,$BASE_DN" rc=0 out t0 ldif=$DIR/fixture.ldif
  out=$(ldapsearch -x -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" \
        -s base -b "$fixture_dn" -LLL dn 2>&1) || rc=$?
  case $rc in
    0) die "fixture already loaded ($fixture_dn exists); start a fresh DC to reload it" ;;
    32) ;;  # noSuchObject: not loaded yet
    *) die "cannot check for $fixture_dn (ldapsearch rc=$rc): $out" ;;
  esac
  python3 "$SCRIPT_DIR/fixture.py" --base-dn "$BASE_DN" > "$ldif"
  log "loading $(grep -c '^dn:' "$ldif") LDIF records from $ldif"
  t0=$(now)
  ldapadd -x -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" -f "$ldif" \
    > "$DIR/log/fixture-load.log" 2>&1 \
    || { tail -n 20 "$DIR/log/fixture-load.log" >&2; die "fixture load failed (log: $DIR/log/fixture-load.log)"; }
  log "fixture loaded in $(elapsed "$t0") s"
}

cmd_stop() {
  need_dir_arg "$@"
  local pid deadline t0
  t0=$(now)
  if ! pid=$(samba_pid); then
    if [[ -n $(port_listeners 389) ]]; then
      die "no running DC recorded in $PIDFILE, but port 389 is in use by something else"
    fi
    log "no DC running for $DIR"
    return 0
  fi
  kill -TERM "$pid"
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null || [[ -n $(port_listeners 389) ]]; do
    if (( $(date +%s) >= deadline )); then
      if kill -0 "$pid" 2>/dev/null; then
        log "samba (pid $pid) still running after ${STOP_TIMEOUT} s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
      fi
      [[ -z $(port_listeners 389) ]] && break
      die "port 389 still in use after ${STOP_TIMEOUT} s: $(ss -ltnpH '( sport = :389 )')"
    fi
    sleep 0.1
  done
  rm -f "$PIDFILE"
  log "DC stopped in $(elapsed "$t0") s; port 389 is free"
}

cmd_status() {
  need_dir_arg "$@"
  local pid
  if pid=$(samba_pid); then
    if ldap_up; then
      echo "running: pid $pid, answering on $LDAP_URL (env: $DIR/env)"
      return 0
    fi
    echo "running: pid $pid, but not answering on $LDAP_URL"
    return 1
  fi
  echo "stopped (no running samba for $DIR)"
  [[ -n $(port_listeners 389) ]] && echo "note: something else listens on port 389"
  return 3
}

main() {
  [[ $# -ge 1 ]] || { usage >&2; exit 2; }
  local cmd=$1; shift
  case $cmd in
    -h|--help|help) usage ;;
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    load-fixture) cmd_load_fixture "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
