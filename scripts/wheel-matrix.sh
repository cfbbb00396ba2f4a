#!/usr/bin/env bash
# The built wheel on CPython 3.11, 3.12 and 3.13 with no compiler on PATH.
#
# For each version (pyenv's interpreters, or MATRIX_PY311 / MATRIX_PY312 / MATRIX_PY313): a fresh
# venv, the wheel from dist/ installed with binary wheels only (`--only-binary=:all:`, so nothing
# can be compiled), `rasteret demo`, and a fast subset of the tests run against the installed
# package from outside the source tree (pytest's header shows which rasteret it imported; the
# script checks it is the venv's): headers and pixels vs rasterio (local, HTTP, S3), HTTPS with
# a self-signed certificate, a build from a static catalog, points. On 3.12, also
# tests/test_torchgeo.py against the newest TorchGeo (scripts/test-torchgeo-latest.sh).
#
# Environment: WHEEL (default: the newest dist/rasteret-*-abi3-manylinux*.whl), MATRIX_DIR
# (venvs, default .matrix/), MATRIX_PYTHONS (default "3.11 3.12 3.13"), MATRIX_TORCHGEO=0 to
# skip TorchGeo, WHEELHOUSE (default MATRIX_DIR/wheelhouse): the dependencies' wheels are
# downloaded there once (`pip download` skips files it has) and installed from there with
# `--no-index`, so repeated runs download nothing (pip's own HTTP cache may be off).
# MATRIX_KEEP (default 1; 0 under CI=true, where a fresh clone has nothing to reuse): with 0, a
# leg's venv and the wheelhouse are deleted when the leg ends, so the disk holds one leg at a
# time. The 3.12 leg alone is about 6.5 GB of venv plus 3.4 GB of wheels; keeping every leg
# needs about 11 GB more than the largest one.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
WHEEL="${WHEEL:-$(ls -t dist/rasteret-*-abi3-manylinux*.whl 2>/dev/null | head -1 || true)}"
[[ -n "$WHEEL" && -f "$WHEEL" ]] || { echo "wheel-matrix: no wheel in dist/ (make wheel)" >&2; exit 1; }
WHEEL="$(realpath "$WHEEL")"
MATRIX_DIR="$(realpath -m "${MATRIX_DIR:-.matrix}")"
VERSIONS="${MATRIX_PYTHONS:-3.11 3.12 3.13}"
export WHEELHOUSE="$(realpath -m "${WHEELHOUSE:-$MATRIX_DIR/wheelhouse}")"
if [[ "${CI:-}" == "true" ]]; then KEEP="${MATRIX_KEEP:-0}"; else KEEP="${MATRIX_KEEP:-1}"; fi
disk_free() { df -h --output=avail "$MATRIX_DIR" | tail -1 | tr -d ' '; }
PYENV_VERSIONS="${PYENV_ROOT:-$HOME/.pyenv}/versions"
TESTS=(
    tests/test_engine_pixels.py
    "tests/test_build_from_table.py::test_enriched_metadata_matches_rasterio"
    tests/test_tls.py
    tests/test_build_from_stac.py::test_static_catalog_local_and_http
    tests/test_static_catalog_crawl.py::test_build_from_static_catalog_one_request_per_document
    tests/test_static_catalog_crawl.py::test_catalog_on_s3
    tests/test_point_sampling.py
)
TEST_DEPS=(pytest pytest-timeout "moto[server]" boto3)

# A PATH without compilers: one directory of links to the system's programs, leaving out
# C/C++/Rust/Zig toolchains, linkers, assemblers and build tools.
SAFE_BIN="$MATRIX_DIR/bin"
rm -rf "$SAFE_BIN" && mkdir -p "$SAFE_BIN"
HIDDEN='^(cc|c\+\+|c89|c99|cpp|gcc|g\+\+|clang|clang\+\+|cmake|ccmake|ctest|cpack|rustc|rustdoc|rustup|cargo|zig|tcc|ld|ld\..*|gold|as|make|gmake|ninja|maturin|meson|gfortran|f77|f95|nvcc|cl|lld|x86_64-.*|i686-.*|aarch64-.*|.*-gcc(-[0-9.]+)?|.*-g\+\+(-[0-9.]+)?|gcc-.*|g\+\+-.*|cpp-.*|clang-.*|llvm-.*|lld-.*)$'
for dir in /usr/local/bin /usr/bin /bin; do
    for tool in "$dir"/*; do
        name="${tool##*/}"
        [[ -x "$tool" && ! -e "$SAFE_BIN/$name" ]] || continue
        [[ "$name" =~ $HIDDEN ]] && continue
        ln -s "$tool" "$SAFE_BIN/$name"
    done
