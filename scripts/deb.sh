#!/usr/bin/env bash
# A Debian package of the binaries of one build: `scripts/deb.sh release`
# (`make deb`, into target/debian) or `scripts/deb.sh debug` (`make test`'s
# package test, into target/debian-debug: the same files and metadata, the
# debug build's binaries, so the tests need no second, optimised build).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
release) from=target/release out=target/debian args=() ;;
# cargo-deb packs `target/release/...` assets from the profile's directory.
debug) from=target/debug out=target/debian-debug args=(--profile dev) ;;
*) echo "usage: scripts/deb.sh release|debug" >&2; exit 2 ;;
esac
scripts/dist.sh "$from" "$from/dist" /usr/bin
mkdir -p "$out"
# cargo-deb warns that a dev profile is meant for releases only; that is the
# point here, so its output is shown only when it fails.
if ! log=$(cargo deb -p evergreen-app --no-build --quiet "${args[@]}" -o "$out/" 2>&1); then
  echo "$log" >&2
  exit 1
fi
ls "$out"/*.deb
