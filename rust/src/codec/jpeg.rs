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
        // One component: grey, or one plane of a planar (PlanarConfiguration 2) RGB image.
        (1, _) => ColorSpace::Luma,
        // Upsampled YCbCr from zune, converted to RGB by us (libjpeg's fixed-point formulas).
        (3, 6) => ColorSpace::YCbCr,
        // No conversion: zune assumes YCbCr input, so "YCbCr out" copies the raw components.
        (3, 2) => ColorSpace::YCbCr,
        (s, p) => {
            return Err(Error::unsupported(format!(
                "JPEG with {s} samples and Photometric {p} is not supported"
            )))
        }
    };
    // zune-jpeg fills a truncated scan with grey silently; libtiff-written tiles end with EOI
    // (0xFF 0xFF-stuffing means FF D9 cannot occur inside entropy-coded data).
    let end = src.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if !src.get(..end).is_some_and(|s| s.ends_with(&EOI)) {
        return Err(Error::corrupt(
            "truncated JPEG tile (no end-of-image marker)",
        ));
    }
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
        Ok(r) => r?,
        Err(_) => return Err(Error::corrupt("corrupt JPEG data (decoder panicked)")),
    }
    if spec.samples == 3 && spec.photometric == Some(6) {
        if let Some((h_luma, h_chroma)) = horizontal_sampling(data) {
            let ratio = h_luma / h_chroma.max(1);
            let mcu_w = 8 * usize::from(h_luma);
            if ratio == 2 && mcu_w > 0 && (spec.width as usize) % mcu_w == 0 {
                fix_right_edge_chroma(dst, spec.width as usize);
            }
        }
        ycbcr_to_rgb(dst);
    }
    Ok(())
}

/// zune-jpeg 0.4's horizontal fancy upsampling weights the next-to-last chroma sample 3:1 for
/// output column `w - 2` (libjpeg weights the last one 3:1). Recover the last two chroma
/// samples from neighbouring outputs and recompute that column as libjpeg does.
fn fix_right_edge_chroma(buf: &mut [u8], width: usize) {
    if width < 4 {
        return;
    }
    for row in buf.chunks_exact_mut(width * 3) {
        for c in 1..3 {
            let at = |x: usize| row.get(x * 3 + c).copied().map_or(0i32, i32::from);
            let last = at(width - 1); // == chroma sample n-1
            let prev_out = at(width - 3); // (3 * s[n-2] + s[n-1] + 2) >> 2
            let s_prev = ((4 * prev_out - last) as f32 / 3.0).round() as i32;
            let fixed = ((3 * last + s_prev.clamp(0, 255) + 2) >> 2).clamp(0, 255);
            if let Some(b) = row.get_mut((width - 2) * 3 + c) {
                *b = fixed as u8;
            }
        }
    }
}

/// libjpeg `jdcolor.c` YCbCr -> RGB (16-bit fixed point, same tables), in place.
fn ycbcr_to_rgb(buf: &mut [u8]) {
    const ONE_HALF: i32 = 1 << 15;
    const fn fix(x: f64) -> i32 {
        (x * 65536.0 + 0.5) as i32
    }
    for px in buf.chunks_exact_mut(3) {
        if let [y, cb, cr] = px {
            let yv = i32::from(*y);
            let cbv = i32::from(*cb) - 128;
            let crv = i32::from(*cr) - 128;
            let r = yv + ((fix(1.40200) * crv + ONE_HALF) >> 16);
            let g = yv + ((-fix(0.34414) * cbv - fix(0.71414) * crv + ONE_HALF) >> 16);
            let b = yv + ((fix(1.77200) * cbv + ONE_HALF) >> 16);
            *y = r.clamp(0, 255) as u8;
            *cb = g.clamp(0, 255) as u8;
            *cr = b.clamp(0, 255) as u8;
        }
    }
}

/// Horizontal sampling factors (luma, max chroma) from the frame header, if found.
fn horizontal_sampling(data: &[u8]) -> Option<(u8, u8)> {
    let mut i = 2usize;
    loop {
        if *data.get(i)? != 0xFF {
            return None;
        }
        let marker = *data.get(i + 1)?;
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if marker == 0xD8 || marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*data.get(i + 2)?, *data.get(i + 3)?]));
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let seg = data.get(i + 4..i + 2 + len)?;
            let n = usize::from(*seg.get(5)?);
            let h = |k: usize| seg.get(6 + 3 * k + 1).map(|b| b >> 4);
            let luma = h(0)?;
            let chroma = (1..n).filter_map(h).max().unwrap_or(luma);
            return Some((luma, chroma));
        }
        i += 2 + len;
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
