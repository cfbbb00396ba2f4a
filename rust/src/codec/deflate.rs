//! DEFLATE (TIFF codes 8 and 32946): zlib streams.
//!
//! Whole tile wanted -> libdeflate in one shot straight into the output (fastest). Most of the
//! tile wanted -> libdeflate into a reused thread-local scratch buffer, then copy the prefix.
//! A small prefix wanted -> stream with flate2 (zlib-rs) and stop as soon as it is produced.
//! Streams that hold more bytes than the tile needs are accepted (excess is ignored).

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};
use libdeflater::{DecompressionError, Decompressor};

use super::short_output;
use crate::error::{Error, Result};

/// Largest scratch buffer kept alive per thread between tiles.
const SCRATCH_KEEP: usize = 16 << 20;

thread_local! {
    static DECOMPRESSOR: RefCell<Decompressor> = RefCell::new(Decompressor::new());
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Fill `out` (the first bytes of a tile whose whole stored size is `full_len`) from `src`.
pub(crate) fn decode(src: &[u8], out: &mut [u8], full_len: usize) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let wanted = out.len();
    if wanted >= full_len {
        match one_shot(src, out)? {
            Some(n) if n >= wanted => return Ok(()),
            Some(n) => return Err(short_output(n, wanted)),
            None => {} // holds more than the tile: stream and stop early instead
        }
    } else if whole_stream_pays(wanted, full_len) {
        let done = SCRATCH.with(|s| -> Result<bool> {
            let mut scratch = s.borrow_mut();
            scratch.resize(full_len, 0);
            let result = match one_shot(src, &mut scratch) {
                Ok(Some(n)) if n >= wanted => {
                    let part = scratch.get(..wanted).unwrap_or_default();
                    out.copy_from_slice(part);
                    Ok(true)
                }
                Ok(Some(n)) => Err(short_output(n, wanted)),
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            if scratch.capacity() > SCRATCH_KEEP {
                *scratch = Vec::new(); // don't pin huge buffers to every worker thread
            }
            result
        })?;
        if done {
            return Ok(());
        }
    }
    stream(src, out)
}

/// Whether decoding the whole tile with libdeflate (which only decodes whole streams) and
/// keeping the first `wanted` of its `full_len` bytes beats streaming just the prefix: true
/// from 60% of the tile on.
pub(crate) fn whole_stream_pays(wanted: usize, full_len: usize) -> bool {
    wanted.saturating_mul(10) >= full_len.saturating_mul(6)
}

/// libdeflate zlib decode into `out`: `Some(bytes)` or `None` when the stream is larger.
fn one_shot(src: &[u8], out: &mut [u8]) -> Result<Option<usize>> {
    DECOMPRESSOR.with(|d| match d.borrow_mut().zlib_decompress(src, out) {
        Ok(n) => Ok(Some(n)),
        Err(DecompressionError::InsufficientSpace) => Ok(None),
        Err(DecompressionError::BadData) => Err(Error::corrupt("corrupt DEFLATE stream")),
    })
}

/// Streaming zlib decode that stops once `out` is full.
pub(crate) fn stream(src: &[u8], out: &mut [u8]) -> Result<()> {
    let mut z = Decompress::new(true);
    let mut filled = 0usize;
    loop {
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let input = src.get(consumed..).unwrap_or_default();
        let rest = out.get_mut(filled..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(());
        }
        let before = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, rest, FlushDecompress::None)
            .map_err(|e| Error::corrupt(format!("corrupt DEFLATE stream: {e}")))?;
        filled = usize::try_from(z.total_out()).unwrap_or(usize::MAX);
        if filled >= out.len() {
            return Ok(());
        }
        let stalled = before == (z.total_in(), z.total_out());
        if status == Status::StreamEnd || stalled {
            return Err(short_output(filled, out.len()));
        }
    }
}

/// Inflate a whole zlib stream of unknown size, refusing to grow past `cap` bytes (LERC).
pub(crate) fn inflate_capped(src: &[u8], cap: usize) -> Result<Vec<u8>> {
    let mut z = Decompress::new(true);
    let mut out = Vec::with_capacity(src.len().saturating_mul(4).min(cap));
    loop {
        if out.len() == out.capacity() {
            if out.len() >= cap {
                return Err(Error::corrupt(format!(
                    "DEFLATE stream inflates past {cap} bytes"
                )));
            }
            out.reserve((out.len().max(4096)).min(cap - out.len()));
        }
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let input = src.get(consumed..).unwrap_or_default();
        let before = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::Finish)
            .map_err(|e| Error::corrupt(format!("corrupt DEFLATE stream: {e}")))?;
        if status == Status::StreamEnd {
            return Ok(out);
        }
        if before == (z.total_in(), z.total_out()) && out.len() < out.capacity() {
            return Err(Error::corrupt("truncated DEFLATE stream"));
        }
    }
}
