//! Range I/O over object_store on one shared, per-process tokio runtime.
//!
//! Contract:
//! - [`runtime()`] returns this process's runtime (rebuilt after fork).
//! - [`Source::open(url, &IoOptions)`] routes a URL to a cached store.
//! - [`Source::get_range`] returns exactly the range (or fewer bytes only at EOF when
//!   `allow_short`), retrying transient failures; [`Source::get_ranges`] coalesces tile-sized
//!   ranges and fetches them concurrently under the global limit, returning one `Bytes` per input.

pub mod runtime;

pub use runtime::runtime;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};

/// Knobs of the I/O layer.
#[derive(Debug, Clone)]
pub struct IoOptions {
    /// Requests in flight at once, process-wide.
    pub max_concurrent: usize,
    /// Attempts per request, including the first.
    pub retry_attempts: u32,
    /// Base backoff between retries, doubled each time, with jitter.
    pub retry_backoff_ms: u64,
    /// Per-request timeout.
    pub timeout_ms: u64,
    /// Merge two ranges of one object when the gap between them is at most this.
    pub coalesce_gap_bytes: u64,
    /// Never merge ranges into one request larger than this.
    pub max_merged_bytes: u64,
    /// Extra store options (e.g. `aws_endpoint`, `aws_region`, `aws_skip_signature`) by key.
    pub store_options: Vec<(String, String)>,
}

impl Default for IoOptions {
    fn default() -> Self {
        Self {
            max_concurrent: 150,
            retry_attempts: 4,
            retry_backoff_ms: 100,
            timeout_ms: 30_000,
            coalesce_gap_bytes: 1024,
            max_merged_bytes: 4 * 1024 * 1024,
            store_options: Vec::new(),
        }
    }
}

/// One object (file, HTTP URL, S3 key...) we read ranges of.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: Arc<str>,
}

impl Source {
    pub fn open(_url: &str, _opts: &IoOptions) -> Result<Self> {
        Err(Error::internal("io::Source::open not implemented yet"))
    }
    pub async fn get_range(&self, _range: Range<u64>, _allow_short: bool) -> Result<Bytes> {
        Err(Error::internal("io::Source::get_range not implemented yet"))
    }
    pub async fn get_ranges(&self, _ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        Err(Error::internal(
            "io::Source::get_ranges not implemented yet",
        ))
    }
}
