#!/usr/bin/env bash
# Finding what expires on a workstation, median of 20: `evergreen discover
# --json` on a home prepared as the tools leave it (an SSH certificate,
# a kubeconfig user, Docker's client certificate, an AWS SSO cache, a GPG
# key with an expiring subkey) beside what a user would run to learn the
# same by hand: ssh-keygen -L, openssl x509 -enddate for each certificate,
# gpg --list-secret-keys and reading the SSO cache.
# usage: scripts/bench-discover.sh [--quick]   (--quick: 5 rounds, no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=20
[ "${1:-}" = "--quick" ] && ROUNDS=5
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
BIN=$PWD/target/release/evergreen
work=$(mktemp -d)
home=$work/home
trap 'GNUPGHOME=$home/.gnupg gpgconf --kill gpg-agent 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$home/.ssh" "$home/.kube" "$home/.docker" "$home/.aws/sso/cache" "$home/.gnupg"
chmod 700 "$home/.gnupg"
q() { "$@" >/dev/null 2>&1; }
# An SSH certificate.
q ssh-keygen -q -t ed25519 -N "" -f "$work/ca"
q ssh-keygen -q -t ed25519 -N "" -f "$home/.ssh/id_ed25519"
q ssh-keygen -q -s "$work/ca" -I alice@laptop -n alice -V -1m:+8h "$home/.ssh/id_ed25519.pub"
# Client certificates: Docker's, and a kubeconfig user's inline.
cert() { q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$2" -subj "/CN=$1" -keyout "$3.key" -out "$3.pem"; }
cert docker-client 60 "$home/.docker/cert"
mv "$home/.docker/cert.key" "$home/.docker/key.pem"
cert kubernetes-admin 365 "$work/kube"
cat > "$home/.kube/config" <<YAML
apiVersion: v1
kind: Config
contexts:
- {name: admin@prod, context: {cluster: prod, user: admin}}
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 "$work/kube.pem")
    client-key-data: $(base64 -w0 "$work/kube.key")
YAML
# An AWS IAM Identity Center session's cache.
printf '[sso-session work]\nsso_start_url = https://work.awsapps.com/start\nsso_region = eu-west-1\n' > "$home/.aws/config"
sso_cache=$home/.aws/sso/cache/$(printf work | sha1sum | cut -d' ' -f1).json
printf '{"startUrl":"https://work.awsapps.com/start","region":"eu-west-1","accessToken":"x","expiresAt":"%s","clientId":"c","clientSecret":"s","registrationExpiresAt":"2099-01-01T00:00:00Z","refreshToken":"r"}' \
  "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" > "$sso_cache"
# A GPG key with an expiring subkey.
export GNUPGHOME=$home/.gnupg
q gpg --batch --pinentry-mode loopback --passphrase "" --quick-gen-key "Alice <alice@example.org>" ed25519 sign,cert 1y
fpr=$(gpg --with-colons --list-secret-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
q gpg --batch --pinentry-mode loopback --passphrase "" --quick-add-key "$fpr" cv25519 encr 30d
unset GNUPGHOME
found=$(env -i HOME="$home" PATH="$PATH" KRB5CCNAME=FILE:/nonexistent "$BIN" discover --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

read -r eg_ms hand_ms < <(python3 - "$BIN" "$home" "$ROUNDS" "$sso_cache" <<'PY'
import os, statistics, subprocess, sys, time
bin_, home, rounds, cache = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
env = {"HOME": home, "PATH": os.environ["PATH"], "KRB5CCNAME": "FILE:/nonexistent", "GNUPGHOME": home + "/.gnupg"}
by_hand = f"""
ssh-keygen -L -f {home}/.ssh/id_ed25519-cert.pub | grep Valid
openssl x509 -enddate -noout -in {home}/.docker/cert.pem
grep client-certificate-data {home}/.kube/config | awk '{{print $2}}' | base64 -d | openssl x509 -enddate -noout
gpg --with-colons --list-secret-keys | grep -E '^(sec|ssb)'
python3 -c 'import json; print(json.load(open("{cache}"))["expiresAt"])'
"""
def median_ms(cmd):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
print(f"{median_ms([bin_, 'discover', '--json']):.1f} {median_ms(['sh', '-c', by_hand]):.1f}")
PY
)
echo "finding what expires ($found credentials), median of $ROUNDS: evergreen discover $eg_ms ms; the same by hand $hand_ms ms"
[ "$ROUNDS" = 20 ] || exit 0
python3 scripts/bench_section.py "Discovery: what expires on the machine" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-discover.sh\`). $(date -u +%Y-%m-%d), $(nproc) cores, $(gpg --version | head -1).

A home prepared as the tools leave it: an SSH certificate, a kubeconfig user's inline certificate, Docker's client
certificate, an AWS IAM Identity Center token cache, a GPG key with an expiring subkey ($found findings). Median wall
time of $ROUNDS rounds, each a new process. \`evergreen discover --json\` (release build) looks in every usual place
and runs \`gpg --list-secret-keys\` once. "By hand" is what a user runs to learn the same expiries: \`ssh-keygen -L\`,
\`openssl x509 -enddate\` on each certificate (the kubeconfig's decoded first), \`gpg --list-secret-keys\` and a read
of the SSO cache, in one shell.

| command | one look at the whole machine (median of $ROUNDS) |
|---|---|
| \`evergreen discover --json\` | $eg_ms ms |
| the same by hand (five commands) | $hand_ms ms |
MD
