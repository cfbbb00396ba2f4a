//! Credentials supplied by a provider (in practice a Python callable), cached and refreshed
//! before they expire, and adapted to object_store's credential traits.
//!
//! - [`CredentialSource::fetch`] asks the provider for a fresh [`Credential`] (a string map such
//!   as `access_key_id`/`secret_access_key`/`token`, `sas_token` or `token`, plus an optional
//!   expiry). It is the only place a provider runs.
//! - [`CredentialCache::get`] returns the cached credential and calls the provider only when
//!   none is cached or the cached one is within its refresh margin of `expires_at`
//!   (`min(60 s, lifetime / 4)`, so short-lived tokens are not refetched on every request).
//!   Concurrent callers share one fetch. Credentials without expiry are fetched once.
//! - [`CredentialCache::invalidate`] drops a credential a server rejected, so the next request
//!   fetches a new one.
//! - Nothing here prints a secret: `Debug` shows only the key names.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use object_store::aws::AwsCredential;
use object_store::azure::AzureCredential;
use object_store::gcp::GcpCredential;
use object_store::CredentialProvider;

use crate::error::{Error, Result};

/// Longest refresh margin before `expires_at`.
pub const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A boxed, sendable future (what [`CredentialSource::fetch`] returns).
pub type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One credential set from a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// Provider fields by name (`access_key_id`, `secret_access_key`, `token`, `sas_token`...).
    pub values: BTreeMap<String, String>,
    /// When the provider says it stops working (`None`: never).
    pub expires_at: Option<SystemTime>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Credential {
    /// The value of the first of `keys` that is present and non-empty.
    pub fn get(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .find_map(|k| self.values.get(*k).filter(|v| !v.is_empty()))
            .map(String::as_str)
    }

    /// The SAS / pre-signed query string to append to URLs, if this credential is one.
    pub fn query(&self) -> Option<&str> {
        self.get(&["sas_token", "query"])
            .map(|q| q.trim_start_matches('?'))
    }
}

/// Something that can produce fresh credentials (a provider).
pub trait CredentialSource: Send + Sync {
    /// Call the provider once.
    fn fetch(&self) -> BoxFut<Result<Credential>>;
}

struct Cached {
    credential: Arc<Credential>,
    refresh_at: Option<Instant>,
}

/// A provider plus its cached credential.
pub struct CredentialCache {
    source: Arc<dyn CredentialSource>,
    state: tokio::sync::Mutex<Option<Cached>>,
    fetches: AtomicU64,
    id: u64,
}

impl fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialCache")
            .field("id", &self.id)
            .field("fetches", &self.fetch_count())
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// When to refresh a credential fetched at `now` that expires at `expires_at`.
pub fn refresh_deadline(now: Instant, wall_now: SystemTime, expires_at: SystemTime) -> Instant {
    let left = expires_at
        .duration_since(wall_now)
        .unwrap_or(Duration::ZERO);
    let margin = (left / 4).min(MAX_REFRESH_MARGIN);
    now + left.saturating_sub(margin)
}

impl CredentialCache {
    pub fn new(source: Arc<dyn CredentialSource>) -> Self {
        Self {
            source,
            state: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Process-unique id of this cache (part of store cache keys).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How many times the provider has been called.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The current credential, calling the provider only when none is cached or it is due for
    /// refresh.
    pub async fn get(&self) -> Result<Arc<Credential>> {
        let mut state = self.state.lock().await;
        if let Some(c) = state.as_ref() {
            if c.refresh_at.is_none_or(|t| Instant::now() < t) {
                return Ok(c.credential.clone());
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fresh = self.source.fetch().await.map_err(|e| {
            Error::new(
                e.kind(),
                format!("credential provider failed: {}", e.message()),
            )
        })?;
        let refresh_at = fresh
            .expires_at
            .map(|exp| refresh_deadline(Instant::now(), SystemTime::now(), exp));
        let credential = Arc::new(fresh);
        *state = Some(Cached {
            credential: credential.clone(),
            refresh_at,
        });
        Ok(credential)
    }

    /// Forget `stale` (if it is still the cached credential): the next [`get`](Self::get)
    /// calls the provider.
    pub async fn invalidate(&self, stale: &Arc<Credential>) {
        let mut state = self.state.lock().await;
        if state
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(&c.credential, stale))
        {
            *state = None;
        }
    }
}

fn missing(what: &str, keys: &Credential) -> object_store::Error {
    object_store::Error::Generic {
        store: "credential provider",
        source: format!("the credential provider returned no {what} (keys: {keys:?})").into(),
    }
}

fn provider_error(e: &Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "credential provider",
        source: e.message().to_string().into(),
    }
}

/// S3 credentials (`access_key_id`, `secret_access_key`, optional `token`) from a cache.
#[derive(Debug)]
pub struct S3Provider(pub Arc<CredentialCache>);

/// GCS bearer token (`token`) from a cache.
#[derive(Debug)]
pub struct GcsProvider(pub Arc<CredentialCache>);

/// Azure credential (`sas_token`, `access_key` or `token`) from a cache.
#[derive(Debug)]
pub struct AzureProvider(pub Arc<CredentialCache>);

impl CredentialProvider for S3Provider {
    type Credential = AwsCredential;
    fn get_credential<'a, 'b>(
        &'a self,
    ) -> Pin<Box<dyn Future<Output = object_store::Result<Arc<AwsCredential>>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let c = self.0.get().await.map_err(|e| provider_error(&e))?;
            let key_id = c.get(&["access_key_id", "aws_access_key_id"]);
            let secret = c.get(&["secret_access_key", "aws_secret_access_key"]);
            let (Some(key_id), Some(secret)) = (key_id, secret) else {
                return Err(missing("access_key_id/secret_access_key", &c));
            };
            Ok(Arc::new(AwsCredential {
                key_id: key_id.to_string(),
                secret_key: secret.to_string(),
                token: c
                    .get(&["token", "session_token", "aws_session_token"])
                    .map(str::to_string),
            }))
        })
    }
}

