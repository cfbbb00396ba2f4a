//! Tile decompression + predictors, each decoding into a caller-given, exact-size buffer.
//!
//! Contract: [`decode_into`] turns one compressed tile/strip into native-endian samples of the
//! container type (`element_bytes`), chunky order `(rows, width, samples)`. Sub-byte and odd bit
//! depths are expanded (1..=8 bits -> u8, 9..=16 -> u16, 17..=32 -> u32). JPEG YCbCr becomes RGB.

use crate::error::{Error, Result};

/// What decoding one tile needs. Built by the read planner from an `ImageLayout`.
#[derive(Debug, Clone, Copy)]
pub struct TileSpec<'a> {
    pub compression: u16,
    pub predictor: u16,
    pub bits_per_sample: u16,
    /// 1 uint, 2 int, 3 float.
    pub sample_format: u16,
    /// Samples in this tile: samples_per_pixel when chunky (planar 1), else 1.
    pub samples: u16,
    /// Tile width in pixels (image width for strips).
    pub width: u32,
    /// Rows stored in this tile (tile height; the last strip may have fewer).
    pub rows: u32,
    /// Byte order of the file.
    pub little_endian: bool,
    pub photometric: Option<u16>,
    pub jpeg_tables: Option<&'a [u8]>,
    pub lerc_parameters: Option<&'a [u32]>,
    /// GDAL nodata of the image, for codecs that carry their own validity mask (LERC).
    pub nodata: Option<f64>,
}

/// Bytes of one decoded sample: 1, 2, 4 or 8.
pub fn element_bytes(bits_per_sample: u16) -> Result<usize> {
    match bits_per_sample {
        1..=8 => Ok(1),
        9..=16 => Ok(2),
        17..=32 => Ok(4),
        33..=64 => Ok(8),
        b => Err(Error::unsupported(format!("unsupported BitsPerSample {b}"))),
    }
}

/// Decoded size of the first `rows` rows of a tile, in bytes (checked arithmetic).
pub fn decoded_len(spec: &TileSpec<'_>, rows: u32) -> Result<usize> {
    let elem = element_bytes(spec.bits_per_sample)?;
    (rows as usize)
        .checked_mul(spec.width as usize)
        .and_then(|n| n.checked_mul(spec.samples as usize))
        .and_then(|n| n.checked_mul(elem))
        .ok_or_else(|| Error::corrupt("tile size overflows"))
}

/// Decode the first `rows_needed` rows (<= `spec.rows`) of `src` into `dst`
/// (`dst.len() == decoded_len(spec, rows_needed)`). Codecs that stream may stop early.
pub fn decode_into(
    _src: &[u8],
    _spec: &TileSpec<'_>,
    _rows_needed: u32,
    _dst: &mut [u8],
) -> Result<()> {
    Err(Error::internal("codec::decode_into not implemented yet"))
}
