#!/usr/bin/env bash
# Bounded fuzzing for CI (`make fuzz`, part of `make test`): build the cargo-fuzz targets of
# fuzz/ and run each one for FUZZ_SECONDS (default 30) from its seed corpus
# (fuzz/corpus/<target>/, read-only: new inputs go to a scratch copy under fuzz/target/). A
# crash, timeout or out-of-memory input fails the step and is saved as
# fuzz/regressions/<target>/<kind>-<hash>, which `cargo test` (rust/tests/fuzz_regressions.rs)
# replays from then on: fix the bug, keep the file.
#
#   FUZZ_SECONDS=600 scripts/fuzz-ci.sh             # longer runs
#   FUZZ_TARGETS="decode_tile" scripts/fuzz-ci.sh   # some targets only
#
# Needs a nightly toolchain and cargo-fuzz (both installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_TARGETS=${FUZZ_TARGETS:-"decode_tile parse_header geo_tags plan_windows plan_import"}
# -a: debug assertions (integer overflow panics instead of wrapping). -s none: no
# AddressSanitizer. The fuzzed code is safe Rust (its two unsafe blocks are an SSE2 prefix sum
# over chunks_exact and the Arrow C data round trip); what fuzzing finds there is panics,
# overflows, hangs and memory blow-ups, which need no sanitizer. Without one, the build is
# faster and every run executes about twice as many inputs.
BUILD_FLAGS=(-a -s none)

start=$(date +%s)
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    # Compiled from crates.io once (about 2 minutes), then found in ~/.cargo/bin.
    cargo install cargo-fuzz --locked
fi
echo "fuzz: toolchain and cargo-fuzz ready in $(($(date +%s) - start)) s"

t0=$(date +%s)
cargo +nightly fuzz build "${BUILD_FLAGS[@]}"
echo "fuzz: targets built in $(($(date +%s) - t0)) s"

failed=()
for target in $FUZZ_TARGETS; do
    work="fuzz/target/corpus/$target"
    artifacts="fuzz/target/artifacts/$target"
    rm -rf "$artifacts"
    mkdir -p "$work" "$artifacts" "fuzz/corpus/$target"
    t0=$(date +%s)
    if cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$target" "$work" "fuzz/corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$artifacts.log" 2>&1; then
        echo "fuzz: $target ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$artifacts.log" \
            | grep -o '[0-9]*$' || echo '?') runs in $(($(date +%s) - t0)) s)"
    else
        tail -n 40 "$artifacts.log"
        saved=0
        mkdir -p "fuzz/regressions/$target"
        for crasher in "$artifacts"/*; do
            [ -f "$crasher" ] || continue
            cp "$crasher" "fuzz/regressions/$target/"
            echo "fuzz: $target failed; input saved as fuzz/regressions/$target/$(basename "$crasher")"
            saved=1
        done
        if [ "$saved" = 0 ]; then
            echo "fuzz: $target failed without saving an input; full log: $artifacts.log"
        fi
        failed+=("$target")
    fi
done

echo "fuzz: done in $(($(date +%s) - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failing targets: ${failed[*]}" \
        "(reproduce: cargo +nightly fuzz run ${BUILD_FLAGS[*]} <target> <file>)"
    exit 1
fi
