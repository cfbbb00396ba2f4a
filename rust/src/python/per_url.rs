//! What the per-URL calls (`parse_headers`, `fetch_objects`) share: running one result per
//! URL with a progress callback, and the Arrow batch they return (url, error, error_kind and
//! one value column).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_arrow::PyRecordBatch;

use crate::error::Result;
use crate::python::blocking::block_on;
use crate::python::errors::kind_name;

/// Run `make(finished)` outside the GIL; the future stores the number of finished URLs in
/// `finished`, and `progress(n)` is called with it about every 100 ms and once at the end
/// (only when it changed).
pub(crate) fn run_counted<T, F>(
    py: Python<'_>,
    progress: Option<&Py<PyAny>>,
    make: impl FnOnce(Arc<AtomicUsize>) -> F + Send,
) -> PyResult<Vec<Result<T>>>
where
    T: Send,
    F: Future<Output = Vec<Result<T>>>,
{
    let finished = Arc::new(AtomicUsize::new(0));
    let reported = AtomicUsize::new(0);
    let report = |py: Python<'_>, n: usize| -> PyResult<()> {
        if let Some(cb) = progress {
            if reported.swap(n, Ordering::Relaxed) != n {
                cb.call1(py, (n,))?;
            }
        }
        Ok(())
    };
    let results = block_on(
        py,
        || {
            let counter = finished.clone();
            async move { Ok(make(counter).await) }
        },
        |py| report(py, finished.load(Ordering::Relaxed)),
    )?;
    report(py, results.len())?;
    Ok(results)
}

/// One row per URL, in order: `url`, `error` and `error_kind` (null where it succeeded; the
/// `rasteret.errors` class name of the failure) and `values` under `value_name`.
pub(crate) fn url_batch<'py, T>(
    py: Python<'py>,
    urls: &[String],
    results: &[Result<T>],
    value_name: &str,
    values: ArrayRef,
) -> PyResult<Bound<'py, PyAny>> {
    let errors: Vec<Option<String>> = results
        .iter()
        .map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    let kinds: Vec<Option<&str>> = results
        .iter()
        .map(|r| r.as_ref().err().map(|e| kind_name(e.kind())))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(urls.to_vec())),
        Arc::new(StringArray::from(errors)),
        Arc::new(StringArray::from(kinds)),
        values,
    ];
    let schema = Schema::new(
        columns
            .iter()
            .zip(["url", "error", "error_kind", value_name])
            .map(|(c, n)| Field::new(n, c.data_type().clone(), n != "url"))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| {
        PyRuntimeError::new_err(format!("cannot build the {value_name} batch: {e}"))
    })?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}
