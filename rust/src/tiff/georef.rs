//! [`GeoInfo`] of the full-resolution IFD: affine transform, CRS, nodata, scale/offset.

use super::gdal_meta::{parse_nodata, parse_scale_offset};
use super::geokeys::{key, GeoKeys};
use super::header::{PResult, Src};
use super::ifd::Ifd;
use super::tags::tag;
use super::GeoInfo;

fn doubles(src: Src<'_>, ifd: &Ifd, t: u16) -> PResult<Option<Vec<f64>>> {
    ifd.get(t).map(|e| e.f64s(src)).transpose()
}

/// GDAL affine from ModelTransformation, or from the first tiepoint and the pixel scale.
pub(crate) fn affine(
    scale: Option<&[f64]>,
    tiepoint: Option<&[f64]>,
    matrix: Option<&[f64]>,
) -> Option<[f64; 6]> {
    if let Some(m) = matrix.filter(|m| m.len() >= 16) {
        let g = |i: usize| m.get(i).copied().unwrap_or(0.0);
        return Some([g(0), g(1), g(3), g(4), g(5), g(7)]);
    }
    let (s, t) = (scale?, tiepoint?);
    let (sx, sy) = (*s.first()?, *s.get(1)?);
    let (i, j, x, y) = (*t.first()?, *t.get(1)?, *t.get(3)?, *t.get(4)?);
    Some([sx, 0.0, x - i * sx, 0.0, -sy, y + j * sy])
}

/// Read every geo and GDAL tag of `ifd`.
pub(crate) fn geo_info(src: Src<'_>, ifd: &Ifd, samples: u16) -> PResult<GeoInfo> {
    let pixel_scale = doubles(src, ifd, tag::MODEL_PIXEL_SCALE)?;
    let tiepoint = doubles(src, ifd, tag::MODEL_TIEPOINT)?;
    let model_transformation = doubles(src, ifd, tag::MODEL_TRANSFORMATION)?;
    let keys = match ifd.get(tag::GEO_KEY_DIRECTORY) {
        Some(e) => {
            let dir: Vec<u16> = e
                .u64s(src)?
                .into_iter()
                .map(|v| u16::try_from(v).unwrap_or(u16::MAX))
                .collect();
            let dbl = doubles(src, ifd, tag::GEO_DOUBLE_PARAMS)?.unwrap_or_default();
            let asc = match ifd.get(tag::GEO_ASCII_PARAMS) {
                Some(a) => a.byte_values(src)?.to_vec(),
                None => Vec::new(),
            };
            GeoKeys::parse(&dir, &dbl, &asc)
        }
        None => GeoKeys::default(),
    };
    let raster_type = keys.short(key::GT_RASTER_TYPE);
    let mut transform = affine(
        pixel_scale.as_deref(),
        tiepoint.as_deref(),
        model_transformation.as_deref(),
    );
    if raster_type == Some(2) {
        if let Some(t) = transform.as_mut() {
            t[2] -= t[0] * 0.5 + t[1] * 0.5;
            t[5] -= t[3] * 0.5 + t[4] * 0.5;
        }
    }
    let (epsg, crs_wkt) = keys.crs();
    let nodata = match ifd.get(tag::GDAL_NODATA) {
        Some(e) => parse_nodata(&e.ascii(src)?),
        None => None,
    };
    let gdal_metadata = ifd
        .get(tag::GDAL_METADATA)
        .map(|e| e.ascii(src))
        .transpose()?;
    let (scales, offsets) = match &gdal_metadata {
        Some(xml) => parse_scale_offset(xml, usize::from(samples)),
        None => (Vec::new(), Vec::new()),
    };
    Ok(GeoInfo {
        transform,
        pixel_scale,
        tiepoint,
        model_transformation,
        raster_type,
        epsg,
        crs_wkt,
        nodata,
        scales,
        offsets,
        gdal_metadata,
    })
}
