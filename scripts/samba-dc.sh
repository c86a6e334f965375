#!/usr/bin/env bash
# samba-dc.sh - manage throw-away Samba AD DCs on loopback for Roster's
# end-to-end tests and benchmarks (see /work/shared/ad-testing.md).
#
# Usage:
#   scripts/samba-dc.sh install            apt-get install samba & tools if missing
#   scripts/samba-dc.sh start DIR          provision a fresh DC into DIR, set up
#                                          verified TLS, start it, write DIR/env
#   scripts/samba-dc.sh join DIR FIRST_DIR provision DIR as a second DC of the
#                                          domain of the running DC in FIRST_DIR
#                                          (started with DC_REPLICATION=1), with
#                                          its own TLS cert from FIRST_DIR's CA
#   scripts/samba-dc.sh restart DIR        (re)start the already provisioned DC in DIR
#   scripts/samba-dc.sh load-fixture DIR   load scripts/fixture.py's LDIF (OU=Fixture)
#   scripts/samba-dc.sh replicate DIR      pull changes now into the DC in DIR from
#                                          its partner DC(s) (samba-tool drs replicate
#                                          --local, over NTLM); not needed normally:
#                                          changes replicate by themselves
#   scripts/samba-dc.sh status DIR         is the DC in DIR running/answering?
#   scripts/samba-dc.sh stop DIR           stop the DC, wait until its port 389 is free
#   scripts/samba-dc.sh --help
#
# Typical use (as root; the DC binds 389/636 on its address):
#   D=$(mktemp -d)
#   scripts/samba-dc.sh start "$D" && scripts/samba-dc.sh load-fixture "$D"
#   . "$D/env"      # ROSTER_TEST_LDAP_URL, ..._LDAPS_URL, ..._CA_FILE, ...
#   ...run tests...
#   scripts/samba-dc.sh stop "$D"; rm -rf "$D"
#
# Two DCs of one domain (replication), e.g. on 127.0.0.2 and 127.0.0.3:
#   DC_IP=127.0.0.2 DC_REPLICATION=1 scripts/samba-dc.sh start "$D1"
#   DC_IP=127.0.0.3 scripts/samba-dc.sh join "$D2" "$D1"
#   ...objects keep their objectGUIDs; each DC has its own invocationId,
#   dnsHostName (dc1/dc2.corp.example.test) and USNs; a change on either DC
#   reaches the other within ~2-4 s (DRS notification + pull)...
#   scripts/samba-dc.sh stop "$D2"; scripts/samba-dc.sh stop "$D1"
#
# The DC: realm CORP.EXAMPLE.TEST, domain CORP, host dc1 (dc2 for join),
# dns-backend NONE, Administrator password 'Passw0rd!Passw0rd'. All state
# lives under DIR: DIR/etc/smb.conf, DIR/etc/roster-dc (the address, host and
# mode of this DC, read by every command), DIR/private, DIR/tls (test CA +
# server cert for IP:<DC_IP>, DNS:localhost and DNS:<host>.corp.example.test),
# DIR/run/samba.pid, DIR/log. Only one DC per loopback address can run at a
# time (ports are fixed); 127.0.0.1 is the one scripts/test.sh uses.
#
# Default mode: 'server services = ldap', 'samba -M single': fast (~3 s).
# Replication mode (DC_REPLICATION=1 for start; always for join):
#   'server services = ldap, rpc, drepl, kdc, kcc' and 'samba -M standard'.
#   rpc = DRS (drsuapi) over ncacn_ip_tcp, endpoint mapper 135 and ports
#   49152+: all the join needs from the first DC (with ldap); the rest is for
#   replication afterwards: drepl = the replication service (pulls, and
#   notifies partners of changes); kdc = Kerberos, because DC-to-DC
#   replication always authenticates with Kerberos ([krb5,seal]); kcc = the
#   consistency checker that gives the FIRST DC its inbound link (repsFrom)
#   from the new one (join runs `samba-tool drs kcc` on both DCs, then one
#   pull each way to check the path and subscribe to notifications); without
#   it, changes flow only from the first DC to the joined one.
#   '-M standard' because with '-M single' the DC's own KDC cannot answer
#   while drepl waits for a ticket in the same process. Everything binds to
#   DC_IP only.
#   Names: DCs find their partners by '<NTDS-GUID>._msdcs.corp.example.test'
#   and there is no DNS server. /etc/hosts is NOT touched: the DC runs in a
#   private mount namespace (unshare -m) in which DIR/etc/hosts (a copy of
#   /etc/hosts plus one line per DC of the domain) is bind-mounted over
#   /etc/hosts; `join` adds the new DC's line to every partner's file.
#   KRB5_CONFIG=DIR/etc/krb5.conf names the DC's own KDC. start also adds the
#   DRS SPN (E3514235-4B06-11D1-AB04-00C04FC2DCD2/<NTDS-GUID>/<domain>) that
#   samba_spnupdate would add, without which partners get no ticket for it.
#   The join itself needs none of that: it talks to FIRST_DIR's address
#   (--server, --site, NTLM), no CLDAP, DNS or Kerberos.
#
# Environment knobs:
#   DC_IP           loopback address of the DC (start: 127.0.0.1, join:
#                   127.0.0.2); used for 'interfaces', the certificate's IP
#                   SAN, the readiness probe, the port check and DIR/env's URLs
#   DC_HOST         host name (start: dc1, join: dc2)
#   DC_REPLICATION  1 = start in replication mode (see above); default 0
#   DC_PROCESS_MODEL  the default mode's 'samba -M': single (default; one
#                   process answers every connection in turn) or standard
#                   (a process per connection, so connections are answered
#                   in parallel, as a Windows DC answers them: what
#                   bench-agent.sh measures parallel reads against). Taken
#                   from the environment at every start and restart (not
#                   kept in DIR/etc/roster-dc); replication mode is always
#                   standard
#   START_TIMEOUT   default 60 s; STOP_TIMEOUT default 30 s
set -euo pipefail

