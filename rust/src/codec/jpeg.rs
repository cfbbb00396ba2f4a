//! JPEG (TIFF code 7) with optional JPEGTables, via zune-jpeg.
//!
//! libtiff writes abbreviated streams: the shared DQT/DHT tables live in the JPEGTables tag
//! (`SOI ... EOI`) and each tile is `SOI ... EOI` without them. We splice tables-without-EOI
//! with tile-without-SOI. libtiff writes no JFIF/Adobe marker, so the colour space comes from
//! the TIFF Photometric: YCbCr (6) is converted to RGB as GDAL does (JPEGCOLORMODE_RGB);
//! RGB (2) components are returned as stored; one sample is greyscale. zune-jpeg runs under
//! `catch_unwind` so a panic on hostile input becomes a `Corrupt` error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::TileSpec;
use crate::error::{Error, Result};

const SOI: [u8; 2] = [0xFF, 0xD8];
const EOI: [u8; 2] = [0xFF, 0xD9];

/// Decode one JPEG tile into `dst` (the first `rows_needed` rows of `width x rows x samples`).
pub(crate) fn decode(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    if spec.bits_per_sample != 8 {
        return Err(Error::unsupported(format!(
            "{}-bit JPEG is not supported (only 8-bit)",
            spec.bits_per_sample
        )));
    }
    let out_space = match (
        spec.samples,
        spec.photometric
            .unwrap_or(if spec.samples == 1 { 1 } else { 2 }),
    ) {
        (1, 0 | 1) => ColorSpace::Luma,
        (3, 6) => ColorSpace::RGB,
        // No conversion: zune assumes YCbCr input, so "YCbCr out" copies the raw components.
        (3, 2) => ColorSpace::YCbCr,
        (s, p) => {
            return Err(Error::unsupported(format!(
                "JPEG with {s} samples and Photometric {p} is not supported"
            )))
        }
    };
    let stream = splice(src, spec.jpeg_tables);
    let data: &[u8] = stream.as_deref().unwrap_or(src);
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(out_space)
        .set_max_width(spec.width as usize)
        .set_max_height(spec.rows as usize)
        .set_strict_mode(false);
    let result = catch_unwind(AssertUnwindSafe(|| {
        decode_zune(data, options, spec, rows_needed, dst)
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err(Error::corrupt("corrupt JPEG data (decoder panicked)")),
    }
}

fn decode_zune(
    data: &[u8],
    options: DecoderOptions,
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    let mut dec = JpegDecoder::new_with_options(data, options);
    dec.decode_headers()
        .map_err(|e| Error::corrupt(format!("corrupt JPEG data: {e:?}")))?;
    let (w, h) = dec
        .dimensions()
        .ok_or_else(|| Error::corrupt("corrupt JPEG data: no frame header"))?;
    if w != spec.width as usize || h < rows_needed as usize || h > spec.rows as usize {
        return Err(Error::corrupt(format!(
            "JPEG tile is {w}x{h}, expected {}x{}",
            spec.width, spec.rows
        )));
    }
    let components = dec.get_output_colorspace().map(|c| c.num_components());
    if components != Some(spec.samples as usize) {
        return Err(Error::corrupt(format!(
            "JPEG tile decodes to {:?} components, expected {}",
            components, spec.samples
        )));
    }
    let size = dec
        .output_buffer_size()
        .ok_or_else(|| Error::corrupt("corrupt JPEG data: unknown output size"))?;
    if size == dst.len() {
        return dec
            .decode_into(dst)
            .map_err(|e| Error::corrupt(format!("corrupt JPEG data: {e:?}")));
    }
    let mut full = vec![0u8; size];
    dec.decode_into(&mut full)
        .map_err(|e| Error::corrupt(format!("corrupt JPEG data: {e:?}")))?;
    let part = full
        .get(..dst.len())
        .ok_or_else(|| super::short_output(size, dst.len()))?;
    dst.copy_from_slice(part);
    Ok(())
}

/// `tables[..-EOI] + tile[SOI..]` when both are proper JPEG streams; `None` = use the tile as is.
fn splice(tile: &[u8], tables: Option<&[u8]>) -> Option<Vec<u8>> {
    let tables = tables?;
    if tables.len() < 4 || !tables.starts_with(&SOI) || !tile.starts_with(&SOI) {
        return None;
    }
    let head = tables.strip_suffix(&EOI).unwrap_or(tables);
    let body = tile.get(2..)?;
    let mut v = Vec::with_capacity(head.len() + body.len());
    v.extend_from_slice(head);
    v.extend_from_slice(body);
    Some(v)
}

/// Test hook for [`splice`].
#[cfg(test)]
pub(crate) fn tests_splice(tile: &[u8], tables: Option<&[u8]>) -> Option<Vec<u8>> {
    splice(tile, tables)
}
