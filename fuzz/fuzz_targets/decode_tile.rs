//! Fuzz the tile decoders: every codec, predictor and bit depth.
//! The checks live in `_core::fuzzing::decode_tile` (replayed by `cargo test` from fuzz/corpus and
//! fuzz/regressions); a broken invariant becomes a crash here.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // libfuzzer-sys's panic hook aborts on every panic, also on one the crate catches on
        // purpose (codec/jpeg.rs turns a zune-jpeg panic into a Corrupt error); with the
        // default hook back, an uncaught panic still aborts once it reaches this target.
        drop(std::panic::take_hook());
    },
    |data: &[u8]| {
        if let Err(violation) = _core::fuzzing::decode_tile(data) {
            panic!("{violation}");
        }
    }
);
