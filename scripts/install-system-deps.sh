#!/usr/bin/env bash
# System packages the build and (with --test) the tests need (Debian 12 / bookworm):
# - g++ (with gcc): C/C++ sources of the -sys crates (LERC, libdeflate, zstd, liblzma, mimalloc,
#   ring) for `cargo test` and for building from the sdist; `make wheel` compiles them with zig
#   (PyPI's ziglang) instead. Nothing else: no libclang (LERC's bindings are checked in, see
#   vendor/lerc-sys) and no cmake (TLS crypto is ring, not aws-lc). GDAL comes inside
#   rasterio's wheels;
# - postgresql, postgresql-15-postgis-3: the throwaway PostgreSQL/PostGIS cluster behind the
#   real STAC API (stac-fastapi-pgstac) of the `stac_api` test fixture.
# Idempotent and fast when everything is present (one `dpkg -s` per package, no apt call).
# Runs as root in CI; uses sudo otherwise. Outside Debian 12 set POSTGIS_PKG to the PostGIS
# package of the distribution's default PostgreSQL (e.g. postgresql-16-postgis-3).
set -euo pipefail
PACKAGES=(g++)
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1
if ((WITH_TESTS)); then
    PACKAGES+=(postgresql "${POSTGIS_PKG:-postgresql-15-postgis-3}")
fi
need=()
for pkg in "${PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "install-system-deps: installing ${need[*]}" >&2
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${need[@]}"
fi
# The tests run initdb/postgres from /usr/lib/postgresql/<major>/bin (not on PATH).
if ((WITH_TESTS)); then
    ls -d /usr/lib/postgresql/*/bin >/dev/null
fi
