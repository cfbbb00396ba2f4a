//! Vector geometry for pixel masks: WKB polygons in, GDAL-identical rasterization out.

pub mod rasterize;
pub mod wkb;

pub use rasterize::{rasterize_polygons, rasterize_rows, rasterize_window, Affine};
pub use wkb::{parse_polygons, Polygon};
