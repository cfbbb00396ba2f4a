//! How Google Cloud Storage is reached: base URL (emulators), plain HTTP and signing, resolved
//! from the explicit settings and the environment the way the Google SDKs, gcsfs, GDAL and
//! obstore read them.
//!
//! - Base URL: `store_options` `google_base_url`, else `GOOGLE_BASE_URL`, else
//!   `STORAGE_EMULATOR_HOST` (the Google SDKs' emulator variable; `http://` is assumed when it
//!   has no scheme), else `https://storage.googleapis.com`. Plain HTTP is allowed when the base
//!   URL is `http://` unless `google_allow_http` / `GOOGLE_ALLOW_HTTP` say otherwise.
//! - Signing, first that applies: the backend's credential provider (a `token`); credentials
//!   in `store_options` (`google_service_account`, `google_service_account_key`,
//!   `google_application_credentials`, `google_bearer_token`); `google_skip_signature` set
//!   explicitly; `GS_NO_SIGN_REQUEST=YES` or `GOOGLE_SKIP_SIGNATURE=true` (anonymous);
//!   `GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_SERVICE_ACCOUNT_PATH`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
//!   `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_BEARER_TOKEN` (signed); an emulator named by
//!   `STORAGE_EMULATOR_HOST` alone (anonymous, as the Google SDKs do); gcloud's application
//!   default credentials file (signed); otherwise anonymous.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use object_store::gcp::GoogleConfigKey;
use object_store::ClientConfigKey;

use crate::io::cloud::{CloudSettings, StoreKind};
use crate::io::creds::CredentialCache;
use crate::io::s3_plan::EnvLookup;

/// Who signs GCS requests.
#[derive(Clone)]
pub enum GcsSigning {
    /// Unsigned requests (public buckets, emulators).
    Anonymous,
    /// object_store's own credentials: options (explicit or from the environment) or gcloud's
    /// application default credentials file.
    Configured,
    /// The backend's credential provider.
    Provider(Arc<CredentialCache>),
}

/// The resolved GCS configuration.
#[derive(Clone)]
pub struct GcsPlan {
    /// object_store options: environment-derived first, explicit last (explicit wins).
    pub options: Vec<(GoogleConfigKey, String)>,
    /// A custom base URL (emulators), if any.
    pub base_url: Option<String>,
    pub allow_http: bool,
    pub signing: GcsSigning,
    /// Where the signing decision came from, for messages.
    pub signing_source: &'static str,
}

fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

