//! Range I/O: URL routing, per-process clients/stores, coalescing, retries, concurrency limit.
//!
//! Contract:
//! - [`runtime()`] returns this process's runtime (rebuilt after fork).
//! - [`Source::open(url, &IoOptions)`] routes a URL ([`route`]: local path / `file://`,
//!   `http(s)://`, `s3://`, `gs://`, `az://`, `abfs(s)://` and the cloud HTTPS forms; pre-signed or
//!   SAS URLs go to plain HTTP) to a client or store cached per process (keyed by pid, so a
//!   forked child builds its own). No request is made.
//! - [`Source::get_range`] returns exactly the range (or fewer bytes only at EOF when
//!   `allow_short`), retrying transient failures ([`retry`]); [`Source::get_ranges`] coalesces
//!   tile-sized ranges ([`coalesce`]) and fetches them concurrently under the process-wide limit,
//!   returning one `Bytes` per input. [`Source::get_object`] / [`object::get_objects`] fetch
//!   whole objects of unknown size (one open-ended range request each, see [`object`]).
//! - Every request runs as a task on [`runtime()`] whatever runtime polls the caller; dropping
//!   the caller's future aborts it.
//! - Errors name the redacted URL ([`Source::display_url`]), the byte range, the HTTP status
//!   when there is one and the number of attempts. Kinds: NotFound (404/no file), Forbidden
//!   (401/403), Corrupt (range past EOF without `allow_short`), Transport (everything else),
//!   InvalidArgument (bad URL, unknown store option, start > end).
//! - A `backend=` reaches this layer as [`IoOptions::cloud`] (the auto-routing backend: URL
//!   rewrites, per-bucket S3 configuration, a credential provider whose credentials are cached
//!   in [`creds`] and signed into requests here) or [`IoOptions::reader`] (an external reader
//!   such as a user's Python object; it then replaces routing for every URL).

pub mod answered;
pub mod budget;
pub mod cloud;
pub mod coalesce;
pub mod creds;
pub mod gcs_plan;
pub mod http;
pub mod local;
pub mod object;
pub mod recv_buf;
pub mod region;
pub mod retry;
pub mod route;
pub mod runtime;
pub mod s3_plan;
pub mod store;
pub mod tls;

pub use budget::ByteBudget;
pub use route::redact;
pub use runtime::runtime;

use std::future::Future;
use std::ops::Range;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::{Error, Kind, Result};
use crate::io::cloud::{CloudSettings, RangeReader};
use crate::io::creds::CredentialCache;
use crate::io::retry::{AttemptError, Policy};
use crate::io::route::Route;

/// The ranges one merged response answers: `(index into the asked ranges, bytes)`.
pub type RangeParts = Vec<(usize, Bytes)>;

/// A merged request that failed: the ranges it was to answer (indices into the asked ranges)
/// and why.
#[derive(Debug, Clone)]
pub struct PartFailure {
    pub members: Vec<usize>,
    pub error: Error,
}

/// Knobs of the I/O layer.
#[derive(Debug, Clone)]
pub struct IoOptions {
    /// Requests in flight at once, process-wide: one semaphore per process whose size is the
    /// largest value any caller has passed so far (it grows, never shrinks).
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
    /// Extra store options by object_store config key (e.g. `aws_endpoint`, `aws_region`,
    /// `aws_allow_http`, `aws_skip_signature`, `aws_access_key_id`). An unknown key is an
    /// InvalidArgument error. These win over the backend's settings and the environment;
    /// what the environment adds is in [`s3_plan`] and [`gcs_plan`].
    pub store_options: Vec<(String, String)>,
    /// Settings of the auto-routing backend (`create_backend`), if one was given.
    pub cloud: Option<Arc<CloudSettings>>,
    /// An external reader replacing routing for every URL (a Python `StorageBackend`).
    pub reader: Option<Arc<dyn RangeReader>>,
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
            cloud: None,
            reader: None,
        }
    }
}

/// How one source's bytes are fetched.
#[derive(Debug, Clone)]
enum Backend {
    Local(Arc<PathBuf>),
    /// Plain HTTP; with a credential provider, its SAS / pre-signed query is appended.
    Http(reqwest::Client, Option<Arc<CredentialCache>>),
    /// object_store (swapped when an S3 bucket turns out to be in another region).
    Store(Arc<StoreCell>),
    Reader(Arc<dyn RangeReader>),
}

