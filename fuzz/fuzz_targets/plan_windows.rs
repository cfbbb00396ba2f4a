//! Fuzz the read planner: random layouts and windows, planned and placed.
//! The checks live in `_core::fuzzing::plan_windows` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = _core::fuzzing::plan_windows(data) {
        panic!("{violation}");
    }
});
