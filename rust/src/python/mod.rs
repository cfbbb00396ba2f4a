//! PyO3 bindings: the only place that uses pyo3. Thin functions: convert arguments, validate,
//! one core call with the GIL released, map errors.

mod backend;
mod blocking;
mod codec;
mod convert;
mod enrich;
mod errors;
mod mask;
mod object;
mod per_url;
mod read;
mod zonal;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    crate::io::tls::install_crypto_provider();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    m.add("build_profile", profile)?;
    m.add_function(wrap_pyfunction!(enrich::parse_headers, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_windows, m)?)?;
    m.add_function(wrap_pyfunction!(read::fetch_ranges, m)?)?;
    m.add_function(wrap_pyfunction!(object::fetch_objects, m)?)?;
    m.add_class::<backend::CloudBackend>()?;
    m.add_class::<read::PyTileCache>()?;
    m.add_function(wrap_pyfunction!(codec::decode_tile, m)?)?;
    m.add_function(wrap_pyfunction!(mask::rasterize_polygons, m)?)?;
    m.add_function(wrap_pyfunction!(zonal::zonal_stats, m)?)?;
    Ok(())
}
