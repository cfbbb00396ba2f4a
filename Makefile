# rasteret developer targets. `make demo` and `make test` are the two commands of README.md.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export CARGO_TERM_COLOR := never

.PHONY: help demo install test lint rust-test py-test bench fmt torchgeo-latest

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

install:  ## system deps + build and install rasteret (release) with its test extras
	bash scripts/install-system-deps.sh --test
	$(PIP) install --quiet --disable-pip-version-check '.[dev]'

demo: ## install and run the offline demo
	bash scripts/install-system-deps.sh
	$(PIP) install --quiet --disable-pip-version-check .
	rasteret demo

lint:  ## formatting and lint gates (Rust and Python)
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	@! grep -rlw pyo3 rust/src | grep -v '^rust/src/python/' || (echo "pyo3 used outside rust/src/python" && false)
	$(PYTHON) -m ruff check python tests benches
	$(PYTHON) -m ruff format --check python tests benches
	$(PYTHON) -m mypy.stubtest rasteret._core --mypy-config-file pyproject.toml

rust-test:  ## cargo unit and integration tests
	cargo test --all-targets

py-test:  ## pytest suite (real servers, GDAL-written corpus)
	$(PYTHON) -m pytest -q -p no:cacheprovider

test: install lint rust-test py-test  ## everything CI runs

fmt:  ## format Rust and Python
	cargo fmt --all
	$(PYTHON) -m ruff format python tests benches
	$(PYTHON) -m ruff check --fix python tests benches

torchgeo-latest:  ## optional: TorchGeo tests on Python 3.12 + newest TorchGeo (after make install)
	bash scripts/test-torchgeo-latest.sh

bench:  ## benchmarks (see benches/README.md)
	$(PYTHON) benches/run.py
