//! object_store backends (S3, GCS, Azure): building, process-wide caching, one-attempt reads.
//!
//! Stores are cached per process (rebuilt in a forked child) by backend, bucket/container,
//! resolved configuration and timeout, so repeated `Source::open` calls share one connection
//! pool. object_store's own retries are off: [`crate::io::retry`] drives attempts so every
//! backend counts and reports them the same way. Every store's HTTP client is
//! [`StatusConnector`], so failed answers are classified by their status, never by message
//! text.
//!
//! Configuration: S3 buckets follow [`S3Plan`] (explicit settings, then the AWS environment:
//! endpoint, region, plain HTTP, credentials), GCS follows [`GcsPlan`] (explicit settings, then
//! `GOOGLE_*` / `STORAGE_EMULATOR_HOST`). Azure requests are unsigned unless `store_options`
//! carries credentials or a credential provider signs.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientConfigKey, ClientOptions, GetOptions, GetRange, ObjectStore, RetryConfig,
};

use crate::error::{Error, Kind, Result};
use crate::io::answered::{answered, StatusConnector};
use crate::io::cloud::StoreKind;
use crate::io::creds::{AzureProvider, GcsProvider, S3Provider};
use crate::io::gcs_plan::{GcsPlan, GcsSigning};
use crate::io::region;
use crate::io::retry::{AttemptError, FORBIDDEN_HINT};
use crate::io::route::Route;
use crate::io::s3_plan::{process_env, S3Plan, S3Signing};
use crate::io::IoOptions;

type StoreMap = HashMap<String, (Arc<dyn ObjectStore>, String)>;
/// A store, the object's path in it, and the advice added to its 403 errors.
pub type RoutedStore = (Arc<dyn ObjectStore>, Path, String);
static STORES: Mutex<Option<(u32, StoreMap)>> = Mutex::new(None);

/// Check that every `store_options` key is an object_store config key of some backend.
pub fn validate_options(opts: &[(String, String)]) -> Result<()> {
    let unknown: Vec<&str> = opts
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            AmazonS3ConfigKey::from_str(&k).is_err()
                && GoogleConfigKey::from_str(&k).is_err()
                && AzureConfigKey::from_str(&k).is_err()
                && ClientConfigKey::from_str(&k).is_err()
        })
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "unknown store option{} {}: use object_store configuration keys such as aws_endpoint, \
         aws_region, aws_allow_http, aws_skip_signature, aws_access_key_id, \
         aws_secret_access_key, google_service_account_key, azure_storage_account_name, \
         azure_storage_sas_key, timeout",
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join(", ")
    )))
}

/// Options that parse as keys of this backend, in their parsed form.
fn keys_for<K: FromStr>(opts: &[(String, String)]) -> Vec<(K, String)> {
    opts.iter()
        .filter_map(|(k, v)| {
            K::from_str(&k.to_ascii_lowercase())
                .ok()
                .map(|key| (key, v.clone()))
        })
        .collect()
}

fn client_options(io: &IoOptions) -> ClientOptions {
    ClientOptions::new()
        .with_timeout(Duration::from_millis(io.timeout_ms.max(1)))
        .with_connect_timeout(Duration::from_millis(io.timeout_ms.clamp(1, 10_000)))
        .with_allow_http2()
}

fn no_retries(io: &IoOptions) -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 0,
        retry_timeout: Duration::from_millis(io.timeout_ms.max(1)),
    }
}

/// The resolved S3 configuration of `bucket` for `io` (explicit settings, then the process
/// environment).
pub fn s3_plan(bucket: &str, url_region: Option<&str>, io: &IoOptions) -> S3Plan {
    S3Plan::resolve(
        bucket,
        url_region,
        io.cloud.as_deref(),
        &io.store_options,
        &process_env,
    )
}