REALM=CORP.EXAMPLE.TEST
DOMAIN=CORP
DNS_DOMAIN=${REALM,,}
ADMIN_PASS='Passw0rd!Passw0rd'
BIND_DN="Administrator@${REALM}"
BASE_DN='DC=corp,DC=example,DC=test'
DRS_SPN_CLASS=E3514235-4B06-11D1-AB04-00C04FC2DCD2
REPL_SERVICES='ldap, rpc, drepl, kdc, kcc'
START_TIMEOUT=${START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The caller's knobs; DC_IP, HOST and REPLICATION below describe the DC at hand.
ENV_DC_IP=${DC_IP:-}
ENV_DC_HOST=${DC_HOST:-}
ENV_DC_REPLICATION=${DC_REPLICATION:-0}
ENV_DC_PROCESS_MODEL=${DC_PROCESS_MODEL:-single}
HOSTS_MARK='# roster-dc'

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "samba-dc.sh: error: $*" >&2; exit 1; }
log() { echo "samba-dc.sh: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Single-quote a value for a POSIX shell.
shquote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

valid_loopback() { [[ $1 =~ ^127\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]]; }

# Sets DC_IP, HOST, REPLICATION and the derived URLs from the environment or
# (for an existing DIR) from DIR/etc/roster-dc; $1/$2 = defaults for IP/host.
set_identity() {
  local def_ip=$1 def_host=$2 f=$DIR/etc/roster-dc
  if [[ -s $f ]]; then
    # Written by this script: DC_IP=..., DC_HOST=..., DC_REPLICATION=...
    DC_IP=$(sed -n 's/^DC_IP=//p' "$f")
    HOST=$(sed -n 's/^DC_HOST=//p' "$f")
    REPLICATION=$(sed -n 's/^DC_REPLICATION=//p' "$f")
  else
    DC_IP=${ENV_DC_IP:-$def_ip}
    HOST=${ENV_DC_HOST:-$def_host}
    REPLICATION=$ENV_DC_REPLICATION
  fi
  valid_loopback "$DC_IP" || die "DC_IP must be a 127.x.y.z address, got '$DC_IP'"
  [[ $HOST =~ ^[a-z][a-z0-9-]{0,14}$ ]] || die "DC_HOST must be a short lower-case host name, got '$HOST'"
  [[ $REPLICATION == 0 || $REPLICATION == 1 ]] || die "DC_REPLICATION must be 0 or 1"
  [[ $ENV_DC_PROCESS_MODEL == single || $ENV_DC_PROCESS_MODEL == standard ]] \
    || die "DC_PROCESS_MODEL must be single or standard, got '$ENV_DC_PROCESS_MODEL'"
  LDAP_URL=ldap://$DC_IP
  LDAPS_URL=ldaps://$DC_IP
}

write_identity() {
  printf 'DC_IP=%s\nDC_HOST=%s\nDC_REPLICATION=%s\n' "$DC_IP" "$HOST" "$REPLICATION" \
    > "$DIR/etc/roster-dc"
}

need_dir_arg() {
  [[ $# -ge 1 && -n $1 ]] || die "missing DIR argument (see --help)"
  DIR=$(realpath -m -- "$1")
  CONF=$DIR/etc/smb.conf
  PIDFILE=$DIR/run/samba.pid
}

# 'interfaces' value: the historical 'lo' (127.0.0.1 and ::1) for 127.0.0.1;
# otherwise ADDR/8: Samba ignores a plain address that no interface carries
# (127.0.0.2 is only routed to lo), but accepts it with a netmask.
interfaces_value() { if [[ $DC_IP == 127.0.0.1 ]]; then echo lo; else echo "$DC_IP/8"; fi; }

# Listening sockets (ss lines) that would take port $1 from a DC on DC_IP.
port_listeners() {
  local extra=
  [[ $DC_IP == 127.0.0.1 ]] && extra='[::1]'
  ss -ltnH 2>/dev/null | awk -v ip="$DC_IP" -v port="$1" -v extra="$extra" '{
      n = split($4, a, ":"); p = a[n]; h = substr($4, 1, length($4) - length(p) - 1)
      sub(/%.*/, "", h)
      if (p == port && (h == ip || h == "0.0.0.0" || h == "*" || h == "[::]" || (extra != "" && h == extra))) print
    }' || true
}

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

# ldapsearch as Administrator against this DC.
adm_search() { ldapsearch -x -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" -o ldif-wrap=no -LLL "$@"; }

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

# make_tls [CA_DIR]: without CA_DIR, make a new test CA in DIR/tls; with it,
# sign with CA_DIR/ca.pem + ca.key (the CA's key is not copied).
make_tls() {
  local t=$DIR/tls ca_dir=${1:-}
  mkdir -p "$t"
  (
    umask 077
    cd "$t"
    if [[ -z $ca_dir ]]; then
      openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 3650 \
        -keyout ca.key -out ca.pem -subj '/CN=Roster test CA' \
        -addext 'basicConstraints=critical,CA:TRUE' \
        -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
      ca_dir=$t
    else
      cp "$ca_dir/ca.pem" ca.pem
    fi
    openssl req -new -newkey rsa:2048 -nodes -sha256 \
      -keyout key.pem -out server.csr -subj "/CN=${HOST}.${DNS_DOMAIN}" 2>/dev/null
    cat > server.ext <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:${DC_IP},DNS:localhost,DNS:${HOST}.${DNS_DOMAIN}
EOF
    openssl x509 -req -in server.csr -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" \
      -CAserial "$t/ca.srl" -CAcreateserial \
      -days 3650 -sha256 -extfile server.ext -out cert.pem 2>/dev/null
    rm -f server.csr
  )
  chmod 0600 "$t/key.pem"
  [[ -e $t/ca.key ]] && chmod 0600 "$t/ca.key"
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

# --option arguments shared by provision and join.
samba_options() {
  local services=ldap
  [[ $REPLICATION == 1 ]] && services=$REPL_SERVICES
  SAMBA_OPTS=(
    --option="interfaces=$(interfaces_value)" --option='bind interfaces only=yes'
    --option="pid directory=$DIR/run" --option="ncalrpc dir=$DIR/run/ncalrpc"
    --option="winbindd socket directory=$DIR/run/winbindd"
    --option="ntp signd socket directory=$DIR/run/ntp_signd"
    --option="log file=$DIR/log/log.%m" --option="server services=$services"
  )
}

post_provision_config() {
  # provision/join silently drop 'ldap server require strong auth'; TLS
  # options are added here too so the whole set is visible in one place.
  add_global_options \
    'ldap server require strong auth = no' \
    'tls enabled = yes' \
    "tls certfile = $DIR/tls/cert.pem" \
    "tls keyfile = $DIR/tls/key.pem" \
    "tls cafile = $DIR/tls/ca.pem"
  if [[ $REPLICATION == 1 ]]; then
    cat > "$DIR/etc/krb5.conf" <<EOF
[libdefaults]
	default_realm = ${REALM}
	dns_lookup_realm = false
	dns_lookup_kdc = false

[realms]
${REALM} = {
	kdc = ${DC_IP}
}

[domain_realm]
	.${DNS_DOMAIN} = ${REALM}
	${DNS_DOMAIN} = ${REALM}
EOF
    [[ -e $DIR/etc/hosts ]] || cat /etc/hosts > "$DIR/etc/hosts"
  fi
}

write_env() {
  local f=$DIR/env tmp=$DIR/env.tmp
  {
    echo "# Written by scripts/samba-dc.sh; source it: . $(shquote "$f")"
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

check_ports_free() {
  local ports=(389 636) p busy='' l
  [[ $REPLICATION == 1 ]] && ports+=(88 135)
  for p in "${ports[@]}"; do
    l=$(port_listeners "$p")
    [[ -n $l ]] && busy+=${busy:+$'\n'}$l
  done
  [[ -z $busy ]] || die "something already listens on $DC_IP (another DC? stop it \
first: scripts/samba-dc.sh stop ITS_DIR, or choose another DC_IP):
$busy"
}

check_fresh_dir() {
  [[ -e $CONF || -e $DIR/private ]] && die "$DIR already holds a provisioned DC; use a fresh directory"
  if [[ -d $DIR ]] && [[ -n $(ls -A "$DIR") ]]; then
    die "$DIR is not empty; use a fresh directory (e.g. \$(mktemp -d))"
  fi
  local c
  for c in samba samba-tool ldapsearch ldapmodify openssl; do
    command -v "$c" >/dev/null || die "$c not found; run: $0 install"
  done
  if [[ $REPLICATION == 1 ]]; then
    command -v unshare >/dev/null || die "unshare (util-linux) not found"
    unshare -m true 2>/dev/null || die "replication mode needs 'unshare -m' (a private mount namespace, as root)"
  fi
  mkdir -p "$DIR/run" "$DIR/log" "$DIR/etc"
}

# Start samba for the provisioned DIR and wait until it answers on LDAP.
run_samba() {
  local spawned deadline
  rm -f "$PIDFILE"   # samba refuses to start if a stale pid names a live process
  # -F: foreground, no daemonising, and unlike -i it does not exit when
  # stdin is closed. samba writes its own pid to DIR/run/samba.pid
  # ('pid directory'). setsid: survive the caller's terminal/session.
  if [[ $REPLICATION == 1 ]]; then
    # Private mount namespace: DIR/etc/hosts is this DC's /etc/hosts (see
    # --help); unshare and sh exec, so $! is samba's pid.
    # shellcheck disable=SC2016  # $1 is expanded by the inner sh
    KRB5_CONFIG=$DIR/etc/krb5.conf setsid unshare -m sh -c \
      'mount --bind "$1/etc/hosts" /etc/hosts && exec samba -F -M standard -s "$1/etc/smb.conf" --debug-stdout' \
      sh "$DIR" < /dev/null > "$DIR/log/samba.out" 2>&1 &
  else
    setsid samba -F -M "$ENV_DC_PROCESS_MODEL" -s "$CONF" --debug-stdout \
      < /dev/null > "$DIR/log/samba.out" 2>&1 &
  fi
  spawned=$!
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
  samba_pid >/dev/null || die "DC answers but $PIDFILE does not name a running samba"
}

# NTDS Settings objectGUID (string form) of the DC answering on LDAP_URL.
ntds_guid() {
  local ds b64
  ds=$(adm_search -s base -b '' dsServiceName | sed -n 's/^dsServiceName: //p')
  [[ -n $ds ]] || die "no dsServiceName in the rootDSE of $LDAP_URL"
  b64=$(adm_search -s base -b "$ds" objectGUID | sed -n 's/^objectGUID:: //p')
  python3 -c 'import base64, sys, uuid; print(uuid.UUID(bytes_le=base64.b64decode(sys.argv[1])))' "$b64"
}

# Our own line for DIR/etc/hosts: address, host names, the GUID-based name.
hosts_line() {
  printf '%s %s.%s %s %s._msdcs.%s %s\n' "$DC_IP" "$HOST" "$DNS_DOMAIN" "$HOST" "$1" "$DNS_DOMAIN" "$HOSTS_MARK"
}

# Replace our line for address $2 in hosts file $1 by $3, in place: the
# file is bind-mounted into a running DC's namespace, so keep its inode.
hosts_set() {
  local f=$1 ip=$2 line=$3 content
  content=$(awk -v ip="$ip" -v mark="$HOSTS_MARK" '!($1 == ip && index($0, mark))' "$f"; printf '%s\n' "$line")
  printf '%s\n' "$content" > "$f"
}

# Replication mode: the DRS SPN samba_spnupdate would add (we have no dnsupdate).
add_drs_spn() {
  local guid=$1 dn spn="${DRS_SPN_CLASS}/$1/${DNS_DOMAIN}" out
  dn=$(adm_search -b "OU=Domain Controllers,$BASE_DN" "(sAMAccountName=${HOST^^}\$)" dn | sed -n 's/^dn: //p')
  [[ -n $dn ]] || die "no machine account ${HOST^^}\$ found"
  if adm_search -s base -b "$dn" servicePrincipalName | grep -qiF "servicePrincipalName: $spn"; then
    return 0
  fi
  out=$(ldapmodify -x -H "$LDAP_URL" -D "$BIND_DN" -w "$ADMIN_PASS" 2>&1 <<EOF
dn: $dn
changetype: modify
add: servicePrincipalName
servicePrincipalName: $spn
EOF
  ) || die "cannot add SPN $spn to $dn: $out"
}

cmd_start() {
  need_dir_arg "$@"
  set_identity 127.0.0.1 dc1
  local t0 t1 pid guid
  t0=$(now)
  check_ports_free
  check_fresh_dir
  write_identity
  samba_options

  log "provisioning $REALM ($HOST on $DC_IP$([[ $REPLICATION == 1 ]] && echo ', replication mode')) into $DIR"
  samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" \
    --server-role=dc --dns-backend=NONE --host-name="$HOST" \
    --adminpass="$ADMIN_PASS" --targetdir="$DIR" "${SAMBA_OPTS[@]}" \
    > "$DIR/log/provision.log" 2>&1 \
    || { tail -n 30 "$DIR/log/provision.log" >&2; die "provision failed (log: $DIR/log/provision.log)"; }
  log "provisioned in $(elapsed "$t0") s"

  make_tls
  post_provision_config
  t1=$(now)
  run_samba
  pid=$(samba_pid)
  log "samba answered after $(elapsed "$t1") s"
  if [[ $REPLICATION == 1 ]]; then
    guid=$(ntds_guid)
    hosts_set "$DIR/etc/hosts" "$DC_IP" "$(hosts_line "$guid")"
    add_drs_spn "$guid"
  fi

  verify_tls
  write_env
  log "DC running (pid $pid), provision+start took $(elapsed "$t0") s; LDAP, LDAPS and StartTLS verified"
  log "environment: . $DIR/env"
}

cmd_join() {
  [[ $# -ge 2 && -n $2 ]] || die "usage: join DIR FIRST_DIR (see --help)"
  # The first DC's identity.
  need_dir_arg "$2"
  local first_dir=$DIR first_ip first_conf=$CONF
  [[ -s $first_dir/etc/roster-dc ]] || die "$first_dir has no etc/roster-dc; was it made by this script?"
  set_identity x x
  first_ip=$DC_IP
  if ! { samba_pid >/dev/null && ldap_up; }; then
    die "the first DC ($first_dir) is not running"
  fi
  if ! { [[ $REPLICATION == 1 ]] && grep -q 'server services = .*rpc' "$first_conf"; }; then
    die "the first DC must run in replication mode: start it with DC_REPLICATION=1"
  fi
  [[ -s $first_dir/tls/ca.key ]] || die "no test CA key in $first_dir/tls"

  # The new DC.
  need_dir_arg "$1"
  [[ $DIR != "$first_dir" ]] || die "DIR and FIRST_DIR must differ"
  set_identity 127.0.0.2 dc2
  REPLICATION=1
  [[ $DC_IP != "$first_ip" ]] || die "DC_IP $DC_IP is the first DC's address; choose another (e.g. DC_IP=127.0.0.3)"
  local t0 t1 pid guid out partner
  t0=$(now)
  check_ports_free
  check_fresh_dir
  # Is the host name free in the domain?
  out=$(LDAP_URL=ldap://$first_ip adm_search -b "$BASE_DN" "(sAMAccountName=${HOST^^}\$)" dn | grep '^dn:') || true
  [[ -z $out ]] || die "the domain already has a computer ${HOST^^}\$; choose another DC_HOST"
  write_identity
  samba_options

  log "joining $REALM as $HOST on $DC_IP (DC via $first_ip) into $DIR"
  # --server + --site: no CLDAP/DNS lookup of a DC; CORP\ + no Kerberos:
  # NTLM against the first DC, so no KDC or name resolution is needed.
  samba-tool domain join "$DNS_DOMAIN" DC --server="$first_ip" \
    --site=Default-First-Site-Name --option="netbios name=${HOST^^}" \
    -U "${DOMAIN}\\Administrator%${ADMIN_PASS}" --use-kerberos=off \
    --dns-backend=NONE --targetdir="$DIR" "${SAMBA_OPTS[@]}" \
    > "$DIR/log/join.log" 2>&1 \
    || { tail -n 30 "$DIR/log/join.log" >&2; die "join failed (log: $DIR/log/join.log)"; }
  log "joined (provision + replication of the domain) in $(elapsed "$t0") s"

  make_tls "$first_dir/tls"
  post_provision_config
  # Name resolution: our hosts file = the first DC's (all DCs known so far)
  # plus our line; then tell every partner about us.
  cat "$first_dir/etc/hosts" > "$DIR/etc/hosts"
  t1=$(now)
  run_samba
  pid=$(samba_pid)
  log "samba answered after $(elapsed "$t1") s"
  guid=$(ntds_guid)
  local line
  line=$(hosts_line "$guid")
  hosts_set "$DIR/etc/hosts" "$DC_IP" "$line"
  for partner in "$first_dir" $(sed -n 's/^PARTNER_DIR=//p' "$first_dir/etc/roster-dc"); do
    [[ -e $partner/etc/hosts ]] && hosts_set "$partner/etc/hosts" "$DC_IP" "$line"
  done
  echo "PARTNER_DIR=$first_dir" >> "$DIR/etc/roster-dc"
  echo "PARTNER_DIR=$DIR" >> "$first_dir/etc/roster-dc"
  # Run the KCC now on both DCs (otherwise the first DC learns to pull from
  # us only at its next periodic KCC run, minutes later), then have each DC
  # pull every partition from the other once: that checks the Kerberos and
  # name-resolution path both ways and registers each DC for the other's
  # change notifications (repsTo), so later changes flow within seconds.
  local ip nc first_host
  first_host=$(sed -n 's/^DC_HOST=//p' "$first_dir/etc/roster-dc")
  t1=$(now)
  for ip in "$first_ip" "$DC_IP"; do
    out=$(samba-tool drs kcc "$ip" -U "${DOMAIN}\\Administrator%${ADMIN_PASS}" --use-kerberos=off 2>&1) \
      || die "samba-tool drs kcc $ip failed: $out"
  done
  for nc in "$BASE_DN" "CN=Configuration,$BASE_DN" "CN=Schema,CN=Configuration,$BASE_DN"; do
    for ip in "$first_ip:${HOST^^}" "$DC_IP:${first_host^^}"; do
      out=$(samba-tool drs replicate "${ip%%:*}" "${ip#*:}" "$nc" \
            -U "${DOMAIN}\\Administrator%${ADMIN_PASS}" --use-kerberos=off 2>&1) \
        || die "replication of $nc from ${ip#*:} to ${ip%%:*} failed: $out"
    done
  done
  log "KCC run and one replication each way checked in $(elapsed "$t1") s"

  verify_tls
  write_env
  log "second DC running (pid $pid), join+start took $(elapsed "$t0") s; LDAP, LDAPS and StartTLS verified"
  log "environment: . $DIR/env"
}

cmd_restart() {
  need_dir_arg "$@"
  [[ -e $CONF ]] || die "$DIR holds no provisioned DC (no etc/smb.conf)"
  set_identity 127.0.0.1 dc1
  local t0 pid
  t0=$(now)
  if samba_pid >/dev/null; then cmd_stop "$DIR"; fi
  check_ports_free
  run_samba
  pid=$(samba_pid)
  write_env
  log "DC running (pid $pid), started in $(elapsed "$t0") s"
}

cmd_replicate() {
  need_dir_arg "$@"
  set_identity 127.0.0.1 dc1
  samba_pid >/dev/null || die "no running DC for $DIR"
  local partner pip nc t0 out
  t0=$(now)
  for partner in $(sed -n 's/^PARTNER_DIR=//p' "$DIR/etc/roster-dc"); do
    pip=$(sed -n 's/^DC_IP=//p' "$partner/etc/roster-dc")
    for nc in "$BASE_DN" "CN=Configuration,$BASE_DN"; do
      out=$(samba-tool drs replicate --local -s "$CONF" "$HOST" "$pip" "$nc" \
            -U "${DOMAIN}\\Administrator%${ADMIN_PASS}" --use-kerberos=off 2>&1) \
        || die "replicating $nc from $pip failed: $out"
      log "$(tail -n 1 <<<"$out")"
    done
  done
  log "replicated in $(elapsed "$t0") s"
}

cmd_load_fixture() {
  need_dir_arg "$@"
  set_identity 127.0.0.1 dc1
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
  set_identity 127.0.0.1 dc1
  local pid deadline t0
  t0=$(now)
  if ! pid=$(samba_pid); then
    if [[ -n $(port_listeners 389) ]]; then
      die "no running DC recorded in $PIDFILE, but port 389 on $DC_IP is in use by something else"
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
      die "port 389 on $DC_IP still in use after ${STOP_TIMEOUT} s: $(port_listeners 389)"
    fi
    sleep 0.1
  done
  rm -f "$PIDFILE"
  log "DC stopped in $(elapsed "$t0") s; port 389 on $DC_IP is free"
}

cmd_status() {
  need_dir_arg "$@"
  set_identity 127.0.0.1 dc1
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
  [[ -n $(port_listeners 389) ]] && echo "note: something else listens on port 389 of $DC_IP"
  return 3
}

main() {
  [[ $# -ge 1 ]] || { usage >&2; exit 2; }
  local cmd=$1; shift
  case $cmd in
    -h|--help|help) usage ;;
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    join) cmd_join "$@" ;;
    restart) cmd_restart "$@" ;;
    replicate) cmd_replicate "$@" ;;
    load-fixture) cmd_load_fixture "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
