//! What a `backend=` brings to the I/O layer: either the auto-routing backend's settings
//! ([`CloudSettings`]: URL rewrites, per-bucket S3 configuration, a credential provider) or an
//! external range reader ([`RangeReader`], e.g. a user's Python object) that replaces routing.
//!
//! S3 configuration of one bucket: `default_s3` overlaid by the bucket's `s3_overrides`;
//! `request_payer=true` removes `skip_signature` (requester-pays requests must be signed). A
//! credential provider signs every bucket whose settings do not say `skip_signature=true`.
//! Settings given here win over the environment's ([`crate::io::s3_plan`]).
//! Keys are object_store's (`region`, `skip_signature`, `request_payer`, `endpoint`, ... with or
//! without the `aws_` prefix).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3ConfigKey;

use crate::error::{Error, Result};
use crate::io::creds::{BoxFut, CredentialCache};
use crate::io::retry::AttemptError;

/// Bytes from somewhere else than our own clients (a Python `StorageBackend`).
pub trait RangeReader: Send + Sync + fmt::Debug {
    /// One attempt at `range` of `url`: the buffer may be shorter than asked (the caller checks).
    fn get_range(&self, url: &str, range: Range<u64>) -> BoxFut<Result<Bytes, AttemptError>>;
    /// A short name for messages (the backend's class).
    fn name(&self) -> String;
}

/// Settings of the auto-routing backend (`create_backend`).
pub struct CloudSettings {
    /// `(source_prefix, target_prefix)`, first match wins, replaced once.
    pub url_patterns: Vec<(String, String)>,
    /// S3 configuration of every bucket.
    pub default_s3: BTreeMap<String, String>,
    /// S3 configuration by bucket (overlays `default_s3`).
    pub s3_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// The credential provider, if any.
    pub credentials: Option<Arc<CredentialCache>>,
    /// The only store kind the provider's credentials fit (`None`: any). Stores of another
    /// kind are reached anonymously (an incompatible provider falls back to the
    /// anonymous configuration).
    pub credential_scope: Option<StoreKind>,
}

/// The kinds of store a credential provider can sign for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// Amazon S3 and S3-compatible stores.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
    /// Plain HTTP(S) origins (a `sas_token` is appended to the query).
    Http,
}

impl FromStr for StoreKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "s3" => Ok(Self::S3),
            "gcs" => Ok(Self::Gcs),
            "azure" => Ok(Self::Azure),
            "http" => Ok(Self::Http),
            other => Err(Error::invalid(format!(
                "unknown credential scope {other:?} (expected s3, gcs, azure or http)"
            ))),
        }
    }
}

/// Option keys whose values are secrets (never printed).
fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "sas",
        "key_id",
        "access_key",
        "account_key",
    ]
    .iter()
    .any(|h| k.contains(h))
}

fn shown(map: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    map.iter()
        .map(|(k, v)| {
            let v = if is_secret_key(k) { "***" } else { v.as_str() };
            (k.as_str(), v)
        })
        .collect()
}

impl fmt::Debug for CloudSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let overrides: BTreeMap<&str, BTreeMap<&str, &str>> = self
            .s3_overrides
            .iter()
            .map(|(b, m)| (b.as_str(), shown(m)))
            .collect();
        f.debug_struct("CloudSettings")
            .field("url_patterns", &self.url_patterns)
            .field("default_s3", &shown(&self.default_s3))
            .field("s3_overrides", &overrides)
            .field("credential_provider", &self.credentials.is_some())
            .field("credential_scope", &self.credential_scope)
            .finish()
    }
}

