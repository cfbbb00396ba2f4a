//! Tile decompression + predictors, each decoding into a caller-given, exact-size buffer.
//!
//! Contract: [`decode_into`] turns one compressed tile/strip into native-endian samples of the
//! container type (`element_bytes`), chunky order `(rows, width, samples)`. Sub-byte and odd bit
//! depths are expanded (1..=8 bits -> u8, 9..=16 -> u16, 17..=32 -> u32). JPEG YCbCr becomes RGB.
//!
//! Pipeline for the byte-oriented codecs (none, DEFLATE, LZW, ZSTD, PackBits, LZMA): decompress
//! the "stored" bytes of the needed rows (rows are byte-aligned, `ceil(width*samples*bits/8)`
//! bytes each), stopping early when fewer rows than stored are needed, then byte-swap to native,
//! undo the predictor, and expand odd bit depths. JPEG, LERC and WebP decode whole images and
//! have their own modules.

mod bits;
mod deflate;
mod endian;
mod jpeg;
mod lerc;
mod lzma;
mod lzw;
mod packbits;
pub mod predictor;
mod webp;
mod zstd;

#[cfg(test)]
mod tests;

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

/// TIFF compression codes we know by name.
pub(crate) mod compression {
    pub const NONE: u16 = 1;
    pub const LZW: u16 = 5;
    pub const OJPEG: u16 = 6;
    pub const JPEG: u16 = 7;
    pub const DEFLATE: u16 = 8;
    pub const PACKBITS: u16 = 32773;
    pub const ADOBE_DEFLATE: u16 = 32946;
    pub const LERC: u16 = 34887;
    pub const LZMA: u16 = 34925;
    pub const ZSTD: u16 = 50000;
    pub const WEBP: u16 = 50001;
}

/// A human name for a TIFF compression code, for error messages.
pub fn compression_name(code: u16) -> Option<&'static str> {
    Some(match code {
        1 => "none",
        2 => "CCITT RLE",
        3 => "CCITT Group 3 fax",
        4 => "CCITT Group 4 fax",
        5 => "LZW",
        6 => "old-style JPEG",
        7 => "JPEG",
        8 | 32946 => "DEFLATE",
        9 => "JBIG (T.85)",
        10 => "JBIG (T.43)",
        32766 => "NeXT",
        32771 => "CCITT RLEW",
        32773 => "PackBits",
        32809 => "ThunderScan",
        32895..=32898 => "IT8",
        32908 => "Pixar film",
        32909 => "Pixar log",
        32947 => "Kodak DCS",
        34661 => "JBIG",
        34676 => "SGI LogLuv",
        34677 => "SGI LogLuv 24",
        34712 => "JPEG 2000",
        34887 => "LERC",
        34925 => "LZMA",
        34926 => "ZSTD (old code)",
        34927 => "WebP (old code)",
        34933 => "PNG",
        34934 => "JPEG XR",
        50000 => "ZSTD",
        50001 => "WebP",
        50002 => "JPEG XL (old code)",
        52546 => "JPEG XL",
        _ => return None,
    })
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

/// Bytes of one stored (still bit-packed) row: `ceil(width * samples * bits / 8)`.
pub(crate) fn stored_row_bytes(spec: &TileSpec<'_>) -> Result<usize> {
    (spec.width as usize)
        .checked_mul(spec.samples as usize)
        .and_then(|n| n.checked_mul(spec.bits_per_sample as usize))
        .map(|bits| bits.div_ceil(8))
        .ok_or_else(|| Error::corrupt("tile size overflows"))
}

/// The error for a stream that produced fewer bytes than the tile needs.
pub(crate) fn short_output(got: usize, expected: usize) -> Error {
    Error::corrupt(format!("tile decoded to {got} bytes, expected {expected}"))
}

/// Decode the first `rows_needed` rows (<= `spec.rows`) of `src` into `dst`
/// (`dst.len() == decoded_len(spec, rows_needed)`). Codecs that stream may stop early.
///
/// `dst` may instead hold the whole tile (`decoded_len(spec, spec.rows)`): a codec that
/// decodes whole tiles anyway (see [`rows_to_decode`]) then decodes in place, and the bytes
/// past the needed rows are left as decoded (not predictor-undone).
pub fn decode_into(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    decode_impl(src, spec, rows_needed, dst, true)
}

/// How many rows to decode when the first `rows_needed` rows of a tile are wanted, for a
/// caller whose buffer may hold the whole tile: every row when a prefix would cost a whole
/// decode anyway (DEFLATE from 60% of the tile on, see `deflate::whole_stream_pays`), which
/// saves copying the prefix out of a scratch buffer; else `rows_needed`.
pub fn rows_to_decode(spec: &TileSpec<'_>, rows_needed: u32) -> u32 {
    let deflate = matches!(
        spec.compression,
        compression::DEFLATE | compression::ADOBE_DEFLATE
    );
    if deflate
        && rows_needed < spec.rows
        && deflate::whole_stream_pays(rows_needed as usize, spec.rows as usize)
    {
        spec.rows
    } else {
        rows_needed
    }
}

/// Whether [`decode_into_differenced`] applies: horizontal differencing (Predictor 2) of
/// single-sample, byte-aligned tiles of a byte-stream codec, whose undoing the caller can fuse
/// with copying out only the columns it needs.
pub fn predictor_deferrable(spec: &TileSpec<'_>) -> bool {
    spec.predictor == 2
        && spec.samples == 1
        && matches!(spec.bits_per_sample, 8 | 16 | 32 | 64)
        && is_byte_codec(spec.compression)
}