/// A store, the object's path in it and the advice added to its 403 errors.
type StoreState = (Arc<dyn ObjectStore>, Arc<ObjectPath>, Arc<str>);

/// The store of one source; S3 sources keep what is needed to rebuild it for another region.
#[derive(Debug)]
struct StoreCell {
    state: std::sync::RwLock<StoreState>,
    reopen: Option<(Route, IoOptions)>,
}

impl StoreCell {
    fn current(&self) -> StoreState {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, state: StoreState) {
        *self
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }
}

/// One object (file, HTTP URL, S3 key...) we read ranges of. Cheap to open and clone: clients
/// and stores are cached process-wide.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: Arc<str>,
    display: Arc<str>,
    backend: Backend,
    policy: Policy,
    coalesce_gap: u64,
    max_merged: u64,
}

/// A task on the I/O runtime, aborted when dropped (so dropping a read cancels its requests).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| {
            r.map_err(|e| {
                if e.is_cancelled() {
                    Error::new(crate::error::Kind::Cancelled, "I/O task cancelled")
                } else {
                    Error::internal(format!("I/O task failed: {e}"))
                }
            })
        })
    }
}

/// Run `fut` on this process's I/O runtime, whatever runtime polls the caller.
async fn on_io_runtime<T: Send + 'static>(
    fut: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    AbortOnDrop(runtime()?.spawn(fut)).await?
}

impl Source {
    /// Route `url` (see [`route`]) to a cached client or store. No request is made.
    pub fn open(url: &str, opts: &IoOptions) -> Result<Self> {
        tls::install_crypto_provider();
        store::validate_options(&opts.store_options)?;
        let (url, backend) = if let Some(reader) = &opts.reader {
            if url.is_empty() {
                return Err(Error::invalid("empty URL"));
            }
            (url.to_string(), Backend::Reader(reader.clone()))
        } else {
            let url = match &opts.cloud {
                Some(c) => c.rewrite(url),
                None => url.to_string(),
            };
            let routed = route::route(&url)?;
            let backend = match &routed {
                Route::Local(p) => Backend::Local(Arc::new(p.clone())),
                Route::Http(u) => {
                    // an already signed URL keeps its own signature
                    let creds = opts
                        .cloud
                        .as_ref()
                        .and_then(|c| c.credentials_for(cloud::StoreKind::Http))
                        .filter(|_| !u.contains('?'));
                    let client = if u.starts_with("http://") {
                        http::plain_client(opts.timeout_ms)?
                    } else {
                        http::client(opts.timeout_ms)?
                    };
                    Backend::Http(client, creds)
                }
                _ => match store::store_for(&routed, opts)? {
                    Some((s, p, advice)) => {
                        let reopen = matches!(routed, Route::S3 { .. })
                            .then(|| (routed.clone(), opts.clone()));
                        Backend::Store(Arc::new(StoreCell {
                            state: std::sync::RwLock::new((s, Arc::new(p), Arc::from(advice))),
                            reopen,
                        }))
                    }
                    None => return Err(Error::internal("no store for a cloud URL")),
                },
            };
            (url, backend)
        };
        Ok(Self {
            display: Arc::from(redact(&url)),
            url: Arc::from(url),
            backend,
            policy: Policy {
                attempts: opts.retry_attempts.max(1),
                backoff_ms: opts.retry_backoff_ms,
                timeout: Duration::from_millis(opts.timeout_ms.max(1)),
                max_concurrent: opts.max_concurrent.max(1),
            },
            coalesce_gap: opts.coalesce_gap_bytes,
            max_merged: opts.max_merged_bytes.max(1),
        })
    }

    /// The URL with credentials and signatures redacted, for messages.
    pub fn display_url(&self) -> &str {
        &self.display
    }

    async fn attempt(
        &self,
        range: Range<u64>,
        allow_short: bool,
        gate: Option<&ByteBudget>,
    ) -> Result<Bytes, AttemptError> {
        match &self.backend {
            Backend::Local(p) => local::read_range(p.clone(), range, allow_short).await,
            Backend::Http(c, None) => {
                http::fetch_once(c, &self.url, range, allow_short, gate).await
            }
            Backend::Http(c, Some(creds)) => {
                self.signed_http(c, creds, range, allow_short, gate).await
            }
            Backend::Store(cell) => self.store_attempt(cell, range, allow_short).await,
            Backend::Reader(r) => {
                let body = r.get_range(&self.url, range.clone()).await?;
                self.check_reader_body(body, &range, allow_short)
            }
        }
    }

