//! Plain HTTP(S) range reads with reqwest: one cached client per process and timeout.
//!
//! Status handling of one attempt (`Range: bytes=a-(b-1)`):
//! - 206: the body must be exactly the range, or shorter only at EOF (the `Content-Range` total
//!   says so) when `allow_short`; a shorter body otherwise is a retried "short body";
//! - 200 (server ignores `Range`): the body is the whole object; the range is sliced out of it.
//!   Objects up to [`FULL_BODY_MAX_OBJECT`] are kept a short while in a bounded process-wide
//!   cache, so the other ranges of one `get_ranges` call do not download them again; bigger ones
//!   are read only up to the range end;
//! - 416: EOF (empty) with `allow_short`, else Corrupt; 404 NotFound; 401/403 Forbidden;
//!   other 4xx fail at once; 5xx/429/408, connection errors and short bodies are retried.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{CONTENT_RANGE, RANGE, RETRY_AFTER};
use reqwest::StatusCode;

use crate::error::{Error, Kind, Result};
use crate::io::budget::ByteBudget;
use crate::io::retry::AttemptError;

/// Largest object kept whole after a 200 response.
pub const FULL_BODY_MAX_OBJECT: u64 = 64 * 1024 * 1024;
/// Total bytes the full-body cache may hold.
pub const FULL_BODY_CACHE_BYTES: usize = 256 * 1024 * 1024;
/// How long a full body stays cached.
pub const FULL_BODY_TTL: Duration = Duration::from_secs(60);
/// Entries of the "does this URL honour Range?" memo before it is cleared.
const RANGE_MEMO_CAP: usize = 10_000;

/// Clients by (TLS roots loaded, timeout), owned by one process id (rebuilt after `fork`).
type ClientMap = HashMap<(bool, u64), reqwest::Client>;
static CLIENTS: Mutex<Option<(u32, ClientMap)>> = Mutex::new(None);
/// Timeout of the client that follows a plain-HTTP redirect to `https://`.
const REDIRECT_CLIENT_TIMEOUT_MS: u64 = 30_000;

/// This process's HTTP(S) client for `timeout_ms` (connection pools are shared by all
/// sources). Building it loads the system's TLS roots.
pub fn client(timeout_ms: u64) -> Result<reqwest::Client> {
    cached_client(true, timeout_ms)
}

/// This process's client for `http://` URLs: the same, without the TLS roots (loading them
/// reads every file of the system's certificate directory: milliseconds before the first
/// request of every process). A redirect to an `https://` URL is not followed by it but
/// returned to [`fetch_once`], which repeats the request there with [`client`].
pub fn plain_client(timeout_ms: u64) -> Result<reqwest::Client> {
    cached_client(proxy_needs_tls(), timeout_ms)
}

/// Whether plain-HTTP requests go through an `https://` proxy (which needs the TLS roots).
fn proxy_needs_tls() -> bool {
    ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .any(|v| v.trim().to_ascii_lowercase().starts_with("https://"))
}

fn cached_client(tls: bool, timeout_ms: u64) -> Result<reqwest::Client> {
    super::tls::install_crypto_provider();
    let pid = std::process::id();
    let mut slot = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        *slot = Some((pid, HashMap::new()));
    }
    let Some((_, map)) = slot.as_mut() else {
        return Err(Error::internal("HTTP client cache missing"));
    };
    if let Some(c) = map.get(&(tls, timeout_ms)) {
        return Ok(c.clone());
    }
    let connect = Duration::from_millis(timeout_ms.clamp(1, 10_000));
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("rasteret/", env!("CARGO_PKG_VERSION")));
    if !tls {
        builder = builder
            .tls_certs_only(Vec::<reqwest::Certificate>::new())
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.url().scheme() != "http" {
                    attempt.stop() // handed back: fetch_once follows it with the TLS client
                } else if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }));
    }
    let c = builder
        .build()
        .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
    map.insert((tls, timeout_ms), c.clone());
    Ok(c)
}

/// The absolute target of a redirect that leaves plain HTTP (see [`plain_client`]).
fn redirect_off_http(resp: &reqwest::Response) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()?;
    let target = resp.url().join(location).ok()?;
    (target.scheme() != "http").then(|| target.to_string())
}

