//! Fuzz the tile decoders: every codec, predictor and bit depth.
//! The checks live in `_core::fuzzing::decode_tile` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = _core::fuzzing::decode_tile(data) {
        panic!("{violation}");
    }
});
