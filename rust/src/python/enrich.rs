//! `parse_headers`: many URLs -> one Arrow batch (url, error, error_kind, metadata).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::enrich::{metadata_array, parse_many};
use crate::python::convert::call_options;
use crate::python::per_url::{run_counted, url_batch};

/// Parse the COG headers of `urls` concurrently; one row per URL, in order.
#[pyfunction]
#[pyo3(signature = (urls, *, options = None, progress = None))]
pub(crate) fn parse_headers<'py>(
    py: Python<'py>,
    urls: Vec<String>,
    options: Option<&Bound<'py, PyDict>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = call_options(options)?;
    let results = run_counted(py, progress.as_ref(), |finished| {
        parse_many(&urls, &opts.read.io, opts.readahead_bytes, move |n| {
            finished.store(n, Ordering::Relaxed);
        })
    })?;
    let headers: Vec<_> = results.iter().map(|r| r.as_ref().ok()).collect();
    let meta = metadata_array(&headers).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    url_batch(py, &urls, &results, "metadata", Arc::new(meta))
}
