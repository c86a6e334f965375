#!/usr/bin/env bash
# test.sh - run every Roster test, installing and starting what they need.
#
# Usage: scripts/test.sh [extra cargo test arguments]
#
# On a fresh Debian machine (as root) this installs Samba AD DC, OpenLDAP
# tools and PostgreSQL from Debian if they are missing, provisions a
# throw-away Samba AD domain controller on 127.0.0.1 (LDAP 389, LDAPS 636
# with a test CA) and loads the fixture directory, starts PostgreSQL on
# 127.0.0.1:55432, checks formatting, builds the workspace, runs clippy
# with warnings denied and runs `cargo test --workspace`
# with the services' coordinates in ROSTER_TEST_* variables. Everything it
# started is stopped and removed on exit, whatever happens.
#
# First, scripts/check-scripts.py checks the scripts: every scripts/*.ps1
# parses (tree-sitter), the systemd unit passes systemd-analyze verify, the
# shell scripts pass bash -n and shellcheck. Its tools come from Debian
# (the shellcheck and systemd packages) and PyPI (tree-sitter and
# tree-sitter-powershell, pinned below, in the virtual environment that
# schemathesis uses).
#
# A second domain of two replicating DCs (127.0.0.4 and 127.0.0.5, joined)
# serves the test that switches the agent to another DC of the same domain.
#
# schemathesis (PyPI, the version pinned below) goes into a virtual
# environment under ${ROSTER_TOOLS_DIR:-~/.cache/roster-tools}, kept between
# runs; the end-to-end suite runs it against a live server for about a minute.
# The browser tests get Debian's chromium and chromium-driver and axe-core
# (npm, the version pinned below, under the same directory), named in
# ROSTER_TEST_CHROMIUM, ROSTER_TEST_CHROMEDRIVER and ROSTER_TEST_AXE_JS.
#
# The DCs and PostgreSQL are started once and shared by all tests; each test
# makes its own tenant, job, OU or database, so tests stay independent.
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
log() { echo "test.sh: $*" >&2; }

command -v cargo >/dev/null || { log "cargo is not installed (the Rust toolchain comes with the machine image)"; exit 1; }
scripts/samba-dc.sh install
scripts/postgres.sh install

# Property-based contract testing (tests/schemathesis.rs).
SCHEMATHESIS_VERSION=4.32.5
tools_dir=${ROSTER_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roster-tools}
ROSTER_TEST_SCHEMATHESIS=$tools_dir/venv/bin/schemathesis
if ! "$ROSTER_TEST_SCHEMATHESIS" --version 2>/dev/null | grep -qx "schemathesis, version $SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $tools_dir/venv"
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv >/dev/null
    fi
    rm -rf "$tools_dir/venv"
    python3 -m venv "$tools_dir/venv"
    "$tools_dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
export ROSTER_TEST_SCHEMATHESIS

