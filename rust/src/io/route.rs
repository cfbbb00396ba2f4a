//! URL -> backend routing, and redaction of secrets for messages.
//!
//! Accepted forms:
//! - local paths (absolute or relative) and `file:///abs/path` -> [`Route::Local`];
//! - `s3://bucket/key` (also `s3a://`), `https://bucket.s3[.-]<region>.amazonaws.com/key`,
//!   `https://s3[.-]<region>.amazonaws.com/bucket/key` -> [`Route::S3`];
//! - `gs://bucket/key` (also `gcs://`), `https://storage.googleapis.com/bucket/key`,
//!   `https://bucket.storage.googleapis.com/key` -> [`Route::Gcs`];
//! - `az://container/path` (also `azure://`, `adl://`),
//!   `abfs[s]://container@account.dfs.core.windows.net/path`,
//!   `https://account.{blob,dfs}.core.windows.net/container/path` -> [`Route::Azure`];
//! - any other `http(s)://` URL, and any cloud `https://` URL carrying a query string (pre-signed
//!   S3 URLs, SAS tokens, signed GCS URLs) -> [`Route::Http`], fetched whole with plain HTTP.

use std::path::PathBuf;

use url::Url;

use crate::error::{Error, Result};

/// Where one URL's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A file on this machine.
    Local(PathBuf),
    /// A plain HTTP(S) URL (kept whole, query string included).
    Http(String),
    /// An S3 object. `key` is percent-decoded; `region` only when the URL names one.
    S3 {
        bucket: String,
        key: String,
        region: Option<String>,
    },
    /// A Google Cloud Storage object.
    Gcs { bucket: String, key: String },
    /// An Azure Blob / ADLS object. `account` only when the URL names it.
    Azure {
        account: Option<String>,
        container: String,
        key: String,
    },
}

/// Query parameters whose values are secrets (compared lowercase).
const SECRET_PARAM_HINTS: &[&str] = &[
    "signature",
    "credential",
    "token",
    "secret",
    "password",
    "sig",
    "key",
    "auth",
];

fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARAM_HINTS.iter().any(|h| lower.contains(h))
}

/// `url` with its password and secret query values replaced by `REDACTED`, for messages.
/// Local paths and unparseable strings come back unchanged.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        return url.to_string();
    }
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_string();
    };
    let mut changed = false;
    if parsed.password().is_some() {
        // Only fails for cannot-be-a-base URLs, which carry no password.
        let _ = parsed.set_password(Some("REDACTED"));
        changed = true;
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.iter().any(|(k, _)| is_secret_param(k)) {
            let mut q = parsed.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                if is_secret_param(k) {
                    q.append_pair(k, "REDACTED");
                } else {
                    q.append_pair(k, v);
                }
            }
            drop(q);
            changed = true;
        }
    }
    if changed {
        parsed.to_string()
    } else {
        url.to_string()
    }
}

/// `msg` with every URL in it (a token starting with `http://` or `https://`) redacted.
pub fn scrub(msg: &str) -> String {
    if !msg.contains("://") {
        return msg.to_string();
    }
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    loop {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(i) = next else {
            out.push_str(rest);
            return out;
        };
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let end = from
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ')' || c == '>')
            .unwrap_or(from.len());
        let (token, after) = from.split_at(end);
        out.push_str(&redact(token));
        rest = after;
    }
}

/// The URL path without its leading `/`, percent-decoded.
fn decoded_key(path: &str) -> Result<String> {
    let trimmed = path.trim_start_matches('/');
    percent_decode(trimmed)
}

pub(crate) fn percent_decode(s: &str) -> Result<String> {
    let mut out = Vec::with_capacity(s.len());
    let raw = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| Error::invalid(format!("URL path {s:?} is not valid UTF-8 once decoded")))
}

/// First path segment and the rest (`/bucket/a/b` -> `("bucket", "a/b")`).
fn split_first_segment(path: &str) -> (String, &str) {
    let p = path.trim_start_matches('/');
    match p.split_once('/') {
        Some((first, rest)) => (first.to_string(), rest),
        None => (p.to_string(), ""),
    }
}

fn require_key(url: &str, key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid(format!(
            "{}: URL names a bucket/container but no object key",
            redact(url)
        )));
    }
    Ok(())
}

/// S3 region from `s3.<region>` / `s3-<region>` host labels (`None` for the global endpoint).
fn s3_region(labels: &[&str]) -> Option<String> {
    // labels start at the `s3...` label and end before `amazonaws.com`.
    let first = labels.first()?;
    if let Some(r) = first.strip_prefix("s3-") {
        if r != "external-1" {
            return Some(r.to_string());
        }
        return None;
    }
    // s3.<region> or s3.dualstack.<region>
    let rest: Vec<&str> = labels
        .iter()
        .skip(1)
        .copied()
        .filter(|l| *l != "dualstack")
        .collect();
    rest.first().map(|r| (*r).to_string())
}

