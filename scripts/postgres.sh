#!/usr/bin/env bash
# postgres.sh - manage a throw-away PostgreSQL server on 127.0.0.1 for
# Roster's tests (trust auth, user postgres, no TLS).
#
# Usage:
#   scripts/postgres.sh install      apt-get install postgresql if no initdb is found
#   scripts/postgres.sh start DIR    initdb DIR/data (first time) and start it on
#                                    127.0.0.1:$PGPORT_TEST, write DIR/env
#   scripts/postgres.sh status DIR
#   scripts/postgres.sh stop DIR
#   scripts/postgres.sh --help
#
# Typical use (as root):
#   P=$(mktemp -d)
#   scripts/postgres.sh start "$P"
#   . "$P/env"      # ROSTER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:55432/postgres
#   psql "$ROSTER_TEST_POSTGRES_URL" -c 'select 1'
#   scripts/postgres.sh stop "$P"; rm -rf "$P"
#
# DIR is chown'ed to the postgres user, so postgres must be able to reach it
# (a fresh `mktemp -d` is fine; a subdirectory of one is not). Data lives in
# DIR/data, the server log in DIR/log, the unix socket in DIR.
# The newest installed major version under /usr/lib/postgresql/*/bin is used
# (override with PG_BIN=/path/to/bin).
#
# Environment knobs: PGPORT_TEST (default 55432), START_TIMEOUT (default 60 s).
set -euo pipefail

PORT=${PGPORT_TEST:-55432}
START_TIMEOUT=${START_TIMEOUT:-60}

usage() { sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "postgres.sh: error: $*" >&2; exit 1; }
log() { echo "postgres.sh: $*" >&2; }
shquote() { local s=${1//\'/\'\\\'\'}; printf "'%s'" "$s"; }

find_bin() {
  if [[ -n ${PG_BIN:-} ]]; then
    [[ -x $PG_BIN/initdb ]] || die "PG_BIN=$PG_BIN has no initdb"
    return 0
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] \
    || die "no PostgreSQL found under /usr/lib/postgresql/*/bin; run: $0 install"
  PG_BIN=$d
}

need_dir_arg() {
  [[ $# -ge 1 && -n $1 ]] || die "missing DIR argument (see --help)"
  DIR=$(realpath -m -- "$1")
  DATA=$DIR/data
}

as_pg() { runuser -u postgres -- "$@"; }

cmd_install() {
  if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    log "PostgreSQL already installed: $(ls /usr/lib/postgresql/*/bin/initdb | tr '\n' ' ')"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y postgresql
}

cmd_start() {
  need_dir_arg "$@"
  find_bin
  [[ $PORT =~ ^[0-9]+$ ]] || die "PGPORT_TEST must be a port number, got '$PORT'"
  id postgres >/dev/null 2>&1 || die "no 'postgres' user; run: $0 install"
  if [[ -f $DATA/postmaster.pid ]] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    die "a server for $DIR is already running (stop it first)"
  fi
  if [[ -n $(ss -ltnH "( sport = :$PORT )" 2>/dev/null) ]]; then
    die "port $PORT is already in use (set PGPORT_TEST to another port):
$(ss -ltnpH "( sport = :$PORT )")"
  fi
  mkdir -p "$DIR"
  chown postgres:postgres "$DIR"
  as_pg test -w "$DIR" -a -x "$DIR" \
    || die "user postgres cannot write to $DIR (is a parent directory private?)"

  if [[ ! -f $DATA/PG_VERSION ]]; then
    log "initdb into $DATA ($PG_BIN)"
    as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 > "$DIR/initdb.log" 2>&1 \
      || { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed (log: $DIR/initdb.log)"; }
  else
    log "reusing existing cluster in $DATA"
  fi

  # pg_ctl passes -o through a shell: quote the socket directory.
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/log" -w -t "$START_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $(shquote "$DIR")" start >/dev/null \
    || { tail -n 20 "$DIR/log" >&2 || true; die "pg_ctl start failed (log: $DIR/log)"; }

  local url="postgres://postgres@127.0.0.1:$PORT/postgres"
  echo "export ROSTER_TEST_POSTGRES_URL=$(shquote "$url")" > "$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
  log "PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}') running on 127.0.0.1:$PORT; environment: . $DIR/env"
}

cmd_stop() {
  need_dir_arg "$@"
  find_bin
  if [[ ! -f $DATA/postmaster.pid ]]; then
    log "no server running for $DIR"
    return 0
  fi
  local pid deadline
  pid=$(head -n 1 "$DATA/postmaster.pid")
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null \
    || die "pg_ctl stop failed (log: $DIR/log)"
  # pg_ctl returns once postmaster.pid is gone; wait for the process itself.
  deadline=$(( $(date +%s) + 30 ))
  while [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; do
    (( $(date +%s) < deadline )) || die "postmaster (pid $pid) still running after 30 s"
    sleep 0.1
  done
  log "stopped"
}

cmd_status() {
  need_dir_arg "$@"
  find_bin
  [[ -d $DATA ]] || { echo "no cluster in $DATA"; return 3; }
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" status
}

main() {
  [[ $# -ge 1 ]] || { usage >&2; exit 2; }
  local cmd=$1; shift
  case $cmd in
    -h|--help|help) usage ;;
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    *) usage >&2; die "unknown command: $cmd" ;;
  esac
}

main "$@"
