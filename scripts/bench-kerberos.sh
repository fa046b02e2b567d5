#!/usr/bin/env bash
# One Kerberos ticket renewal round trip against a real MIT KDC on
# loopback, median of 50: `evergreen renew` of a kerberos credential (the
# running engine runs `kinit -R` and reads the cache back) beside `kinit -R`
# itself (what a user, or krenew, runs).
# usage: scripts/bench-kerberos.sh [--quick]   (--quick: 10 rounds, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=50
[ "${1:-}" = "--quick" ] && ROUNDS=10
source scripts/bench-common.sh
bench_start
port=$(free_port)
cat > "$work/krb5.conf" <<CONF
[libdefaults]
 default_realm = BENCH.TEST
 dns_lookup_kdc = false
 dns_lookup_realm = false
 udp_preference_limit = 1
[realms]
 BENCH.TEST = {
  kdc = 127.0.0.1:$port
 }
CONF
cat > "$work/kdc.conf" <<CONF
[realms]
 BENCH.TEST = {
  database_name = $work/principal
  key_stash_file = $work/stash
  kdc_listen = 127.0.0.1:$port
  kdc_tcp_listen = 127.0.0.1:$port
  max_life = 10h
  max_renewable_life = 7d
 }
[logging]
 kdc = FILE:$work/kdc.log
CONF
export KRB5_CONFIG=$work/krb5.conf KRB5_KDC_PROFILE=$work/kdc.conf
PATH=$PATH:/usr/sbin
kdb5_util create -s -P bench-master -r BENCH.TEST >/dev/null 2>&1
kadmin.local -q "addprinc -pw bench -maxrenewlife 7d alice" >/dev/null 2>&1
kadmin.local -q "modprinc -maxrenewlife 7d krbtgt/BENCH.TEST@BENCH.TEST" >/dev/null 2>&1
krb5kdc -n > "$work/kdc.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "starting" "$work/kdc.out" && break; sleep 0.1; done
echo bench | kinit -l 10h -r 7d -c "FILE:$work/eg-cc" alice >/dev/null
echo bench | kinit -l 10h -r 7d -c "FILE:$work/kinit-cc" alice >/dev/null
cat > "$work/config.toml" <<TOML
[[credential]]
name = "tgt"
kind = "kerberos"
cache = "FILE:$work/eg-cc"
krb5_config = "$work/krb5.conf"
TOML
export EVERGREEN_CONFIG=$work/config.toml EVERGREEN_DATA_DIR=$work/data EVERGREEN_RUNTIME_DIR=$work/run
"$BIN" run > "$work/eg.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do "$BIN" status tgt >/dev/null 2>&1 && break; sleep 0.1; done

read -r eg_ms kinit_ms < <(python3 - "$BIN" "$work" "$ROUNDS" <<'PY'
import statistics, subprocess, sys, time
bin_, work, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def median_ms(cmd):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
print(f"{median_ms([bin_, 'renew', 'tgt']):.1f} {median_ms(['kinit', '-R', '-c', f'FILE:{work}/kinit-cc']):.1f}")
PY
)
echo "kerberos renewal round trip, median of $ROUNDS: evergreen renew $eg_ms ms; kinit -R $kinit_ms ms"
[ "$ROUNDS" = 50 ] || exit 0
ver=$(dpkg-query -W -f '${Version}' krb5-kdc 2>/dev/null || echo unknown)
python3 scripts/bench_section.py "Kerberos: a renewal round trip" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-kerberos.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, MIT Kerberos $ver (a KDC of its own realm on loopback).

Median wall time of $ROUNDS rounds, each a new process. \`evergreen renew tgt\` asks the running engine (release
build) to renew a \`kerberos\` credential: it runs MIT's \`kinit -R\` on the cache and reads the ticket back from the
file. \`kinit -R\` alone is what a user, or a \`krenew\` loop, runs; Evergreen's round trip is that plus its socket,
its check of the new ticket and its bookkeeping.

| command | one renewal (median of $ROUNDS) |
|---|---|
| \`evergreen renew tgt\` | $eg_ms ms |
| \`kinit -R -c FILE:…\` | $kinit_ms ms |
MD