fn build_s3(bucket: &str, plan: &S3Plan, io: &IoOptions) -> Result<Arc<dyn ObjectStore>> {
    let mut b = match plan.signing {
        S3Signing::Chain => AmazonS3Builder::from_env(),
        _ => AmazonS3Builder::new(),
    };
    b = b
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_http_connector(StatusConnector)
        .with_bucket_name(bucket)
        .with_region(&plan.region);
    if let Some(e) = &plan.endpoint {
        // both keys: object_store prefers `aws_endpoint_url_s3`, which `from_env` may have set
        b = b
            .with_endpoint(e)
            .with_config(AmazonS3ConfigKey::S3Endpoint, e);
    }
    for (k, v) in &plan.options {
        b = b.with_config(*k, v);
    }
    b = b.with_region(&plan.region).with_allow_http(plan.allow_http);
    b = match &plan.signing {
        S3Signing::Anonymous => b.with_skip_signature(true),
        S3Signing::Explicit | S3Signing::Chain => b.with_skip_signature(false),
        S3Signing::Environment {
            key_id,
            secret,
            token,
        } => {
            let b = b
                .with_skip_signature(false)
                .with_access_key_id(key_id)
                .with_secret_access_key(secret);
            match token {
                Some(t) => b.with_token(t),
                None => b,
            }
        }
        S3Signing::Provider(p) => b
            .with_skip_signature(false)
            .with_credentials(Arc::new(S3Provider(p.clone()))),
        S3Signing::Missing => return Err(plan.missing_credentials(bucket)),
    };
    if let Some(r) = region::known(bucket) {
        b = b.with_region(r);
    }
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| Error::invalid(format!("s3://{bucket}: cannot configure S3: {e}")))
}

/// The resolved GCS configuration for `io`.
pub fn gcs_plan(io: &IoOptions) -> GcsPlan {
    GcsPlan::resolve(io.cloud.as_deref(), &io.store_options, &process_env)
}

fn build_gcs(bucket: &str, plan: &GcsPlan, io: &IoOptions) -> Result<Arc<dyn ObjectStore>> {
    let mut b = GoogleCloudStorageBuilder::new()
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_http_connector(StatusConnector)
        .with_bucket_name(bucket);
    if let Some(u) = &plan.base_url {
        b = b.with_config(GoogleConfigKey::BaseUrl, u);
    }
    for (k, v) in &plan.options {
        b = b.with_config(*k, v);
    }
    b = b.with_config(
        GoogleConfigKey::Client(ClientConfigKey::AllowHttp),
        plan.allow_http.to_string(),
    );
    b = match &plan.signing {
        GcsSigning::Anonymous => b.with_skip_signature(true),
        GcsSigning::Configured => b.with_skip_signature(false),
        GcsSigning::Provider(p) => b
            .with_skip_signature(false)
            .with_credentials(Arc::new(GcsProvider(p.clone()))),
    };
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| Error::invalid(format!("gs://{bucket}: cannot configure GCS: {e}")))
}

fn build_azure(
    account: Option<&str>,
    container: &str,
    io: &IoOptions,
    provider: Option<Arc<crate::io::creds::CredentialCache>>,
) -> Result<Arc<dyn ObjectStore>> {
    let keys: Vec<(AzureConfigKey, String)> = keys_for(&io.store_options);
    let creds = keys.iter().any(|(k, _)| {
        matches!(
            k,
            AzureConfigKey::AccessKey
                | AzureConfigKey::SasKey
                | AzureConfigKey::ClientSecret
                | AzureConfigKey::Token
                | AzureConfigKey::UseAzureCli
                | AzureConfigKey::FederatedTokenFile
                | AzureConfigKey::UseEmulator
                | AzureConfigKey::SkipSignature
        )
    });
    let has_account = keys.iter().any(|(k, _)| *k == AzureConfigKey::AccountName);
    if account.is_none() && !has_account {
        return Err(Error::invalid(format!(
            "az://{container}: no storage account: use https://<account>.blob.core.windows.net/... \
             or pass store option azure_storage_account_name"
        )));
    }
    let mut b = MicrosoftAzureBuilder::new()
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_container_name(container);
    for (k, v) in keys {
        b = b.with_config(k, v);
    }
    if let Some(a) = account {
        b = b.with_account(a);
    }
    if let Some(p) = provider {
        b = b.with_credentials(Arc::new(AzureProvider(p)));
    } else if !creds {
        b = b.with_skip_signature(true);
    }
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| Error::invalid(format!("az://{container}: cannot configure Azure: {e}")))
}

/// The cache key part naming the auto backend's credential provider.
fn provider_key(io: &IoOptions, kind: StoreKind) -> String {
    io.cloud
        .as_ref()
        .and_then(|c| c.credentials_for(kind))
        .map_or_else(String::new, |p| format!("provider{}", p.id()))
}

