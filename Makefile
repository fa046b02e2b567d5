# Evergreen: the two commands are `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
BIN := target/debug/evergreen

.PHONY: run test bench deps build lint e2e clean

## make run: install what is missing, build, start Evergreen (a demo without a config)
run: deps build
	$(BIN) run

## make test: install what is missing, build, run every check and test
test: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings
	$(CARGO) build --workspace --quiet
	$(CARGO) test --workspace

## make bench: the benchmarks; results land in docs/benchmarks.md
bench:
	@scripts/install-deps.sh --bench
	scripts/bench.sh

deps:
	@scripts/install-deps.sh

build:
	$(CARGO) build -p evergreen-cli --quiet

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
