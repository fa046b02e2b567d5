#!/usr/bin/env bash
# The test part of `make test`: every test binary of the workspace runs, even
# after one fails (--no-fail-fast), and the run ends with a summary of each
# binary (tests passed and failed, seconds) and the name of every failed test.
# Arguments go to `cargo test` (one binary, one test:
# `scripts/test.sh --test app -- a_flapping_credential`). The whole output is kept in target/test.log.
set -uo pipefail
cd "$(dirname "$0")/.."
log=target/test.log
mkdir -p target
# Always the workspace with make test's features, so that running one binary
# (`scripts/test.sh --test app`) reuses make test's build instead of
# compiling the crates again with other features.
cargo test --workspace --features evergreen-app/bindings --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
python3 scripts/test_summary.py "$log" "$status"