fn route_https(url: &str, parsed: &Url) -> Result<Option<Route>> {
    if parsed.query().is_some_and(|q| !q.is_empty()) {
        return Ok(None); // pre-signed / SAS: plain HTTP, whole URL
    }
    let Some(host) = parsed.host_str() else {
        return Ok(None);
    };
    let host = host.to_ascii_lowercase();
    let path = parsed.path();
    if let Some(prefix) = host.strip_suffix(".amazonaws.com") {
        let labels: Vec<&str> = prefix.split('.').collect();
        let is_s3 = |l: &&str| *l == "s3" || l.starts_with("s3-");
        if let Some(pos) = labels.iter().position(is_s3) {
            let region = labels.get(pos..).and_then(s3_region);
            if pos == 0 {
                // path-style
                let (bucket, rest) = split_first_segment(path);
                let key = decoded_key(rest)?;
                require_key(url, &key)?;
                return Ok(Some(Route::S3 {
                    bucket,
                    key,
                    region,
                }));
            }
            let bucket = labels.get(..pos).map(|b| b.join(".")).unwrap_or_default();
            let key = decoded_key(path)?;
            require_key(url, &key)?;
            return Ok(Some(Route::S3 {
                bucket,
                key,
                region,
            }));
        }
        return Ok(None);
    }
    if host == "storage.googleapis.com" {
        let (bucket, rest) = split_first_segment(path);
        let key = decoded_key(rest)?;
        require_key(url, &key)?;
        return Ok(Some(Route::Gcs { bucket, key }));
    }
    if let Some(bucket) = host.strip_suffix(".storage.googleapis.com") {
        let key = decoded_key(path)?;
        require_key(url, &key)?;
        return Ok(Some(Route::Gcs {
            bucket: bucket.to_string(),
            key,
        }));
    }
    for suffix in [".blob.core.windows.net", ".dfs.core.windows.net"] {
        if let Some(account) = host.strip_suffix(suffix) {
            let (container, rest) = split_first_segment(path);
            let key = decoded_key(rest)?;
            require_key(url, &key)?;
            return Ok(Some(Route::Azure {
                account: Some(account.to_string()),
                container,
                key,
            }));
        }
    }
    Ok(None)
}

