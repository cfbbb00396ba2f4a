//! `parse_headers`: many URLs -> one Arrow batch (url, error, error_kind, metadata).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyRecordBatch;

use crate::enrich::{metadata_array, parse_many};
use crate::python::blocking::block_on;
use crate::python::convert::call_options;
use crate::python::errors::kind_name;

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
            Ok(parse_many(&urls, &opts.read.io, opts.readahead_bytes, |n| {
                counter.store(n, Ordering::Relaxed);
            })
            .await)
        },
        |py| report(py, done.load(Ordering::Relaxed)),
    )?;
    report(py, results.len())?;

    let headers: Vec<_> = results.iter().map(|r| r.as_ref().ok()).collect();
    let errors: Vec<Option<String>> = results
        .iter()
        .map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    let kinds: Vec<Option<&str>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| kind_name(e.kind())))
        .collect();
    let meta = metadata_array(&headers).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(urls.clone())),
        Arc::new(StringArray::from(errors)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(meta),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .zip(["url", "error", "error_kind", "metadata"])
            .map(|(c, n)| Field::new(n, c.data_type().clone(), n != "url"))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot build header batch: {e}")))?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}