fn last(options: &[(GoogleConfigKey, String)], key: &GoogleConfigKey) -> Option<String> {
    options
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

/// Credentials the environment names, as object_store options.
fn env_credentials(env: EnvLookup) -> Vec<(GoogleConfigKey, String)> {
    let mut out = Vec::new();
    if let Some(p) = env("GOOGLE_SERVICE_ACCOUNT").or_else(|| env("GOOGLE_SERVICE_ACCOUNT_PATH")) {
        out.push((GoogleConfigKey::ServiceAccount, p));
    } else if let Some(k) = env("GOOGLE_SERVICE_ACCOUNT_KEY") {
        out.push((GoogleConfigKey::ServiceAccountKey, k));
    } else if let Some(p) = env("GOOGLE_APPLICATION_CREDENTIALS") {
        out.push((GoogleConfigKey::ApplicationCredentials, p));
    } else if let Some(t) = env("GOOGLE_BEARER_TOKEN") {
        out.push((GoogleConfigKey::BearerToken, t));
    }
    out
}

/// gcloud's application default credentials file, when it exists.
fn adc_file(env: EnvLookup) -> Option<PathBuf> {
    let path =
        PathBuf::from(env("HOME")?).join(".config/gcloud/application_default_credentials.json");
    path.is_file().then_some(path)
}

const CREDENTIAL_KEYS: [GoogleConfigKey; 4] = [
    GoogleConfigKey::ServiceAccount,
    GoogleConfigKey::ServiceAccountKey,
    GoogleConfigKey::ApplicationCredentials,
    GoogleConfigKey::BearerToken,
];

impl GcsPlan {
    /// Resolve the configuration (see the module documentation).
    pub fn resolve(
        cloud: Option<&CloudSettings>,
        store_options: &[(String, String)],
        env: EnvLookup,
    ) -> Self {
        let explicit: Vec<(GoogleConfigKey, String)> = store_options
            .iter()
            .filter_map(|(k, v)| {
                GoogleConfigKey::from_str(&k.to_ascii_lowercase())
                    .ok()
                    .map(|key| (key, v.clone()))
            })
            .collect();
        let emulator = env("STORAGE_EMULATOR_HOST").map(|h| {
            if h.contains("://") {
                h
            } else {
                format!("http://{h}")
            }
        });
        let base_url = last(&explicit, &GoogleConfigKey::BaseUrl)
            .or_else(|| env("GOOGLE_BASE_URL"))
            .or_else(|| emulator.clone());
        let allow_http = last(
            &explicit,
            &GoogleConfigKey::Client(ClientConfigKey::AllowHttp),
        )
        .or_else(|| env("GOOGLE_ALLOW_HTTP"))
        .map_or_else(
            || {
                base_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("http://"))
            },
            |v| is_true(&v),
        );
        let mut options = Vec::new();
        let provider = cloud.and_then(|c| c.credentials_for(StoreKind::Gcs));
        let explicit_creds = explicit.iter().any(|(k, _)| CREDENTIAL_KEYS.contains(k));
        let explicit_skip = last(&explicit, &GoogleConfigKey::SkipSignature).map(|v| is_true(&v));
        let env_skip = ["GS_NO_SIGN_REQUEST", "GOOGLE_SKIP_SIGNATURE"]
            .iter()
            .any(|k| env(k).is_some_and(|v| is_true(&v)));
        let from_env = env_credentials(env);
        let (signing, signing_source) = if let Some(p) = provider {
            (GcsSigning::Provider(p), "the credential provider")
        } else if explicit_creds {
            (GcsSigning::Configured, "the configured Google credentials")
        } else if let Some(skip) = explicit_skip {
            if skip {
                (GcsSigning::Anonymous, "google_skip_signature")
            } else {
                (
                    GcsSigning::Configured,
                    "Google application default credentials",
                )
            }
        } else if env_skip {
            (
                GcsSigning::Anonymous,
                "GS_NO_SIGN_REQUEST/GOOGLE_SKIP_SIGNATURE",
            )
        } else if !from_env.is_empty() {
            options.extend(from_env);
            (
                GcsSigning::Configured,
                "the Google credentials named in the environment",
            )
        } else if emulator.is_some() && base_url == emulator {
            (
                GcsSigning::Anonymous,
                "STORAGE_EMULATOR_HOST without credentials",
            )
        } else if adc_file(env).is_some() {
            (
                GcsSigning::Configured,
                "gcloud's application default credentials",
            )
        } else {
            (GcsSigning::Anonymous, "no Google credentials found")
        };
        options.extend(explicit);
        Self {
            options,
            base_url,
            allow_http,
            signing,
            signing_source,
        }
    }

    /// A cache key: equal keys mean equal stores.
    pub fn cache_key(&self) -> String {
        let mut h = DefaultHasher::new();
        for (k, v) in &self.options {
            k.as_ref().hash(&mut h);
            v.hash(&mut h);
        }
        let signing = match &self.signing {
            GcsSigning::Anonymous => "anon".to_string(),
            GcsSigning::Configured => "configured".to_string(),
            GcsSigning::Provider(p) => format!("provider{}", p.id()),
        };
        // the signing source is part of the key: it is in the advice cached with the store
        format!(
            "{}|{}|{signing}|{}|{:x}",
            self.base_url.as_deref().unwrap_or(""),
            self.allow_http,
            self.signing_source,
            h.finish()
        )
    }

    /// What to tell the user when a bucket refuses a request.
    pub fn advice(&self, bucket: &str) -> String {
        match self.signing {
            GcsSigning::Anonymous => format!(
                "requests to gs://{bucket} were anonymous ({}): if the bucket is private set \
                 GOOGLE_APPLICATION_CREDENTIALS or pass \
                 backend=rasteret.create_backend(credential_provider=...) returning a 'token'",
                self.signing_source
            ),
            _ => format!(
                "requests to gs://{bucket} were signed with {}: check that they grant \
                 storage.objects.get on this bucket",
                self.signing_source
            ),
        }
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

    #[test]
    fn emulator_host_and_precedence() {
        let env = env_of(&[
            ("STORAGE_EMULATOR_HOST", "127.0.0.1:4443"),
            ("HOME", "/nonexistent"),
        ]);
        let p = GcsPlan::resolve(None, &[], &env);
        assert_eq!(p.base_url.as_deref(), Some("http://127.0.0.1:4443"));
        assert!(p.allow_http && matches!(p.signing, GcsSigning::Anonymous));
        assert!(p.advice("b").contains("anonymous"));
        let explicit = vec![
            (
                "google_base_url".to_string(),
                "https://gcs.example:1".to_string(),
            ),
            ("google_bearer_token".to_string(), "tok".to_string()),
        ];
        let p = GcsPlan::resolve(None, &explicit, &env);
        assert_eq!(p.base_url.as_deref(), Some("https://gcs.example:1"));
        assert!(!p.allow_http && matches!(p.signing, GcsSigning::Configured));
        let env = env_of(&[
            ("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/tmp/sa.json"),
        ]);
        let p = GcsPlan::resolve(None, &[], &env);
        assert!(matches!(p.signing, GcsSigning::Configured));
        assert!(p.options.contains(&(
            GoogleConfigKey::ApplicationCredentials,
            "/tmp/sa.json".into()
        )));
        let env = env_of(&[
            ("GS_NO_SIGN_REQUEST", "YES"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "/tmp/sa.json"),
        ]);
        assert!(matches!(
            GcsPlan::resolve(None, &[], &env).signing,
            GcsSigning::Anonymous
        ));
        let none = env_of(&[("HOME", "/nonexistent")]);
        let p = GcsPlan::resolve(None, &[], &none);
        assert!(p.base_url.is_none() && !p.allow_http);
        assert!(matches!(p.signing, GcsSigning::Anonymous));
    }
}
