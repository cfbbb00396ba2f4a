//! [`fetch_header`]: drive the pure parser with an async range fetcher.
//!
//! One read-ahead at offset 0; then, for each missing structure, one request starting at the
//! first missing byte and at least twice as large as the previous one (growth capped at
//! 16 MiB unless the structure itself is larger), so multi-MB offset arrays cost few requests
//! and a typical COG costs exactly one. Rounds and total bytes are capped.

use std::future::Future;
use std::ops::Range;

use bytes::Bytes;

use super::{parse_header, CogHeader, Parse, SparseBytes};
use crate::error::{Error, Result};

/// Most fetch rounds (after the read-ahead) for one header.
pub const MAX_ROUNDS: usize = 64;
/// Most bytes fetched for one header (bounds memory on hostile files).
pub const MAX_HEADER_BYTES: u64 = 512 << 20;
/// Smallest first request (a BigTIFF header is 16 bytes).
const MIN_FIRST_BYTES: u64 = 16;

/// Caps of one header fetch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_rounds: usize,
    /// Doubling stops growing requests beyond this size.
    pub max_growth: u64,
    pub max_total: u64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_rounds: MAX_ROUNDS,
        max_growth: 16 << 20,
        max_total: MAX_HEADER_BYTES,
    };
}

/// Fetch `range` into the cache; a short body marks the end of the file.
async fn fetch_into<F, Fut>(fetch: &mut F, cache: &mut SparseBytes, range: Range<u64>) -> Result<()>
where
    F: FnMut(Range<u64>) -> Fut,
    Fut: Future<Output = Result<Bytes>>,
{
    let want = range.end.saturating_sub(range.start);
    let mut data = fetch(range.clone()).await?;
    let got = data.len() as u64;
    if got < want {
        let end = range.start.saturating_add(got);
        cache.file_size = Some(cache.file_size.map_or(end, |s| s.min(end)));
    } else if got > want {
        data.truncate(usize::try_from(want).unwrap_or(usize::MAX));
    }
    cache.insert(range.start, data);
    Ok(())
}

/// Drive [`parse_header`] with `fetch(range) -> bytes` (may return fewer bytes at EOF).
pub async fn fetch_header<F, Fut>(fetch: F, readahead_bytes: u64) -> Result<CogHeader>
where
    F: FnMut(Range<u64>) -> Fut,
    Fut: Future<Output = Result<Bytes>>,
{
    fetch_header_limited(fetch, readahead_bytes, Limits::DEFAULT).await
}

/// [`fetch_header`] with explicit caps.
pub(crate) async fn fetch_header_limited<F, Fut>(
    mut fetch: F,
    readahead_bytes: u64,
    limits: Limits,
) -> Result<CogHeader>
where
    F: FnMut(Range<u64>) -> Fut,
    Fut: Future<Output = Result<Bytes>>,
{
    let mut cache = SparseBytes::default();
    let mut last_len = readahead_bytes.max(MIN_FIRST_BYTES);
    let mut total = last_len;
    fetch_into(&mut fetch, &mut cache, 0..last_len).await?;
    for _ in 0..limits.max_rounds {
        let need = match parse_header(&cache)? {
            Parse::Done(h) => return Ok(*h),
            Parse::Need(r) => r,
        };
        let start = cache.cached_until(need.start);
        let need_len = need.end.saturating_sub(start).max(1);
        let len = need_len.max(last_len.saturating_mul(2).min(limits.max_growth));
        let mut end = start.saturating_add(len);
        if let Some(size) = cache.file_size {
            end = end.min(size).max(need.end);
        }
        last_len = end.saturating_sub(start);
        total = total.saturating_add(last_len);
        if total > limits.max_total {
            return Err(Error::corrupt(format!(
                "TIFF header needs more than {} bytes of reads (bytes {}..{} still missing)",
                limits.max_total, need.start, need.end
            )));
        }
        fetch_into(&mut fetch, &mut cache, start..end).await?;
    }
    Err(Error::corrupt(format!(
        "TIFF header not complete after {} range requests; the IFDs are scattered too \
         widely or the server returns inconsistent ranges",
        limits.max_rounds
    )))
}