    /// One object_store attempt. A wrong-region answer from S3 triggers region discovery
    /// ([`region`]); with a region found the store is rebuilt for it and the request repeated.
    async fn store_attempt(
        &self,
        cell: &StoreCell,
        range: Range<u64>,
        allow_short: bool,
    ) -> Result<Bytes, AttemptError> {
        let (s, p, advice) = cell.current();
        let err = match store::fetch_once(s.as_ref(), &p, range.clone(), allow_short).await {
            Ok(b) => return Ok(b),
            Err(e) => e,
        };
        let Some((route @ Route::S3 { bucket, .. }, io)) = &cell.reopen else {
            return Err(store::with_advice(err, &advice));
        };
        if !store::is_wrong_region(&err) {
            return Err(store::with_advice(err, &advice));
        }
        let endpoint = store::s3_endpoint(bucket, io);
        if region::discover(bucket, endpoint.as_deref())
            .await
            .is_none()
        {
            return Err(AttemptError::fatal(
                Kind::Transport,
                format!(
                    "S3 bucket region auto-detection failed for '{bucket}'. Provide a region \
                     explicitly (create_backend(region=...), CloudConfig(region=...) or \
                     default_s3_config={{'region': ...}}) ({})",
                    err.detail
                ),
            ));
        }
        let reopened = store::store_for(route, io)
            .map_err(|e| AttemptError::fatal(e.kind(), e.message().to_string()))?;
        let Some((s, p, advice)) = reopened else {
            return Err(store::with_advice(err, &advice));
        };
        let state: StoreState = (s, Arc::new(p), Arc::from(advice));
        cell.replace(state.clone());
        store::fetch_once(state.0.as_ref(), &state.1, range, allow_short)
            .await
            .map_err(|e| store::with_advice(e, &state.2))
    }

    /// A reader's buffer must be exactly the range (shorter only at EOF when `allow_short`).
    fn check_reader_body(
        &self,
        mut body: Bytes,
        range: &Range<u64>,
        allow_short: bool,
    ) -> Result<Bytes, AttemptError> {
        let want = range.end - range.start;
        let got = body.len() as u64;
        if got > want {
            body.truncate(usize::try_from(want).unwrap_or(usize::MAX));
        } else if got < want && !allow_short {
            return Err(AttemptError::retry(format!(
                "Truncated range response for {}: requested bytes={}..{}, expected {want} \
                 bytes, got {got}.",
                self.display, range.start, range.end
            )));
        }
        Ok(body)
    }

    /// HTTP with the provider's SAS / pre-signed query appended; a 401/403 drops the cached
    /// token and tries once more with a fresh one before failing.
    async fn signed_http(
        &self,
        client: &reqwest::Client,
        creds: &Arc<CredentialCache>,
        range: Range<u64>,
        allow_short: bool,
        gate: Option<&ByteBudget>,
    ) -> Result<Bytes, AttemptError> {
        let provider_err = |e: Error| AttemptError::fatal(e.kind(), e.message().to_string());
        let mut refreshed = false;
        loop {
            let cred = creds.get().await.map_err(provider_err)?;
            let Some(query) = cred.query() else {
                // not a URL-signing credential: plain request
                return http::fetch_once(client, &self.url, range, allow_short, gate).await;
            };
            let sep = if self.url.contains('?') { '&' } else { '?' };
            let signed = format!("{}{sep}{query}", self.url);
            match http::fetch_once(client, &signed, range.clone(), allow_short, gate).await {
                Err(e) if e.kind == Kind::Forbidden && !refreshed => {
                    creds.invalidate(&cred).await;
                    refreshed = true;
                }
                Err(mut e) if e.kind == Kind::Forbidden => {
                    e.detail = format!(
                        "{}: the server rejected the SAS token / signature from the credential \
                         provider even after fetching a fresh one (expired or invalid token, or \
                         a token for another account/container); check the provider",
                        e.detail
                    );
                    return Err(e);
                }
                other => return other,
            }
        }
    }

    /// Fetch with retries on the current runtime.
    async fn fetch(
        &self,
        range: Range<u64>,
        allow_short: bool,
        gate: Option<&ByteBudget>,
    ) -> Result<Bytes> {
        let what = format!("{}: range {}..{}", self.display, range.start, range.end);
        retry::run(self.policy, &what, || {
            self.attempt(range.clone(), allow_short, gate)
        })
        .await
    }

