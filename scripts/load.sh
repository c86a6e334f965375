#!/usr/bin/env bash
# load.sh - Roster under load: many agents pushing real signed snapshots at
# two roster-server replicas that share one PostgreSQL, all on 127.0.0.1.
#
# Usage: scripts/load.sh [driver options] [--help]
#
# Starts a throw-away PostgreSQL (scripts/postgres.sh, on port
# LOAD_PG_PORT, default 55433, so it never meets scripts/test.sh's), builds
# the release roster-server and the load driver, tests/bench/load.rs
# (`cargo build --release -p roster-server --bin roster-server -p roster-e2e
# --example load`), and runs the driver twice, each on a fresh database:
#   1. steady: the replicas run throughout;
#   2. restart: one replica is killed (SIGKILL) half-way and started again.
# By default each run is 200 agents (one job each) in 20 tenants, a
# 2,000-user full snapshot per agent, then a delta of 3 changes every 5 s
# per agent for 300 s. Options pass on to the driver (run it with --help
# for them all): --agents N, --tenants N, --users N, --seconds N,
# --delta-every N, --changes N, --replicas N.
#
# Each run prints pushes per second, p50/p95/p99 of offer and commit,
# the first imports' time, imports per minute, the database's size, each
# replica's RSS and the errors, then PASS or FAIL per target: 0 failed or
# held imports, 0 failed pushes, 0 lost or doubly applied snapshots
# (checked in the database and through the admin API afterwards), p95
# commit under 1 s. Exits 0 when both runs pass every target, 3 when a
# target fails, another non-zero status when a run could not be made.
# Everything it started is stopped and removed on exit. Needs root (as
# scripts/postgres.sh does) or a user PostgreSQL can run as.
#
# Environment: LOAD_PG_PORT (55433), CARGO_TARGET_DIR (default target/).
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
fi
for arg in "$@"; do
  [[ $arg != --restart ]] || { echo "load.sh: --restart is the second run's own; leave it out" >&2; exit 2; }
done

log() { echo "load.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DRIVER=$TARGET_DIR/release/examples/load
PG_DIR=$(mktemp -d /tmp/roster-load-pg.XXXXXX)
cleanup() {
  local status=$?
  "$ROOT/scripts/postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || log "warning: could not stop PostgreSQL in $PG_DIR"
  rm -rf "$PG_DIR"
  exit "$status"
}
trap cleanup EXIT INT TERM

"$ROOT/scripts/postgres.sh" install
PGPORT_TEST=${LOAD_PG_PORT:-55433} "$ROOT/scripts/postgres.sh" start "$PG_DIR"
# shellcheck disable=SC1091
. "$PG_DIR/env"
export ROSTER_TEST_POSTGRES_URL

log "building: cargo build --release -p roster-server --bin roster-server -p roster-e2e --example load"
(cd "$ROOT" && cargo build --release -p roster-server --bin roster-server -p roster-e2e --example load) >&2
[[ -x $DRIVER ]] || { log "error: the build left no $DRIVER"; exit 2; }

status=0
log "run 1 of 2: steady"
"$DRIVER" "$@" || status=$?
log "run 2 of 2: a replica killed and restarted half-way"
restart_status=0
"$DRIVER" "$@" --restart || restart_status=$?
# A run that could not be made outranks a missed target.
for s in "$status" "$restart_status"; do
  if (( s != 0 && s != 3 )); then
    exit "$s"
  fi
done
(( status == 0 && restart_status == 0 )) || exit 3
