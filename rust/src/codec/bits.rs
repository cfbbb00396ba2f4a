//! Expansion of sub-byte and odd bit depths (1..=32 bits, not 8/16/32) into u8/u16/u32.
//!
//! Stored rows are byte-aligned; samples are packed MSB-first within each row, as libtiff and
//! GDAL read them. Exception, following GDAL/libtiff: 24-bit samples are whole bytes in the
//! file's byte order (libtiff swabs 24-bit data like 16/32-bit data).

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
                    let (b0, b1, b2) = match s {
                        [a, b, c] => (u32::from(*a), u32::from(*b), u32::from(*c)),
                        _ => (0, 0, 0),
                    };
                    let v = if spec.little_endian {
                        b0 | (b1 << 8) | (b2 << 16)
                    } else {
                        (b0 << 16) | (b1 << 8) | b2
                    };
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
