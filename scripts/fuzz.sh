#!/usr/bin/env bash
# make fuzz: runs each coverage-guided fuzz target (crates/fuzz) for
# FUZZ_SECONDS (default 600), starting from the seeds in crates/fuzz/seeds.
# What a run learns stays in target/fuzz-corpus/; a crash lands in
# crates/fuzz/artifacts/TARGET/ and belongs, once fixed, in
# crates/fuzz/regressions/TARGET/, which `make test` replays.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-600}
targets=${FUZZ_TARGETS:-"x509 config vault fleet"}
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "make fuzz needs a nightly Rust toolchain (libFuzzer's sanitizer flags): rustup toolchain install nightly" >&2
  exit 2
fi
command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz
mkdir -p target
for t in $targets; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  echo "fuzzing $t for ${secs}s"
  if ! cargo +nightly fuzz run --fuzz-dir crates/fuzz "$t" "$corpus" "crates/fuzz/seeds/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"target/fuzz-$t.log" 2>&1; then
    tail -40 "target/fuzz-$t.log" >&2
    echo "fuzz target $t failed; the input is in crates/fuzz/artifacts/$t/ (full log: target/fuzz-$t.log)" >&2
    exit 1
  fi
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+.*DONE" "target/fuzz-$t.log" | sed "s/^/  $t: /"
done