    fn check_range(&self, range: &Range<u64>) -> Result<()> {
        if range.start > range.end {
            return Err(Error::invalid(format!(
                "{}: invalid byte range {}..{} (start after end)",
                self.display, range.start, range.end
            )));
        }
        Ok(())
    }

    /// Bytes `range` of the object: exactly that many, or fewer only at EOF when `allow_short`
    /// (empty when the range starts at or past EOF). Past EOF without `allow_short` is Corrupt.
    pub async fn get_range(&self, range: Range<u64>, allow_short: bool) -> Result<Bytes> {
        self.check_range(&range)?;
        if range.start == range.end {
            return Ok(Bytes::new());
        }
        let this = self.clone();
        on_io_runtime(async move { this.fetch(range, allow_short, None).await }).await
    }

    /// One `Bytes` per input range, in input order (duplicates and overlaps allowed). Nearby
    /// ranges are merged ([`coalesce`]) and the merged requests run concurrently under the
    /// process-wide limit; results are zero-copy slices of the merged bodies.
    pub async fn get_ranges(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let mut out: Vec<Bytes> = vec![Bytes::new(); ranges.len()];
        let mut arriving = self.get_ranges_as_ready(ranges, None)?;
        while let Some(part) = arriving.next().await {
            for (i, bytes) in part.map_err(|f| f.error)? {
                if let Some(slot) = out.get_mut(i) {
                    *slot = bytes;
                }
            }
        }
        Ok(out)
    }

    /// [`get_ranges`](Self::get_ranges), yielding each merged request's ranges as soon as its
    /// response is in: `(index into ranges, bytes)` pairs, merged requests in completion order;
    /// a merged request that fails yields a [`PartFailure`] naming the ranges it was to answer.
    /// Empty ranges are never yielded (their bytes are empty). All requests start when the
    /// stream is first polled; dropping it cancels the ones still running. With a `gate`
    /// (a budget of received, undecoded bytes), HTTP bodies are read as it admits them; the caller must then drop each yielded part once it
    /// is done with it (the parts hold the gate), never wait for a later part while holding
    /// one.
    pub fn get_ranges_as_ready(
        &self,
        ranges: &[Range<u64>],
        gate: Option<ByteBudget>,
    ) -> Result<FuturesUnordered<impl Future<Output = Result<RangeParts, PartFailure>> + Send>>
    {
        for r in ranges {
            self.check_range(r)?;
        }
        // All merged requests go out at once, even to a server not yet known to honour Range:
        // if it answers 200 with the whole object, the body is cached for the later batches
        // (a probe request first would cost every cold process one extra round trip per file).
        let merged = coalesce::coalesce(ranges, self.coalesce_gap, self.max_merged);
        Ok(merged
            .into_iter()
            .map(|m| {
                let this = self.clone();
                let members: Vec<(usize, Range<u64>)> = m
                    .members
                    .iter()
                    .filter_map(|&i| ranges.get(i).map(|r| (i, r.clone())))
                    .collect();
                let span = m.range;
                let gate = gate.clone();
                async move {
                    let indices: Vec<usize> = members.iter().map(|(i, _)| *i).collect();
                    let fetch_span = span.clone();
                    let fetcher = this.clone();
                    let body = on_io_runtime(async move {
                        fetcher.fetch(fetch_span, false, gate.as_ref()).await
                    })
                    .await;
                    body.and_then(|body| this.split_merged(&span, &body, members))
                        .map_err(|error| PartFailure {
                            members: indices,
                            error,
                        })
                }
            })
            .collect())
    }

    /// Slice a merged response into its members' ranges.
    fn split_merged(
        &self,
        span: &Range<u64>,
        body: &Bytes,
        members: Vec<(usize, Range<u64>)>,
    ) -> Result<Vec<(usize, Bytes)>> {
        let mut out = Vec::with_capacity(members.len());
        for (i, r) in members {
            let start = usize::try_from(r.start - span.start).ok();
            let end = usize::try_from(r.end - span.start).ok();
            let (Some(start), Some(end)) = (start, end) else {
                return Err(Error::internal("range offset overflows usize"));
            };
            if end > body.len() {
                return Err(Error::internal(format!(
                    "{}: merged response for {}..{} is {} bytes",
                    self.display,
                    span.start,
                    span.end,
                    body.len()
                )));
            }
            out.push((i, body.slice(start..end)));
        }
        Ok(out)
    }
}
