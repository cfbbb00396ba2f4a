//! `rasterize_polygons`: many polygon masks with GDAL's rules in one call (see
//! `crate::geom::rasterize`).

use numpy::ndarray::Array2;
use numpy::{PyArray, PyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use crate::error::Result;
use crate::geom::{self, Affine, Polygon};
use crate::io::runtime::decode_pool;
use crate::python::errors::to_pyerr;

/// One boolean `(height, width)` mask per WKB (Multi)Polygon, `True` where GDAL would burn
/// it on the grid of its `(a, b, c, d, e, f)` transform. With `windows`, mask `i` is only
/// the part `(row_off, col_off, height, width)` of that grid, pixel for pixel what the whole
/// grid's mask holds there. Runs without the GIL, masks in parallel.
#[pyfunction]
#[pyo3(signature = (geometries, transforms, shapes, *, all_touched = false, windows = None))]
pub(crate) fn rasterize_polygons<'py>(
    py: Python<'py>,
    geometries: Vec<Bound<'py, PyBytes>>,
    transforms: Vec<[f64; 6]>,
    shapes: Vec<(usize, usize)>,
    all_touched: bool,
    windows: Option<Vec<(usize, usize, usize, usize)>>,
) -> PyResult<Vec<Bound<'py, PyArray2<bool>>>> {
    let n = geometries.len();
    if transforms.len() != n || shapes.len() != n || windows.as_ref().is_some_and(|w| w.len() != n)
    {
        return Err(PyValueError::new_err(format!(
            "rasterize_polygons needs one transform, one shape (and one window, if given) per \
             geometry, got {n} geometries, {} transforms, {} shapes and {} windows",
            transforms.len(),
            shapes.len(),
            windows.as_ref().map_or(n, Vec::len)
        )));
    }
    let windows: Vec<(usize, usize, usize, usize)> =
        windows.unwrap_or_else(|| shapes.iter().map(|&(h, w)| (0, 0, h, w)).collect());
    let mut polygons: Vec<Vec<Polygon>> = Vec::with_capacity(n);
    for (i, wkb) in geometries.iter().enumerate() {
        let parsed = geom::parse_polygons(wkb.as_bytes())
            .map_err(|e| to_pyerr(e.context(format!("geometry {i}"))))?;
        polygons.push(parsed);
    }
    let masks: Vec<Result<Vec<bool>>> = py.detach(|| {
        let run = || {
            polygons
                .par_iter()
                .zip(&transforms)
                .zip(&shapes)
                .zip(&windows)
                .enumerate()
                .map(|(i, (((parts, t), &(height, width)), &(r0, c0, h, w)))| {
                    geom::rasterize_window(
                        parts,
                        &Affine::from_array(*t),
                        width,
                        height,
                        r0..r0.saturating_add(h),
                        c0..c0.saturating_add(w),
                        all_touched,
                    )
                    .map_err(|e| e.context(format!("geometry {i}")))
                })
                .collect()
        };
        match decode_pool() {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        }
    });
    let mut out = Vec::with_capacity(n);
    for (mask, &(_, _, height, width)) in masks.into_iter().zip(&windows) {
        let mask = Array2::from_shape_vec((height, width), mask.map_err(to_pyerr)?)
            .map_err(|e| PyValueError::new_err(format!("mask shape: {e}")))?;
        out.push(PyArray::from_owned_array(py, mask));
    }
    Ok(out)
}
