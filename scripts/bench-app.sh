#!/usr/bin/env bash
# The tray app beside the headless engine: cold start, memory, idle CPU,
# request-to-window latency. Writes its section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm run --silent build >/dev/null)
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli -p evergreen-app --quiet
out=$(flock /tmp/evergreen-build.lock cargo bench -p evergreen-tests --bench app --quiet 2>/dev/null)
echo "$out"
echo "$out" | python3 scripts/bench_section.py "Tray app: start, memory, idle, latency" docs/benchmarks.md
