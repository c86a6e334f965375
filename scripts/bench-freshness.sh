#!/usr/bin/env bash
# bench-freshness.sh - how soon an AD change reaches the admin API with
# continuous sync, and what an idle agent and a one-user change cost.
#
# Usage: scripts/bench-freshness.sh [--help]
#
# Starts a throw-away Samba AD DC (scripts/samba-dc.sh, on BENCH_DC_IP,
# default 127.0.0.7, so it never meets scripts/test.sh's DCs), builds the
# release roster-server, roster-agent and tests/bench/freshness.rs
# (`cargo build --release -p roster-server -p roster-agent`, then
# `-p roster-e2e --example bench-freshness`) and runs the benchmark against it: a job of
# 20 users switched to `sync_mode: continuous`, its agent in `run`, first
# with AD's change notifications, then with --no-notifications (polling
# highestCommittedUSN every 15 s, the default). For each mode it prints:
#   - p50 and p95 of the time from `ldapmodify` disabling (or enabling) a
#     user to `GET /api/v1/users` showing it, over BENCH_SAMPLES changes
#     (default 20); targets: p95 <= 10 s with notifications, <= 60 s polling;
#   - an idle stretch of BENCH_IDLE_SECS (default 60): snapshots pushed
#     (target 0) and the LDAP bytes per USN poll (one rootDSE read);
#   - the median bytes the agent sends the server per one-user change,
#     counted by a TCP proxy on its connection (target < 4096).
# A report, not a test: a missed target prints FAIL and the script exits 0;
# anything broken exits non-zero. Everything it started is stopped and
# removed on exit. Needs root (the DC binds port 389), samba and ldap-utils
# (scripts/samba-dc.sh install fetches them from Debian).
#
# Environment: BENCH_DC_IP (127.0.0.7), BENCH_SAMPLES (20),
# BENCH_IDLE_SECS (60), CARGO_TARGET_DIR (default target/).
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
  sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
  exit 0
fi
[[ $# -eq 0 ]] || { echo "bench-freshness.sh: unexpected argument: $1 (see --help)" >&2; exit 2; }

log() { echo "bench-freshness.sh: $*" >&2; }
die() { echo "bench-freshness.sh: error: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SAMBA_DC=$ROOT/scripts/samba-dc.sh
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BENCH=$TARGET_DIR/release/examples/bench-freshness
export BENCH_SAMPLES=${BENCH_SAMPLES:-20} BENCH_IDLE_SECS=${BENCH_IDLE_SECS:-60}
BENCH_DC_IP=${BENCH_DC_IP:-127.0.0.7}
for number in "$BENCH_SAMPLES" "$BENCH_IDLE_SECS"; do
  [[ $number =~ ^[1-9][0-9]*$ ]] || die "BENCH_SAMPLES and BENCH_IDLE_SECS must be positive integers"
done
[[ $(id -u) -eq 0 ]] || die "run as root (the DC binds port 389)"

DC_DIR=$(mktemp -d /tmp/roster-bench-freshness.XXXXXX)
cleanup() {
  local status=$?
  "$SAMBA_DC" stop "$DC_DIR" >/dev/null 2>&1 || log "warning: could not stop the DC in $DC_DIR"
  rm -rf "$DC_DIR"
  exit "$status"
}
trap cleanup EXIT INT TERM

"$SAMBA_DC" install
log "starting a Samba AD DC on $BENCH_DC_IP (while cargo builds)"
DC_IP=$BENCH_DC_IP "$SAMBA_DC" start "$DC_DIR" > "$DC_DIR.log" 2>&1 &
dc_job=$!
log "building: cargo build --release -p roster-server -p roster-agent, and -p roster-e2e --example bench-freshness"
(cd "$ROOT" && cargo build --release -p roster-server -p roster-agent && cargo build --release -p roster-e2e --example bench-freshness) >&2
for built in "$BENCH" "$TARGET_DIR/release/roster-server" "$TARGET_DIR/release/roster-agent"; do
  [[ -x $built ]] || die "the build left no $built"
done
if ! wait "$dc_job"; then
  cat "$DC_DIR.log" >&2
  rm -f "$DC_DIR.log"
  die "the DC did not start"
fi
rm -f "$DC_DIR.log"
# shellcheck disable=SC1091
. "$DC_DIR/env"
export ROSTER_TEST_LDAP_URL ROSTER_TEST_LDAPS_URL ROSTER_TEST_LDAP_CA_FILE ROSTER_TEST_LDAP_BIND_DN \
  ROSTER_TEST_LDAP_PASSWORD ROSTER_TEST_LDAP_BASE_DN ROSTER_TEST_SAMBA_DIR

log "running: $BENCH (samples $BENCH_SAMPLES, idle $BENCH_IDLE_SECS s)"
started=$(date +%s)
"$BENCH"
log "done in $(( $(date +%s) - started )) s"