/// Bounded, short-lived cache of whole bodies of servers that ignore `Range`, plus a memo of
/// which URLs honour `Range`.
struct BodyCache {
    pid: u32,
    bodies: HashMap<String, (Bytes, Instant)>,
    total: usize,
    honours_range: HashMap<String, bool>,
}

static BODIES: Mutex<Option<BodyCache>> = Mutex::new(None);

fn with_cache<T>(f: impl FnOnce(&mut BodyCache) -> T) -> T {
    let pid = std::process::id();
    let mut slot = BODIES.lock().unwrap_or_else(PoisonError::into_inner);
    let cache = match slot.as_mut() {
        Some(c) if c.pid == pid => c,
        _ => slot.insert(BodyCache {
            pid,
            bodies: HashMap::new(),
            total: 0,
            honours_range: HashMap::new(),
        }),
    };
    f(cache)
}

fn cached_body(url: &str) -> Option<Bytes> {
    with_cache(|c| {
        let fresh = c
            .bodies
            .get(url)
            .filter(|(_, at)| at.elapsed() < FULL_BODY_TTL)
            .map(|(b, _)| b.clone());
        if fresh.is_none() {
            if let Some((b, _)) = c.bodies.remove(url) {
                c.total = c.total.saturating_sub(b.len());
            }
        }
        fresh
    })
}

fn store_body(url: &str, body: Bytes) {
    if body.len() as u64 > FULL_BODY_MAX_OBJECT {
        return;
    }
    with_cache(|c| {
        if let Some((old, _)) = c.bodies.remove(url) {
            c.total = c.total.saturating_sub(old.len());
        }
        while c.total + body.len() > FULL_BODY_CACHE_BYTES {
            let oldest = c
                .bodies
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            if let Some((b, _)) = c.bodies.remove(&k) {
                c.total = c.total.saturating_sub(b.len());
            }
        }
        c.total += body.len();
        c.bodies.insert(url.to_string(), (body, Instant::now()));
    });
}

fn note_range_support(url: &str, honours: bool) {
    with_cache(|c| {
        if c.honours_range.len() >= RANGE_MEMO_CAP && !c.honours_range.contains_key(url) {
            c.honours_range.clear();
        }
        c.honours_range.insert(url.to_string(), honours);
    });
}

/// Whether `url` is known to honour `Range` requests (`None`: not asked yet).
pub fn honours_range(url: &str) -> Option<bool> {
    with_cache(|c| c.honours_range.get(url).copied())
}

/// Parse `Content-Range: bytes a-b/total` (total may be `*`) or `bytes */total`.
pub fn parse_content_range(v: &str) -> Option<(Option<Range<u64>>, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    let span = match span.trim() {
        "*" => None,
        s => {
            let (a, b) = s.split_once('-')?;
            let a: u64 = a.trim().parse().ok()?;
            let b: u64 = b.trim().parse().ok()?;
            if b < a {
                return None;
            }
            Some(a..b.checked_add(1)?)
        }
    };
    Some((span, total))
}

fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

fn transport(e: &reqwest::Error) -> AttemptError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body read failed"
    } else {
        "request failed"
    };
    // reqwest's Display names the URL (with any signature): keep only the source chain.
    let mut cause = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    if cause.is_empty() {
        AttemptError::retry(what)
    } else {
        AttemptError::retry(format!("{what}: {cause}"))
    }
}

/// Read the body into memory, stopping once `limit` bytes are in (the rest is dropped).
async fn read_body(
    resp: &mut reqwest::Response,
    limit: u64,
    status: &str,
) -> Result<(Vec<u8>, bool), AttemptError> {
    let cap = limit.min(16 * 1024 * 1024);
    let mut buf = crate::io::recv_buf::take(usize::try_from(cap).unwrap_or(0));
    loop {
        if buf.len() as u64 >= limit {
            return Ok((buf, false));
        }
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => return Ok((buf, true)),
            Err(e) => {
                let mut a = transport(&e);
                a.detail = format!("HTTP {status}, {} after {} bytes", a.detail, buf.len());
                return Err(a);
            }
        }
    }
}

