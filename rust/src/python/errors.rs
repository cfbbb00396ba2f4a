//! The one mapping from core errors to Python exceptions (classes live in `rasteret.errors`).

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::PyErr;

use crate::error::{Error, Kind};

pyo3::import_exception!(rasteret.errors, RemoteNotFoundError);
pyo3::import_exception!(rasteret.errors, RemotePermissionError);
pyo3::import_exception!(rasteret.errors, RemoteIOError);
pyo3::import_exception!(rasteret.errors, CogHeaderError);
pyo3::import_exception!(rasteret.errors, UnsupportedCogError);

/// The message of the Python exception `e` maps to.
pub(crate) fn py_message(e: &Error) -> String {
    match e.kind() {
        Kind::Internal => format!("internal error in rasteret: {e}"),
        _ => e.to_string(),
    }
}

/// Core error -> Python exception of the matching class.
pub(crate) fn to_pyerr(e: Error) -> PyErr {
    let msg = py_message(&e);
    match e.kind() {
        Kind::NotFound => RemoteNotFoundError::new_err(msg),
        Kind::Forbidden => RemotePermissionError::new_err(msg),
        Kind::Transport => RemoteIOError::new_err(msg),
        Kind::Corrupt => CogHeaderError::new_err(msg),
        Kind::Unsupported => UnsupportedCogError::new_err(msg),
        Kind::InvalidArgument => PyValueError::new_err(msg),
        Kind::Cancelled => PyKeyboardInterrupt::new_err(msg),
        Kind::Internal => PyRuntimeError::new_err(msg),
    }
}

/// Name of the Python class an error kind maps to (for per-URL and per-window error columns).
pub(crate) fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::NotFound => "RemoteNotFoundError",
        Kind::Forbidden => "RemotePermissionError",
        Kind::Transport => "RemoteIOError",
        Kind::Corrupt => "CogHeaderError",
        Kind::Unsupported => "UnsupportedCogError",
        Kind::InvalidArgument => "ValueError",
        Kind::Cancelled => "KeyboardInterrupt",
        Kind::Internal => "RuntimeError",
    }
}
