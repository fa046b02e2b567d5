#!/usr/bin/env bash
# Every benchmark, one after the other (never in parallel: they measure the
# machine). Each writes its own section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in scripts/bench-check.sh scripts/bench-idle.sh scripts/bench-vault.sh scripts/bench-ssh.sh scripts/bench-kerberos.sh scripts/bench-oauth.sh scripts/bench-discover.sh scripts/bench-fleet.sh scripts/bench-resume.sh scripts/bench-app.sh; do
  echo "== $b"
  "$b" "$@"
done
