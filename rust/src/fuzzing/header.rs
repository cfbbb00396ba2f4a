//! Fuzz entry points of the TIFF header parser and of the GeoTIFF / GDAL tag decoders.

use std::future::ready;
use std::ops::Range;

use bytes::Bytes;

use super::{not_internal, Checked, Input, Violation};
use crate::error::Result;
use crate::tiff::gdal_meta::{parse_nodata, parse_scale_offset};
use crate::tiff::geokeys::{key, GeoKeys};
use crate::tiff::georef::affine;
use crate::tiff::{self, CogHeader, Parse, SparseBytes};

/// Parse `data` as a whole TIFF file, then again through range requests the way a remote
/// file is read ([`tiff::fetch_header`]); both must agree.
pub fn parse_header(data: &[u8]) -> Checked {
    let whole = match tiff::parse_header(&SparseBytes::from_file(Bytes::copy_from_slice(data))) {
        Ok(Parse::Done(h)) => Some(*h),
        Ok(Parse::Need(r)) => {
            return Err(Violation(format!(
                "the whole {}-byte file is cached, yet bytes {r:?} are needed",
                data.len()
            )))
        }
        Err(e) => {
            not_internal(&e, "parse_header")?;
            None
        }
    };
    let fetch = |r: Range<u64>| ready(Ok::<_, crate::error::Error>(slice_of(data, r)));
    let readahead = (data.len() / 4) as u64;
    let ranged = futures::executor::block_on(tiff::fetch_header(fetch, readahead));
    compare(whole, ranged)
}

/// The bytes of `range` that exist in `data` (fewer at the end of the file, like a server).
fn slice_of(data: &[u8], range: Range<u64>) -> Bytes {
    let start = usize::try_from(range.start).unwrap_or(usize::MAX);
    let end = usize::try_from(range.end).unwrap_or(usize::MAX);
    Bytes::copy_from_slice(data.get(start..end.min(data.len())).unwrap_or(&[]))
}

/// The header parsed from the whole file and through range requests must be the same (up
/// to the file size, which ranged reads learn only at the end of the file).
fn compare(whole: Option<CogHeader>, ranged: Result<CogHeader>) -> Checked {
    match (whole, ranged) {
        (None, Err(e)) => not_internal(&e, "fetch_header"),
        (Some(_), Err(e)) if e.message().contains("range requests") => Ok(()),
        (Some(_), Err(e)) => Err(Violation(format!(
            "the whole file parses, but reading it by ranges fails: {e}"
        ))),
        (None, Ok(_)) => Err(Violation(
            "the whole file fails to parse, but reading it by ranges succeeds".into(),
        )),
        (Some(mut a), Ok(mut b)) => {
            (a.file_size, b.file_size) = (None, None);
            // compared as text: a NaN nodata equals itself there
            if format!("{a:?}") == format!("{b:?}") {
                Ok(())
            } else {
                Err(Violation(format!(
                    "ranged parse differs from whole-file parse:\n{a:?}\n{b:?}"
                )))
            }
        }
    }
}

/// Decode a GeoKey directory with its double and ASCII parameters, a georeferencing affine
/// and GDAL nodata / metadata text, all taken from `data`.
pub fn geo_tags(data: &[u8]) -> Checked {
    let mut input = Input::new(data);
    let n_dir = input.below(256);
    let dir: Vec<u16> = (0..n_dir).map(|_| input.u16()).collect();
    let n_doubles = input.below(64);
    let doubles: Vec<f64> = (0..n_doubles).map(|_| input.f64()).collect();
    let n_ascii = input.below(256);
    let ascii = input.bytes(n_ascii).to_vec();
    let samples = input.below(16);
    let text = String::from_utf8_lossy(input.rest()).into_owned();

    let keys = GeoKeys::parse(&dir, &doubles, &ascii);
    let (epsg, citation) = keys.crs();
    if epsg.is_some() && citation.is_some() {
        return Err(Violation(
            "a CRS has both an EPSG code and a citation".into(),
        ));
    }
    let _ = keys.short(key::GT_RASTER_TYPE);
    let (scale, rest) = doubles.split_at(doubles.len().min(3));
    let (tiepoint, matrix) = rest.split_at(rest.len().min(6));
    let _ = affine(Some(scale), Some(tiepoint), Some(matrix));
    let _ = affine(Some(scale), Some(tiepoint), None);
    let _ = parse_nodata(&text);
    let (scales, offsets) = parse_scale_offset(&text, samples);
    for v in [&scales, &offsets] {
        if !v.is_empty() && v.len() != samples {
            return Err(Violation(format!(
                "GDAL_METADATA of {samples} samples gave {} values",
                v.len()
            )));
        }
    }
    Ok(())
}