fn past_eof(range: &Range<u64>, size: u64, allow_short: bool) -> Result<Bytes, AttemptError> {
    if allow_short {
        return Ok(Bytes::new());
    }
    Err(AttemptError::fatal(
        Kind::Corrupt,
        format!(
            "range {}..{} past end of object (size {size})",
            range.start, range.end
        ),
    ))
}

/// Slice `range` out of a whole object body.
fn slice_full(body: &Bytes, range: &Range<u64>, allow_short: bool) -> Result<Bytes, AttemptError> {
    let size = body.len() as u64;
    if range.end > size && !allow_short {
        return past_eof(range, size, false);
    }
    let end = range.end.min(size);
    if range.start >= end {
        return Ok(Bytes::new());
    }
    // Both bounds <= size, which fits in usize.
    Ok(body.slice(range.start as usize..end as usize))
}

/// One attempt at `range` of `url` (`range` is non-empty). With a `gate` (a budget of
/// received, undecoded bytes), a partial response's body is read only once the gate admits it;
/// the wait is part of the attempt (and its timeout), bounded by the decode of the bodies
/// admitted before.
pub async fn fetch_once(
    client: &reqwest::Client,
    url: &str,
    range: Range<u64>,
    allow_short: bool,
    gate: Option<&ByteBudget>,
) -> Result<Bytes, AttemptError> {
    if let Some(body) = cached_body(url) {
        return slice_full(&body, &range, allow_short);
    }
    let mut resp = send_range(client, url, &range).await?;
    if let Some(target) = redirect_off_http(&resp) {
        let tls = self::client(REDIRECT_CLIENT_TIMEOUT_MS)
            .map_err(|e| AttemptError::fatal(e.kind(), e.message().to_string()))?;
        return Box::pin(fetch_once(&tls, &target, range, allow_short, gate)).await;
    }
    let status = resp.status();
    let st = status_text(status);
    let content_range = resp
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_content_range);
    let asked = Asked {
        range: &range,
        allow_short,
        status: &st,
    };
    match status {
        StatusCode::PARTIAL_CONTENT => {
            note_range_support(url, true);
            let (span, total) = content_range.unwrap_or((None, None));
            read_partial(&mut resp, &asked, span, total, gate).await
        }
        StatusCode::OK => {
            note_range_support(url, false);
            read_whole(&mut resp, url, &asked).await
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            not_satisfiable(&asked, content_range.and_then(|(_, t)| t))
        }
        s if s.is_success() => Err(AttemptError::fatal(
            Kind::Transport,
            format!("unexpected HTTP {st} to a Range request"),
        )),
        s => Err(status_error(&resp, s, &st)),
    }
}

/// Send `GET url` for `range` (a request that fails before an answer is retried).
async fn send_range(
    client: &reqwest::Client,
    url: &str,
    range: &Range<u64>,
) -> Result<reqwest::Response, AttemptError> {
    client
        .get(url)
        .header(RANGE, format!("bytes={}-{}", range.start, range.end - 1))
        .send()
        .await
        .map_err(|e| transport(&e))
}

/// What one attempt asked for, and the status text of the answer (for messages).
struct Asked<'a> {
    range: &'a Range<u64>,
    allow_short: bool,
    status: &'a str,
}

/// The range out of a 206 answer whose `Content-Range` is `span` of `total` bytes.
async fn read_partial(
    resp: &mut reqwest::Response,
    asked: &Asked<'_>,
    span: Option<Range<u64>>,
    total: Option<u64>,
    gate: Option<&ByteBudget>,
) -> Result<Bytes, AttemptError> {
    let (range, st) = (asked.range, asked.status);
    let want = range.end - range.start;
    let span_start = span.as_ref().map_or(range.start, |s| s.start);
    if span_start > range.start {
        return Err(AttemptError::retry(format!(
            "HTTP {st} with Content-Range starting at {span_start}, not {}",
            range.start
        )));
    }
    let skip = range.start - span_start;
    let limit = skip.saturating_add(want);
    let admitted = match gate {
        Some(g) => g.acquire(limit).await.ok(),
        None => None,
    };
    let (buf, _) = read_body(resp, limit, st).await?;
    let body = crate::io::recv_buf::into_bytes_admitted(buf, admitted);
    let got_end = span_start + body.len() as u64;
    if got_end >= range.end {
        return Ok(body.slice(skip as usize..(skip + want) as usize));
    }
    // Short: legitimate only at EOF.
    let eof = total.is_some_and(|t| got_end >= t)
        || span
            .as_ref()
            .is_some_and(|s| s.end == got_end && total == Some(s.end));
    if !eof {
        return Err(AttemptError::retry(format!(
            "HTTP {st}: short body, got {} of {want} bytes",
            got_end.saturating_sub(range.start)
        )));
    }
    if !asked.allow_short {
        return past_eof(range, got_end, false);
    }
    if (body.len() as u64) <= skip {
        return Ok(Bytes::new());
    }
    Ok(body.slice(skip as usize..))
}

