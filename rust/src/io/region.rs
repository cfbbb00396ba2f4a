//! S3 bucket region discovery, used when a bucket answers with a bare redirect
//! (configured region wrong).
//!
//! `HEAD <endpoint>/<bucket>` when an endpoint is configured, else
//! `HEAD https://s3.amazonaws.com/<bucket>` then `HEAD https://<bucket>.s3.amazonaws.com/`
//! (3 s each); the region is the `x-amz-bucket-region` header of any answer, error answers
//! included. Discovered regions are cached per process and override configured ones when
//! stores are built ([`known`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::io::http;

static REGIONS: Mutex<Option<(u32, HashMap<String, String>)>> = Mutex::new(None);

/// Timeout of one discovery request.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);

/// The discovered region of `bucket`, if any.
pub fn known(bucket: &str) -> Option<String> {
    let slot = REGIONS.lock().unwrap_or_else(PoisonError::into_inner);
    match slot.as_ref() {
        Some((pid, map)) if *pid == std::process::id() => map.get(bucket).cloned(),
        _ => None,
    }
}

fn remember(bucket: &str, region: &str) {
    let pid = std::process::id();
    let mut slot = REGIONS.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        *slot = Some((pid, HashMap::new()));
    }
    if let Some((_, map)) = slot.as_mut() {
        map.insert(bucket.to_string(), region.to_string());
    }
}

/// URLs asked, in order.
pub fn candidates(bucket: &str, endpoint: Option<&str>) -> Vec<String> {
    match endpoint {
        Some(e) => vec![format!("{}/{bucket}", e.trim_end_matches('/'))],
        None => vec![
            format!("https://s3.amazonaws.com/{bucket}"),
            format!("https://{bucket}.s3.amazonaws.com/"),
        ],
    }
}

/// Ask for `bucket`'s region (and cache it); `None` when no answer named one.
pub async fn discover(bucket: &str, endpoint: Option<&str>) -> Option<String> {
    let client = http::client(DISCOVERY_TIMEOUT.as_millis() as u64).ok()?;
    for url in candidates(bucket, endpoint) {
        let Ok(resp) = client.head(&url).timeout(DISCOVERY_TIMEOUT).send().await else {
            continue;
        };
        let region = resp
            .headers()
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|r| !r.is_empty());
        if let Some(r) = region {
            remember(bucket, r);
            return Some(r.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn candidate_urls_and_cache() {
        assert_eq!(
            candidates("bk", Some("http://127.0.0.1:9/")),
            vec!["http://127.0.0.1:9/bk".to_string()]
        );
        let c = candidates("bk", None);
        assert_eq!(c[0], "https://s3.amazonaws.com/bk");
        assert_eq!(c[1], "https://bk.s3.amazonaws.com/");
        assert_eq!(known("region-test-bucket"), None);
        remember("region-test-bucket", "eu-west-3");
        assert_eq!(known("region-test-bucket").as_deref(), Some("eu-west-3"));
    }
}
