//! object_store backends (S3, GCS, Azure): building, process-wide caching, one-attempt reads.
//!
//! Stores are cached per process (rebuilt in a forked child) by backend, bucket/container,
//! account/region, timeout and store options, so repeated `Source::open` calls share one
//! connection pool. object_store's own retries are off: [`crate::io::retry`] drives attempts so
//! every backend counts and reports them the same way.
//!
//! Credentials: requests are unsigned (anonymous, public buckets) unless `store_options` carries
//! credentials (`aws_access_key_id`, `google_service_account_key`, `azure_storage_account_key`,
//! `azure_storage_sas_key`...) or sets `<prefix>_skip_signature` explicitly. S3 also signs with
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`(/`AWS_SESSION_TOKEN`) from the environment when
//! both are set and `aws_skip_signature` is not given; with `aws_skip_signature=false` the
//! builder reads the whole AWS environment (profiles aside) via `from_env`.

use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::client::{HttpError, HttpErrorKind};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientConfigKey, ClientOptions, GetOptions, GetRange, ObjectStore, RetryConfig,
};

use crate::error::{Error, Kind, Result};
use crate::io::cloud::{CloudSettings, S3Config, StoreKind};
use crate::io::creds::{AzureProvider, GcsProvider, S3Provider};
use crate::io::region;
use crate::io::retry::{AttemptError, FORBIDDEN_HINT};
use crate::io::route::Route;
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

fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, when the first two are set.
fn env_credentials() -> Option<(String, String, Option<String>)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some((
        get("AWS_ACCESS_KEY_ID")?,
        get("AWS_SECRET_ACCESS_KEY")?,
        get("AWS_SESSION_TOKEN"),
    ))
}

fn build_s3(bucket: &str, region: Option<&str>, io: &IoOptions) -> Result<Arc<dyn ObjectStore>> {
    let keys: Vec<(AmazonS3ConfigKey, String)> = keys_for(&io.store_options);
    let has = |k: AmazonS3ConfigKey| keys.iter().any(|(key, _)| *key == k);
    let explicit_skip = keys
        .iter()
        .find(|(k, _)| *k == AmazonS3ConfigKey::SkipSignature)
        .map(|(_, v)| v.eq_ignore_ascii_case("true") || v == "1");
    let has_key = has(AmazonS3ConfigKey::AccessKeyId);
    let has_region = has(AmazonS3ConfigKey::Region) || has(AmazonS3ConfigKey::DefaultRegion);
    let mut b = if explicit_skip == Some(false) && !has_key {
        AmazonS3Builder::from_env()
    } else {
        AmazonS3Builder::new()
    };
    let env_creds = env_credentials();
    if explicit_skip.is_none() && !has_key {
        if let Some((id, secret, token)) = &env_creds {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
            if let Some(t) = token {
                b = b.with_token(t);
            }
        }
    }
    b = b
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_bucket_name(bucket);
    if !has_region {
        b = b.with_region(env_region().unwrap_or_else(|| "us-east-1".to_string()));
    }
    for (k, v) in keys {
        b = b.with_config(k, v);
    }
    if let Some(r) = region {
        b = b.with_region(r);
    }
    if explicit_skip.is_none() && !has_key && env_creds.is_none() {
        b = b.with_skip_signature(true);
    }
    if let Some(r) = region::known(bucket) {
        b = b.with_region(r);
    }
    b.build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| Error::invalid(format!("s3://{bucket}: cannot configure S3: {e}")))
}

fn build_gcs(
    bucket: &str,
    io: &IoOptions,
    provider: Option<Arc<crate::io::creds::CredentialCache>>,
) -> Result<Arc<dyn ObjectStore>> {
    let keys: Vec<(GoogleConfigKey, String)> = keys_for(&io.store_options);
    let creds = keys.iter().any(|(k, _)| {
        matches!(
            k,
            GoogleConfigKey::ServiceAccount
                | GoogleConfigKey::ServiceAccountKey
                | GoogleConfigKey::ApplicationCredentials
                | GoogleConfigKey::SkipSignature
        )
    });
    let mut b = GoogleCloudStorageBuilder::new()
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_bucket_name(bucket);
    for (k, v) in keys {
        b = b.with_config(k, v);
    }
    if let Some(p) = provider {
        b = b.with_credentials(Arc::new(GcsProvider(p)));
    } else if !creds {
        b = b.with_skip_signature(true);
    }
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

/// What to tell the user when an S3 bucket refuses a request, given how it was configured.
fn s3_advice(bucket: &str, cfg: &S3Config, provider: bool) -> String {
    if cfg.requester_pays {
        format!(
            "s3://{bucket} is requester-pays: requests were signed and sent \
             'x-amz-request-payer: requester'; check that the AWS credentials (credential_provider=, \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a boto3 profile) are valid and allowed to \
             pay for requests"
        )
    } else if provider {
        format!(
            "requests to s3://{bucket} were signed with the credential provider's credentials: \
             check that they grant s3:GetObject on this bucket"
        )
    } else if cfg.signed {
        format!("requests to s3://{bucket} were signed: check the AWS credentials")
    } else {
        format!(
            "requests to s3://{bucket} were anonymous (unsigned): if the bucket is private pass \
             backend=rasteret.create_backend(credential_provider=...); if it is requester-pays \
             (Landsat, NAIP) use CloudConfig(requester_pays=True) or \
             create_backend(default_s3_config={{'request_payer': 'true'}}) with AWS credentials"
        )
    }
}

fn s3_key(k: &str) -> Result<AmazonS3ConfigKey> {
    AmazonS3ConfigKey::from_str(&k.to_ascii_lowercase())
        .map_err(|_| Error::invalid(format!("unknown S3 configuration key {k:?}")))
}

/// S3 for the auto-routing backend: the bucket's [`S3Config`], its credential provider, and
/// `store_options` last. Requester-pays without a provider signs with the environment's keys.
fn build_s3_cloud(
    bucket: &str,
    url_region: Option<&str>,
    cloud: &CloudSettings,
    io: &IoOptions,
) -> Result<(Arc<dyn ObjectStore>, String)> {
    let cfg = cloud.s3_config(bucket);
    let mut b = AmazonS3Builder::new()
        .with_client_options(client_options(io))
        .with_retry(no_retries(io))
        .with_bucket_name(bucket);
    let has_region = cfg.options.iter().any(|(k, _)| k == "aws_region");
    if !has_region {
        let region = url_region
            .map(str::to_string)
            .or_else(env_region)
            .unwrap_or_else(|| "us-east-1".to_string());
        b = b.with_region(region);
    }
    for (k, v) in &cfg.options {
        b = b.with_config(s3_key(k)?, v);
    }
    let extra: Vec<(AmazonS3ConfigKey, String)> = keys_for(&io.store_options);
    let extra_key = extra
        .iter()
        .any(|(k, _)| *k == AmazonS3ConfigKey::AccessKeyId)
        || cfg.options.iter().any(|(k, _)| k == "aws_access_key_id");
    for (k, v) in extra {
        b = b.with_config(k, v);
    }
    let provider = cloud.credentials_for(StoreKind::S3);
    if let Some(c) = &provider {
        b = b.with_credentials(Arc::new(S3Provider(c.clone())));
    } else if cfg.signed && !extra_key {
        let Some((id, secret, token)) = env_credentials() else {
            return Err(Error::new(
                Kind::Forbidden,
                format!(
                    "s3://{bucket} needs signed requests{} but no AWS credentials were found: set \
                     AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, configure a boto3 profile (with \
                     boto3 installed) or pass create_backend(credential_provider=...)",
                    if cfg.requester_pays {
                        " (requester-pays bucket)"
                    } else {
                        ""
                    }
                ),
            ));
        };
        b = b.with_access_key_id(id).with_secret_access_key(secret);
        if let Some(t) = token {
            b = b.with_token(t);
        }
    }
    if let Some(r) = region::known(bucket) {
        b = b.with_region(r);
    }
    let advice = s3_advice(bucket, &cfg, provider.is_some());
    let store = b
        .build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| Error::invalid(format!("s3://{bucket}: cannot configure S3: {e}")))?;
    Ok((store, advice))
}

/// The cache key part describing the auto backend's configuration of `bucket`.
fn cloud_key(cloud: Option<&CloudSettings>, bucket: &str) -> String {
    let Some(c) = cloud else {
        return String::new();
    };
    let mut opts: Vec<String> = c
        .s3_config(bucket)
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    opts.sort();
    format!(
        "cloud|{}|{}",
        c.credentials.as_ref().map_or(0, |p| p.id()),
        opts.join("\u{1}")
    )
}

/// The endpoint configured for S3 `bucket` (custom servers), if any.
pub fn s3_endpoint(bucket: &str, io: &IoOptions) -> Option<String> {
    let from_store: Vec<(AmazonS3ConfigKey, String)> = keys_for(&io.store_options);
    let explicit = from_store
        .into_iter()
        .find(|(k, _)| *k == AmazonS3ConfigKey::Endpoint)
        .map(|(_, v)| v);
    explicit.or_else(|| {
        io.cloud.as_ref().and_then(|c| {
            c.s3_config(bucket)
                .options
                .into_iter()
                .find(|(k, _)| k == "aws_endpoint")
                .map(|(_, v)| v)
        })
    })
}

/// Whether `e` is S3's answer to a request for the wrong region (a redirect without Location).
///
/// object_store reports it as `RequestError::BareRedirect`, a variant of a crate-private type
/// with no status: its message ("Received redirect without LOCATION, this normally indicates
/// an incorrectly configured region") is the only route to it.
pub fn is_wrong_region(e: &AttemptError) -> bool {
    e.detail
        .to_ascii_lowercase()
        .contains("redirect without location")
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

/// The cached store, object path and 403 advice for a cloud route (`None` for local/HTTP).
pub fn store_for(route: &Route, io: &IoOptions) -> Result<Option<RoutedStore>> {
    let mut opts: Vec<String> = io
        .store_options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    opts.sort();
    let opts = opts.join("\u{1}");
    let (key, object) = match route {
        Route::S3 {
            bucket,
            key,
            region,
        } => (
            format!(
                "s3|{bucket}|{}|{}|{}|{opts}|{}|{}",
                region.as_deref().unwrap_or(""),
                io.timeout_ms,
                env_credentials().map(|c| c.0).unwrap_or_default(),
                cloud_key(io.cloud.as_deref(), bucket),
                region::known(bucket).unwrap_or_default()
            ),
            key,
        ),
        Route::Gcs { bucket, key } => (
            format!(
                "gs|{bucket}|{}|{opts}|{}",
                io.timeout_ms,
                cloud_key(io.cloud.as_deref(), "")
            ),
            key,
        ),
        Route::Azure {
            account,
            container,
            key,
        } => (
            format!(
                "az|{}|{container}|{}|{opts}|{}",
                account.as_deref().unwrap_or(""),
                io.timeout_ms,
                cloud_key(io.cloud.as_deref(), "")
            ),
            key,
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
    let (store, advice) = match (route, io.cloud.as_deref()) {
        (Route::S3 { bucket, region, .. }, Some(cloud)) => {
            build_s3_cloud(bucket, region.as_deref(), cloud, io)?
        }
        (Route::S3 { bucket, region, .. }, None) => {
            (build_s3(bucket, region.as_deref(), io)?, String::new())
        }
        (Route::Gcs { bucket, .. }, _) => {
            (build_gcs(bucket, io, creds(StoreKind::Gcs))?, String::new())
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
        (Route::Local(_) | Route::Http(_), _) => return Ok(None),
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
/// Typed where object_store exposes it: the variants `NotFound` (404), `PermissionDenied`
/// (403), `Unauthenticated` (401), `Precondition` (412) and `NotModified` (304); an
/// `Error::Generic` caused by a [`HttpError`](object_store::client::HttpError) (connection,
/// timeout, body trouble) had no answer. Any other status (416, 429, 5xx, other 4xx) comes as
/// `Error::Generic` around `client::retry::RetryError`, whose `status()` object_store 0.14
/// keeps in a crate-private module: that type cannot be named outside the crate, so not
/// downcast, and for those alone the status is read from the message it formats
/// ("Server returned non-2xx status code: 503 Service Unavailable: ...").
fn status_of(e: &object_store::Error) -> Option<u16> {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Some(404),
        E::PermissionDenied { .. } => Some(403),
        E::Unauthenticated { .. } => Some(401),
        E::Precondition { .. } => Some(412),
        E::NotModified { .. } => Some(304),
        E::Generic { source, .. } if http_error_kind(source.as_ref()).is_none() => {
            status_in(&source.to_string())
        }
        _ => None,
    }
}

/// The kind of the [`HttpError`](object_store::client::HttpError) in `e`'s source chain: the
/// request failed without an answer.
fn http_error_kind(e: &(dyn std::error::Error + 'static)) -> Option<HttpErrorKind> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(http) = err.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        cause = err.source();
    }
    None
}

/// The status in the message of object_store's `RetryError` ("status code: 503 ..."): the
/// fallback of [`status_of`] where no typed route exists.
fn status_in(msg: &str) -> Option<u16> {
    let i = msg.find("status code: ")? + "status code: ".len();
    msg.get(i..i + 3)?.parse().ok()
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
        let e = with_advice(
            AttemptError::retry(
                "Received redirect without LOCATION, this normally indicates an incorrectly \
                 configured region",
            ),
            "",
        );
        assert!(
            !e.retryable && e.detail.contains("pass region="),
            "{}",
            e.detail
        );
        let cfg = CloudSettings {
            url_patterns: Vec::new(),
            default_s3: std::collections::BTreeMap::new(),
            s3_overrides: std::collections::BTreeMap::new(),
            credentials: None,
            credential_scope: None,
        }
        .s3_config("b");
        assert!(s3_advice("b", &cfg, false).contains("anonymous"));
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
        // statuses object_store keeps in its crate-private RetryError: read from the message
        let e = object_store::Error::Generic {
            store: "S3",
            source: because("Server returned non-2xx status code: 416 Range Not Satisfiable: "),
        };
        assert_eq!(status_of(&e), Some(416));
        let e = object_store::Error::Generic {
            store: "S3",
            source: because("Server returned non-2xx status code: 503 Service Unavailable: "),
        };
        assert!(classify(&e).retryable && classify(&e).detail.starts_with("HTTP 503"));
    }

    #[test]
    fn status_parsing() {
        assert_eq!(
            status_in("Server returned non-2xx status code: 503 Service Unavailable: x"),
            Some(503)
        );
        assert_eq!(status_in("no status"), None);
    }
}
