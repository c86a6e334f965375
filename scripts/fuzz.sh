#!/usr/bin/env bash
# fuzz.sh - run Roster's fuzz targets (fuzz/) for a bounded time each.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60; env FUZZ_TARGETS
#        narrows the list, e.g. FUZZ_TARGETS="chunk_decode")
#
# Targets: chunk_decode (gzip + NDJSON chunks), record_parse (one record),
# text_parsers (DNs, GUIDs, link groups, scopes). Installs cargo-fuzz from
# crates.io if missing. libFuzzer needs nightly flags; the machine's one
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1. Findings land in
# fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/.
# Not part of CI: it is a tool to run, not a test.
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
fi
seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number" >&2; exit 2; }
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in ${FUZZ_TARGETS:-chunk_decode record_parse text_parsers}; do
    echo "fuzz.sh: $target for $seconds s" >&2
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -- -max_total_time="$seconds"
done
echo "fuzz.sh: no crash found" >&2
