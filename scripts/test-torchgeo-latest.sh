#!/usr/bin/env bash
# Optional check, not part of `make test`: tests/test_torchgeo.py against the newest TorchGeo,
# which needs Python >= 3.12 (CI's interpreter is 3.11, where TorchGeo stops at 0.8.1).
# Uses PY312 (default: python3.12 on PATH, else pyenv's newest 3.12) and a venv in
# TORCHGEO_LATEST_VENV (default .venv-torchgeo-latest). With WHEEL (a built rasteret wheel) that
# wheel is installed into the venv (scripts/wheel-matrix.sh does so); otherwise the rasteret
# package installed for `python3` is reused (the extension module is abi3, so it loads on 3.12
# too). With WHEELHOUSE (a directory) the wheels are downloaded there once and installed from
# it. First run: about 3 GB of wheels (torch is a CUDA build on PyPI) and 3-7 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY312="${PY312:-$(command -v python3.12 || true)}"
if [[ -z "$PY312" ]]; then
    PY312="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python 2>/dev/null | tail -1 || true)"
fi
if [[ -z "$PY312" || ! -x "$PY312" ]]; then
    echo "test-torchgeo-latest: no Python 3.12 interpreter found; nothing to do" >&2
    exit 0
fi
VENV="${TORCHGEO_LATEST_VENV:-.venv-torchgeo-latest}"
[[ -x "$VENV/bin/python" ]] || "$PY312" -m venv "$VENV"
DEPS=("torchgeo>=0.9" "torch>=2.2" numpy pyarrow geoarrow-pyarrow shapely pyproj rasterio affine
    pandas geopandas pystac-client pystac tqdm boto3 "moto[server]" tifffile imagecodecs pytest
    pytest-timeout)
if [[ -n "${WHEELHOUSE:-}" ]]; then  # download once into WHEELHOUSE, install from there
    # Not --only-binary: TorchGeo's lightly -> hydra-core -> omegaconf needs
    # antlr4-python3-runtime 4.9, a pure-Python sdist (no compiler); refusing sdists sends the
    # resolver backtracking through every lightly/hydra-core release.
    "$VENV/bin/python" -m pip download -q --disable-pip-version-check \
        -d "$WHEELHOUSE" "${DEPS[@]}"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-index \
        --find-links "$WHEELHOUSE" "${DEPS[@]}"
else
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${DEPS[@]}"
fi
PKG_DIR="$(mktemp -d)"
trap 'rm -rf "$PKG_DIR"' EXIT
if [[ -n "${WHEEL:-}" ]]; then
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL"
else
    cp -r "$(python3 -c 'import os, rasteret; print(os.path.dirname(rasteret.__file__))')" "$PKG_DIR/"
fi
"$VENV/bin/python" -c 'import torchgeo, sys; print(f"Python {sys.version.split()[0]}, TorchGeo {torchgeo.__version__}")'
PYTHONPATH="$PKG_DIR" "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/test_torchgeo.py
