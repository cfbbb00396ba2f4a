//! `zonal_stats`: a plan of (geometry, image band) windows + WKB polygons -> per-window
//! pixel statistics, reduced in the core as the windows are decoded (see
//! `crate::read::zonal`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pyo3_arrow::PyRecordBatch;

use crate::geom::{self, Affine, Polygon};
use crate::python::blocking::block_on;
use crate::python::convert::call_options;
use crate::python::errors::to_pyerr;
use crate::python::read::failure_report;
use crate::read::arrow::requests_from_batch;
use crate::read::zonal::{self, ZonalOptions, ZonalRequest};

/// The float64 or int64 column `name` of `batch` (a clear error otherwise).
fn column<'a>(batch: &'a RecordBatch, name: &str, what: &str) -> PyResult<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| PyValueError::new_err(format!("{what} lacks column '{name}'")))
}

fn ints(batch: &RecordBatch, name: &str, what: &str) -> PyResult<Vec<i64>> {
    let c = column(batch, name, what)?;
    let a = c
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| PyValueError::new_err(format!("{what} column '{name}' must be int64")))?;
    if a.null_count() > 0 {
        return Err(PyValueError::new_err(format!(
            "{what} column '{name}' has nulls"
        )));
    }
    Ok(a.values().to_vec())
}

fn floats(batch: &RecordBatch, name: &str, what: &str) -> PyResult<Vec<Option<f64>>> {
    let c = column(batch, name, what)?;
    let a = c
        .as_primitive_opt::<Float64Type>()
        .ok_or_else(|| PyValueError::new_err(format!("{what} column '{name}' must be float64")))?;
    Ok(a.iter().collect())
}

/// Per plan row: count, sum, mean, min, max and std (population) of the valid pixels the
/// row's polygon covers; see `rasteret._core.pyi`.
#[pyfunction]
#[pyo3(signature = (
    plan, geometries, *, mask_plan = None, all_touched = false, options = None,
    strip_bytes = None, batch_bytes = None
))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn zonal_stats<'py>(
    py: Python<'py>,
    plan: PyRecordBatch,
    geometries: Vec<Bound<'py, PyBytes>>,
    mask_plan: Option<PyRecordBatch>,
    all_touched: bool,
    options: Option<&Bound<'py, PyDict>>,
    strip_bytes: Option<usize>,
    batch_bytes: Option<usize>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let opts = call_options(options)?;
    let plan = plan.as_ref();
    let reads = requests_from_batch(plan).map_err(to_pyerr)?;
    let what = "zonal plan";
    let geometry = ints(plan, "geometry", what)?;
    let coefficient = |name: &str| -> PyResult<Vec<f64>> {
        floats(plan, name, what)?
            .into_iter()
            .map(|v| {
                v.ok_or_else(|| PyValueError::new_err(format!("{what} column '{name}' has nulls")))
            })
            .collect()
    };
    let t: Vec<Vec<f64>> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|n| coefficient(n))
        .collect::<PyResult<_>>()?;
    let nodata = match plan.column_by_name("nodata") {
        Some(_) => floats(plan, "nodata", what)?,
        None => reads.iter().map(|r| r.nodata).collect(),
    };
    let mut masks = vec![None; reads.len()];
    if let Some(mask_plan) = mask_plan {
        let mask_plan = mask_plan.as_ref();
        let mask_reads = requests_from_batch(mask_plan).map_err(to_pyerr)?;
        for (row, read) in ints(mask_plan, "row", "mask plan")?
            .into_iter()
            .zip(mask_reads)
        {
            let slot = usize::try_from(row)
                .ok()
                .and_then(|r| masks.get_mut(r))
                .ok_or_else(|| {
                    PyValueError::new_err(format!("mask plan row {row} is not a plan row"))
                })?;
            *slot = Some(read);
        }
    }
    let mut requests = Vec::with_capacity(reads.len());
    for (i, (read, mask)) in reads.into_iter().zip(masks).enumerate() {
        let at = |v: &Vec<f64>| v.get(i).copied().unwrap_or(f64::NAN);
        let coefficients: Vec<f64> = t.iter().map(at).collect();
        let g = geometry.get(i).copied().unwrap_or(-1);
        requests.push(ZonalRequest {
            read,
            mask,
            geometry: usize::try_from(g).map_err(|_| {
                PyValueError::new_err(format!("zonal plan row {i}: geometry {g} is negative"))
            })?,
            transform: Affine::from_array(
                <[f64; 6]>::try_from(coefficients)
                    .map_err(|_| PyValueError::new_err("transform needs six coefficients"))?,
            ),
            nodata: nodata.get(i).copied().flatten(),
        });
    }
    let mut polygons: Vec<Vec<Polygon>> = Vec::with_capacity(geometries.len());
    for (i, wkb) in geometries.iter().enumerate() {
        let parsed = geom::parse_polygons(wkb.as_bytes())
            .map_err(|e| to_pyerr(e.context(format!("geometry {i}"))))?;
        polygons.push(parsed);
    }
    let polygons = Arc::new(polygons);
    let defaults = ZonalOptions::default();
    let zopts = ZonalOptions {
        all_touched,
        strip_bytes: strip_bytes.unwrap_or(defaults.strip_bytes),
        batch_bytes: batch_bytes.unwrap_or(defaults.batch_bytes),
    };
    let read_opts = opts.read;
    let (stats, failures) = block_on(
        py,
        || zonal::zonal_stats(&requests, polygons.clone(), &zopts, &read_opts),
        |_| Ok(()),
    )?;
    let failed: std::collections::HashSet<usize> = failures.iter().map(|f| f.request).collect();
    let ok = |i: usize, s: &zonal::Stats| s.count > 0 && !failed.contains(&i);
    let col = |f: &dyn Fn(&zonal::Stats) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from(
            stats
                .iter()
                .enumerate()
                .map(|(i, s)| ok(i, s).then(|| f(s)))
                .collect::<Vec<_>>(),
        ))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            stats
                .iter()
                .map(|s| i64::try_from(s.count).unwrap_or(i64::MAX))
                .collect::<Vec<_>>(),
        )),
        col(&|s| s.sum),
        // sum / count: the mean NumPy (and rasterstats) report, exactly for integer bands
        col(&|s| s.sum / s.count as f64),
        col(&|s| s.min),
        col(&|s| s.max),
        col(&|s| s.std().unwrap_or(f64::NAN)),
    ];
    let schema = Schema::new(
        columns
            .iter()
            .zip(["count", "sum", "mean", "min", "max", "std"])
            .map(|(c, n)| Field::new(n, c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let batch = RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot build the stats batch: {e}")))?;
    let reads: Vec<_> = requests.into_iter().map(|z| z.read).collect();
    let report = failure_report(py, &reads, &failures)?;
    Ok((PyRecordBatch::new(batch).into_pyarrow(py)?, report))
}
