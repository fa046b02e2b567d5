#!/usr/bin/env bash
# `make install` / `make uninstall`: the package's files without a package,
# under PREFIX (default ~/.local), from the binaries in FROM (default
# target/release). What was installed is listed in
# PREFIX/share/evergreen/installed-files, which uninstall removes exactly.
#   scripts/install.sh install|uninstall [PREFIX] [FROM]
set -euo pipefail
action=$1
prefix=${2:-$HOME/.local}
root="$(cd "$(dirname "$0")/.." && pwd)"
from=${3:-$root/target/release}
manifest="$prefix/share/evergreen/installed-files"

case "$action" in
install)
  for b in evergreen evergreen-app; do
    [ -x "$from/$b" ] || { echo "error: $from/$b is not built; run \`make install\` (it builds the release binaries first)" >&2; exit 2; }
  done
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$root/scripts/dist.sh" "$from" "$work" "$prefix/bin"
  : > "$work/list"
  put() { # SOURCE DEST MODE
    install -D -m "$3" "$1" "$prefix/$2"
    echo "$2" >> "$work/list"
  }
  put "$from/evergreen" bin/evergreen 755
  put "$from/evergreen-app" bin/evergreen-app 755
  put "$work/evergreen.desktop" share/applications/evergreen.desktop 644
  put "$work/evergreen.service" share/systemd/user/evergreen.service 644
  for m in "$work"/man/*; do put "$m" "share/man/man1/$(basename "$m")" 644; done
  put "$work/completions/evergreen.bash" share/bash-completion/completions/evergreen 644
  put "$work/completions/_evergreen" share/zsh/site-functions/_evergreen 644
  put "$work/completions/evergreen.fish" share/fish/vendor_completions.d/evergreen.fish 644
  (cd "$root/icons" && find hicolor -type f) | while read -r icon; do
    put "$root/icons/$icon" "share/icons/$icon" 644
  done
  put "$root/crates/cli/dist/config.example.toml" share/doc/evergreen/examples/config.toml 644
  put "$root/LICENSE" share/doc/evergreen/LICENSE 644
  mkdir -p "$(dirname "$manifest")"
  echo "share/evergreen/installed-files" >> "$work/list"
  cp "$work/list" "$manifest"
  echo "Installed under $prefix. Start the engine at login with:"
  echo "  systemctl --user daemon-reload && systemctl --user enable --now evergreen"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "($prefix/bin is not on your PATH yet.)";; esac
  ;;
uninstall)
  if [ ! -f "$manifest" ]; then
    echo "nothing to uninstall: $manifest does not exist (was Evergreen installed with another PREFIX?)" >&2
    exit 2
  fi
  while read -r f; do
    rm -f "$prefix/$f"
    d=$(dirname "$prefix/$f")
    # Directories this install made and left empty go too.
    while [ "$d" != "$prefix" ] && rmdir "$d" 2>/dev/null; do d=$(dirname "$d"); done
  done < "$manifest"
  echo "Removed Evergreen from $prefix (your config and data are kept)."
  ;;
*)
  echo "usage: scripts/install.sh install|uninstall [PREFIX] [FROM]" >&2
  exit 2
  ;;
esac
