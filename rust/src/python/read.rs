//! `read_windows`: one Arrow plan batch + one flat output buffer -> pixels, one crossing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use numpy::PyReadwriteArray1;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyRecordBatch;

use crate::io::Source;
use crate::python::blocking::block_on;
use crate::python::convert::call_options;
use crate::python::errors::{kind_name, py_message, to_pyerr};
use crate::read::{
    self, arrow::requests_from_batch, plan_reads, tiles_to_fetch, TileCache, WindowFailure,
    WindowRequest,
};
use pyo3::sync::PyOnceLock;
use pyo3::types::PyBytes;

/// Import the plan through the Arrow PyCapsule interface.
///
/// arrow-rs (arrow-data 59) panics on some valid inputs: a sliced struct nested in another
/// struct or a dictionary has its offset applied twice (`ArrayData::slice`: `end <= len`).
/// The panic is caught here and becomes a `ValueError`; `rasteret.core._read` hands over
/// unsliced copies, so its plans never hit it.
fn import_plan(obj: &Bound<'_, PyAny>) -> PyResult<PyRecordBatch> {
    let imported = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        obj.extract::<PyRecordBatch>()
    }));
    imported.unwrap_or_else(|_| {
        Err(PyValueError::new_err(
            "read plan could not be imported through the Arrow C interface (arrow-rs rejects \
             sliced nested columns); pass unsliced arrays, e.g. pyarrow.concat_arrays([col])",
        ))
    })
}

/// Read every window of `plan` into `out` (a C-contiguous uint8 view of the output array).
/// Validates the whole plan before any I/O; pixels outside an image are left untouched.
/// `progress(done, total)` is called with tiles placed / tiles to fetch, about every 100 ms
/// while reading and once at the end. Returns the windows that failed (see
/// [`failure_batch`]); errors that are no window's raise.
///
/// With `tile_cache`, windows are assembled from that cache's decoded tiles and only the
/// missing tiles are fetched (whole tiles, kept in the cache); progress then counts fetched
/// tiles against the windows' tiles.
#[pyfunction]
#[pyo3(signature = (plan, out, *, options = None, progress = None, tile_cache = None))]
pub(crate) fn read_windows<'py>(
    py: Python<'py>,
    plan: &Bound<'py, PyAny>,
    mut out: PyReadwriteArray1<'py, u8>,
    options: Option<&Bound<'py, PyDict>>,
    progress: Option<Py<PyAny>>,
    tile_cache: Option<PyRef<'py, PyTileCache>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = call_options(options)?;
    let plan = import_plan(plan)?;
    let requests = requests_from_batch(plan.as_ref()).map_err(to_pyerr)?;
    let dst = out
        .as_slice_mut()
        .map_err(|_| PyValueError::new_err("out must be a C-contiguous 1-D uint8 array"))?;
    let read_opts = opts.read;
    if let Some(cache) = tile_cache {
        let cache = cache.current();
        let failures = block_on(
            py,
            || read::read_cached(&cache, &requests, dst, &read_opts, None),
            |_| Ok(()),
        )?;
        return failure_report(py, &requests, &failures);
    }
    let plan = plan_reads(&requests).map_err(to_pyerr)?;
    if dst.len() < plan.required_output_bytes {
        return Err(PyValueError::new_err(format!(
            "out holds {} bytes, the plan writes up to byte {}",
            dst.len(),
            plan.required_output_bytes
        )));
    }
    let total = tiles_to_fetch(&plan);
    let done = AtomicUsize::new(0);
    let reported = AtomicUsize::new(usize::MAX);
    let report = |py: Python<'_>, n: usize| -> PyResult<()> {
        if let Some(cb) = &progress {
            if reported.swap(n, Ordering::Relaxed) != n {
                cb.call1(py, (n, total))?;
            }
        }
        Ok(())
    };
    let counter = progress.as_ref().map(|_| &done);
    let failures = block_on(
        py,
        || read::execute_with_progress(&plan, dst, &read_opts, counter),
        |py| report(py, done.load(Ordering::Relaxed)),
    )?;
    report(py, total)?;
    failure_report(py, &requests, &failures)
}

/// A per-process LRU of decoded tiles, bounded by `max_bytes` (see `rasteret._core.pyi`).
///
/// A process forked from the one that filled it starts with an empty cache (the parent's
/// lock may have been held by a thread that does not exist in the child).
#[pyclass(name = "TileCache", module = "rasteret._core", frozen)]
pub(crate) struct PyTileCache {
    state: Mutex<(u32, Arc<TileCache>)>,
}

impl PyTileCache {
    /// This process's cache (a fresh one after a fork).
    fn current(&self) -> Arc<TileCache> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if state.0 != pid {
            let fresh = TileCache::new(state.1.max_bytes(), state.1.readahead_rows());
            *state = (pid, Arc::new(fresh));
        }
        state.1.clone()
    }
}

