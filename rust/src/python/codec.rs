//! `decode_tile`: decode one compressed tile (benchmarks and tests of the codecs alone).

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::codec::{self, TileSpec};
use crate::python::errors::to_pyerr;

/// Decode one tile to native-endian samples (bytes). Runs without the GIL.
#[pyfunction]
#[pyo3(signature = (data, *, compression, width, rows, bits_per_sample = 8, sample_format = 1,
    samples = 1, predictor = 1, little_endian = true, photometric = None, jpeg_tables = None,
    lerc_parameters = None, nodata = None, rows_needed = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_tile<'py>(
    py: Python<'py>,
    data: &[u8],
    compression: u16,
    width: u32,
    rows: u32,
    bits_per_sample: u16,
    sample_format: u16,
    samples: u16,
    predictor: u16,
    little_endian: bool,
    photometric: Option<u16>,
    jpeg_tables: Option<Vec<u8>>,
    lerc_parameters: Option<Vec<u32>>,
    nodata: Option<f64>,
    rows_needed: Option<u32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let spec = TileSpec {
        compression,
        predictor,
        bits_per_sample,
        sample_format,
        samples,
        width,
        rows,
        little_endian,
        photometric,
        jpeg_tables: jpeg_tables.as_deref(),
        lerc_parameters: lerc_parameters.as_deref(),
        nodata,
    };
    let rows_needed = rows_needed.unwrap_or(rows).min(rows);
    let len = codec::decoded_len(&spec, rows_needed).map_err(to_pyerr)?;
    let mut out = vec![0u8; len];
    py.detach(|| codec::decode_into(data, &spec, rows_needed, &mut out))
        .map_err(to_pyerr)?;
    Ok(PyBytes::new(py, &out))
}