# A real browser for the console's tests (tests/browser.rs): Debian's Chromium
# and its chromedriver (never a browser download), and axe-core from npm.
AXE_CORE_VERSION=4.14.1
browser_packages=()
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || browser_packages+=(chromium chromium-driver)
command -v npm >/dev/null || browser_packages+=(nodejs npm)
if (( ${#browser_packages[@]} )); then
    log "installing ${browser_packages[*]} from Debian"
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${browser_packages[@]}" >/dev/null
fi
axe_dir=$tools_dir/npm/node_modules/axe-core
if [[ $(node -p 'require(process.argv[1]).version' "$axe_dir/package.json" 2>/dev/null) != "$AXE_CORE_VERSION" ]]; then
    log "installing axe-core $AXE_CORE_VERSION into $tools_dir/npm"
    npm install --prefix "$tools_dir/npm" --no-audit --no-fund --silent "axe-core@$AXE_CORE_VERSION" >/dev/null
fi
export ROSTER_TEST_CHROMIUM=/usr/bin/chromium ROSTER_TEST_CHROMEDRIVER=/usr/bin/chromedriver ROSTER_TEST_AXE_JS=$axe_dir/axe.min.js

# Static checks of the scripts (scripts/check-scripts.py), before anything starts.
TREE_SITTER_VERSION=0.26.1
TREE_SITTER_POWERSHELL_VERSION=0.26.4
if ! "$tools_dir/venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('tree-sitter') != '$TREE_SITTER_VERSION' or m.version('tree-sitter-powershell') != '$TREE_SITTER_POWERSHELL_VERSION')" 2>/dev/null; then
    log "installing tree-sitter $TREE_SITTER_VERSION and tree-sitter-powershell $TREE_SITTER_POWERSHELL_VERSION into $tools_dir/venv"
    "$tools_dir/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-powershell==$TREE_SITTER_POWERSHELL_VERSION"
fi
if ! command -v shellcheck >/dev/null || ! command -v systemd-analyze >/dev/null; then
    log "installing shellcheck and systemd (for systemd-analyze) from Debian"
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y shellcheck systemd >/dev/null
fi
"$tools_dir/venv/bin/python" scripts/check-scripts.py || { log "the scripts do not pass their checks (above)"; exit 1; }

dc_dir=$(mktemp -d /tmp/roster-dc.XXXXXX)
pair_a=$(mktemp -d /tmp/roster-dca.XXXXXX)
pair_b=$(mktemp -d /tmp/roster-dcb.XXXXXX)
pg_dir=$(mktemp -d /tmp/roster-pg.XXXXXX)
cleanup() {
    local status=$?
    scripts/samba-dc.sh stop "$pair_b" >/dev/null 2>&1 || true
    scripts/samba-dc.sh stop "$pair_a" >/dev/null 2>&1 || true
    scripts/samba-dc.sh stop "$dc_dir" >/dev/null 2>&1 || true
    scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$dc_dir" "$pair_a" "$pair_b" "$pg_dir" "$dc_dir.log" "$pair_a.log"
    log "finished in $(( $(date +%s) - started )) s with status $status"
    exit "$status"
}
trap cleanup EXIT INT TERM

# The DC provisions and loads while cargo builds.
(scripts/samba-dc.sh start "$dc_dir" && scripts/samba-dc.sh load-fixture "$dc_dir") > "$dc_dir.log" 2>&1 &
dc_job=$!
(DC_IP=127.0.0.4 DC_REPLICATION=1 scripts/samba-dc.sh start "$pair_a" \
    && DC_IP=127.0.0.5 scripts/samba-dc.sh join "$pair_b" "$pair_a") > "$pair_a.log" 2>&1 &
pair_job=$!
scripts/postgres.sh start "$pg_dir"
if cargo fmt --version >/dev/null 2>&1; then
    cargo fmt --all --check || { log "code is not formatted: run cargo fmt"; exit 1; }
fi
# A clean clone gains nothing from incremental compilation, and its files are a large part of
# the target folder.
[[ ${CI:-} == true ]] && export CARGO_INCREMENTAL=0
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings || { log "clippy found warnings: fix them (a local #[allow] carries a comment saying why)"; exit 1; }
if ! wait "$dc_job"; then
    cat "$dc_dir.log" >&2
    log "the Samba AD DC did not start"
    exit 1
fi
rm -f "$dc_dir.log"
if ! wait "$pair_job"; then
    cat "$pair_a.log" >&2
    log "the pair of replicating Samba DCs did not start"
    exit 1
fi
rm -f "$pair_a.log"

# The pair's coordinates, renamed (their env files use the same names).
ROSTER_TEST_DC_A_LDAPS_URL=$(. "$pair_a/env" && echo "$ROSTER_TEST_LDAPS_URL")
ROSTER_TEST_DC_B_LDAPS_URL=$(. "$pair_b/env" && echo "$ROSTER_TEST_LDAPS_URL")
ROSTER_TEST_DC_A_LDAP_URL=$(. "$pair_a/env" && echo "$ROSTER_TEST_LDAP_URL")
ROSTER_TEST_DC_B_LDAP_URL=$(. "$pair_b/env" && echo "$ROSTER_TEST_LDAP_URL")
ROSTER_TEST_DC_PAIR_CA_FILE=$(. "$pair_a/env" && echo "$ROSTER_TEST_LDAP_CA_FILE")
export ROSTER_TEST_DC_A_LDAPS_URL ROSTER_TEST_DC_B_LDAPS_URL ROSTER_TEST_DC_A_LDAP_URL ROSTER_TEST_DC_B_LDAP_URL ROSTER_TEST_DC_PAIR_CA_FILE
# shellcheck disable=SC1091
. "$dc_dir/env"
# shellcheck disable=SC1091
. "$pg_dir/env"
export ROSTER_TEST_LDAP_URL ROSTER_TEST_LDAPS_URL ROSTER_TEST_LDAP_CA_FILE ROSTER_TEST_LDAP_BIND_DN \
    ROSTER_TEST_LDAP_PASSWORD ROSTER_TEST_LDAP_BASE_DN ROSTER_TEST_SAMBA_DIR ROSTER_TEST_POSTGRES_URL

cargo test --workspace --locked "$@"