#[pymethods]
impl PyTileCache {
    #[new]
    #[pyo3(signature = (max_bytes, readahead_rows = false))]
    fn new(max_bytes: i64, readahead_rows: bool) -> PyResult<Self> {
        let max_bytes = usize::try_from(max_bytes).map_err(|_| {
            PyValueError::new_err(format!("max_bytes must be >= 0, got {max_bytes}"))
        })?;
        let cache = Arc::new(TileCache::new(max_bytes, readahead_rows));
        Ok(Self {
            state: Mutex::new((std::process::id(), cache)),
        })
    }

    #[getter]
    fn max_bytes(&self) -> usize {
        self.current().max_bytes()
    }
    #[getter]
    fn readahead_rows(&self) -> bool {
        self.current().readahead_rows()
    }
    #[getter]
    fn hits(&self) -> u64 {
        self.current().hits()
    }
    #[getter]
    fn misses(&self) -> u64 {
        self.current().misses()
    }
    #[getter]
    fn shared_hits(&self) -> u64 {
        self.current().shared_hits()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.current().nbytes()
    }
    fn __len__(&self) -> usize {
        self.current().len()
    }
    fn clear(&self) {
        self.current().clear();
    }
    #[pyo3(signature = (directory, max_bytes))]
    fn share(&self, directory: std::path::PathBuf, max_bytes: u64) {
        self.current().share(directory, max_bytes);
    }
    /// Read the plan rows whose tiles are all held into `out` (no I/O but shared tile
    /// files); per row, whether it was read.
    fn read_held(
        &self,
        py: Python<'_>,
        plan: &Bound<'_, PyAny>,
        mut out: PyReadwriteArray1<'_, u8>,
    ) -> PyResult<Vec<bool>> {
        let plan = import_plan(plan)?;
        let requests = requests_from_batch(plan.as_ref()).map_err(to_pyerr)?;
        let dst = out
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("out must be a C-contiguous 1-D uint8 array"))?;
        let cache = self.current();
        py.detach(|| cache.read_held(&requests, dst))
            .map_err(to_pyerr)
    }
    fn __repr__(&self) -> String {
        let c = self.current();
        format!(
            "TileCache(max_bytes={}, readahead_rows={}, tiles={}, nbytes={})",
            c.max_bytes(),
            if c.readahead_rows() { "True" } else { "False" },
            c.len(),
            c.nbytes()
        )
    }
}

/// One row per failed window, in plan order: `row` (plan row, int64), `url` (as in the
/// plan), `error_kind` (the `rasteret.errors` class name it maps to) and `error` (the
/// exception's message).
/// [`failure_batch`] as a `pyarrow.RecordBatch`; the empty report (every window read, the
/// common case) is made once per process and shared, sparing small cached reads its import.
pub(crate) fn failure_report<'py>(
    py: Python<'py>,
    requests: &[WindowRequest],
    failures: &[WindowFailure],
) -> PyResult<Bound<'py, PyAny>> {
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if failures.is_empty() {
        let empty = EMPTY.get_or_try_init(py, || {
            failure_batch(&[], &[])?.into_pyarrow(py).map(Bound::unbind)
        })?;
        return Ok(empty.bind(py).clone());
    }
    failure_batch(requests, failures)?.into_pyarrow(py)
}

fn failure_batch(
    requests: &[WindowRequest],
    failures: &[WindowFailure],
) -> PyResult<PyRecordBatch> {
    let rows: Vec<i64> = failures.iter().map(|f| f.request as i64).collect();
    let urls: Vec<&str> = failures
        .iter()
        .map(|f| requests.get(f.request).map_or("", |r| &*r.url))
        .collect();
    let kinds: Vec<&str> = failures.iter().map(|f| kind_name(f.error.kind())).collect();
    let messages: Vec<String> = failures.iter().map(|f| py_message(&f.error)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rows)),
        Arc::new(StringArray::from(urls)),
        Arc::new(StringArray::from(kinds)),
        Arc::new(StringArray::from(messages)),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .zip(["row", "url", "error_kind", "error"])
            .map(|(c, n)| Field::new(n, c.data_type().clone(), false))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot build failure batch: {e}")))?;
    Ok(PyRecordBatch::new(batch))
}

/// Fetch `(start, length)` ranges of one URL through the I/O layer (coalesced, concurrent).
#[pyfunction]
#[pyo3(signature = (url, ranges, *, options = None))]
pub(crate) fn fetch_ranges<'py>(
    py: Python<'py>,
    url: String,
    ranges: Vec<(u64, u64)>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let opts = call_options(options)?;
    let mut wanted = Vec::with_capacity(ranges.len());
    for (start, length) in ranges {
        let end = start
            .checked_add(length)
            .ok_or_else(|| PyValueError::new_err(format!("range {start}+{length} overflows")))?;
        wanted.push(start..end);
    }
    let io = opts.read.io;
    let bodies = block_on(
        py,
        || async move {
            let source = Source::open(&url, &io)?;
            source.get_ranges(&wanted).await
        },
        |_| Ok(()),
    )?;
    Ok(bodies.iter().map(|b| PyBytes::new(py, b)).collect())
}
