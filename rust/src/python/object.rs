//! `fetch_objects`: many URLs -> their whole bodies, one Arrow batch (url, error, error_kind,
//! data), fetched concurrently with the range path's routing and retries.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::LargeBinaryArray;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::io::object::{get_objects, FIRST_REQUEST_BYTES};
use crate::python::convert::call_options;
use crate::python::per_url::{run_counted, url_batch};

/// Fetch the whole object at each of `urls` concurrently; one row per URL, in order.
#[pyfunction]
#[pyo3(signature = (urls, *, options = None, progress = None))]
pub(crate) fn fetch_objects<'py>(
    py: Python<'py>,
    urls: Vec<String>,
    options: Option<&Bound<'py, PyDict>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = call_options(options)?;
    let results = run_counted(py, progress.as_ref(), |finished| {
        get_objects(&urls, &opts.read.io, FIRST_REQUEST_BYTES, move |n| {
            finished.store(n, Ordering::Relaxed);
        })
    })?;
    let data: Vec<Option<&[u8]>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(AsRef::as_ref))
        .collect();
    url_batch(
        py,
        &urls,
        &results,
        "data",
        Arc::new(LargeBinaryArray::from(data)),
    )
}