/// Compressions decoded by [`decode_bytes_codec`] (decompress, swap, unpredict, unpack).
fn is_byte_codec(code: u16) -> bool {
    matches!(
        code,
        compression::NONE
            | compression::LZW
            | compression::DEFLATE
            | compression::ADOBE_DEFLATE
            | compression::PACKBITS
            | compression::LZMA
            | compression::ZSTD
    )
}

/// [`decode_into`] without undoing the predictor (native-endian, still differenced samples);
/// only for tiles where [`predictor_deferrable`] holds. Undo it with
/// [`predictor::horizontal_span`].
pub fn decode_into_differenced(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    if !predictor_deferrable(spec) {
        return Err(Error::internal(
            "predictor cannot be deferred for this tile",
        ));
    }
    decode_impl(src, spec, rows_needed, dst, false)
}

fn decode_impl(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
    undo_predictor: bool,
) -> Result<()> {
    if rows_needed > spec.rows {
        return Err(Error::invalid(format!(
            "asked for {rows_needed} rows of a tile that stores {}",
            spec.rows
        )));
    }
    let expected = decoded_len(spec, rows_needed)?;
    let with_room = dst.len() > expected && dst.len() == decoded_len(spec, spec.rows)?;
    if dst.len() != expected && !with_room {
        return Err(Error::invalid(format!(
            "output buffer is {} bytes, decoding {rows_needed} rows needs {expected}",
            dst.len()
        )));
    }
    if spec.samples == 0 {
        return Err(Error::corrupt("SamplesPerPixel is 0"));
    }
    let known = is_byte_codec(spec.compression)
        || matches!(
            spec.compression,
            compression::JPEG | compression::LERC | compression::WEBP
        );
    if known && dst.is_empty() {
        return Ok(());
    }
    let room = rows_to_decode(spec, rows_needed) == spec.rows && with_room;
    if is_byte_codec(spec.compression) {
        return decode_bytes_codec(src, spec, rows_needed, dst, room, undo_predictor);
    }
    let dst = dst
        .get_mut(..expected)
        .ok_or_else(|| Error::internal("output buffer too small"))?;
    match spec.compression {
        compression::JPEG => jpeg::decode(src, spec, rows_needed, dst),
        compression::LERC => lerc::decode(src, spec, rows_needed, dst),
        compression::WEBP => webp::decode(src, spec, rows_needed, dst),
        compression::OJPEG => Err(Error::unsupported(
            "TIFF compression 6 (old-style JPEG) is not supported; rewrite the file with \
             compression 7 (JPEG)",
        )),
        code => {
            let name = compression_name(code).unwrap_or("unknown");
            Err(Error::unsupported(format!(
                "TIFF compression {code} ({name}) is not supported"
            )))
        }
    }
}

/// Decompress into `out` (exactly filled) with a byte-oriented codec; `full_len` is the
/// stored size of the whole tile (lets DEFLATE decode in one shot when everything is needed).
fn decompress(src: &[u8], spec: &TileSpec<'_>, out: &mut [u8], full_len: usize) -> Result<()> {
    match spec.compression {
        compression::NONE => {
            let part = src
                .get(..out.len())
                .ok_or_else(|| short_output(src.len(), out.len()))?;
            out.copy_from_slice(part);
            Ok(())
        }
        compression::DEFLATE | compression::ADOBE_DEFLATE => deflate::decode(src, out, full_len),
        compression::LZW => lzw::decode(src, out),
        compression::ZSTD => zstd::decode(src, out, full_len),
        compression::PACKBITS => packbits::decode(src, out),
        compression::LZMA => lzma::decode(src, out),
        code => Err(Error::internal(format!(
            "compression {code} is not a byte-stream codec"
        ))),
    }
}

/// none / DEFLATE / LZW / ZSTD / PackBits / LZMA: decompress, swap, unpredict, unpack.
///
/// `room`: `dst` holds the whole tile and is decompressed in full (its needed rows are then
/// post-processed); else only its first `decoded_len(spec, rows_needed)` bytes are used.
fn decode_bytes_codec(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
    room: bool,
    undo_predictor: bool,
) -> Result<()> {
    let bits = spec.bits_per_sample;
    let elem = element_bytes(bits)?;
    let row_bytes = stored_row_bytes(spec)?;
    let full_len = row_bytes
        .checked_mul(spec.rows as usize)
        .ok_or_else(|| Error::corrupt("tile size overflows"))?;
    let byte_aligned = usize::from(bits) == elem * 8;
    if !byte_aligned && spec.predictor != 1 {
        return Err(Error::unsupported(format!(
            "Predictor {} with {bits}-bit samples is not supported",
            spec.predictor
        )));
    }
    let expected = decoded_len(spec, rows_needed)?;
    if byte_aligned {
        // Stored layout == decoded layout: decompress straight into dst.
        let decompressed = if room { full_len } else { expected };
        let whole = dst
            .get_mut(..decompressed)
            .ok_or_else(|| Error::internal("output buffer too small"))?;
        decompress(src, spec, whole, full_len)?;
        let dst = dst
            .get_mut(..expected)
            .ok_or_else(|| Error::internal("output buffer too small"))?;
        let predictor3 = spec.predictor == 3;
        if !predictor3 {
            endian::to_native(dst, elem, spec.little_endian);
        }
        if !undo_predictor {
            return Ok(());
        }
        predictor::undo(dst, spec, elem)
    } else {
        let mut stored = vec![0u8; row_bytes * rows_needed as usize];
        decompress(src, spec, &mut stored, full_len)?;
        let dst = dst
            .get_mut(..expected)
            .ok_or_else(|| Error::internal("output buffer too small"))?;
        bits::unpack(&stored, spec, row_bytes, dst)
    }
}