/// Route one URL or path.
pub fn route(url: &str) -> Result<Route> {
    if url.is_empty() {
        return Err(Error::invalid("empty URL"));
    }
    if !url.contains("://") {
        return Ok(Route::Local(PathBuf::from(url)));
    }
    let parsed = Url::parse(url)
        .map_err(|e| Error::invalid(format!("{}: not a valid URL: {e}", redact(url))))?;
    let host = parsed.host_str().unwrap_or("").to_string();
    match parsed.scheme() {
        "file" => parsed
            .to_file_path()
            .map(Route::Local)
            .map_err(|()| Error::invalid(format!("{url}: not a local file URL"))),
        "http" | "https" => {
            if parsed.scheme() == "https" {
                if let Some(r) = route_https(url, &parsed)? {
                    return Ok(r);
                }
            }
            Ok(Route::Http(url.to_string()))
        }
        "s3" | "s3a" => {
            let key = decoded_key(parsed.path())?;
            require_key(url, &key)?;
            Ok(Route::S3 {
                bucket: host,
                key,
                region: None,
            })
        }
        "gs" | "gcs" => {
            let key = decoded_key(parsed.path())?;
            require_key(url, &key)?;
            Ok(Route::Gcs { bucket: host, key })
        }
        "az" | "azure" | "adl" => {
            let key = decoded_key(parsed.path())?;
            require_key(url, &key)?;
            Ok(Route::Azure {
                account: None,
                container: host,
                key,
            })
        }
        "abfs" | "abfss" => {
            let container = parsed.username().to_string();
            if container.is_empty() {
                return Err(Error::invalid(format!(
                    "{}: expected abfs[s]://container@account.dfs.core.windows.net/path",
                    redact(url)
                )));
            }
            let account = host.split('.').next().map(str::to_string);
            let key = decoded_key(parsed.path())?;
            require_key(url, &key)?;
            Ok(Route::Azure {
                account,
                container,
                key,
            })
        }
        other => Err(Error::invalid(format!(
            "{}: unsupported URL scheme {other:?} (use a local path, file://, http(s)://, s3://, \
             gs:// or az://)",
            redact(url)
        ))),
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
    use crate::error::Kind;

    fn s3(bucket: &str, key: &str, region: Option<&str>) -> Route {
        Route::S3 {
            bucket: bucket.into(),
            key: key.into(),
            region: region.map(Into::into),
        }
    }

    #[test]
    fn local_paths() {
        assert_eq!(
            route("/data/a.tif").unwrap(),
            Route::Local("/data/a.tif".into())
        );
        assert_eq!(route("a/b.tif").unwrap(), Route::Local("a/b.tif".into()));
        assert_eq!(
            route("file:///data/x%20y.tif").unwrap(),
            Route::Local("/data/x y.tif".into())
        );
    }

    #[test]
    fn s3_forms() {
        assert_eq!(route("s3://bk/a/b.tif").unwrap(), s3("bk", "a/b.tif", None));
        assert_eq!(route("s3a://bk/a.tif").unwrap(), s3("bk", "a.tif", None));
        assert_eq!(
            route("https://bk.s3.us-west-2.amazonaws.com/a/b.tif").unwrap(),
            s3("bk", "a/b.tif", Some("us-west-2"))
        );
        assert_eq!(
            route("https://my.dotted.bk.s3.amazonaws.com/k.tif").unwrap(),
            s3("my.dotted.bk", "k.tif", None)
        );
        assert_eq!(
            route("https://bk.s3-eu-west-1.amazonaws.com/k.tif").unwrap(),
            s3("bk", "k.tif", Some("eu-west-1"))
        );
        assert_eq!(
            route("https://s3.eu-central-1.amazonaws.com/bk/dir/k.tif").unwrap(),
            s3("bk", "dir/k.tif", Some("eu-central-1"))
        );
        assert_eq!(
            route("https://s3.amazonaws.com/bk/k%20x.tif").unwrap(),
            s3("bk", "k x.tif", None)
        );
        assert_eq!(
            route("https://bk.s3.dualstack.ap-south-1.amazonaws.com/k.tif").unwrap(),
            s3("bk", "k.tif", Some("ap-south-1"))
        );
    }

    #[test]
    fn gcs_and_azure_forms() {
        let g = Route::Gcs {
            bucket: "gb".into(),
            key: "p/k.tif".into(),
        };
        assert_eq!(route("gs://gb/p/k.tif").unwrap(), g);
        assert_eq!(
            route("https://storage.googleapis.com/gb/p/k.tif").unwrap(),
            g
        );
        assert_eq!(
            route("https://gb.storage.googleapis.com/p/k.tif").unwrap(),
            g
        );
        assert_eq!(
            route("az://cont/p/k.tif").unwrap(),
            Route::Azure {
                account: None,
                container: "cont".into(),
                key: "p/k.tif".into()
            }
        );
        let with_acct = Route::Azure {
            account: Some("acct".into()),
            container: "cont".into(),
            key: "p/k.tif".into(),
        };
        assert_eq!(
            route("abfss://cont@acct.dfs.core.windows.net/p/k.tif").unwrap(),
            with_acct
        );
        assert_eq!(
            route("https://acct.blob.core.windows.net/cont/p/k.tif").unwrap(),
            with_acct
        );
    }

    #[test]
    fn plain_http_and_presigned() {
        assert_eq!(
            route("http://127.0.0.1:8080/a.tif").unwrap(),
            Route::Http("http://127.0.0.1:8080/a.tif".into())
        );
        let presigned =
            "https://bk.s3.us-west-2.amazonaws.com/k.tif?X-Amz-Signature=abc&X-Amz-Expires=60";
        assert_eq!(route(presigned).unwrap(), Route::Http(presigned.into()));
        let sas = "https://acct.blob.core.windows.net/cont/k.tif?sv=2020&sig=SECRET";
        assert_eq!(route(sas).unwrap(), Route::Http(sas.into()));
        // http:// to an S3 host stays plain HTTP (object_store would force https)
        assert!(matches!(
            route("http://bk.s3.amazonaws.com/k.tif").unwrap(),
            Route::Http(_)
        ));
    }

    #[test]
    fn bad_urls() {
        assert_eq!(route("").unwrap_err().kind(), Kind::InvalidArgument);
        let e = route("ftp://host/a.tif").unwrap_err();
        assert_eq!(e.kind(), Kind::InvalidArgument);
        assert!(e.message().contains("ftp"));
        assert_eq!(
            route("s3://bucket").unwrap_err().kind(),
            Kind::InvalidArgument
        );
        assert_eq!(
            route("s3://bucket/").unwrap_err().kind(),
            Kind::InvalidArgument
        );
    }

    #[test]
    fn redaction() {
        let r = redact("https://bk.s3.amazonaws.com/k.tif?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2Fx&X-Amz-Expires=60");
        assert!(!r.contains("abc"), "{r}");
        assert!(!r.contains("AKIA"), "{r}");
        assert!(r.contains("X-Amz-Expires=60"), "{r}");
        assert!(r.contains("X-Amz-Signature=REDACTED"), "{r}");
        let r = redact("https://acct.blob.core.windows.net/c/k.tif?sv=2020&sig=SECRET");
        assert!(!r.contains("SECRET") && r.contains("sv=2020"), "{r}");
        let r = redact("https://user:hunter2@host/a.tif");
        assert!(!r.contains("hunter2") && r.contains("user"), "{r}");
        assert_eq!(redact("/local/a.tif"), "/local/a.tif");
        let m = scrub(
            "Error performing GET https://a.blob.core.windows.net/c/k?sig=S3CRET&sv=1 in 3ms",
        );
        assert!(!m.contains("S3CRET") && m.ends_with(" in 3ms"), "{m}");
        assert_eq!(scrub("no urls here"), "no urls here");
        assert_eq!(redact("http://h/a.tif?v=1"), "http://h/a.tif?v=1");
    }
}
