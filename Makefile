# rasteret developer targets. `make demo` and `make test` are the two commands of README.md.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
export CARGO_TERM_COLOR := never
# CI runs on a fresh clone with a bounded disk: pip keeps no cache of the ~3 GB of torch/CUDA
# wheels it downloads (a developer's machine keeps its cache).
ifeq ($(CI),true)
export PIP_NO_CACHE_DIR := 1
endif

.PHONY: help demo install test lint docs rust-test py-test bench bench-chart fmt torchgeo-latest \
	wheel wheel-matrix sdist-check free-build-dirs disk

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

# The wheel `make wheel` leaves in dist/ (one at a time: `make wheel` removes older ones).
DIST_WHEEL = $$(ls dist/rasteret-*-abi3-manylinux*.whl)

wheel:  ## dist/: manylinux_2_28 abi3 wheel (maturin + zig from PyPI) and sdist
	$(PIP) install --quiet --disable-pip-version-check 'maturin>=1.7,<2' ziglang auditwheel
	rm -f dist/rasteret-*.whl dist/rasteret-*.tar.gz
	$(PYTHON) -m maturin build --release --zig --compatibility manylinux_2_28 --out dist
	$(PYTHON) -m maturin sdist --out dist
	$(PYTHON) -m auditwheel show $(DIST_WHEEL)

install: wheel  ## system deps + install dist/'s wheel with its test and dev extras
	$(SHOW_DISK)
	bash scripts/install-system-deps.sh --test
	$(PIP) install --quiet --disable-pip-version-check "$(DIST_WHEEL)[dev]"
	$(PIP) install --quiet --disable-pip-version-check --force-reinstall --no-deps $(DIST_WHEEL)

demo: wheel  ## install dist/'s wheel and run the offline demo (writes ./rasteret-demo.png)
	bash scripts/install-system-deps.sh
	$(PIP) install --quiet --disable-pip-version-check "$(DIST_WHEEL)[xarray]"
	$(PIP) install --quiet --disable-pip-version-check --force-reinstall --no-deps $(DIST_WHEEL)
	rasteret demo

lint:  ## formatting and lint gates (Rust and Python)
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	@! grep -rlw pyo3 rust/src | grep -v '^rust/src/python/' || (echo "pyo3 used outside rust/src/python" && false)
	$(PYTHON) -m ruff check python tests benches docs/hooks scripts
	$(PYTHON) -m ruff format --check python tests benches docs/hooks scripts
	$(PYTHON) scripts/check_layers.py python/rasteret
	$(PYTHON) -m mypy.stubtest rasteret._core --mypy-config-file pyproject.toml

docs:  ## build the documentation site (mkdocs, --strict) into site/
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict

rust-test:  ## cargo unit and integration tests
	cargo test --all-targets

# `fuzz` is also the name of a directory: without .PHONY make would call it up to date.
.PHONY: fuzz
fuzz:  ## bounded fuzzing (FUZZ_SECONDS per target, default 30); crashers -> fuzz/regressions/
	bash scripts/fuzz-ci.sh

py-test:  ## pytest suite (real servers, GDAL-written corpus)
	$(SHOW_DISK)
	$(PYTHON) -m pytest -q -p no:cacheprovider

# On 3.12 also TorchGeo 0.10.x + PyPI's CUDA torch (3.0 GB download, 6.5 GB venv, about
# 5 minutes on a quiet machine); MATRIX_TORCHGEO=0 skips it.
wheel-matrix:  ## dist/'s wheel in fresh CPython 3.11/3.12/3.13 venvs, no compiler on PATH
	$(SHOW_DISK)
	bash scripts/wheel-matrix.sh

# Not in `test`: a second cold release build of the Rust core (8-15 minutes).
sdist-check:  ## dist/'s sdist builds with only Rust + gcc/g++ (no libclang, clang, cmake)
	bash scripts/test-sdist.sh

# Free space where the build, the venvs and pip's temporary files go; the heavy steps print it
# first, so a full disk shows in the log before a step fails on it.
SHOW_DISK = @df -h --output=avail,target . /tmp | tail -n +2 | sed 's/^/disk free: /'

disk:  ## free space on the disks the build and the tests write to
	$(SHOW_DISK)

# Under CI=true only: once the Rust tests and fuzzing are done nothing reads target/ or
# fuzz/target/ again (dist/ holds the wheel), so their ~5.5 GB go before the Python legs.
free-build-dirs:
	@if [ "$(CI)" = "true" ]; then \
		echo "free-build-dirs: removing target/ ($$(du -sh target 2>/dev/null | cut -f1)) and fuzz/target/ ($$(du -sh fuzz/target 2>/dev/null | cut -f1))"; \
		rm -rf target fuzz/target; \
	fi

# fuzz: 30 s per target after a cold build of the core without its I/O and Python layers
# (about 4.5 CPU-minutes; docs/explanation/fuzzing.md).
test: install lint docs rust-test fuzz free-build-dirs py-test wheel-matrix  ## everything CI runs
	$(SHOW_DISK)

fmt:  ## format Rust and Python
	cargo fmt --all
	$(PYTHON) -m ruff format python tests benches docs/hooks scripts
	$(PYTHON) -m ruff check --fix python tests benches docs/hooks scripts

torchgeo-latest:  ## optional: TorchGeo tests on Python 3.12 + newest TorchGeo (after make install)
	bash scripts/test-torchgeo-latest.sh

bench:  ## benchmarks (see benches/README.md)
	$(PYTHON) benches/run.py

bench-chart:  ## redraw docs/assets/bench.png from benches/results/latest.json (matplotlib)
	$(PYTHON) benches/report.py benches/results/latest.json --no-md --chart docs/assets/bench.png
