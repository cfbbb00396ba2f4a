//! Bounded retries with exponential backoff and full jitter, under the process-wide request limit.
//!
//! Every attempt of every request (HTTP, object store or local file) first takes a permit of one
//! process-wide semaphore. Its size is the largest `max_concurrent` any caller has asked for so
//! far in this process (it only grows; a forked child starts afresh). The permit is released
//! while sleeping between attempts.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::{Error, Kind, Result};

/// Longest sleep between two attempts.
pub const MAX_BACKOFF_MS: u64 = 20_000;

/// Hint appended to access errors.
pub const FORBIDDEN_HINT: &str =
    "check credentials / requester-pays / SAS token or pre-signed URL expiry";

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    /// Kind of the error if this attempt is the last.
    pub kind: Kind,
    /// Worth another attempt (5xx, 429, timeout, connection trouble, short body).
    pub retryable: bool,
    /// What happened, including the HTTP status when there is one.
    pub detail: String,
    /// The server's `Retry-After`, if it sent one: the next sleep is at least this (capped at
    /// [`MAX_BACKOFF_MS`]).
    pub retry_after: Option<Duration>,
    /// S3 answered with a redirect without `Location`: the bucket is in another region.
    pub wrong_region: bool,
}

impl AttemptError {
    /// A transient failure: retried, then a Transport error.
    pub fn retry(detail: impl Into<String>) -> Self {
        Self {
            kind: Kind::Transport,
            retryable: true,
            detail: detail.into(),
            retry_after: None,
            wrong_region: false,
        }
    }
    /// A final failure of the given kind (no retry).
    pub fn fatal(kind: Kind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            retryable: false,
            detail: detail.into(),
            retry_after: None,
            wrong_region: false,
        }
    }
    /// Classify an HTTP error status (`status_text` like "503 Service Unavailable").
    pub fn from_status(status: u16, status_text: &str) -> Self {
        let detail = format!("HTTP {status_text}");
        match status {
            404 | 410 => Self::fatal(Kind::NotFound, detail),
            401 | 403 => Self::fatal(Kind::Forbidden, format!("{detail} ({FORBIDDEN_HINT})")),
            408 | 429 | 500..=599 => Self::retry(detail),
            _ => Self::fatal(Kind::Transport, detail),
        }
    }
}

/// Retry knobs of one request.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in total, at least 1.
    pub attempts: u32,
    /// Base backoff in ms.
    pub backoff_ms: u64,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Process-wide concurrency wanted by this caller.
    pub max_concurrent: usize,
}

/// Upper bound of the sleep before retry number `retry` (1 = first retry): `base * 2^(retry-1)`,
/// capped at [`MAX_BACKOFF_MS`].
pub fn backoff_cap_ms(base_ms: u64, retry: u32) -> u64 {
    let shift = retry.saturating_sub(1).min(32);
    base_ms.saturating_mul(1u64 << shift).min(MAX_BACKOFF_MS)
}

/// Full jitter: a uniform draw in `[0, cap]` given `unit` in `[0, 1)`.
pub fn full_jitter(cap_ms: u64, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // cap_ms <= MAX_BACKOFF_MS, so the float round-trip is exact enough.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let ms = (cap_ms as f64 * unit) as u64;
    Duration::from_millis(ms.min(cap_ms))
}

static LIMIT: Mutex<Option<(u32, Arc<Semaphore>, usize)>> = Mutex::new(None);

/// The process-wide request semaphore, grown to at least `wanted` permits.
pub fn limiter(wanted: usize) -> Arc<Semaphore> {
    let wanted = wanted.clamp(1, Semaphore::MAX_PERMITS.min(1 << 20));
    let pid = std::process::id();
    let mut slot = LIMIT.lock().unwrap_or_else(PoisonError::into_inner);
    match slot.as_mut() {
        Some((owner, sem, size)) if *owner == pid => {
            if wanted > *size {
                sem.add_permits(wanted - *size);
                *size = wanted;
            }
            sem.clone()
        }
        _ => {
            let sem = Arc::new(Semaphore::new(wanted));
            *slot = Some((pid, sem.clone(), wanted));
            sem
        }
    }
}

fn attempts_text(n: u32, retryable: bool) -> String {
    match (n, retryable) {
        (1, false) => "1 attempt".to_string(),
        (n, true) => format!("gave up after {n} attempt{}", if n == 1 { "" } else { "s" }),
        (n, false) => format!("attempt {n}"),
    }
}

