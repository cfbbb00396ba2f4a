//! Fuzz the Arrow read-plan import, then planning of what it accepts.
//! The checks live in `_core::fuzzing::plan_import` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = _core::fuzzing::plan_import(data) {
        panic!("{violation}");
    }
});
