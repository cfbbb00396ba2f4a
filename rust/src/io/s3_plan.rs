//! How one S3 bucket is reached: endpoint, region, plain HTTP and signing, resolved from the
//! explicit settings and the environment the way boto3, GDAL and obstore read them.
//!
//! Precedence, highest first, for every setting:
//! 1. the engine's `store_options`, then the bucket's `create_backend` settings
//!    (`s3_overrides`, then `default_s3_config`);
//! 2. the region named by an `https://...amazonaws.com` URL (region only);
//! 3. the environment: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, GDAL's `AWS_S3_ENDPOINT`
//!    (with `AWS_HTTPS=NO` for plain HTTP); `AWS_REGION`, `AWS_DEFAULT_REGION`;
//!    `AWS_ALLOW_HTTP`; `AWS_REQUEST_PAYER=requester`;
//! 4. defaults: region `us-east-1`; plain HTTP allowed when the endpoint is `http://`.
//!
//! Signing: `skip_signature=true` set explicitly makes requests anonymous (except on a
//! requester-pays bucket, which must be signed); explicit keys sign; a credential provider
//! signs. Otherwise `AWS_NO_SIGN_REQUEST=YES` or
//! `AWS_SKIP_SIGNATURE=true` make requests anonymous, `AWS_ACCESS_KEY_ID` +
//! `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) sign, a web-identity token file or a
//! container credentials URI sign through object_store's environment chain, and with none of
//! these requests are anonymous.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use object_store::aws::AmazonS3ConfigKey;
use object_store::ClientConfigKey;

use crate::error::Error;
use crate::io::cloud::{CloudSettings, StoreKind};
use crate::io::creds::CredentialCache;

/// Reads one environment variable (`None` when unset or blank).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// This process's environment, blank values as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Default region when nothing names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Who signs the requests to a bucket.
#[derive(Clone)]
pub enum S3Signing {
    /// Unsigned requests (public buckets).
    Anonymous,
    /// Keys among the explicit options.
    Explicit,
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`.
    Environment {
        key_id: String,
        secret: String,
        token: Option<String>,
    },
    /// object_store's environment chain (web identity, container credentials, instance
    /// metadata).
    Chain,
    /// The backend's credential provider.
    Provider(Arc<CredentialCache>),
    /// Requests must be signed but no credential exists.
    Missing,
}

/// The resolved configuration of one bucket.
#[derive(Clone)]
pub struct S3Plan {
    /// Explicit object_store options (lowest first: backend settings, then `store_options`).
    pub options: Vec<(AmazonS3ConfigKey, String)>,
    /// The region to sign for.
    pub region: String,
    /// A custom endpoint (S3-compatible servers), if any.
    pub endpoint: Option<String>,
    /// Plain `http://` allowed.
    pub allow_http: bool,
    pub signing: S3Signing,
    pub requester_pays: bool,
    /// Where the signing decision came from, for messages (`"AWS_ACCESS_KEY_ID"`...).
    pub signing_source: &'static str,
}

fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

fn parse_keys(pairs: &[(String, String)]) -> Vec<(AmazonS3ConfigKey, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            AmazonS3ConfigKey::from_str(&k.to_ascii_lowercase())
                .ok()
                .map(|key| (key, v.clone()))
        })
        .collect()
}

/// The last value given for any of `keys`.
fn last(options: &[(AmazonS3ConfigKey, String)], keys: &[AmazonS3ConfigKey]) -> Option<String> {
    options
        .iter()
        .rev()
        .find(|(k, _)| keys.contains(k))
        .map(|(_, v)| v.clone())
}

