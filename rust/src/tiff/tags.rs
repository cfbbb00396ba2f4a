//! Tag ids, field types, and reading an entry's values (inline or at an offset).

use super::header::{corrupt, PResult, Src};

/// Tag ids used by the parser.
pub(crate) mod tag {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const PREDICTOR: u16 = 317;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const EXTRA_SAMPLES: u16 = 338;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const JPEG_TABLES: u16 = 347;
    pub const YCBCR_SUBSAMPLING: u16 = 530;
    pub const MODEL_PIXEL_SCALE: u16 = 33550;
    pub const MODEL_TIEPOINT: u16 = 33922;
    pub const MODEL_TRANSFORMATION: u16 = 34264;
    pub const GEO_KEY_DIRECTORY: u16 = 34735;
    pub const GEO_DOUBLE_PARAMS: u16 = 34736;
    pub const GEO_ASCII_PARAMS: u16 = 34737;
    pub const GDAL_METADATA: u16 = 42112;
    pub const GDAL_NODATA: u16 = 42113;
    pub const LERC_PARAMETERS: u16 = 50674;
}

/// Largest value array we accept for one tag.
pub(crate) const MAX_VALUE_BYTES: u64 = 256 << 20;

/// Byte size of one value of a TIFF field type; None for unknown types.
pub(crate) fn type_size(typ: u16) -> Option<u64> {
    match typ {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

/// One IFD entry as stored: the value field holds the value itself when it fits, else its
/// offset.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u64,
    /// Raw value/offset field (4 bytes used in classic TIFF, 8 in BigTIFF).
    pub field: [u8; 8],
}

impl Entry {
    fn type_size(&self) -> PResult<u64> {
        type_size(self.typ).ok_or_else(|| {
            corrupt(format!(
                "TIFF tag {} has unknown field type {}",
                self.tag, self.typ
            ))
        })
    }

    /// Total byte size of the values, checked against [`MAX_VALUE_BYTES`].
    pub fn byte_size(&self) -> PResult<u64> {
        let ts = self.type_size()?;
        self.count
            .checked_mul(ts)
            .filter(|s| *s <= MAX_VALUE_BYTES)
            .ok_or_else(|| {
                corrupt(format!(
                    "TIFF tag {} claims {} values of {ts} bytes, more than the {} MiB cap",
                    self.tag,
                    self.count,
                    MAX_VALUE_BYTES >> 20
                ))
            })
    }

    /// Raw bytes of the first `n` values (all when `n >= count`).
    pub fn raw_n<'s>(&'s self, src: Src<'s>, n: u64) -> PResult<&'s [u8]> {
        let total = self.byte_size()?;
        let take = n.min(self.count).saturating_mul(self.type_size()?);
        if total <= src.offset_size() {
            let take = usize::try_from(take).unwrap_or(usize::MAX);
            return self
                .field
                .get(..take)
                .ok_or_else(|| corrupt("inline TIFF value larger than its field"));
        }
        let off = src.offset(&self.field, 0)?;
        src.bytes(off, take)
    }

    /// Where the values lie in the file; None when they are stored inline.
    pub fn value_range(&self, src: Src<'_>) -> PResult<Option<std::ops::Range<u64>>> {
        let size = self.byte_size()?;
        if size <= src.offset_size() {
            return Ok(None);
        }
        let off = src.offset(&self.field, 0)?;
        let end = off
            .checked_add(size)
            .ok_or_else(|| corrupt(format!("TIFF tag {} value offset overflows", self.tag)))?;
        Ok(Some(off..end))
    }

    /// Raw bytes of all values.
    pub fn raw<'s>(&'s self, src: Src<'s>) -> PResult<&'s [u8]> {
        self.raw_n(src, self.count)
    }

    fn wrong_type(&self, expected: &str) -> super::header::Fail {
        corrupt(format!(
            "TIFF tag {} has field type {}, expected {expected}",
            self.tag, self.typ
        ))
    }

    /// Unsigned integer values (BYTE, SHORT, LONG, LONG8, IFD, IFD8), first `n` of them.
    pub fn u64s_n(&self, src: Src<'_>, n: u64) -> PResult<Vec<u64>> {
        let width = match self.typ {
            1 | 7 => 1,
            3 => 2,
            4 | 13 => 4,
            16 | 18 => 8,
            _ => return Err(self.wrong_type("an unsigned integer type")),
        };
        let raw = self.raw_n(src, n)?;
        raw.chunks_exact(width)
            .map(|c| match width {
                1 => Ok(c.first().copied().map_or(0, u64::from)),
                2 => src.u16(c, 0).map(u64::from),
                4 => src.u32(c, 0).map(u64::from),
                _ => src.u64(c, 0),
            })
            .collect()
    }

    pub fn u64s(&self, src: Src<'_>) -> PResult<Vec<u64>> {
        self.u64s_n(src, self.count)
    }

    /// The first value as an unsigned integer.
    pub fn first_u64(&self, src: Src<'_>) -> PResult<u64> {
        self.u64s_n(src, 1)?
            .first()
            .copied()
            .ok_or_else(|| corrupt(format!("TIFF tag {} has no value (count 0)", self.tag)))
    }

    /// Numeric values as f64 (any integer, rational or float type).
    pub fn f64s(&self, src: Src<'_>) -> PResult<Vec<f64>> {
        let width = match self.typ {
            1 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 => 4,
            5 | 10 | 12 | 16 | 17 => 8,
            _ => return Err(self.wrong_type("a numeric type")),
        };
        let typ = self.typ;
        let raw = self.raw(src)?;
        raw.chunks_exact(width)
            .map(|c| {
                let first = c.first().copied().unwrap_or(0);
                Ok(match typ {
                    1 | 7 => f64::from(first),
                    6 => f64::from(first as i8),
                    3 => f64::from(src.u16(c, 0)?),
                    8 => f64::from(src.u16(c, 0)? as i16),
                    4 => f64::from(src.u32(c, 0)?),
                    9 => f64::from(src.u32(c, 0)? as i32),
                    11 => f64::from(f32::from_bits(src.u32(c, 0)?)),
                    12 => f64::from_bits(src.u64(c, 0)?),
                    16 => src.u64(c, 0)? as f64,
                    17 => src.u64(c, 0)? as i64 as f64,
                    5 => f64::from(src.u32(c, 0)?) / f64::from(src.u32(c, 4)?),
                    _ => f64::from(src.u32(c, 0)? as i32) / f64::from(src.u32(c, 4)? as i32),
                })
            })
            .collect()
    }

    /// Raw bytes of a one-byte-per-value tag (ASCII, BYTE, UNDEFINED).
    pub fn byte_values<'s>(&'s self, src: Src<'s>) -> PResult<&'s [u8]> {
        match self.typ {
            1 | 2 | 6 | 7 => self.raw(src),
            _ => Err(self.wrong_type("ASCII, BYTE or UNDEFINED")),
        }
    }

    /// ASCII text with trailing NULs removed.
    pub fn ascii(&self, src: Src<'_>) -> PResult<String> {
        let raw = self.byte_values(src)?;
        Ok(String::from_utf8_lossy(raw)
            .trim_end_matches('\0')
            .to_string())
    }
}