/// The endpoint configured for S3 `bucket` (custom servers), explicit or from the environment.
pub fn s3_endpoint(bucket: &str, io: &IoOptions) -> Option<String> {
    s3_plan(bucket, None, io).endpoint
}

/// Whether `e` is S3's answer to a request for the wrong region (a redirect without
/// `Location`, seen by [`StatusConnector`]).
pub fn is_wrong_region(e: &AttemptError) -> bool {
    e.wrong_region
}

/// Add `advice` to a 403; turn S3's wrong-region redirect into an actionable message.
pub fn with_advice(mut e: AttemptError, advice: &str) -> AttemptError {
    if e.kind == Kind::Forbidden && !advice.is_empty() {
        e.detail = format!("{}; {advice}", e.detail);
    }
    if is_wrong_region(&e) {
        e = AttemptError::fatal(
            Kind::Transport,
            format!(
                "the bucket answered with a redirect, so it is in another region than the one \
                 configured: pass region= (create_backend(region=...), CloudConfig(region=...) or \
                 default_s3_config={{'region': ...}}) ({})",
                e.detail
            ),
        );
    }
    e
}

/// A route's resolved configuration.
enum Plan {
    S3(Box<S3Plan>),
    Gcs(Box<GcsPlan>),
    Azure,
}

/// The cached store, object path and 403 advice for a cloud route (`None` for local/HTTP).
pub fn store_for(route: &Route, io: &IoOptions) -> Result<Option<RoutedStore>> {
    let mut opts: Vec<String> = io
        .store_options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    opts.sort();
    let opts = opts.join("\u{1}");
    let (key, object, plan) = match route {
        Route::S3 {
            bucket,
            key,
            region,
        } => {
            let plan = s3_plan(bucket, region.as_deref(), io);
            (
                format!(
                    "s3|{bucket}|{}|{opts}|{}|{}",
                    io.timeout_ms,
                    plan.cache_key(),
                    region::known(bucket).unwrap_or_default()
                ),
                key,
                Plan::S3(Box::new(plan)),
            )
        }
        Route::Gcs { bucket, key } => {
            let plan = gcs_plan(io);
            (
                format!("gs|{bucket}|{}|{opts}|{}", io.timeout_ms, plan.cache_key()),
                key,
                Plan::Gcs(Box::new(plan)),
            )
        }
        Route::Azure {
            account,
            container,
            key,
        } => (
            format!(
                "az|{}|{container}|{}|{opts}|{}",
                account.as_deref().unwrap_or(""),
                io.timeout_ms,
                provider_key(io, StoreKind::Azure)
            ),
            key,
            Plan::Azure,
        ),
        Route::Local(_) | Route::Http(_) => return Ok(None),
    };
    let path = Path::parse(object)
        .map_err(|e| Error::invalid(format!("bad object key {object:?}: {e}")))?;
    let pid = std::process::id();
    {
        let slot = STORES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((owner, map)) = slot.as_ref() {
            if *owner == pid {
                if let Some((s, advice)) = map.get(&key) {
                    return Ok(Some((s.clone(), path, advice.clone())));
                }
            }
        }
    }
    let creds = |kind: StoreKind| io.cloud.as_ref().and_then(|c| c.credentials_for(kind));
    let (store, advice) = match (route, plan) {
        (Route::S3 { bucket, .. }, Plan::S3(plan)) => {
            (build_s3(bucket, &plan, io)?, plan.advice(bucket))
        }
        (Route::Gcs { bucket, .. }, Plan::Gcs(plan)) => {
            (build_gcs(bucket, &plan, io)?, plan.advice(bucket))
        }
        (
            Route::Azure {
                account, container, ..
            },
            _,
        ) => (
            build_azure(account.as_deref(), container, io, creds(StoreKind::Azure))?,
            String::new(),
        ),
        _ => return Ok(None),
    };
    let mut slot = STORES.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        *slot = Some((pid, HashMap::new()));
    }
    if let Some((_, map)) = slot.as_mut() {
        let (s, advice) = map.entry(key).or_insert((store, advice)).clone();
        return Ok(Some((s, path, advice)));
    }
    Ok(Some((store, path, advice)))
}