/// Run `op` until it succeeds, fails for good, or `policy.attempts` are used. `what` names the
/// request in messages (`"{url}: range a..b"`).
pub async fn run<T, F, Fut>(policy: Policy, what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let attempts = policy.attempts.max(1);
    let sem = limiter(policy.max_concurrent);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let outcome = {
            let _permit = sem
                .acquire()
                .await
                .map_err(|_| Error::internal("the I/O request limiter was closed"))?;
            match tokio::time::timeout(policy.timeout, op()).await {
                Ok(r) => r,
                Err(_) => Err(AttemptError::retry(format!(
                    "timed out after {} ms",
                    policy.timeout.as_millis()
                ))),
            }
        };
        let err = match outcome {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if !err.retryable || attempt >= attempts {
            return Err(Error::new(
                err.kind,
                format!(
                    "{what}: {} ({})",
                    err.detail,
                    attempts_text(attempt, err.retryable)
                ),
            ));
        }
        let cap = backoff_cap_ms(policy.backoff_ms, attempt);
        let mut sleep = full_jitter(cap, rand::random::<f64>());
        if let Some(after) = err.retry_after {
            sleep = sleep.max(after.min(Duration::from_millis(MAX_BACKOFF_MS)));
        }
        tokio::time::sleep(sleep).await;
    }
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
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_cap_ms(100, 1), 100);
        assert_eq!(backoff_cap_ms(100, 2), 200);
        assert_eq!(backoff_cap_ms(100, 3), 400);
        assert_eq!(backoff_cap_ms(100, 30), MAX_BACKOFF_MS);
        assert_eq!(backoff_cap_ms(100, u32::MAX), MAX_BACKOFF_MS);
        assert_eq!(backoff_cap_ms(0, 5), 0);
        assert_eq!(backoff_cap_ms(u64::MAX, 2), MAX_BACKOFF_MS);
    }

    #[test]
    fn jitter_is_within_cap() {
        assert_eq!(full_jitter(400, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(400, 0.5), Duration::from_millis(200));
        assert!(full_jitter(400, 0.999_999) <= Duration::from_millis(400));
        assert_eq!(full_jitter(400, f64::NAN), Duration::ZERO);
        assert_eq!(full_jitter(400, 7.0), Duration::from_millis(400));
    }

    #[test]
    fn status_classification() {
        assert_eq!(AttemptError::from_status(404, "404").kind, Kind::NotFound);
        let f = AttemptError::from_status(403, "403 Forbidden");
        assert_eq!(f.kind, Kind::Forbidden);
        assert!(!f.retryable && f.detail.contains("credentials"));
        assert!(AttemptError::from_status(503, "503").retryable);
        assert!(AttemptError::from_status(429, "429").retryable);
        let bad = AttemptError::from_status(400, "400 Bad Request");
        assert!(!bad.retryable);
        assert_eq!(bad.kind, Kind::Transport);
    }

    fn policy(attempts: u32) -> Policy {
        Policy {
            attempts,
            backoff_ms: 1,
            timeout: Duration::from_secs(5),
            max_concurrent: 4,
        }
    }

    #[test]
    fn retries_are_bounded_and_counted() {
        let rt = crate::io::runtime().unwrap();
        let calls = AtomicU32::new(0);
        let r: Result<()> = rt.block_on(run(policy(3), "u: range 0..1", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(AttemptError::retry("HTTP 503 Service Unavailable")) }
        }));
        let e = r.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(e.kind(), Kind::Transport);
        assert!(e.message().contains("gave up after 3 attempts"), "{e}");
        assert!(e.message().starts_with("u: range 0..1: HTTP 503"), "{e}");
    }

    #[test]
    fn fatal_stops_at_once_and_success_after_retry() {
        let rt = crate::io::runtime().unwrap();
        let calls = AtomicU32::new(0);
        let r: Result<()> = rt.block_on(run(policy(4), "u", || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(AttemptError::from_status(404, "404 Not Found")) }
        }));
        assert_eq!(r.unwrap_err().kind(), Kind::NotFound);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let r = rt.block_on(run(policy(4), "u", || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(AttemptError::retry("x"))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(r.unwrap(), 2);
    }

    #[test]
    fn limiter_grows_only() {
        let a = limiter(3);
        let b = limiter(1);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(b.available_permits() <= Semaphore::MAX_PERMITS);
    }
}
