#!/usr/bin/env bash
# The fleet benchmarks (crates/sandbox/src/bin/fleet-bench.rs), all on 127.0.0.1 against an
# in-process evergreen-sandbox: a herd of 1,000 certctl agents started at once, a nixfleet
# renewal round trip, sandbox heartbeat throughput on kept-alive TLS 1.3 connections.
# usage: scripts/bench-fleet.sh [--quick]   (--quick: 100 agents, small counts; docs not updated)
set -euo pipefail
cd "$(dirname "$0")/.."
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-sandbox --bin fleet-bench --quiet
out=$(mktemp); trap 'rm -f "$out"' EXIT
if [ "${1:-}" = "--quick" ]; then
  target/release/fleet-bench --quick
  exit 0
fi
target/release/fleet-bench --markdown | tee "$out"
python3 scripts/bench_section.py "Fleet: herd, nixfleet renewal, sandbox throughput" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-fleet.sh\`, i.e. \`cargo run --release -p evergreen-sandbox --bin fleet-bench -- --markdown\`). $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs).

Everything runs in one process on 127.0.0.1, against an in-process \`evergreen-sandbox\` (TLS 1.3, its own CA);
every benchmark starts its own sandbox and is bounded in count and time.

- **herd**: 1,000 certctl credentials in one engine scheduler (the real certctl source, real TLS), all started
  at the same instant, heartbeats every 10 s and polls every 5 s (certctl's own 60 s and 30 s scaled down 6×); the
  sandbox timestamps every request, and heartbeat arrivals are counted per one-second bucket over 30 s. Without
  the startup jitter all 1,000 would land in the first second (10× the mean).
- **renewal**: \`Nixfleet::renew\` against the sandbox, timed end to end: read the SSH host key, CSR signed with it,
  a new mTLS connection presenting the current certificate, the sandbox signs, the reply is checked, \`.bak\` and
  atomic rewrite (with fsync); one warm-up, then 50 runs.
- **throughput**: 32 concurrent \`POST /api/v1/agents/{id}/heartbeat\` (Bearer key, JSON body) through the one
  HTTP client builder (rustls, TLS 1.3), connections kept alive (TLS sessions reused: the handshake count is
  shown); 20,000 requests or 20 s, whichever comes first.

$(sed -n '/^| benchmark/,$p' "$out")
MD
