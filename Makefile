# Evergreen: the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/debug/evergreen
APP := target/debug/evergreen-app

.PHONY: run test bench fuzz deps ui build release deb install uninstall lint bindings e2e man clean

## make run: install what is missing, build, start Evergreen (a demo without a config)
run: deps ui build
	@if [ -z "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}" ]; then \
	  echo "No display found (DISPLAY and WAYLAND_DISPLAY are unset), so the tray app cannot open a window:"; \
	  echo "running the same engine headless instead. \`$(BIN) status\` in another terminal shows every credential."; \
	  $(BIN) run; \
	else \
	  $(APP); \
	fi

## make test: install what is missing, build, run every check and test.
## One feature set for clippy, the build and the tests, so nothing is
## compiled twice; the package test packs this same debug build (`make deb`
## packs the release build); every test binary runs even after one fails,
## and a summary ends the run (scripts/test.sh; docs/testing.md).
test: deps ui
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features evergreen-app/bindings --quiet -- -D warnings
	cd ui && npm run --silent check && npm test --silent
	$(CARGO) build --workspace --features evergreen-app/bindings --quiet
	@scripts/deb.sh debug >/dev/null
	@scripts/test.sh

## make deb: a Debian package of both binaries, the desktop entry, icons, the
## user unit, man pages and completions, in target/debian
deb: deps ui release
	@scripts/deb.sh release

## make install: the same files without a package, under PREFIX (default ~/.local)
PREFIX ?= $(HOME)/.local
install: deps ui release
	@scripts/install.sh install "$(PREFIX)"

uninstall:
	@scripts/install.sh uninstall "$(PREFIX)"

release:
	$(CARGO) build --release -p evergreen-cli -p evergreen-app --quiet

## make bench: the benchmarks; results land in docs/benchmarks.md
bench: deps ui
	@scripts/install-deps.sh --bench
	scripts/bench.sh

## make fuzz: each fuzz target for FUZZ_SECONDS (default 600); crashes land in crates/fuzz/artifacts
fuzz:
	scripts/fuzz.sh

deps:
	@scripts/install-deps.sh

## the web UI, built into ui/dist (the app embeds it)
ui:
	@cd ui && npm run --silent build >/dev/null

build:
	$(CARGO) build -p evergreen-cli -p evergreen-app --quiet

## rewrite ui/src/bindings.ts from the Rust types
bindings:
	UPDATE_BINDINGS=1 $(CARGO) test -p evergreen-app --features bindings --test bindings --quiet

## only the desktop end-to-end test (a real window under Xvfb)
e2e: deps ui
	$(CARGO) build -p evergreen-cli -p evergreen-app --quiet
	$(CARGO) test -p evergreen-tests --test app

## man pages and shell completions, generated from the CLI's own definitions
man:
	$(CARGO) build -p evergreen-cli --quiet
	@mkdir -p target/man target/completions
	$(BIN) man target/man
	@for s in bash zsh fish; do $(BIN) completions $$s > target/completions/evergreen.$$s; done
	@echo "man pages in target/man, completions in target/completions"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --features evergreen-app/bindings -- -D warnings

clean:
	$(CARGO) clean