/// The HTTP status of a failed object_store request, when it had one.
///
/// By type: the variants `NotFound` (404), `PermissionDenied` (403), `Unauthenticated` (401),
/// `Precondition` (412) and `NotModified` (304); any other answer carries an [`Answered`]
/// (from [`StatusConnector`]) in its source chain. An [`HttpError`] of another cause
/// (connection, timeout, body trouble) had no answer.
///
/// [`Answered`]: crate::io::answered::Answered
fn status_of(e: &object_store::Error) -> Option<u16> {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Some(404),
        E::PermissionDenied { .. } => Some(403),
        E::Unauthenticated { .. } => Some(401),
        E::Precondition { .. } => Some(412),
        E::NotModified { .. } => Some(304),
        E::Generic { source, .. } => answered(source.as_ref()).map(|a| a.status),
        _ => None,
    }
}

/// `msg` with URLs redacted and cut to a readable length.
fn short(msg: &str) -> String {
    const MAX: usize = 400;
    let msg = &crate::io::route::scrub(msg);
    if msg.len() <= MAX {
        return msg.to_string();
    }
    let mut end = MAX;
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", msg.get(..end).unwrap_or(""))
}

fn classify(e: &object_store::Error) -> AttemptError {
    use object_store::Error as E;
    let msg = e.to_string();
    if let E::Generic { source, .. } = e {
        if answered(source.as_ref()).is_some_and(|a| a.bare_redirect) {
            let mut a = AttemptError::fatal(Kind::Transport, short(&msg));
            a.wrong_region = true;
            return a;
        }
    }
    match (e, status_of(e)) {
        (E::NotFound { .. }, _) => AttemptError::fatal(Kind::NotFound, "not found (HTTP 404)"),
        (E::PermissionDenied { .. } | E::Unauthenticated { .. }, _) => AttemptError::fatal(
            Kind::Forbidden,
            format!("access denied ({FORBIDDEN_HINT}): {}", short(&msg)),
        ),
        (_, Some(s)) => {
            let mut a = AttemptError::from_status(s, &s.to_string());
            a.detail = format!("{}: {}", a.detail, short(&msg));
            a
        }
        // Connection errors, timeouts, body or header trouble: worth another attempt.
        (E::Generic { .. }, None) => AttemptError::retry(short(&msg)),
        _ => AttemptError::fatal(Kind::Transport, short(&msg)),
    }
}

