//! `fetch_objects`: many URLs -> their whole bodies, one Arrow batch (url, error, error_kind,
//! data), fetched concurrently with the range path's routing and retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{ArrayRef, LargeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyRecordBatch;

use crate::io::object::{get_objects, FIRST_REQUEST_BYTES};
use crate::python::blocking::block_on;
use crate::python::convert::call_options;
use crate::python::errors::kind_name;

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
    let done = Arc::new(AtomicUsize::new(0));
    let reported = AtomicUsize::new(0);
    let counter = done.clone();
    let report = |py: Python<'_>, n: usize| -> PyResult<()> {
        if let Some(cb) = &progress {
            if reported.swap(n, Ordering::Relaxed) != n {
                cb.call1(py, (n,))?;
            }
        }
        Ok(())
    };
    let results = block_on(
        py,
        || async {
            Ok(get_objects(&urls, &opts.read.io, FIRST_REQUEST_BYTES, |n| {
                counter.store(n, Ordering::Relaxed);
            })
            .await)
        },
        |py| report(py, done.load(Ordering::Relaxed)),
    )?;
    report(py, results.len())?;

    let data: Vec<Option<&[u8]>> = results
        .iter()
        .map(|r| r.as_ref().ok().map(AsRef::as_ref))
        .collect();
    let errors: Vec<Option<String>> = results
        .iter()
        .map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    let kinds: Vec<Option<&str>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| kind_name(e.kind())))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(urls.clone())),
        Arc::new(StringArray::from(errors)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(LargeBinaryArray::from(data)),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .zip(["url", "error", "error_kind", "data"])
            .map(|(c, n)| Field::new(n, c.data_type().clone(), n != "url"))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot build object batch: {e}")))?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}
