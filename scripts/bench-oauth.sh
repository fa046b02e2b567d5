#!/usr/bin/env bash
# One OAuth refresh round trip against a real OpenID Connect provider
# (oidc-provider) on loopback, median of 50: `evergreen renew` of an oauth
# credential beside `curl` posting the refresh grant (tests/benches/oauth.rs).
# usage: scripts/bench-oauth.sh [--quick]   (--quick: no write to docs)
set -euo pipefail
cd "$(dirname "$0")/.."
flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
read -r eg_ms curl_ms < <(flock /tmp/evergreen-build.lock cargo bench -p evergreen-tests --bench oauth --quiet 2>/dev/null | tail -1)
echo "oauth refresh round trip, median of 50: evergreen renew $eg_ms ms; curl $curl_ms ms"
[ "${1:-}" = "--quick" ] && exit 0
python3 scripts/bench_section.py "OAuth: a refresh round trip" docs/benchmarks.md <<MD
Command: \`make bench\` (this part: \`scripts/bench-oauth.sh\`, i.e. \`cargo bench -p evergreen-tests --bench oauth\`). $(date -u +%Y-%m-%d), $(nproc) cores, oidc-provider $(node -p 'require("./tests/oidc/node_modules/oidc-provider/package.json").version') on loopback (Node.js $(node --version)).

Median wall time of 50 rounds, each a new process. \`evergreen renew mail\` asks the running engine (release build)
to refresh an \`oauth\` credential: take the refresh lock, read the kept tokens, post the refresh grant, keep the
rotated refresh token (a 0600 file here) and answer. \`curl\` posts the same grant and prints the reply, which is
what a hand-written script does before it has kept anything.

| command | one refresh (median of 50) |
|---|---|
| \`evergreen renew mail\` | $eg_ms ms |
| \`curl -d grant_type=refresh_token … /token\` | $curl_ms ms |
MD
