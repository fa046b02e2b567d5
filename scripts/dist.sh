#!/usr/bin/env bash
# The files a package or an install puts beside the two binaries, generated
# into OUT: the systemd user unit and the desktop entry (pointing at
# BINDIR), man pages and shell completions (from the CLI's own clap
# definitions, by the built `evergreen` in FROM).
#   scripts/dist.sh FROM OUT BINDIR
set -euo pipefail
from=$1 out=$2 bindir=$3
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
sed "s|@bindir@|$bindir|g" "$root/crates/cli/dist/evergreen.service.in" > "$out/evergreen.service"
sed "s|@bindir@|$bindir|g" "$root/src-tauri/dist/evergreen.desktop.in" > "$out/evergreen.desktop"
"$from/evergreen" man "$out/man" >/dev/null
"$from/evergreen" completions bash > "$out/completions/evergreen.bash"
"$from/evergreen" completions zsh > "$out/completions/_evergreen"
"$from/evergreen" completions fish > "$out/completions/evergreen.fish"
