//! Core error type: plain data (no `PyErr`), `Send + Sync`, mapped to Python in `python::errors`.

use std::fmt;

/// What went wrong, coarse enough to pick a Python exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Object missing (HTTP 404, no such file, no such key).
    NotFound,
    /// Access refused (HTTP 401/403, permissions).
    Forbidden,
    /// Network/server trouble that persisted through retries (5xx, reset, short body, timeout).
    Transport,
    /// The bytes are not a valid TIFF/COG or a compressed stream is corrupt.
    Corrupt,
    /// Valid TIFF, but a feature we do not read (compression, dtype, layout...).
    Unsupported,
    /// The caller passed something inconsistent (bad window, wrong buffer size, bad URL).
    InvalidArgument,
    /// Interrupted by the user (Ctrl-C).
    Cancelled,
    /// A bug of ours; never expected.
    Internal,
}

/// The one error type of the core. The message names what failed, where, why and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(Kind::Corrupt, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(Kind::Unsupported, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::InvalidArgument, message)
    }
    pub fn transport(message: impl Into<String>) -> Self {
        Self::new(Kind::Transport, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }
    /// The error that replaces a caught panic (its payload text, when it has one).
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Self::internal(format!(
            "internal error in the Rust core (please report): {what}"
        ))
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Prefix the message with where it happened (`"{url}: {message}"`), keeping the kind.
    #[must_use]
    pub fn context(self, place: impl fmt::Display) -> Self {
        Self {
            kind: self.kind,
            message: format!("{place}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_message_and_keeps_kind() {
        let e = Error::corrupt("bad magic").context("http://x/a.tif");
        assert_eq!(e.kind(), Kind::Corrupt);
        assert_eq!(e.to_string(), "http://x/a.tif: bad magic");
    }
}
