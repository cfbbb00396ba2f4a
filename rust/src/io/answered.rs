//! The HTTP client under every object_store store: reqwest, plus a typed error for the answers
//! object_store would otherwise report only in a message.
//!
//! object_store types 401, 403, 404 and 412 itself (`Error::Unauthenticated`,
//! `PermissionDenied`, `NotFound`, `Precondition`). Every other non-2xx answer (416, 429, 5xx,
//! other 4xx, redirects; S3's wrong-region redirect has no `Location`) reaches callers as
//! `Error::Generic` around a crate-private type. [`StatusConnector`] turns those answers into an
//! [`HttpError`] whose source is an [`Answered`] carrying the status, the `x-amz-bucket-region`
//! header and the start of the body, so [`answered`] finds them by type in the error's source
//! chain.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService,
    ReqwestConnector,
};
use object_store::ClientOptions;

/// Longest part of an error body kept for messages.
const BODY_CHARS: usize = 300;

/// A non-2xx answer object_store does not type itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The HTTP status.
    pub status: u16,
    /// `x-amz-bucket-region`, when the server named the bucket's region.
    pub bucket_region: Option<String>,
    /// A redirect without `Location` (S3's answer to a request for the wrong region).
    pub bare_redirect: bool,
    /// The start of the body (S3/GCS error documents name the reason).
    pub body: String,
}

impl fmt::Display for Answered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(r) = &self.bucket_region {
            write!(f, " (bucket region {r})")?;
        }
        if !self.body.is_empty() {
            write!(f, ": {}", self.body)?;
        }
        Ok(())
    }
}

impl std::error::Error for Answered {}

/// The [`Answered`] in `e`'s source chain, if the request got such an answer.
pub fn answered<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Answered> {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if let Some(a) = err.downcast_ref::<Answered>() {
            return Some(a);
        }
        cause = err.source();
    }
    None
}

/// Statuses object_store reports as typed variants: passed through untouched.
fn typed_by_object_store(status: u16) -> bool {
    matches!(status, 304 | 401 | 403 | 404 | 412)
}

/// reqwest (object_store's default connector) with [`Answered`] errors.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatusConnector;

impl HttpConnector for StatusConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        // every object_store client is built here: rustls needs its provider first
        super::tls::install_crypto_provider();
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(StatusService(inner)))
    }
}

#[derive(Debug)]
struct StatusService(HttpClient);

type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'a>>;

impl HttpService for StatusService {
    fn call<'a, 'b>(&'a self, req: HttpRequest) -> CallFuture<'b>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            let resp = self.0.execute(req).await?;
            let status = resp.status().as_u16();
            if status < 300 || typed_by_object_store(status) {
                return Ok(resp);
            }
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let bucket_region = header("x-amz-bucket-region");
            let bare_redirect = (300..400).contains(&status) && header("location").is_none();
            let body = resp.into_body().bytes().await.unwrap_or_default();
            let text: String = String::from_utf8_lossy(&body)
                .chars()
                .take(BODY_CHARS)
                .collect();
            Err(HttpError::new(
                HttpErrorKind::Unknown,
                Answered {
                    status,
                    bucket_region,
                    bare_redirect,
                    body: text.split_whitespace().collect::<Vec<_>>().join(" "),
                },
            ))
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

    #[test]
    fn found_through_the_source_chain() {
        let a = Answered {
            status: 503,
            bucket_region: None,
            bare_redirect: false,
            body: "SlowDown".into(),
        };
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Unknown, a.clone())),
        };
        assert_eq!(answered(&e), Some(&a));
        assert_eq!(a.to_string(), "HTTP 503: SlowDown");
        let plain = std::io::Error::other("Server returned non-2xx status code: 503");
        assert_eq!(answered(&plain), None);
    }
}