impl CredentialProvider for GcsProvider {
    type Credential = GcpCredential;
    fn get_credential<'a, 'b>(
        &'a self,
    ) -> Pin<Box<dyn Future<Output = object_store::Result<Arc<GcpCredential>>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let c = self.0.get().await.map_err(|e| provider_error(&e))?;
            let Some(token) = c.get(&["token", "bearer"]) else {
                return Err(missing("token", &c));
            };
            Ok(Arc::new(GcpCredential {
                bearer: token.to_string(),
            }))
        })
    }
}

/// `a=1&b=%2B` -> `[("a","1"), ("b","+")]` (percent-decoded: object_store encodes them again).
pub fn split_query(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| crate::io::route::percent_decode(s).unwrap_or_else(|_| s.to_string());
    q.trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

impl CredentialProvider for AzureProvider {
    type Credential = AzureCredential;
    fn get_credential<'a, 'b>(
        &'a self,
    ) -> Pin<Box<dyn Future<Output = object_store::Result<Arc<AzureCredential>>> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let c = self.0.get().await.map_err(|e| provider_error(&e))?;
            if let Some(q) = c.query() {
                return Ok(Arc::new(AzureCredential::SASToken(split_query(q))));
            }
            if let Some(key) = c.get(&["access_key"]) {
                let key = object_store::azure::AzureAccessKey::try_new(key).map_err(|_| {
                    object_store::Error::Generic {
                        store: "credential provider",
                        source: "the Azure access_key from the credential provider is not valid \
                                 base64"
                            .into(),
                    }
                })?;
                return Ok(Arc::new(AzureCredential::AccessKey(key)));
            }
            if let Some(token) = c.get(&["token"]) {
                return Ok(Arc::new(AzureCredential::BearerToken(token.to_string())));
            }
            Err(missing("sas_token/access_key/token", &c))
        })
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

    struct Counting {
        lifetime: Option<Duration>,
    }

    impl CredentialSource for Counting {
        fn fetch(&self) -> BoxFut<Result<Credential>> {
            let exp = self.lifetime.map(|l| SystemTime::now() + l);
            Box::pin(async move {
                let mut values = BTreeMap::new();
                values.insert("sas_token".to_string(), "?sig=SECRET&se=1".to_string());
                Ok(Credential {
                    values,
                    expires_at: exp,
                })
            })
        }
    }

    #[test]
    fn deadline_uses_a_quarter_of_short_lifetimes() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let d = refresh_deadline(now, wall, wall + Duration::from_secs(8));
        assert_eq!(d - now, Duration::from_secs(6));
        let d = refresh_deadline(now, wall, wall + Duration::from_secs(3600));
        assert_eq!(d - now, Duration::from_secs(3540));
        // already expired: refresh at once
        let d = refresh_deadline(now, wall, wall - Duration::from_secs(1));
        assert_eq!(d, now);
    }

    #[test]
    fn cache_fetches_once_until_due_and_after_invalidate() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let cache = CredentialCache::new(Arc::new(Counting {
                lifetime: Some(Duration::from_secs(3600)),
            }));
            let a = cache.get().await.unwrap();
            let b = cache.get().await.unwrap();
            assert!(Arc::ptr_eq(&a, &b));
            assert_eq!(cache.fetch_count(), 1);
            assert_eq!(a.query(), Some("sig=SECRET&se=1"));
            cache.invalidate(&a).await;
            let _ = cache.get().await.unwrap();
            assert_eq!(cache.fetch_count(), 2);

            let expired = CredentialCache::new(Arc::new(Counting {
                lifetime: Some(Duration::ZERO),
            }));
            let _ = expired.get().await.unwrap();
            let _ = expired.get().await.unwrap();
            assert_eq!(expired.fetch_count(), 2);
        });
    }

    #[test]
    fn debug_hides_values() {
        let mut values = BTreeMap::new();
        values.insert("secret_access_key".to_string(), "hunter2".to_string());
        let c = Credential {
            values,
            expires_at: None,
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("secret_access_key"));
        assert_eq!(
            split_query("?sv=1&sig=a%2Bb"),
            vec![
                ("sv".to_string(), "1".to_string()),
                ("sig".to_string(), "a+b".to_string())
            ]
        );
    }
}
