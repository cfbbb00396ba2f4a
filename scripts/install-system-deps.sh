#!/usr/bin/env bash
# System packages the build needs: libclang (bindgen for the vendored LERC library) and cmake.
set -euo pipefail
need=()
for pkg in libclang-dev cmake; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
