#!/usr/bin/env bash
# `evergreen run` idle with 1,000 file credentials: RSS and CPU over 60 s.
# usage: scripts/bench-idle.sh [--quick]   (--quick: 100 credentials, 15 s)
set -euo pipefail
cd "$(dirname "$0")/.."
N=1000; SECS=60
[ "${1:-}" = "--quick" ] && { N=100; SECS=15; }

flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
BIN=$PWD/target/release/evergreen
work=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 scripts/gen_certs.py "$N" "$work/certs"
{
  for f in "$work"/certs/*.pem; do
    n=$(basename "$f" .pem)
    printf '[[credential]]\nname = "%s"\nkind = "x509_file"\npath = "%s"\n\n' "$n" "$f"
  done
} > "$work/config.toml"
export EVERGREEN_CONFIG=$work/config.toml EVERGREEN_DATA_DIR=$work/data EVERGREEN_RUNTIME_DIR=$work/run
"$BIN" run > "$work/run.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  c=$("$BIN" status --json 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if s["state"]=="healthy"))' 2>/dev/null || echo 0)
  [ "$c" = "$N" ] && break
  sleep 0.2
done
[ "$c" = "$N" ] || { echo "engine did not report $N healthy credentials (got $c)"; tail "$work/run.log"; exit 1; }
sleep 5   # let start-up settle before measuring idle
ticks() { awk '{print $14+$15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks); s0=$(date +%s.%N)
sleep "$SECS"
t1=$(ticks); s1=$(date +%s.%N)
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
cpu=$(python3 -c "print(f'{($t1-$t0)/$hz/($s1-$s0)*100:.3f}')")
rss=$(python3 -c "print(f'{$rss_kb/1024:.1f}')")
ok_rss=$(python3 -c "print('yes' if $rss_kb/1024 < 40 else 'NO')")
ok_cpu=$(python3 -c "print('yes' if $cpu < 0.5 else 'NO')")
echo "idle with $N credentials: RSS $rss MB (goal < 40: $ok_rss), CPU $cpu % over ${SECS}s (goal < 0.5: $ok_cpu)"
[ "$N" = 1000 ] || exit 0
python3 scripts/bench_section.py "evergreen run idle with 1,000 file credentials" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-idle.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs).

The release build of \`evergreen run\` holds 1,000 watched certificate files (90-day certificates, all healthy),
has read them all and then sits idle; RSS is read from \`/proc/PID/status\`, CPU from \`/proc/PID/stat\`
(utime + stime) over ${SECS} s.

| measure | result | goal |
|---|---|---|
| RSS | $rss MB | < 40 MB ($ok_rss) |
| CPU over ${SECS} s idle | $cpu % | < 0.5 % ($ok_cpu) |
MD
