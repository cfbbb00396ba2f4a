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
/// it on the grid of its `(a, b, c, d, e, f)` transform. Runs without the GIL, masks in
/// parallel.
#[pyfunction]
#[pyo3(signature = (geometries, transforms, shapes, *, all_touched = false))]
pub(crate) fn rasterize_polygons<'py>(
    py: Python<'py>,
    geometries: Vec<Bound<'py, PyBytes>>,
    transforms: Vec<[f64; 6]>,
    shapes: Vec<(usize, usize)>,
    all_touched: bool,
) -> PyResult<Vec<Bound<'py, PyArray2<bool>>>> {
    let n = geometries.len();
    if transforms.len() != n || shapes.len() != n {
        return Err(PyValueError::new_err(format!(
            "rasterize_polygons needs one transform and one shape per geometry, got {n} \
             geometries, {} transforms and {} shapes",
            transforms.len(),
            shapes.len()
        )));
    }
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
                .enumerate()
                .map(|(i, ((parts, t), &(height, width)))| {
                    geom::rasterize_polygons(
                        parts,
                        &Affine::from_array(*t),
                        width,
                        height,
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
    for (mask, &(height, width)) in masks.into_iter().zip(&shapes) {
        let mask = Array2::from_shape_vec((height, width), mask.map_err(to_pyerr)?)
            .map_err(|e| PyValueError::new_err(format!("mask shape: {e}")))?;
        out.push(PyArray::from_owned_array(py, mask));
    }
    Ok(out)
}
