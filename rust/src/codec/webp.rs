//! WebP (TIFF code 50001): 8-bit RGB or RGBA tiles (image-webp, pure Rust). The decoder runs
//! under `catch_unwind` so a panic on hostile input becomes a `Corrupt` error.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image_webp::WebPDecoder;

use super::TileSpec;
use crate::error::{Error, Result};

/// Decode one WebP tile into `dst`.
pub(crate) fn decode(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    if spec.bits_per_sample != 8 || !matches!(spec.samples, 3 | 4) {
        return Err(Error::unsupported(format!(
            "WebP with {} samples of {} bits is not supported (only 8-bit RGB/RGBA)",
            spec.samples, spec.bits_per_sample
        )));
    }
    match catch_unwind(AssertUnwindSafe(|| {
        decode_inner(src, spec, rows_needed, dst)
    })) {
        Ok(r) => r,
        Err(_) => Err(Error::corrupt("corrupt WebP data (decoder panicked)")),
    }
}

fn decode_inner(src: &[u8], spec: &TileSpec<'_>, rows_needed: u32, dst: &mut [u8]) -> Result<()> {
    let err = |e: image_webp::DecodingError| Error::corrupt(format!("corrupt WebP data: {e}"));
    let mut dec = WebPDecoder::new(Cursor::new(src)).map_err(err)?;
    let (w, h) = dec.dimensions();
    if w != spec.width || h < rows_needed || h > spec.rows {
        return Err(Error::corrupt(format!(
            "WebP tile is {w}x{h}, expected {}x{}",
            spec.width, spec.rows
        )));
    }
    let channels: usize = if dec.has_alpha() { 4 } else { 3 };
    let size = dec
        .output_buffer_size()
        .ok_or_else(|| Error::corrupt("WebP image too large"))?;
    let mut full = vec![0u8; size];
    dec.read_image(&mut full).map_err(err)?;
    let samples = spec.samples as usize;
    for (o, i) in dst
        .chunks_exact_mut(samples)
        .zip(full.chunks_exact(channels))
    {
        for (k, b) in o.iter_mut().enumerate() {
            *b = i.get(k).copied().unwrap_or(255);
        }
    }
    Ok(())
}
