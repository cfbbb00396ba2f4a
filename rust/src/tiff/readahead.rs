//! [`fetch_header`]: drive the pure parser with an async range fetcher.
//!
//! One read-ahead at offset 0; then, for each missing structure, one request starting at the
//! first missing byte and at least twice as large as the previous one (capped at
//! [`MAX_GROWTH_BYTES`] unless the structure itself is larger), so multi-MB offset arrays cost
//! few requests and a typical COG costs exactly one.

use std::future::Future;
use std::ops::Range;

use bytes::Bytes;

use super::{parse_header, CogHeader, Parse, SparseBytes};
use crate::error::{Error, Result};

/// Most fetch rounds for one header.
pub const MAX_ROUNDS: usize = 64;
/// Smallest first request (a BigTIFF header is 16 bytes).
const MIN_FIRST_BYTES: u64 = 16;
/// Doubling stops growing requests beyond this size.
const MAX_GROWTH_BYTES: u64 = 64 << 20;

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
pub async fn fetch_header<F, Fut>(mut fetch: F, readahead_bytes: u64) -> Result<CogHeader>
where
    F: FnMut(Range<u64>) -> Fut,
    Fut: Future<Output = Result<Bytes>>,
{
    let mut cache = SparseBytes::default();
    let mut last_len = readahead_bytes.max(MIN_FIRST_BYTES);
    fetch_into(&mut fetch, &mut cache, 0..last_len).await?;
    for _ in 0..MAX_ROUNDS {
        let need = match parse_header(&cache)? {
            Parse::Done(h) => return Ok(*h),
            Parse::Need(r) => r,
        };
        let start = cache.cached_until(need.start);
        let need_len = need.end.saturating_sub(start).max(1);
        let len = need_len.max(last_len.saturating_mul(2).min(MAX_GROWTH_BYTES));
        let mut end = start.saturating_add(len);
        if let Some(size) = cache.file_size {
            end = end.min(size).max(need.end);
        }
        last_len = end.saturating_sub(start);
        fetch_into(&mut fetch, &mut cache, start..end).await?;
    }
    Err(Error::corrupt(format!(
        "TIFF header not complete after {MAX_ROUNDS} range requests; the IFDs are scattered \
         too widely or the server returns inconsistent ranges"
    )))
}