fn is_true(v: &str) -> bool {
    matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

impl CloudSettings {
    /// The provider's credential cache when its credentials fit `kind`, else `None`
    /// (anonymous access).
    pub fn credentials_for(&self, kind: StoreKind) -> Option<Arc<CredentialCache>> {
        match self.credential_scope {
            Some(scope) if scope != kind => None,
            _ => self.credentials.clone(),
        }
    }

    /// Check every S3 key. Unknown keys are an InvalidArgument error naming them.
    pub fn validate(&self) -> Result<()> {
        let all = self
            .default_s3
            .keys()
            .chain(self.s3_overrides.values().flat_map(BTreeMap::keys));
        let unknown: Vec<&str> = all
            .filter(|k| AmazonS3ConfigKey::from_str(&k.to_ascii_lowercase()).is_err())
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(format!(
            "unknown S3 configuration key(s) {}: use obstore/object_store S3 keys such as \
             region, skip_signature, request_payer, endpoint, allow_http",
            unknown.join(", ")
        )))
    }

    /// `url` after the first matching URL pattern.
    pub fn rewrite(&self, url: &str) -> String {
        for (src, dst) in &self.url_patterns {
            if !src.is_empty() && url.starts_with(src.as_str()) {
                return url.replacen(src.as_str(), dst, 1);
            }
        }
        url.to_string()
    }

    /// The S3 configuration of `bucket` as object_store keys (`default_s3` overlaid by the
    /// bucket's `s3_overrides`), and whether the bucket is requester-pays. A requester-pays
    /// bucket drops `skip_signature`: its requests are signed. What is not set here comes from
    /// the environment ([`crate::io::s3_plan`]).
    pub fn s3_config(&self, bucket: &str) -> S3Config {
        // keyed by object_store's canonical name (`aws_region` for `region` too)
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        let canonical = |k: AmazonS3ConfigKey| k.as_ref().to_string();
        let layers = std::iter::once(&self.default_s3).chain(self.s3_overrides.get(bucket));
        for layer in layers {
            for (k, v) in layer {
                if let Ok(key) = AmazonS3ConfigKey::from_str(&k.to_ascii_lowercase()) {
                    merged.insert(canonical(key), v.clone());
                }
            }
        }
        let requester_pays = merged
            .get(&canonical(AmazonS3ConfigKey::RequestPayer))
            .is_some_and(|v| is_true(v));
        if requester_pays {
            merged.remove(&canonical(AmazonS3ConfigKey::SkipSignature));
        }
        S3Config {
            options: merged.into_iter().collect(),
            requester_pays,
        }
    }
}

/// One bucket's S3 configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// object_store keys (`aws_...`) and values.
    pub options: Vec<(String, String)>,
    pub requester_pays: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map: BTreeMap<String, String> = self.options.iter().cloned().collect();
        f.debug_struct("S3Config")
            .field("options", &shown(&map))
            .field("requester_pays", &self.requester_pays)
            .finish()
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

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn settings() -> CloudSettings {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "rp".to_string(),
            map(&[("region", "us-west-2"), ("request_payer", "true")]),
        );
        overrides.insert(
            "pub".to_string(),
            map(&[("region", "eu-west-1"), ("skip_signature", "true")]),
        );
        CloudSettings {
            url_patterns: vec![(
                "https://landsatlook.usgs.gov/data/".into(),
                "s3://rp/".into(),
            )],
            default_s3: map(&[
                ("endpoint", "http://127.0.0.1:1"),
                ("aws_secret_access_key", "S3CR3T"),
            ]),
            s3_overrides: overrides,
            credentials: None,
            credential_scope: None,
        }
    }

    fn get<'a>(c: &'a S3Config, k: &str) -> Option<&'a str> {
        c.options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn per_bucket_configuration() {
        let s = settings();
        s.validate().unwrap();
        let rp = s.s3_config("rp");
        assert!(rp.requester_pays);
        assert_eq!(get(&rp, "aws_skip_signature"), None);
        assert_eq!(get(&rp, "aws_region"), Some("us-west-2"));
        assert_eq!(get(&rp, "aws_endpoint"), Some("http://127.0.0.1:1"));
        let p = s.s3_config("pub");
        assert!(!p.requester_pays);
        assert_eq!(get(&p, "aws_region"), Some("eu-west-1"));
        assert_eq!(get(&p, "aws_skip_signature"), Some("true"));
        let other = s.s3_config("other");
        assert_eq!(get(&other, "aws_skip_signature"), None); // left to the environment
    }

    #[test]
    fn rewrite_and_redaction() {
        let s = settings();
        assert_eq!(
            s.rewrite("https://landsatlook.usgs.gov/data/a/b.tif"),
            "s3://rp/a/b.tif"
        );
        assert_eq!(s.rewrite("https://x/a.tif"), "https://x/a.tif");
        let shown = format!("{s:?} {:?}", s.s3_config("rp"));
        assert!(!shown.contains("S3CR3T"), "{shown}");
        let bad = CloudSettings {
            default_s3: map(&[("regoin", "x")]),
            ..settings()
        };
        assert!(bad.validate().unwrap_err().message().contains("regoin"));
    }
}
