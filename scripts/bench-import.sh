#!/usr/bin/env bash
# bench-import.sh - the import's speed against SQLite's own bulk insert and plain read.
#
# Usage: scripts/bench-import.sh [--users N] [--groups G] [--runs R] [--dir DIR] [--strict] [--help]
#
# Builds server/examples/bench-import.rs in release mode
# (`cargo build --release -p roster-server --example bench-import`) and
# runs it, passing the options on. In one process, on SQLite only (no
# service needed), each of R runs (default 3) on fresh databases:
#   - sets up a job's directory state as a committed full snapshot leaves
#     it: N users (default 100,000) in G site groups (default 100), each
#     group linked to a basic access (not timed);
#   - times a full import (`import::run_session`), checks it created every
#     linked user;
#   - times a no-change re-import of the same state, checks it changed
#     nothing, and counts the user rows it wrote;
#   - times the read baseline: a plain read, through SQLite's C API
#     (rusqlite) in one read transaction, of exactly the rows the re-import
#     compares (the state's groups, members and directory users, the job's
#     stored users), set up as the import's connection is;
#   - times the insert baseline: a bulk insert, into a fresh migrated
#     database, of exactly the rows the full import wrote (users,
#     user_accesses, session_changes) through SQLite's C API, one prepared
#     INSERT per table in one transaction.
# It prints the medians and their ratios against the targets:
#   - full import <= 1.5 x the bulk insert,
#   - no-change re-import <= 1.5 x the plain read, and 0 user rows written,
# with each run's ratios, the database's size per 100,000 users, CPU time
# and peak RSS per phase (informative).
# It is a report, not a test: a missed target prints FAIL and exits 0,
# unless --strict (then 3). A failed check (an import that fails, creates
# the wrong users or changes something on a no-change run) always exits
# non-zero.
#
# Options: --users N, --groups G, --runs R (positive integers);
# --dir DIR keeps the databases in DIR/run-K (default: a temporary
# directory, removed afterwards); --strict as above.
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

args=()
while [[ $# -gt 0 ]]; do
  case $1 in
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

log "building: cargo build --release -p roster-server --example bench-import"
(cd "$ROOT" && cargo build --release -p roster-server --example bench-import) >&2
[[ -x $BIN ]] || die "the build left no $BIN"

log "running: $BIN ${args[*]:-}"
started=$(date +%s)
status=0
"$BIN" "${args[@]}" || status=$?
log "done in $(( $(date +%s) - started )) s (exit $status)"
exit "$status"
