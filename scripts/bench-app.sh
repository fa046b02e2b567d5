#!/usr/bin/env bash
# The tray app beside the headless engine: cold start, memory, idle CPU,
# request-to-window latency, and the window left open (the demo, 5 and 50
# credentials). Writes its section of docs/benchmarks.md.
# usage: scripts/bench-app.sh [--window-only]  (BENCH_ONLY=demo: only the scenarios whose name holds that word)
set -euo pipefail
cd "$(dirname "$0")/.."
(cd ui && npm run --silent build >/dev/null)
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli -p evergreen-app --quiet
if [ "${1:-}" = "--window-only" ]; then
  # Only the window left open (a quick look while working on the UI); docs untouched.
  flock /tmp/evergreen-build.lock cargo bench -p evergreen-tests --bench app --quiet -- --window-only 2>/dev/null
  exit 0
fi
out=$(flock /tmp/evergreen-build.lock cargo bench -p evergreen-tests --bench app --quiet 2>/dev/null)
echo "$out"
echo "$out" | python3 scripts/bench_section.py "Tray app: start, memory, idle, latency" docs/benchmarks.md
