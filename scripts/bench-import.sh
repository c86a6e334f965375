#!/usr/bin/env bash
# bench-import.sh - the import's speed against the database engine's own bulk load and plain read.
#
# Usage: scripts/bench-import.sh [--engine sqlite|postgres] [--postgres-url URL]
#                                [--users N] [--groups G] [--runs R] [--dir DIR] [--strict] [--help]
#
# Builds server/examples/bench-import/ in release mode
# (`cargo build --release -p roster-server --example bench-import`) and
# runs it, passing the options on. In one process, each of R runs
# (default 3) on fresh databases:
#   - sets up a job's directory state as a committed full snapshot leaves
#     it: N users (default 100,000) in G site groups (default 100), each
#     group linked to a basic access (not timed);
#   - times a full import (`import::run_session`, in a process of its own,
#     as a server runs it), checks it created every linked user and that
#     the rows it wrote are counted right;
#   - times a no-change re-import of the same state (in a process of its
#     own too), checks it changed nothing, and counts the user rows it wrote;
#   - times the read baseline: a plain read, in one read transaction, of
#     exactly the rows the re-import compares (the state's groups, members
#     and directory users, the job's stored users);
#   - times the insert baseline: a bulk load, into a fresh migrated
#     database, of exactly the rows the full import wrote (users,
#     user_accesses, session_changes), in one transaction;
#   - starts the release roster-server on the imported database and times
#     what the console asks of the job over HTTP: its structure ("Load AD
#     structure"), why a user has its access (explain), and a page of 50
#     of its users (median of 5 each, after one to warm up).
# The baselines are the engine's own: on SQLite (the default; no service
# needed) its C API (rusqlite) with one prepared INSERT per table and a
# read on a connection set up as the import's; on PostgreSQL `COPY ...
# FROM STDIN` per table and `COPY (SELECT ...) TO STDOUT`, with a
# CHECKPOINT before each timed phase.
# It prints the medians and their ratios against the targets:
#   - full import <= 1.5 x the bulk load,
#   - no-change re-import <= 1.5 x the plain read, and 0 user rows written,
#   - each import's peak RSS (its process's) under 256 MiB, and each of
#     the API's three answers under 200 ms (the targets at a million
#     users: --users 1000000 --groups 1000),
# with each run's ratios, the database's size per 100,000 users, and CPU
# time and the bench process's own peak RSS per phase (informative).
# It is a report, not a test: a missed target prints FAIL and exits 0,
# unless --strict (then 3). A failed check (an import that fails, creates
# the wrong users or changes something on a no-change run) always exits
# non-zero.
#
# Options: --engine sqlite|postgres (default sqlite); --postgres-url URL, a
# PostgreSQL server where the bench may create and drop databases as a
# superuser (default: ROSTER_BENCH_POSTGRES_URL, else the script starts a
# throw-away server of its own with scripts/postgres.sh on 127.0.0.1, port
# BENCH_PG_PORT, default 55434, and removes it afterwards); --users N,
# --groups G, --runs R (positive integers); --dir DIR keeps SQLite's
# databases in DIR/run-K (default: a temporary directory, removed
# afterwards); --strict as above.
# Environment: CARGO_TARGET_DIR (where cargo puts the build; default target/).
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
fi

log() { echo "bench-import.sh: $*" >&2; }
die() { echo "bench-import.sh: error: $*" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/examples/bench-import
SERVER=$TARGET_DIR/release/roster-server

# A PostgreSQL server of the bench's own, when given none; stopped and removed on exit.
PG_DIR=
# shellcheck disable=SC2317 # run by the trap (shellcheck sees the script's last line exit unconditionally)
cleanup() {
  local status=$?
  if [[ -n $PG_DIR ]]; then
    "$ROOT/scripts/postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || log "warning: could not stop PostgreSQL in $PG_DIR"
    rm -rf "$PG_DIR"
  fi
  exit "$status"
}
trap cleanup EXIT INT TERM

args=()
engine=sqlite
postgres_url=${ROSTER_BENCH_POSTGRES_URL:-}
while [[ $# -gt 0 ]]; do
  case $1 in
    --engine)
      [[ ${2:-} == sqlite || ${2:-} == postgres ]] || die "--engine takes sqlite or postgres (see --help)"
      engine=$2; shift 2 ;;
    --postgres-url)
      [[ -n ${2:-} ]] || die "--postgres-url needs a URL (see --help)"
      postgres_url=$2; shift 2 ;;
    --users|--groups|--runs)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "$1 needs a positive integer (see --help)"
      args+=("$1" "$2"); shift 2 ;;
    --dir)
      [[ -n ${2:-} ]] || die "--dir needs a directory (see --help)"
      args+=("$1" "$2"); shift 2 ;;
    --strict)
      args+=("$1"); shift ;;
    *)
      die "unexpected argument: $1 (see --help)" ;;
  esac
done

args+=(--engine "$engine")
if [[ $engine == postgres && -z $postgres_url ]]; then
  PG_DIR=$(mktemp -d /tmp/roster-bench-pg.XXXXXX)
  "$ROOT/scripts/postgres.sh" install
  PGPORT_TEST=${BENCH_PG_PORT:-55434} "$ROOT/scripts/postgres.sh" start "$PG_DIR"
  # shellcheck disable=SC1091
  . "$PG_DIR/env"
  postgres_url=$ROSTER_TEST_POSTGRES_URL
fi
# Passed in the environment, so the URL (it may hold a password) is not on a command line.
[[ -z $postgres_url ]] || export ROSTER_BENCH_POSTGRES_URL=$postgres_url

log "building: cargo build --release -p roster-server --bin roster-server --example bench-import"
(cd "$ROOT" && cargo build --release -p roster-server --bin roster-server --example bench-import) >&2
[[ -x $BIN ]] || die "the build left no $BIN"
[[ -x $SERVER ]] || die "the build left no $SERVER"
args+=(--server-bin "$SERVER")

log "running: $BIN ${args[*]:-}"
started=$(date +%s)
status=0
"$BIN" "${args[@]}" || status=$?
log "done in $(( $(date +%s) - started )) s (exit $status)"
exit "$status"