done
BASE_PATH="$SAFE_BIN"
for tool in cc gcc g++ c++ clang cmake cargo rustc zig ld make; do
    if PATH="$BASE_PATH" command -v "$tool" >/dev/null 2>&1; then
        echo "wheel-matrix: $tool is still on the restricted PATH" >&2
        exit 1
    fi
done
echo "wheel-matrix: wheel $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"
echo "wheel-matrix: PATH=<venv>/bin:$BASE_PATH (no cc, gcc, g++, clang, cmake, cargo, rustc, zig, ld, make)"

find_python() {  # $1 = 3.12 -> an interpreter of that version
    local var="MATRIX_PY${1/./}"
    if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
    ls -d "$PYENV_VERSIONS/$1".*/bin/python 2>/dev/null | sort -V | tail -1
}

RUN_DIR="$(mktemp -d)"   # pytest and the demo run here, where no rasteret/ source is importable
trap 'rm -rf "$RUN_DIR"' EXIT
declare -A RESULT
for version in $VERSIONS; do
    py="$(find_python "$version")"
    if [[ -z "$py" || ! -x "$py" ]]; then
        echo "wheel-matrix: no Python $version found" >&2
        RESULT[$version]="missing"
        continue
    fi
    start=$SECONDS
    venv="$MATRIX_DIR/venv-$version"
    rm -rf "$venv"
    mkdir -p "$MATRIX_DIR"
    echo "wheel-matrix: Python $version: $(disk_free) free on $MATRIX_DIR"
    "$py" -m venv "$venv"
    set +e  # the subshell stops at its first failure; the loop goes on to the next version
    (
        set -euo pipefail
        export PATH="$venv/bin:$BASE_PATH"
        unset PYTHONPATH VIRTUAL_ENV
        # Each version's own test corpus: the key hashes numpy/rasterio/GDAL versions, and a
        # shared cache directory keeps only one key (tests/support/corpus.py).
        export RASTERET_CORPUS_CACHE="$MATRIX_DIR/corpus-$version"
        cd "$RUN_DIR"
        echo "=== Python $version ($py)"
        # pyenv's pips are old (23.x); a current resolver settles TorchGeo's dependencies fast
        python -m pip install -q --disable-pip-version-check --upgrade pip
        python -m pip download -q --disable-pip-version-check --only-binary=:all: \
            -d "$WHEELHOUSE" "$WHEEL[xarray]" "${TEST_DEPS[@]}"
        rm -f "$WHEELHOUSE"/rasteret-*.whl  # the wheel under test is installed from its path
        python -m pip install -q --disable-pip-version-check --only-binary=:all: --no-index \
            --find-links "$WHEELHOUSE" "$WHEEL[xarray]" "${TEST_DEPS[@]}"
        location="$(python -c 'import rasteret; print(rasteret.__file__)')"
        echo "rasteret imported from $location"
        [[ "$location" == "$venv"/* ]] || { echo "not the venv's rasteret" >&2; exit 1; }
        HOME="$RUN_DIR/home-$version" rasteret demo --help >/dev/null
        mkdir -p "demo-$version" && (cd "demo-$version" && HOME="$RUN_DIR/home-$version" rasteret demo)
        test -s "demo-$version/rasteret-demo.png"
        out="$RUN_DIR/pytest-$version.log"
        python -m pytest -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml" \
            "${TESTS[@]/#/$REPO/}" 2>&1 | tee "$out"
        grep -q "^rasteret: $venv/" "$out" || { echo "tests did not import the venv's rasteret" >&2; exit 1; }
        if [[ "$version" == "3.12" && "${MATRIX_TORCHGEO:-1}" != "0" ]]; then
            WHEEL="$WHEEL" PY312="$py" TORCHGEO_LATEST_VENV="$venv" \
                bash "$REPO/scripts/test-torchgeo-latest.sh"
        fi
    )
    rc=$?
    set -e
    if [[ "$KEEP" != "1" ]]; then
        rm -rf "$venv" "$WHEELHOUSE"
        echo "wheel-matrix: Python $version: venv and wheelhouse removed, $(disk_free) free"
    fi
    if ((rc == 0)); then
        RESULT[$version]="passed ($((SECONDS - start)) s)"
    else
        RESULT[$version]="FAILED ($((SECONDS - start)) s)"
    fi
done
status=0
for version in $VERSIONS; do
    echo "wheel-matrix: Python $version: ${RESULT[$version]}"
    [[ "${RESULT[$version]}" == passed* ]] || status=1
done
exit $status
