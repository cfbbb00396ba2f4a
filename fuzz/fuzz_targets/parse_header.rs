//! Fuzz the pure TIFF header parser: any bytes must give Ok or Err, never a panic, hang or
//! unbounded allocation. The whole input is the file (so every Need range is satisfiable).
#![no_main]

use _core::tiff::{parse_header, Parse, SparseBytes};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cache = SparseBytes {
        chunks: vec![(0, Bytes::copy_from_slice(data))],
        file_size: Some(data.len() as u64),
    };
    match parse_header(&cache) {
        Ok(Parse::Done(_)) | Err(_) => {}
        // Everything is cached: asking for more must stay within the file.
        Ok(Parse::Need(r)) => assert!(r.end > data.len() as u64 || r.start >= r.end),
    }
});
