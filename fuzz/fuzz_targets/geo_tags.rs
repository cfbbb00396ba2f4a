//! Fuzz the GeoKey directory, georeferencing and GDAL metadata decoders.
//! The checks live in `_core::fuzzing::geo_tags` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = _core::fuzzing::geo_tags(data) {
        panic!("{violation}");
    }
});
