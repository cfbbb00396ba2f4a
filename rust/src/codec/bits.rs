//! Expansion of sub-byte and odd bit depths (1..=32 bits, not 8/16/32) into u8/u16/u32.
//!
//! Stored rows are byte-aligned; samples are packed MSB-first within each row, as libtiff and
//! GDAL read them. 24-bit samples are MSB-first too, except that libtiff byte-swaps 3-byte
//! groups of big-endian files (as it swaps 16/32/64-bit data), so there each triple is
//! reversed first (checked against GDAL 3.10 in `tests/codec_gdal.rs`).

use super::TileSpec;
use crate::error::{Error, Result};

/// Unpack `stored` (whole rows of `row_bytes`) into native `dst` containers.
pub(crate) fn unpack(
    stored: &[u8],
    spec: &TileSpec<'_>,
    row_bytes: usize,
    dst: &mut [u8],
) -> Result<()> {
    let bits = u32::from(spec.bits_per_sample);
    let per_row = spec.width as usize * spec.samples as usize;
    if per_row == 0 || row_bytes == 0 {
        return Ok(());
    }
    match bits {
        1..=7 => {
            let out_row = per_row;
            for (src, out) in stored
                .chunks_exact(row_bytes)
                .zip(dst.chunks_exact_mut(out_row))
            {
                unpack_row(src, bits, out.iter_mut(), |o, v| *o = v as u8);
            }
        }
        9..=15 => {
            for (src, out) in stored
                .chunks_exact(row_bytes)
                .zip(dst.chunks_exact_mut(per_row * 2))
            {
                unpack_row(src, bits, out.chunks_exact_mut(2), |o, v| {
                    o.copy_from_slice(&(v as u16).to_ne_bytes());
                });
            }
        }
        24 => {
            for (src, out) in stored
                .chunks_exact(row_bytes)
                .zip(dst.chunks_exact_mut(per_row * 4))
            {
                for (s, o) in src.chunks_exact(3).zip(out.chunks_exact_mut(4)) {
                    let (hi, mid, lo) = match (s, spec.little_endian) {
                        ([a, b, c], true) => (*a, *b, *c),
                        ([a, b, c], false) => (*c, *b, *a),
                        _ => (0, 0, 0),
                    };
                    let v = u32::from_be_bytes([0, hi, mid, lo]);
                    o.copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        17..=31 => {
            for (src, out) in stored
                .chunks_exact(row_bytes)
                .zip(dst.chunks_exact_mut(per_row * 4))
            {
                unpack_row(src, bits, out.chunks_exact_mut(4), |o, v| {
                    o.copy_from_slice(&v.to_ne_bytes());
                });
            }
        }
        b => {
            return Err(Error::unsupported(format!(
                "cannot unpack {b}-bit samples (only 1..=32 bits)"
            )))
        }
    }
    Ok(())
}

/// Read MSB-first `bits`-wide values from `src` and hand each to `put` with its output slot.
fn unpack_row<'o, O, I>(src: &[u8], bits: u32, outs: I, mut put: impl FnMut(O, u32))
where
    I: Iterator<Item = O>,
    O: 'o,
{
    let mask: u64 = (1u64 << bits) - 1;
    let mut acc: u64 = 0;
    let mut have: u32 = 0;
    let mut bytes = src.iter();
    for o in outs {
        while have < bits {
            let b = bytes.next().copied().unwrap_or(0);
            acc = (acc << 8) | u64::from(b);
            have += 8;
        }
        have -= bits;
        put(o, ((acc >> have) & mask) as u32);
        acc &= (1u64 << have) - 1;
    }
}