/// The S3 endpoint the environment names: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, then
/// GDAL's `AWS_S3_ENDPOINT` (a host, `https://` unless `AWS_HTTPS=NO`).
pub fn env_endpoint(env: EnvLookup) -> Option<String> {
    if let Some(e) = env("AWS_ENDPOINT_URL_S3").or_else(|| env("AWS_ENDPOINT_URL")) {
        return Some(e);
    }
    let host = env("AWS_S3_ENDPOINT")?;
    if host.contains("://") {
        return Some(host);
    }
    let https = env("AWS_HTTPS")
        .is_none_or(|v| !matches!(v.to_ascii_uppercase().as_str(), "NO" | "FALSE" | "0"));
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
pub fn env_region(env: EnvLookup) -> Option<String> {
    env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION"))
}

impl S3Plan {
    /// Resolve `bucket`'s configuration (see the module documentation for the precedence).
    pub fn resolve(
        bucket: &str,
        url_region: Option<&str>,
        cloud: Option<&CloudSettings>,
        store_options: &[(String, String)],
        env: EnvLookup,
    ) -> Self {
        let config = cloud.map(|c| c.s3_config(bucket));
        let mut options: Vec<(AmazonS3ConfigKey, String)> = config
            .as_ref()
            .map(|c| parse_keys(&c.options))
            .unwrap_or_default();
        options.extend(parse_keys(store_options));
        use AmazonS3ConfigKey as K;
        let region = last(&options, &[K::Region])
            .or_else(|| last(&options, &[K::DefaultRegion]))
            .or_else(|| url_region.map(str::to_string))
            .or_else(|| env_region(env))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let endpoint = last(&options, &[K::S3Endpoint])
            .or_else(|| last(&options, &[K::Endpoint]))
            .or_else(|| env_endpoint(env));
        let allow_http = last(&options, &[K::Client(ClientConfigKey::AllowHttp)])
            .or_else(|| env("AWS_ALLOW_HTTP"))
            .map_or_else(
                || {
                    endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://"))
                },
                |v| is_true(&v),
            );
        let requester_pays = match last(&options, &[K::RequestPayer]) {
            Some(v) => is_true(&v),
            None => env("AWS_REQUEST_PAYER").is_some_and(|v| v.eq_ignore_ascii_case("requester")),
        };
        if requester_pays && last(&options, &[K::RequestPayer]).is_none() {
            options.push((K::RequestPayer, "true".to_string()));
        }
        let provider = cloud.and_then(|c| c.credentials_for(StoreKind::S3));
        let (signing, signing_source) = Self::signing(&options, provider, requester_pays, env);
        Self {
            options,
            region,
            endpoint,
            allow_http,
            signing,
            requester_pays,
            signing_source,
        }
    }

    fn signing(
        options: &[(AmazonS3ConfigKey, String)],
        provider: Option<Arc<CredentialCache>>,
        requester_pays: bool,
        env: EnvLookup,
    ) -> (S3Signing, &'static str) {
        use AmazonS3ConfigKey as K;
        let explicit_skip = last(options, &[K::SkipSignature]).map(|v| is_true(&v));
        let explicit_keys = last(options, &[K::AccessKeyId]).is_some();
        let env_keys = || {
            Some(S3Signing::Environment {
                key_id: env("AWS_ACCESS_KEY_ID")?,
                secret: env("AWS_SECRET_ACCESS_KEY")?,
                token: env("AWS_SESSION_TOKEN"),
            })
        };
        let env_chain = [
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ]
        .iter()
        .any(|k| env(k).is_some());
        let must_sign = requester_pays || explicit_skip == Some(false);
        if explicit_skip == Some(true) && !requester_pays {
            return (S3Signing::Anonymous, "skip_signature");
        }
        if explicit_keys {
            return (S3Signing::Explicit, "the configured access_key_id");
        }
        if let Some(p) = provider {
            return (S3Signing::Provider(p), "the credential provider");
        }
        let env_skip = ["AWS_NO_SIGN_REQUEST", "AWS_SKIP_SIGNATURE"]
            .iter()
            .any(|k| env(k).is_some_and(|v| is_true(&v)));
        if env_skip && !must_sign {
            return (
                S3Signing::Anonymous,
                "AWS_NO_SIGN_REQUEST/AWS_SKIP_SIGNATURE",
            );
        }
        if let Some(keys) = env_keys() {
            return (keys, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
        }
        if env_chain || explicit_skip == Some(false) {
            return (S3Signing::Chain, "the AWS environment credential chain");
        }
        if must_sign {
            return (S3Signing::Missing, "");
        }
        (S3Signing::Anonymous, "no AWS credentials found")
    }

    /// Whether requests are signed.
    pub fn signed(&self) -> bool {
        !matches!(self.signing, S3Signing::Anonymous)
    }

    /// A cache key: equal keys mean equal stores.
    pub fn cache_key(&self) -> String {
        let mut h = DefaultHasher::new();
        for (k, v) in &self.options {
            k.as_ref().hash(&mut h);
            v.hash(&mut h);
        }
        let signing = match &self.signing {
            S3Signing::Anonymous => "anon".to_string(),
            S3Signing::Explicit => "explicit".to_string(),
            S3Signing::Environment {
                key_id,
                secret,
                token,
            } => {
                (key_id, secret, token).hash(&mut h);
                "env".to_string()
            }
            S3Signing::Chain => "chain".to_string(),
            S3Signing::Provider(p) => format!("provider{}", p.id()),
            S3Signing::Missing => "missing".to_string(),
        };
        // the signing source is part of the key: it is in the advice cached with the store
        format!(
            "{}|{}|{}|{signing}|{}|{}|{:x}",
            self.region,
            self.endpoint.as_deref().unwrap_or(""),
            self.allow_http,
            self.signing_source,
            self.requester_pays,
            h.finish()
        )
    }

    /// The effective configuration as object_store keys, secret values masked (what
    /// `backend.s3_config(bucket)` shows).
    pub fn shown(&self) -> BTreeMap<String, String> {
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &self.options {
            let name = k.as_ref().to_string();
            let lower = name.to_ascii_lowercase();
            let secret = ["secret", "token", "key_id", "password"]
                .iter()
                .any(|h| lower.contains(h));
            out.insert(name, if secret { "***".to_string() } else { v.clone() });
        }
        out.remove(AmazonS3ConfigKey::DefaultRegion.as_ref());
        out.insert(
            AmazonS3ConfigKey::Region.as_ref().to_string(),
            self.region.clone(),
        );
        if let Some(e) = &self.endpoint {
            out.insert(AmazonS3ConfigKey::Endpoint.as_ref().to_string(), e.clone());
            out.insert("aws_allow_http".to_string(), self.allow_http.to_string());
        }
        let skip = AmazonS3ConfigKey::SkipSignature.as_ref().to_string();
        if self.signed() {
            out.remove(&skip);
        } else {
            out.insert(skip, "true".to_string());
        }
        if matches!(self.signing, S3Signing::Environment { .. }) {
            out.insert("aws_access_key_id".to_string(), "***".to_string());
        }
        out
    }

    /// What to tell the user when the bucket refuses a request.
    pub fn advice(&self, bucket: &str) -> String {
        if self.requester_pays {
            return format!(
                "s3://{bucket} is requester-pays: requests were signed ({}) and sent \
                 'x-amz-request-payer: requester'; check that the AWS credentials \
                 (credential_provider=, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a boto3 \
                 profile) are valid and allowed to pay for requests",
                self.signing_source
            );
        }
        match &self.signing {
            S3Signing::Anonymous => format!(
                "requests to s3://{bucket} were anonymous (unsigned: {}): if the bucket is \
                 private set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or pass \
                 backend=rasteret.create_backend(credential_provider=...); if it is \
                 requester-pays (Landsat, NAIP) use CloudConfig(requester_pays=True) or \
                 create_backend(default_s3_config={{'request_payer': 'true'}}) with AWS \
                 credentials",
                self.signing_source
            ),
            S3Signing::Provider(_) => format!(
                "requests to s3://{bucket} were signed with the credential provider's \
                 credentials: check that they grant s3:GetObject on this bucket"
            ),
            _ => format!(
                "requests to s3://{bucket} were signed with {}: check that these AWS \
                 credentials are valid and grant s3:GetObject on this bucket",
                self.signing_source
            ),
        }
    }

    /// The error for a bucket that must be signed when no credential exists.
    pub fn missing_credentials(&self, bucket: &str) -> Error {
        Error::new(
            crate::error::Kind::Forbidden,
            format!(
                "s3://{bucket} needs signed requests{} but no AWS credentials were found: set \
                 AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, configure a boto3 profile (with boto3 \
                 installed) or pass create_backend(credential_provider=...)",
                if self.requester_pays {
                    " (requester-pays bucket)"
                } else {
                    ""
                }
            ),
        )
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

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_string())
        }
    }

    fn opts(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn environment_alone_configures_endpoint_region_http_and_keys() {
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret"),
            ("AWS_SESSION_TOKEN", "tok"),
        ]);
        let p = S3Plan::resolve("b", None, None, &[], &env);
        assert_eq!(p.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(p.region, "eu-west-1");
        assert!(p.allow_http && p.signed());
        assert!(matches!(&p.signing, S3Signing::Environment { token: Some(t), .. } if t == "tok"));
        let shown = format!("{:?}", p.shown());
        assert!(
            !shown.contains("s3cret") && !shown.contains("AKIA"),
            "{shown}"
        );
        // AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL; AWS_REGION over AWS_DEFAULT_REGION
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://a:1"),
            ("AWS_ENDPOINT_URL_S3", "https://b:2"),
            ("AWS_REGION", "ap-south-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        let p = S3Plan::resolve("b", None, None, &[], &env);
        assert_eq!(p.endpoint.as_deref(), Some("https://b:2"));
        assert_eq!(p.region, "ap-south-1");
        assert!(!p.allow_http && !p.signed());
        // GDAL's host-only endpoint
        let env = env_of(&[("AWS_S3_ENDPOINT", "minio:9000"), ("AWS_HTTPS", "NO")]);
        let p = S3Plan::resolve("b", None, None, &[], &env);
        assert_eq!(p.endpoint.as_deref(), Some("http://minio:9000"));
        assert!(p.allow_http);
    }

    #[test]
    fn explicit_settings_win_over_the_environment() {
        let env = env_of(&[
            ("AWS_ENDPOINT_URL", "http://env:1"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ALLOW_HTTP", "false"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret"),
        ]);
        let o = opts(&[
            ("aws_endpoint", "http://mine:2"),
            ("region", "us-west-2"),
            ("allow_http", "true"),
            ("skip_signature", "true"),
        ]);
        let p = S3Plan::resolve("b", Some("ca-central-1"), None, &o, &env);
        assert_eq!(p.endpoint.as_deref(), Some("http://mine:2"));
        assert_eq!(p.region, "us-west-2");
        assert!(p.allow_http && !p.signed());
        // the URL's region beats the environment's
        let p = S3Plan::resolve("b", Some("ca-central-1"), None, &[], &env);
        assert_eq!(p.region, "ca-central-1");
        assert!(
            !p.allow_http,
            "AWS_ALLOW_HTTP=false holds for an http:// endpoint"
        );
        // env opt-out of signing, but requester-pays must sign
        let env = env_of(&[
            ("AWS_NO_SIGN_REQUEST", "YES"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret"),
        ]);
        assert!(!S3Plan::resolve("b", None, None, &[], &env).signed());
        let rp = S3Plan::resolve("b", None, None, &opts(&[("request_payer", "true")]), &env);
        assert!(rp.requester_pays && matches!(rp.signing, S3Signing::Environment { .. }));
        let none = env_of(&[]);
        let rp = S3Plan::resolve("b", None, None, &opts(&[("request_payer", "true")]), &none);
        assert!(matches!(rp.signing, S3Signing::Missing));
        assert!(rp
            .missing_credentials("b")
            .message()
            .contains("AWS_ACCESS_KEY_ID"));
        let anon = S3Plan::resolve("b", None, None, &[], &none);
        assert!(!anon.signed() && anon.region == DEFAULT_REGION && anon.endpoint.is_none());
        assert!(anon.advice("b").contains("anonymous"));
    }

    #[test]
    fn cache_keys_follow_credentials() {
        let a = env_of(&[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "x")]);
        let b = env_of(&[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "y")]);
        let ka = S3Plan::resolve("b", None, None, &[], &a).cache_key();
        let kb = S3Plan::resolve("b", None, None, &[], &b).cache_key();
        assert_ne!(ka, kb);
        assert!(!ka.contains("|x|") && !ka.contains("|A|"), "{ka}");
    }
}
