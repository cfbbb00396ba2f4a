//! Fuzz the tile decoders: the first 8 bytes choose codec parameters, the rest is the tile.
#![no_main]

use _core::codec::{decode_into, decoded_len, TileSpec};
use libfuzzer_sys::fuzz_target;

const COMPRESSIONS: [u16; 11] = [1, 5, 7, 8, 32946, 32773, 34887, 50000, 50001, 34925, 9];
const BITS: [u16; 8] = [1, 4, 8, 12, 16, 32, 64, 15];

fuzz_target!(|data: &[u8]| {
    let Some((head, src)) = data.split_first_chunk::<8>() else { return };
    let bits = BITS[usize::from(head[1]) % BITS.len()];
    let sample_format = match bits {
        16 | 32 | 64 if head[2] & 1 == 1 => 3,
        _ => 1 + u16::from(head[2] >> 7),
    };
    let spec = TileSpec {
        compression: COMPRESSIONS[usize::from(head[0]) % COMPRESSIONS.len()],
        predictor: 1 + u16::from(head[3] % 3),
        bits_per_sample: bits,
        sample_format,
        samples: 1 + u16::from(head[4] % 4),
        width: 1 + u32::from(head[5] % 64),
        rows: 1 + u32::from(head[6] % 64),
        little_endian: head[7] & 1 == 0,
        photometric: Some(u16::from(head[7] >> 1) % 7),
        jpeg_tables: None,
        lerc_parameters: None,
        nodata: None,
    };
    let rows_needed = 1 + u32::from(head[7] >> 2) % spec.rows;
    if let Ok(len) = decoded_len(&spec, rows_needed) {
        let mut dst = vec![0u8; len];
        let _ = decode_into(src, &spec, rows_needed, &mut dst);
    }
});
