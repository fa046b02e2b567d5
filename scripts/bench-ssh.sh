#!/usr/bin/env bash
# One SSH certificate renewal round trip against OpenBao's SSH engine on
# loopback, median of 50: `evergreen renew` of an ssh_cert credential (the
# running engine fetches the CA key, signs, checks and writes the
# certificate), beside `bao write ssh/sign/ROLE` (what a user would script
# instead: sign only, no check, no atomic write).
# usage: scripts/bench-ssh.sh [--quick]   (--quick: 10 rounds, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=50
[ "${1:-}" = "--quick" ] && ROUNDS=10

source scripts/bench-common.sh
bench_start
start_bao
root secrets enable ssh
root write ssh/config/ca generate_signing_key=true key_type=ed25519
echo '{"key_type":"ca","allow_user_certificates":true,"allowed_users":"*","default_user":"bench","ttl":"1h","max_ttl":"1h"}' \
  | BAO_TOKEN=bench-root "$BAO" write ssh/roles/dev - >/dev/null
(umask 077; BAO_TOKEN=bench-root "$BAO" token create -ttl=2h -field=token > "$work/token")
mkdir -m 700 "$work/ssh"
cat > "$work/config.toml" <<TOML
[[credential]]
name = "ssh"
kind = "ssh_cert"
address = "$BAO_ADDR"
token_file = "$work/token"
role = "dev"
principals = ["bench"]
key_path = "$work/ssh/id_ed25519"
add_to_agent = false
TOML
export EVERGREEN_CONFIG=$work/config.toml EVERGREEN_DATA_DIR=$work/data EVERGREEN_RUNTIME_DIR=$work/run
"$BIN" run > "$work/eg.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/ssh/id_ed25519-cert.pub" ] && break; sleep 0.1; done
[ -s "$work/ssh/id_ed25519-cert.pub" ] || { echo "evergreen did not sign the key"; tail "$work/eg.log"; exit 1; }
ssh-keygen -q -t ed25519 -N "" -f "$work/bao_key"

read -r eg_ms bao_ms < <(python3 - "$BIN" "$BAO" "$work" "$ROUNDS" <<'PY'
import os, statistics, subprocess, sys, time
bin_, bao, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def median_ms(cmd, env=None):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
eg = median_ms([bin_, "renew", "ssh"])
env = dict(os.environ, BAO_TOKEN=open(f"{work}/token").read().strip())
b = median_ms([bao, "write", "-field=signed_key", "ssh/sign/dev", f"public_key=@{work}/bao_key.pub", "valid_principals=bench"], env)
print(f"{eg:.1f} {b:.1f}")
PY
)
echo "ssh_cert renewal round trip, median of $ROUNDS: evergreen renew $eg_ms ms; bao write ssh/sign $bao_ms ms"
[ "$ROUNDS" = 50 ] || exit 0
ver=$("$BAO" version | awk '{print $2}')
python3 scripts/bench_section.py "SSH certificates: a renewal round trip" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-ssh.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, OpenBao $ver (\`bao server -dev\` on loopback, SSH engine with an ed25519 CA).

Median wall time of $ROUNDS rounds, each a new process, as a user or a script would run it. \`evergreen renew ssh\`
asks the running engine (release build) over its socket to renew an \`ssh_cert\` credential: read the key, fetch
the engine's CA key, sign, check the reply (our key, the principals, the CA's signature, the validity) and write the
certificate atomically, then answer. \`bao write ssh/sign/dev\` only signs and prints the certificate; most of its
time is the start of the \`bao\` program itself, which is what a script that renews this way pays each time.

| command | one renewal (median of $ROUNDS) |
|---|---|
| \`evergreen renew ssh\` | $eg_ms ms |
| \`bao write -field=signed_key ssh/sign/dev …\` | $bao_ms ms |
MD
