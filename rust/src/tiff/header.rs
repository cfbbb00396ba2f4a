//! Byte order, the classic / BigTIFF file header, and endian-aware access to the cache.

use std::ops::Range;

use super::SparseBytes;
use crate::error::Error;

/// Why a parse step stopped: bytes missing from the cache, or a real error.
#[derive(Debug)]
pub(crate) enum Fail {
    Need(Range<u64>),
    Err(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Err(e)
    }
}

pub(crate) type PResult<T> = std::result::Result<T, Fail>;

pub(crate) fn corrupt(msg: impl Into<String>) -> Fail {
    Fail::Err(Error::corrupt(msg))
}

/// The cache seen through the file's byte order and TIFF flavour.
#[derive(Clone, Copy)]
pub(crate) struct Src<'a> {
    pub cache: &'a SparseBytes,
    pub le: bool,
    pub big: bool,
}

impl<'a> Src<'a> {
    /// `len` bytes at `off`, or `Need` when not cached (Corrupt when past a known EOF).
    pub fn bytes(&self, off: u64, len: u64) -> PResult<&'a [u8]> {
        let end = off
            .checked_add(len)
            .ok_or_else(|| corrupt(format!("offset {off} + length {len} overflows")))?;
        if let Some(b) = self.cache.get(off..end) {
            return Ok(b);
        }
        if let Some(size) = self.cache.file_size {
            if end > size {
                return Err(corrupt(format!(
                    "offset past end of file: bytes {off}..{end} are needed but the file has {size} bytes"
                )));
            }
        }
        Err(Fail::Need(off..end))
    }

    /// Size in bytes of an offset field (4 classic, 8 BigTIFF).
    pub fn offset_size(&self) -> u64 {
        if self.big {
            8
        } else {
            4
        }
    }

    pub fn u16(&self, b: &[u8], at: usize) -> PResult<u16> {
        let a: [u8; 2] = fixed(b, at)?;
        Ok(if self.le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        })
    }

    pub fn u32(&self, b: &[u8], at: usize) -> PResult<u32> {
        let a: [u8; 4] = fixed(b, at)?;
        Ok(if self.le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }

    pub fn u64(&self, b: &[u8], at: usize) -> PResult<u64> {
        let a: [u8; 8] = fixed(b, at)?;
        Ok(if self.le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        })
    }

    /// An offset field (u32 classic, u64 BigTIFF).
    pub fn offset(&self, b: &[u8], at: usize) -> PResult<u64> {
        if self.big {
            self.u64(b, at)
        } else {
            self.u32(b, at).map(u64::from)
        }
    }
}

fn fixed<const N: usize>(b: &[u8], at: usize) -> PResult<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Fail::Err(Error::internal("short read inside a cached TIFF structure")))
}

/// What the first bytes of the file say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TiffHeader {
    pub little_endian: bool,
    pub bigtiff: bool,
    pub first_ifd: u64,
}

/// Parse the 8-byte classic or 16-byte BigTIFF header.
pub(crate) fn read_header(cache: &SparseBytes) -> PResult<TiffHeader> {
    if let Some(size) = cache.file_size {
        if size < 8 {
            return Err(corrupt(format!(
                "not a TIFF file (only {size} bytes; a TIFF header has 8)"
            )));
        }
    }
    let probe = Src {
        cache,
        le: true,
        big: false,
    };
    let b = probe.bytes(0, 8)?;
    let le = match b.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        other => {
            let shown = other
                .map(|s| s.iter().map(|c| format!("{c:02x}")).collect::<String>())
                .unwrap_or_default();
            return Err(corrupt(format!(
                "not a TIFF file (bad byte-order mark 0x{shown}, expected 'II' or 'MM')"
            )));
        }
    };
    let src = Src {
        cache,
        le,
        big: false,
    };
    match src.u16(b, 2)? {
        42 => {
            let first_ifd = u64::from(src.u32(b, 4)?);
            check_first(first_ifd)?;
            Ok(TiffHeader {
                little_endian: le,
                bigtiff: false,
                first_ifd,
            })
        }
        43 => {
            if cache.file_size.is_some_and(|s| s < 16) {
                return Err(corrupt("truncated BigTIFF header (needs 16 bytes)"));
            }
            let b = src.bytes(0, 16)?;
            let offset_size = src.u16(b, 4)?;
            if offset_size != 8 {
                return Err(corrupt(format!(
                    "unsupported BigTIFF offset size {offset_size} (expected 8)"
                )));
            }
            let first_ifd = src.u64(b, 8)?;
            check_first(first_ifd)?;
            Ok(TiffHeader {
                little_endian: le,
                bigtiff: true,
                first_ifd,
            })
        }
        magic => Err(corrupt(format!(
            "not a TIFF file (version {magic}, expected 42 for TIFF or 43 for BigTIFF)"
        ))),
    }
}

fn check_first(first_ifd: u64) -> PResult<()> {
    if first_ifd == 0 {
        return Err(corrupt("TIFF file has no image (first IFD offset is 0)"));
    }
    Ok(())
}
