#!/usr/bin/env bash
# The sdist builds on a machine with only Rust and a C/C++ compiler: no libclang, clang, cmake
# or zig (`make sdist-check`; not part of `make test`: a second cold release build of the Rust
# core, 8-15 minutes).
#
# A fresh venv; a PATH of links to an allowlist only (the Rust toolchain, gcc/g++ with
# binutils, make, a shell and coreutils; the venv supplies python and pip); then
# `pip install <sdist>[xarray]` builds the Rust core from source (every other dependency is
# installed as a binary wheel: `--only-binary=:all: --no-binary=rasteret`). libclang is
# made unloadable for the build: when the script may create a mount namespace (root, or
# unprivileged user namespaces), /dev/null and an empty directory are bind-mounted over every
# libclang the dynamic loader or bindgen would find (the host is untouched); in any case
# LIBCLANG_PATH points nowhere and the build log must show that neither bindgen, clang-sys
# nor the cmake crate was compiled (LERC's bindings are vendored in vendor/lerc-sys). Then,
# from outside the source tree: the import resolves to the venv, `rasteret demo` runs, and
# the pixel tests against rasterio pass.
#
# Environment: SDIST (default: the newest dist/rasteret-*.tar.gz), SDIST_PYTHON (interpreter
# for the venv, default python3), SDIST_CHECK_DIR (venv, build log and Cargo target
# directory, default .sdist-check/; emptied at the start so the build is cold).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
WORK="$(realpath -m "${SDIST_CHECK_DIR:-.sdist-check}")"
SAFE_BIN="$WORK/bin"

hide_libclang() {  # inside a private mount namespace: make every libclang unloadable
    local empty="$WORK/empty" n=0 lib dir
    mkdir -p "$empty"
    for dir in /usr/lib/llvm-* /usr/lib64/llvm* /usr/local/llvm* /opt/llvm*; do
        [[ -d "$dir" ]] || continue
        mount --bind "$empty" "$dir" && n=$((n + 1))
    done
    while read -r lib; do
        [[ -f "$lib" && -s "$lib" ]] || continue
        mount --bind /dev/null "$lib" && n=$((n + 1))
    done < <(ldconfig -p | awk '/libclang/ {print $NF}' | xargs -r realpath -e 2>/dev/null | sort -u)
    for lib in $(ldconfig -p | awk '/libclang/ {print $NF}') /usr/lib/llvm-*/lib/libclang.so; do
        if python3 -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' "$lib" 2>/dev/null; then
            echo "test-sdist: $lib still loads after hiding" >&2
            exit 1
        fi
    done
    echo "test-sdist: libclang hidden ($n bind mounts in a private mount namespace)"
}

if [[ "${SDIST_CHECK_IN_NS:-}" == 1 ]]; then
    hide_libclang
elif [[ "${SDIST_CHECK_NO_NS:-}" != 1 ]]; then
    rm -rf "$WORK" && mkdir -p "$WORK"
    # Re-run this script in a private mount namespace (root, else a user namespace).
    for flags in "--mount" "--user --map-root-user --mount"; do
        # shellcheck disable=SC2086
        if unshare $flags --propagation private true 2>/dev/null; then
            # shellcheck disable=SC2086
            exec unshare $flags --propagation private \
                env SDIST_CHECK_IN_NS=1 SDIST_CHECK_DIR="$WORK" bash "$0" "$@"
        fi
    done
    echo "test-sdist: no mount namespace available: libclang stays installed; the build log" \
        "check below is the proof that bindgen is not used"
else
    rm -rf "$WORK" && mkdir -p "$WORK"
fi

SDIST="${SDIST:-$(ls -t dist/rasteret-*.tar.gz 2>/dev/null | head -1 || true)}"
[[ -n "$SDIST" && -f "$SDIST" ]] || { echo "test-sdist: no sdist in dist/ (make wheel)" >&2; exit 1; }
SDIST="$(realpath "$SDIST")"
PY="$(command -v "${SDIST_PYTHON:-python3}")"
PY="$("$PY" -c 'import sys; print(sys.executable)')"  # past pyenv's shims