/// One attempt at `range` (non-empty) of `path` in `store`.
pub async fn fetch_once(
    store: &dyn ObjectStore,
    path: &Path,
    range: Range<u64>,
    allow_short: bool,
) -> Result<Bytes, AttemptError> {
    let opts = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        ..Default::default()
    };
    let res = match store.get_opts(path, opts).await {
        Ok(r) => r,
        Err(e) => {
            if status_of(&e) == Some(416) {
                if allow_short {
                    return Ok(Bytes::new()); // starts at or past EOF
                }
                return Err(AttemptError::fatal(
                    Kind::Corrupt,
                    format!(
                        "HTTP 416: range {}..{} past end of object",
                        range.start, range.end
                    ),
                ));
            }
            return Err(classify(&e));
        }
    };
    let got = res.range.clone();
    let size = res.meta.size;
    let body = res
        .bytes()
        .await
        .map_err(|e| AttemptError::retry(format!("body read failed: {}", short(&e.to_string()))))?;
    let want = got.end.saturating_sub(got.start);
    if body.len() as u64 != want || got.start != range.start {
        return Err(AttemptError::retry(format!(
            "short body: got {} bytes at {}, expected {want} at {}",
            body.len(),
            got.start,
            range.start
        )));
    }
    if got.end < range.end {
        if got.end >= size && allow_short {
            return Ok(body);
        }
        if got.end >= size {
            return Err(AttemptError::fatal(
                Kind::Corrupt,
                format!(
                    "range {}..{} past end of object (size {size})",
                    range.start, range.end
                ),
            ));
        }
        return Err(AttemptError::retry(format!(
            "short body: got {} of {} bytes",
            body.len(),
            range.end - range.start
        )));
    }
    Ok(body)
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
    use crate::io::answered::Answered;
    use object_store::client::{HttpError, HttpErrorKind};

    fn opts(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn option_validation() {
        validate_options(&opts(&[
            ("aws_endpoint", "http://127.0.0.1:1"),
            ("aws_allow_http", "true"),
            ("aws_region", "us-east-1"),
            ("google_service_account_key", "x"),
            ("azure_storage_account_name", "a"),
            ("timeout", "5s"),
        ]))
        .unwrap();
        let e = validate_options(&opts(&[("aws_endpoint", "x"), ("bogus_key", "1")])).unwrap_err();
        assert_eq!(e.kind(), Kind::InvalidArgument);
        assert!(e.message().contains("bogus_key"), "{e}");
    }

    #[test]
    fn stores_are_cached() {
        let io = IoOptions {
            store_options: opts(&[
                ("aws_endpoint", "http://127.0.0.1:9"),
                ("aws_allow_http", "true"),
            ]),
            ..IoOptions::default()
        };
        let r = Route::S3 {
            bucket: "b".into(),
            key: "k.tif".into(),
            region: None,
        };
        let (a, pa, _) = store_for(&r, &io).unwrap().unwrap();
        let (b, _, _) = store_for(&r, &io).unwrap().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(pa.as_ref(), "k.tif");
        let g = Route::Gcs {
            bucket: "b".into(),
            key: "x/y.tif".into(),
        };
        assert!(store_for(&g, &IoOptions::default()).unwrap().is_some());
        let az = Route::Azure {
            account: None,
            container: "c".into(),
            key: "k".into(),
        };
        assert_eq!(
            store_for(&az, &IoOptions::default()).unwrap_err().kind(),
            Kind::InvalidArgument
        );
    }

    #[test]
    fn advice_for_403_and_wrong_region() {
        let e = with_advice(
            AttemptError::fatal(Kind::Forbidden, "access denied"),
            "s3://b is requester-pays",
        );
        assert!(e.detail.contains("requester-pays") && e.kind == Kind::Forbidden);
        let redirect = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Unknown,
                Answered {
                    status: 301,
                    bucket_region: Some("eu-west-1".into()),
                    bare_redirect: true,
                    body: String::new(),
                },
            )),
        };
        let a = classify(&redirect);
        assert!(is_wrong_region(&a) && !a.retryable, "{a:?}");
        let e = with_advice(a, "");
        assert!(e.detail.contains("pass region="), "{}", e.detail);
        // the same words in a message are not a redirect
        let words = AttemptError::retry("Received redirect without LOCATION");
        assert!(!is_wrong_region(&words));
    }

    fn answer(status: u16) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Unknown,
                Answered {
                    status,
                    bucket_region: None,
                    bare_redirect: false,
                    body: "<Error><Code>SlowDown</Code></Error>".into(),
                },
            )),
        }
    }

    #[test]
    fn object_store_errors_are_classified_by_type() {
        type Source = Box<dyn std::error::Error + Send + Sync>;
        let because = |msg: &str| -> Source { Box::new(std::io::Error::other(msg.to_string())) };
        let path = || "k.tif".to_string();
        let e = object_store::Error::NotFound {
            path: path(),
            source: because("gone"),
        };
        assert_eq!(classify(&e).kind, Kind::NotFound);
        for e in [
            object_store::Error::PermissionDenied {
                path: path(),
                source: because("no"),
            },
            object_store::Error::Unauthenticated {
                path: path(),
                source: because("no"),
            },
        ] {
            assert_eq!(classify(&e).kind, Kind::Forbidden);
        }
        let e = object_store::Error::Precondition {
            path: path(),
            source: because("etag"),
        };
        let a = classify(&e);
        assert!(a.kind == Kind::Transport && !a.retryable && a.detail.starts_with("HTTP 412"));
        // a connection error is retried, whatever its message says
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Timeout,
                std::io::Error::other("status code: 404 in a proxy's words"),
            )),
        };
        let a = classify(&e);
        assert!(a.kind == Kind::Transport && a.retryable, "{a:?}");
        assert_eq!(status_of(&e), None);
        // a message naming a status is not a status
        let e = object_store::Error::Generic {
            store: "S3",
            source: because("Server returned non-2xx status code: 416 Range Not Satisfiable: "),
        };
        assert_eq!(status_of(&e), None);
        // answers seen by the connector are typed
        assert_eq!(status_of(&answer(416)), Some(416));
        let a = classify(&answer(503));
        assert!(a.retryable && a.detail.starts_with("HTTP 503"), "{a:?}");
        assert!(a.detail.contains("SlowDown"), "{a:?}");
        let a = classify(&answer(400));
        assert!(!a.retryable && a.detail.starts_with("HTTP 400"), "{a:?}");
    }
}
