//! Fuzz the TIFF/BigTIFF header, IFD and GeoKey parser, whole-file and by ranges.
//! The checks live in `_core::fuzzing::parse_header` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = _core::fuzzing::parse_header(data) {
        panic!("{violation}");
    }
});
