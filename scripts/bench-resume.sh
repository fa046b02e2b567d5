#!/usr/bin/env bash
# Offline and back: wake-up-to-renewal with and without logind (libfaketime moves the
# wall clock 5 h) and network-up-to-renewal (a network namespace whose link
# goes down and up), each the median of several runs of the release build.
# Needs root for the namespace, as CI has.
# usage: scripts/bench-resume.sh [--quick]   (--quick: one run each, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=5
[ "${1:-}" = "--quick" ] && RUNS=1
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
out=$(python3 scripts/bench_resume.py "$PWD/target/release/evergreen" "$RUNS")
# With logind: a private system bus on which the bench owns logind's name (Rust, for zbus).
l=$(flock /tmp/evergreen-build.lock cargo bench -p evergreen-tests --bench resume --quiet 2>/dev/null | tail -1)
get() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(f'{d[\"$1\"]:.2f}')" "$out"; }
ok() { python3 -c "print('yes' if $1 < 2 else 'NO')"; }
r=$(get resume_median); n=$(get network_median)
echo "resume with logind: renewal $l s after PrepareForSleep(false) (goal < 2: $(ok "$l")); without logind: renewal $r s after the wall clock moved (goal < 2: $(ok "$r")); network up: renewal $n s after the link came up (goal < 2: $(ok "$n"))"
[ "$RUNS" = 5 ] || exit 0
python3 scripts/bench_section.py "Offline and back: resume and network" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-resume.sh\`, i.e. \`scripts/bench_resume.py\`). $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs).

The release build of \`evergreen run\` with one certificate renewed by a command; times are on the
monotonic clock from the change to the engine's \`renewal_started\` event, the median of $RUNS runs.
The engine runs under libfaketime and its wall clock moves 5 h ahead while its monotonic clock does
not, which is what a suspend looks like to a process; the certificate is then due. With logind, a
private system bus carries \`PrepareForSleep(true)\` before the move and \`PrepareForSleep(false)\`
after it, and the time runs from the latter. For the network, the engine runs in a network namespace joined by a veth pair, its renewal needs a
TCP server on the other side, fails while the link is down (offline, no notification) and the link then
comes back up. (Before: the wake-up was noticed by a drift check once a minute, up to 60 s; after the
network came back a failure waited out its backoff, 30 s and more.)

| measure | result | goal |
|---|---|---|
| wake-up to renewal, with logind (median of 5, \`tests/benches/resume.rs\`) | $l s | < 2 s ($(ok "$l")) |
| wake-up to renewal, without logind | $r s | < 2 s ($(ok "$r")) |
| network up to renewal | $n s | < 2 s ($(ok "$n")) |
MD
