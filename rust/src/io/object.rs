//! Whole objects of unknown size (small documents such as STAC JSON), fetched through the
//! range path: same routing, retries, credentials and process-wide concurrency limit.
//!
//! An object is asked for as one range of [`FIRST_REQUEST_BYTES`] that may come back short at
//! EOF, so a document up to that size takes one request; a larger one takes one more request
//! for the rest (up to [`MAX_OBJECT_BYTES`]).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use futures::stream::{self, StreamExt};

use crate::error::{Error, Result};
use crate::io::{redact, IoOptions, Source};

/// The first request's range: objects up to this size are fetched in one request.
pub const FIRST_REQUEST_BYTES: u64 = 1024 * 1024;
/// Objects larger than this are refused (InvalidArgument).
pub const MAX_OBJECT_BYTES: u64 = 1 << 30;

impl Source {
    /// The whole object: bytes `0..first_bytes` (short at EOF), then, only when the object is
    /// larger, the rest in a second request. Larger than [`MAX_OBJECT_BYTES`] is an error.
    pub async fn get_object(&self, first_bytes: u64) -> Result<Bytes> {
        let first = first_bytes.clamp(1, MAX_OBJECT_BYTES);
        let head = self.get_whole_part(0..first).await?;
        if (head.len() as u64) < first {
            return Ok(head);
        }
        let rest = self.get_whole_part(first..MAX_OBJECT_BYTES + 1).await?;
        if rest.is_empty() {
            return Ok(head);
        }
        let total = first + rest.len() as u64;
        if total > MAX_OBJECT_BYTES {
            return Err(Error::invalid(format!(
                "{}: object larger than {MAX_OBJECT_BYTES} bytes",
                self.display_url()
            )));
        }
        let mut all = BytesMut::with_capacity(head.len() + rest.len());
        all.extend_from_slice(&head);
        all.extend_from_slice(&rest);
        Ok(all.freeze())
    }

    /// `range` of the object, short at EOF; errors name the object, not the range (the
    /// caller asked for the whole object).
    async fn get_whole_part(&self, range: Range<u64>) -> Result<Bytes> {
        let prefix = format!(
            "{}: range {}..{}: ",
            self.display_url(),
            range.start,
            range.end
        );
        self.get_range(range, true)
            .await
            .map_err(|e| match e.message().strip_prefix(&prefix) {
                Some(detail) => Error::new(e.kind(), format!("{}: {detail}", self.display_url())),
                None => e,
            })
    }
}

/// Fetch one URL whole; errors name the (redacted) URL.
async fn get_one(url: &str, io: &IoOptions, first_bytes: u64) -> Result<Bytes> {
    let named = |e: Error| {
        let shown = redact(url);
        if e.message().starts_with(&shown) {
            e
        } else {
            e.context(shown)
        }
    };
    let source = Source::open(url, io).map_err(named)?;
    source.get_object(first_bytes).await.map_err(named)
}

/// Fetch every URL whole, at most `io.max_concurrent` at once; results in input order.
/// `progress` is called with the number of finished URLs after each one.
pub async fn get_objects(
    urls: &[String],
    io: &IoOptions,
    first_bytes: u64,
    progress: impl FnMut(usize),
) -> Vec<Result<Bytes>> {
    each_url(
        urls,
        io.max_concurrent,
        |url| get_one(url, io, first_bytes),
        progress,
    )
    .await
}

/// `one(url)` for every URL of `urls`, at most `max_concurrent` at once; results in input
/// order. `progress` is called with the number of finished URLs after each one (from the
/// runtime thread driving this future).
pub async fn each_url<'a, T, Fut>(
    urls: &'a [String],
    max_concurrent: usize,
    one: impl Fn(&'a str) -> Fut,
    mut progress: impl FnMut(usize),
) -> Vec<Result<T>>
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut out: Vec<Option<Result<T>>> = (0..urls.len()).map(|_| None).collect();
    let one = &one;
    let mut done = stream::iter(urls.iter().enumerate())
        .map(|(i, url)| async move { (i, one(url).await) })
        .buffer_unordered(max_concurrent.max(1));
    let mut finished = 0;
    while let Some((i, res)) = done.next().await {
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(res);
        }
        finished += 1;
        progress(finished);
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::internal("URL not processed"))))
        .collect()
}
