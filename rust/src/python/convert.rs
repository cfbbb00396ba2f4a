//! Python option dicts -> core option structs (unknown keys are errors listing the known ones).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyDictMethods};

use crate::io::IoOptions;
use crate::python::backend::{CloudBackend, PyRangeReader};
use crate::read::ReadOptions;

const KEYS: &[&str] = &[
    "max_concurrent",
    "retry_attempts",
    "retry_backoff_ms",
    "timeout_ms",
    "coalesce_gap_bytes",
    "max_merged_bytes",
    "store_options",
    "readahead_bytes",
    "tiles_per_batch",
    "batches_in_flight",
    "max_bytes_in_flight",
    "max_bytes_received",
    "backend",
];

/// All knobs of one call, parsed from an optional dict.
#[derive(Debug, Clone)]
pub(crate) struct CallOptions {
    pub read: ReadOptions,
    pub readahead_bytes: u64,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            read: ReadOptions::default(),
            readahead_bytes: crate::enrich::DEFAULT_READAHEAD_BYTES,
        }
    }
}

fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(key: &str, v: T) -> PyResult<T> {
    if v <= T::default() {
        return Err(PyValueError::new_err(format!(
            "option {key} must be > 0, got {v}"
        )));
    }
    Ok(v)
}

pub(crate) fn call_options(options: Option<&Bound<'_, PyDict>>) -> PyResult<CallOptions> {
    let mut o = CallOptions::default();
    let Some(d) = options else { return Ok(o) };
    for (k, v) in d.iter() {
        let key: String = k.extract()?;
        if v.is_none() {
            continue;
        }
        let io: &mut IoOptions = &mut o.read.io;
        match key.as_str() {
            "max_concurrent" => io.max_concurrent = positive(&key, v.extract::<usize>()?)?,
            "retry_attempts" => io.retry_attempts = positive(&key, v.extract::<u32>()?)?,
            "retry_backoff_ms" => io.retry_backoff_ms = v.extract()?,
            "timeout_ms" => io.timeout_ms = positive(&key, v.extract::<u64>()?)?,
            "coalesce_gap_bytes" => io.coalesce_gap_bytes = v.extract()?,
            "max_merged_bytes" => io.max_merged_bytes = positive(&key, v.extract::<u64>()?)?,
            "store_options" => {
                let m: std::collections::BTreeMap<String, String> = v.extract()?;
                io.store_options = m.into_iter().collect();
            }
            "backend" => {
                if let Ok(cloud) = v.cast::<CloudBackend>() {
                    io.cloud = Some(cloud.get().settings.clone());
                } else {
                    io.reader = Some(std::sync::Arc::new(PyRangeReader::new(&v)?));
                }
            }
            "readahead_bytes" => o.readahead_bytes = positive(&key, v.extract::<u64>()?)?,
            "tiles_per_batch" => o.read.tiles_per_batch = positive(&key, v.extract::<usize>()?)?,
            "batches_in_flight" => {
                o.read.batches_in_flight = positive(&key, v.extract::<usize>()?)?;
            }
            "max_bytes_received" => {
                o.read.max_bytes_received = positive(&key, v.extract::<u64>()?)?;
            }
            "max_bytes_in_flight" => {
                o.read.max_bytes_in_flight = positive(&key, v.extract::<u64>()?)?;
            }
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown option {other:?}; known options: {}",
                    KEYS.join(", ")
                )))
            }
        }
    }
    Ok(o)
}
