#!/usr/bin/env bash
# tests/test_torchgeo.py against the newest TorchGeo (0.10.x), which needs Python >= 3.12
# (TorchGeo stops at 0.8.1 on 3.11). scripts/wheel-matrix.sh runs it on its 3.12 leg (with
# WHEEL, in that leg's venv); `make torchgeo-latest` runs it on its own.
#
# Environment: PY312 (default: python3.12 on PATH, else pyenv's newest 3.12); TORCHGEO_SPEC
# (default "torchgeo>=0.10,<0.11"); TORCHGEO_LATEST_VENV (default .venv-torchgeo-latest/).
# With WHEEL (a built rasteret wheel) that wheel is what the tests import; otherwise a copy of
# the rasteret package installed for `python3` (its extension module is abi3, so it loads on
# 3.12 too). With WHEELHOUSE (a directory) the wheels are downloaded there once and installed
# from it with --no-index. Every dependency is a binary wheel except antlr4-python3-runtime
# (pure Python, needed by TorchGeo's lightly -> hydra-core -> omegaconf; no compiler).
# PyPI's only Linux torch is a CUDA build: `import torch` needs its nvidia-* libraries even on
# a CPU-only machine. First run: about 3.0 GB of wheels, 6.5 GB installed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PY312="${PY312:-$(command -v python3.12 || true)}"
if [[ -z "$PY312" ]]; then
    PY312="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python 2>/dev/null | sort -V | tail -1 || true)"
fi
if [[ -z "$PY312" || ! -x "$PY312" ]]; then
    echo "test-torchgeo-latest: no Python 3.12 interpreter found; nothing to do" >&2
    exit 0
fi
VENV="$(realpath -m "${TORCHGEO_LATEST_VENV:-.venv-torchgeo-latest}")"
[[ -x "$VENV/bin/python" ]] || "$PY312" -m venv "$VENV"
PY="$VENV/bin/python"
# 3.12's numpy/rasterio give the test corpus another cache key; a cache of its own keeps the
# 3.11 suite's tests/.corpus_cache (one key per directory) from being rebuilt.
export RASTERET_CORPUS_CACHE="${RASTERET_CORPUS_CACHE:-$VENV/corpus}"
DEPS=("${TORCHGEO_SPEC:-torchgeo>=0.10,<0.11}" "torch>=2.2" pytest pytest-timeout "moto[server]"
    boto3 tifffile imagecodecs)
PIP=("$PY" -m pip --disable-pip-version-check)
ONLY_BINARY=(--only-binary=:all: --no-binary=antlr4-python3-runtime)
PKG_DIR="$(mktemp -d)"
RUN_DIR="$(mktemp -d)"  # pytest runs here, where no rasteret/ source is importable
trap 'rm -rf "$PKG_DIR" "$RUN_DIR"' EXIT
if [[ -n "${WHEEL:-}" ]]; then
    DEPS+=("$WHEEL")
    expected="$VENV/"
else
    cp -r "$(python3 -c 'import os, rasteret; print(os.path.dirname(rasteret.__file__))')" "$PKG_DIR/"
    # the copied package's own dependencies, from the installed distribution's metadata
    mapfile -t runtime < <(python3 -c 'from importlib.metadata import requires
for r in requires("rasteret"):
    if "extra ==" not in r:
        print(r.split(";")[0].strip())')
    DEPS+=("${runtime[@]}")
    expected="$PKG_DIR/"
fi
start=$SECONDS
if [[ -n "${WHEELHOUSE:-}" ]]; then  # download once into WHEELHOUSE, install from there
    "${PIP[@]}" download -q "${ONLY_BINARY[@]}" -d "$WHEELHOUSE" "${DEPS[@]}"
    rm -f "$WHEELHOUSE"/rasteret-*.whl  # the wheel under test is installed from its path
    downloaded=$SECONDS
    "${PIP[@]}" install -q "${ONLY_BINARY[@]}" --no-index --find-links "$WHEELHOUSE" "${DEPS[@]}"
else
    downloaded=$SECONDS
    "${PIP[@]}" install -q "${ONLY_BINARY[@]}" "${DEPS[@]}"
fi
installed=$SECONDS
[[ -n "${WHEEL:-}" ]] || export PYTHONPATH="$PKG_DIR"
"$PY" -c 'import torch, torchgeo, sys; print(f"test-torchgeo-latest: Python {sys.version.split()[0]}, TorchGeo {torchgeo.__version__}, torch {torch.__version__}")'
echo "test-torchgeo-latest: download $((downloaded - start)) s, install $((installed - downloaded)) s, venv $(du -sh "$VENV" | cut -f1)"
out="$RUN_DIR/pytest.log"
(cd "$RUN_DIR" && "$PY" -m pytest -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml" \
    "$REPO/tests/test_torchgeo.py") 2>&1 | tee "$out"
grep -q "^rasteret: $expected" "$out" || { echo "test-torchgeo-latest: tests did not import $expected" >&2; exit 1; }
echo "test-torchgeo-latest: tests $((SECONDS - installed)) s (total $((SECONDS - start)) s)"