# The allowlist: the Rust toolchain's own binaries (past rustup's proxies), the C/C++
# compiler driver and what it runs (as, ld via collect2), archivers, make, shell, coreutils.
rm -rf "$SAFE_BIN" && mkdir -p "$SAFE_BIN"
link() {  # link NAME [TARGET]: TARGET defaults to NAME found on the current PATH
    local target="${2:-$(command -v "$1" || true)}"
    [[ -n "$target" && -x "$target" ]] || return 0
    ln -sfn "$target" "$SAFE_BIN/$1"
}
for tool in cargo rustc; do
    if command -v rustup >/dev/null 2>&1; then link "$tool" "$(rustup which "$tool")"; else link "$tool"; fi
done
for tool in cc gcc c++ g++ cpp ar ranlib nm strip objcopy as ld ld.bfd make \
    sh bash env uname cat cp mv rm mkdir rmdir ls ln chmod dirname basename readlink realpath \
    head tail tr sed grep awk find xargs sort uniq wc cut date touch mktemp tee sleep true false \
    expr test printf echo id tar gzip du; do
    link "$tool"
done
for tool in cargo rustc cc c++ ar ld; do
    [[ -e "$SAFE_BIN/$tool" ]] || { echo "test-sdist: $tool not found: it is required" >&2; exit 1; }
done
for tool in clang clang++ cmake zig llvm-config maturin; do
    if PATH="$SAFE_BIN" command -v "$tool" >/dev/null 2>&1; then
        echo "test-sdist: $tool is on the restricted PATH" >&2
        exit 1
    fi
done
echo "test-sdist: sdist $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB), Python $PY"
echo "test-sdist: PATH=<venv>/bin:$SAFE_BIN ($(ls "$SAFE_BIN" | tr '\n' ' '))"

venv="$WORK/venv"
"$PY" -m venv "$venv"
RUN_DIR="$(mktemp -d)"  # the import and the tests run here, where no rasteret/ source exists
trap 'rm -rf "$RUN_DIR"' EXIT
export PATH="$venv/bin:$SAFE_BIN"
unset PYTHONPATH VIRTUAL_ENV CC CXX RUSTC_WRAPPER
export LIBCLANG_PATH=/nonexistent CARGO_TARGET_DIR="$WORK/target" CARGO_TERM_COLOR=never
export RASTERET_CORPUS_CACHE="$WORK/corpus" HOME_FOR_DEMO="$RUN_DIR/home"
cd "$RUN_DIR"
python -m pip install -q --disable-pip-version-check --upgrade pip

start=$SECONDS
log="$WORK/build.log"
echo "test-sdist: pip install <sdist>[xarray] (cold Rust build; log: $log)"
if ! python -m pip install -v --disable-pip-version-check --no-cache-dir \
    --only-binary=:all: --no-binary=rasteret "$SDIST[xarray]" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "test-sdist: the sdist did not build" >&2
    exit 1
fi
build_seconds=$((SECONDS - start))
grep -q "Compiling rasteret-core" "$log" || { echo "test-sdist: no Rust build in $log" >&2; exit 1; }
grep -q "Compiling lerc-sys" "$log" || { echo "test-sdist: lerc-sys not built from source" >&2; exit 1; }
if grep -E "Compiling (bindgen|clang-sys|cmake) " "$log"; then
    echo "test-sdist: the build compiled bindgen/clang-sys/cmake (see $log)" >&2
    exit 1
fi
echo "test-sdist: built and installed in ${build_seconds} s (no bindgen, clang-sys or cmake crate)"

python -m pip install -q --disable-pip-version-check --only-binary=:all: \
    pytest pytest-timeout "moto[server]" boto3
location="$(python -c 'import rasteret, rasteret._core as c; print(rasteret.__file__); print(c.__file__)')"
echo "$location"
[[ "$location" == "$venv"/* ]] || { echo "test-sdist: not the venv's rasteret" >&2; exit 1; }
mkdir -p demo && (cd demo && HOME="$HOME_FOR_DEMO" rasteret demo >demo.log) && test -s demo/rasteret-demo.png
echo "test-sdist: rasteret demo wrote rasteret-demo.png"
out="$RUN_DIR/pytest.log"
python -m pytest -p no:cacheprovider --rootdir "$REPO" -c "$REPO/pyproject.toml" \
    "$REPO/tests/test_engine_pixels.py" "$REPO/tests/test_point_sampling.py" 2>&1 | tee "$out"
grep -q "^rasteret: $venv/" "$out" || { echo "test-sdist: tests did not import the venv's rasteret" >&2; exit 1; }
echo "test-sdist: passed (build ${build_seconds} s, total $SECONDS s)"
