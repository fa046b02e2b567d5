#!/usr/bin/env bash
# Idle RSS of `evergreen run` holding one Vault token and one PKI certificate,
# beside `bao agent` (the alternative a user would pick) keeping the same token
# alive, alone and with a pkiCert template for the same certificate. One dev
# server, one script, the same minute.
# usage: scripts/bench-vault.sh [--quick]   (--quick: 5 s settle, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
SETTLE=30
[ "${1:-}" = "--quick" ] && SETTLE=5

source scripts/bench-common.sh
bench_start
start_bao
root secrets enable pki
root write pki/root/generate/internal common_name="Bench Root" ttl=720h
root write pki/roles/ws allow_any_name=true key_type=any max_ttl=1h ttl=1h
mint() { (umask 077; BAO_TOKEN=bench-root "$BAO" token create -ttl=1h -field=token > "$1"); }

rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

# Evergreen: one token, one PKI certificate (local key + CSR).
mint "$work/eg-token"
cat > "$work/config.toml" <<TOML
[[credential]]
name = "login"
kind = "vault_token"
address = "$BAO_ADDR"
token_file = "$work/eg-token"

[[credential]]
name = "ws"
kind = "vault_pki"
address = "$BAO_ADDR"
token_file = "$work/eg-token"
role = "ws"
common_name = "ws.bench.test"
path = "$work/eg/ws.pem"
TOML
EVERGREEN_CONFIG=$work/config.toml EVERGREEN_DATA_DIR=$work/data EVERGREEN_RUNTIME_DIR=$work/run \
  "$BIN" run > "$work/eg.log" 2>&1 &
eg=$!; pids+=($eg)

# bao agent, token only, and token + pkiCert template.
agent() {
  local name=$1 template=$2
  mint "$work/$name-token"
  cat > "$work/$name.hcl" <<HCL
vault { address = "$BAO_ADDR" }
auto_auth {
  method "token_file" { config = { token_file_path = "$work/$name-token" } }
  sink "file" { config = { path = "$work/$name-sink" } }
}
$template
HCL
  "$BAO" agent -config="$work/$name.hcl" > "$work/$name.log" 2>&1 &
  echo $!
}
ag1=$(agent agent-token "")
ag2=$(agent agent-pki 'template {
  contents = "{{ with pkiCert \"pki/issue/ws\" \"common_name=ws.bench.test\" \"ttl=1h\" \"key_type=ec\" \"key_bits=256\" }}{{ .Cert }}{{ .Key }}{{ end }}"
  destination = "'"$work"'/agent-ws.pem"
}')
# agent() ran in a command substitution: record its pids here, where the trap sees them.
pids+=("$ag1" "$ag2")

for _ in $(seq 200); do
  [ -s "$work/eg/ws.pem" ] && [ -s "$work/agent-token-sink" ] && [ -s "$work/agent-ws.pem" ] && break
  sleep 0.1
done
[ -s "$work/eg/ws.pem" ] || { echo "evergreen did not issue the certificate"; tail "$work/eg.log"; exit 1; }
[ -s "$work/agent-ws.pem" ] || { echo "bao agent did not render the certificate"; tail "$work/agent-pki.log"; exit 1; }
sleep "$SETTLE"
r_eg=$(rss_mb $eg); r_a1=$(rss_mb "$ag1"); r_a2=$(rss_mb "$ag2")
echo "idle RSS after ${SETTLE}s: evergreen (token + PKI cert) $r_eg MB; bao agent (token) $r_a1 MB; bao agent (token + pkiCert) $r_a2 MB"
[ "$SETTLE" = 30 ] || exit 0
ver=$("$BAO" version | awk '{print $2}')
python3 scripts/bench_section.py "Vault: evergreen run beside bao agent" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-vault.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, OpenBao $ver (\`bao server -dev\` on loopback).

Each process keeps a 1-hour token alive against the same dev server; RSS is read from \`/proc/PID/status\` ${SETTLE} s
after the certificate files first appear. Evergreen is the release build of \`evergreen run\` holding one
\`vault_token\` and one \`vault_pki\` credential (key made locally, CSR signed). \`bao agent\` uses \`auto_auth\`
with the \`token_file\` method and a file sink, once alone and once with a \`pkiCert\` template rendering the same certificate.

| process | what it keeps alive | idle RSS |
|---|---|---|
| \`evergreen run\` | token + PKI certificate | $r_eg MB |
| \`bao agent\` | token | $r_a1 MB |
| \`bao agent\` | token + PKI certificate (template) | $r_a2 MB |
MD