/// The range out of a 200 answer (the server ignored `Range`): the whole object, kept a short
/// while when it is small enough (see [`FULL_BODY_MAX_OBJECT`]), else read up to the range.
async fn read_whole(
    resp: &mut reqwest::Response,
    url: &str,
    asked: &Asked<'_>,
) -> Result<Bytes, AttemptError> {
    let (range, st) = (asked.range, asked.status);
    let declared = resp.content_length();
    let limit = match declared {
        Some(n) if n <= FULL_BODY_MAX_OBJECT => n,
        _ => range.end.max(FULL_BODY_MAX_OBJECT.saturating_add(1)),
    };
    let (buf, complete) = read_body(resp, limit, st).await?;
    let body = crate::io::recv_buf::into_bytes(buf);
    let whole = complete || declared == Some(body.len() as u64);
    if whole {
        if let Some(n) = declared {
            if n != body.len() as u64 {
                return Err(AttemptError::retry(format!(
                    "HTTP {st}: short body, got {} of {n} bytes",
                    body.len()
                )));
            }
        }
        store_body(url, body.clone());
    }
    // Too big to keep: we read at least up to range.end.
    slice_full(&body, range, asked.allow_short)
}

/// A 416 answer (the object has `size` bytes, when the server said): EOF (empty) when short
/// reads are allowed, else Corrupt.
fn not_satisfiable(asked: &Asked<'_>, size: Option<u64>) -> Result<Bytes, AttemptError> {
    if asked.allow_short {
        return Ok(Bytes::new());
    }
    let (range, st) = (asked.range, asked.status);
    let size = size.map_or_else(String::new, |n| format!(" (size {n})"));
    Err(AttemptError::fatal(
        Kind::Corrupt,
        format!(
            "HTTP {st}: range {}..{} past end of object{size}",
            range.start, range.end
        ),
    ))
}

/// The error of a non-success answer `s` (a retryable one carries the server's
/// `Retry-After`).
fn status_error(resp: &reqwest::Response, s: StatusCode, st: &str) -> AttemptError {
    let mut e = AttemptError::from_status(s.as_u16(), st);
    if e.retryable {
        e.retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
    }
    e
}

/// `Retry-After` in delta-seconds (HTTP dates are ignored).
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(
            parse_content_range("bytes 0-9/100"),
            Some((Some(0..10), Some(100)))
        );
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((Some(5..6), None)));
        assert_eq!(parse_content_range("bytes */42"), Some((None, Some(42))));
        assert_eq!(parse_content_range("bytes 9-1/100"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }

    #[test]
    fn retry_after_parsing() {
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn full_body_slicing() {
        let b = Bytes::from_static(b"0123456789");
        assert_eq!(slice_full(&b, &(2..5), false).unwrap(), &b"234"[..]);
        assert_eq!(slice_full(&b, &(8..20), true).unwrap(), &b"89"[..]);
        assert!(slice_full(&b, &(10..20), true).unwrap().is_empty());
        assert_eq!(
            slice_full(&b, &(8..20), false).unwrap_err().kind,
            Kind::Corrupt
        );
    }

    #[test]
    fn body_cache_is_bounded() {
        let url = format!("http://cache-test-{}/a", rand::random::<u64>());
        store_body(&url, Bytes::from_static(b"abc"));
        assert_eq!(cached_body(&url).unwrap(), &b"abc"[..]);
        with_cache(|c| assert!(c.total <= FULL_BODY_CACHE_BYTES));
    }
}
