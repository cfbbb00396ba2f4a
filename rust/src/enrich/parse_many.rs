//! Parse the headers of many URLs concurrently.

use crate::error::Result;
use crate::io::object::each_url;
use crate::io::{IoOptions, Source};
use crate::tiff::{self, CogHeader};

/// Header read-ahead: one request of this size parses a typical COG.
pub const DEFAULT_READAHEAD_BYTES: u64 = 64 * 1024;

/// Parse one URL's header (open + read-ahead fetches + parse).
pub async fn parse_one(url: &str, io: &IoOptions, readahead_bytes: u64) -> Result<CogHeader> {
    let source = Source::open(url, io)?;
    let src = &source;
    tiff::fetch_header(
        |r| async move { src.get_range(r, true).await },
        readahead_bytes,
    )
    .await
    .map_err(|e| {
        // Name the file, never leaking a signed URL's credentials.
        let shown = source.display_url();
        if e.message().starts_with(shown) {
            e
        } else {
            e.context(shown)
        }
    })
}

/// Parse every URL, at most `io.max_concurrent` at once; results in input order. `progress` is
/// called after each finished URL (from the runtime thread driving this future).
pub async fn parse_many(
    urls: &[String],
    io: &IoOptions,
    readahead_bytes: u64,
    progress: impl FnMut(usize),
) -> Vec<Result<CogHeader>> {
    each_url(
        urls,
        io.max_concurrent,
        |url| parse_one(url, io, readahead_bytes),
        progress,
    )
    .await
}
