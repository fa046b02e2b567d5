#!/usr/bin/env bash
# `evergreen check DIR` against the alternatives a user would reach for, on the
# same 10,000 generated certificates: a shell loop of `openssl x509 -enddate`
# and a Python script using `cryptography`.
# usage: scripts/bench-check.sh [--quick]   (--quick: 1,000 certificates, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
N=10000
[ "${1:-}" = "--quick" ] && N=1000

flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
BIN=$PWD/target/release/evergreen
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 scripts/gen_certs.py "$N" "$work/certs"

cat > "$work/openssl-loop.sh" <<'SH'
for f in "$1"/*.pem; do openssl x509 -noout -enddate -in "$f"; done
SH
cat > "$work/py-check.py" <<'PY'
import os, sys
from cryptography import x509
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    with open(os.path.join(d, name), "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    print(name, c.not_valid_after_utc.isoformat())
PY

# Best of RUNS wall-clock runs of a command, in seconds. The output of the
# last run is kept in $work/out-NAME so each tool can be checked to have
# reported every certificate.
best() {
  local name=$1 runs=$2 b=""; shift 2
  for _ in $(seq "$runs"); do
    local s e t
    s=$(date +%s.%N)
    "$@" > "$work/out-$name" 2>&1 || true
    e=$(date +%s.%N)
    t=$(python3 -c "print($e-$s)")
    b=$(python3 -c "print(min($t, ${b:-$t}))")
  done
  echo "$b"
}

t_eg=$(best evergreen 5 "$BIN" check "$work/certs")
t_os=$(best openssl 1 bash "$work/openssl-loop.sh" "$work/certs")
t_py=$(best python 3 python3 "$work/py-check.py" "$work/certs")
"$BIN" check "$work/certs" --json | python3 -c "import json,sys; n=len(json.load(sys.stdin)); assert n==$N, n"
grep -c "bench.invalid" "$work/out-evergreen" | grep -qx "$N" || { echo "evergreen check did not list $N certificates"; exit 1; }
[ "$(grep -c '^notAfter=' "$work/out-openssl")" = "$N" ] || { echo "the openssl loop did not read $N certificates"; exit 1; }
[ "$(wc -l < "$work/out-python")" = "$N" ] || { echo "the Python script did not read $N certificates"; exit 1; }
fmt() { python3 -c "print(f'{$1:.2f}')"; }
r_os=$(python3 -c "print(f'{$t_os/$t_eg:.0f}')")
r_py=$(python3 -c "print(f'{$t_py/$t_eg:.1f}')")
ok_os=$(python3 -c "print('yes' if $t_os/$t_eg >= 50 else 'NO')")
ok_py=$(python3 -c "print('yes' if $t_py/$t_eg >= 3 else 'NO')")
echo "check $N certificates: evergreen $(fmt "$t_eg") s, openssl loop $(fmt "$t_os") s (${r_os}x, goal >= 50: $ok_os), python cryptography $(fmt "$t_py") s (${r_py}x, goal >= 3: $ok_py)"
[ "$N" = 10000 ] || exit 0
python3 scripts/bench_section.py "evergreen check on 10,000 certificates" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-check.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs).

The same directory of 10,000 generated PEM certificates (ECDSA P-256, one CA) is read by three tools; each
time is the best of several wall-clock runs (Evergreen 5, Python 3, the openssl loop 1: it runs for minutes)
with output written to a file, and each tool is then checked to have
reported all 10,000. \`evergreen check DIR\` is the release build (parallel over the cores, table output);
the openssl loop is \`for f in DIR/*.pem; do openssl x509 -noout -enddate -in "\$f"; done\`; the Python
script loads each file with \`cryptography.x509.load_pem_x509_certificate\` and prints \`not_valid_after_utc\`.

| tool | time | Evergreen is | goal |
|---|---|---|---|
| \`evergreen check\` | $(fmt "$t_eg") s | | |
| openssl loop | $(fmt "$t_os") s | ${r_os}× faster | ≥ 50× ($ok_os) |
| Python \`cryptography\` | $(fmt "$t_py") s | ${r_py}× faster | ≥ 3× ($ok_py) |
MD
