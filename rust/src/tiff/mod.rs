//! TIFF / BigTIFF / GeoTIFF header parsing driven by byte ranges.
//!
//! Contract (the rest of the crate relies on exactly these names):
//! - [`parse_header`] is pure: it parses from a [`SparseBytes`] cache and either returns the
//!   [`CogHeader`] or says which byte range it still needs ([`Parse::Need`]).
//! - [`fetch_header`] drives it with a caller-given async range fetcher: one read-ahead of
//!   `readahead_bytes` at offset 0, then, only if something lies beyond, reads that double in
//!   size. A typical COG costs one request.
//! - [`parse_bytes`] parses a whole in-memory file (tests, local tools).

pub(crate) mod gdal_meta;
pub(crate) mod geokeys;
pub(crate) mod georef;
mod header;
mod ifd;
mod layout;
mod readahead;
mod sparse;
mod tags;
#[cfg(test)]
mod test_writer;
#[cfg(test)]
mod tests;

use std::ops::Range;

use bytes::Bytes;

use crate::error::{Error, Result};
use header::{Fail, PResult, Src};

pub use readahead::{fetch_header, MAX_HEADER_BYTES, MAX_ROUNDS};

/// Byte ranges of one file known so far (possibly disjoint), plus the file size when known.
#[derive(Debug, Default, Clone)]
pub struct SparseBytes {
    /// (start offset, bytes) chunks, sorted by start, non-overlapping.
    pub chunks: Vec<(u64, Bytes)>,
    /// Total object size, when a short read or the server told us.
    pub file_size: Option<u64>,
}

/// Outcome of one pure parse attempt.
#[derive(Debug)]
pub enum Parse {
    Done(Box<CogHeader>),
    /// These bytes are needed before parsing can go on.
    Need(Range<u64>),
}

/// Layout of one image (IFD): what reading its pixels needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageLayout {
    pub ifd_index: u32,
    pub width: u32,
    pub height: u32,
    /// TileWidth, or the image width for strips.
    pub tile_width: u32,
    /// TileLength, or RowsPerStrip (clamped to height) for strips.
    pub tile_height: u32,
    /// False for striped TIFFs (strips are tiles one image wide).
    pub tiled: bool,
    pub bits_per_sample: u16,
    /// 1 uint, 2 int, 3 float (TIFF SampleFormat).
    pub sample_format: u16,
    pub samples_per_pixel: u16,
    pub planar_configuration: u16,
    pub compression: u16,
    pub predictor: u16,
    pub photometric: Option<u16>,
    pub extra_samples: Vec<u16>,
    /// All tiles, plane-major for planar configuration 2 (plane 0's tiles first).
    pub tile_offsets: Vec<u64>,
    pub tile_byte_counts: Vec<u64>,
    pub jpeg_tables: Option<Bytes>,
    pub ycbcr_subsampling: Option<[u16; 2]>,
    /// LercParameters tag (50674): [version, additional compression (0 none, 1 deflate, 2 zstd)].
    pub lerc_parameters: Option<Vec<u32>>,
    /// NewSubfileType: bit 0 reduced resolution (overview), bit 2 transparency mask.
    pub new_subfile_type: u32,
    pub little_endian: bool,
}

/// Georeferencing and GDAL metadata of the full-resolution image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoInfo {
    /// GDAL affine `[a, b, c, d, e, f]`, PixelIsArea-normalised; None when not georeferenced.
    pub transform: Option<[f64; 6]>,
    pub pixel_scale: Option<Vec<f64>>,
    pub tiepoint: Option<Vec<f64>>,
    pub model_transformation: Option<Vec<f64>>,
    /// 1 PixelIsArea, 2 PixelIsPoint (as stored; the transform is already normalised).
    pub raster_type: Option<u16>,
    pub epsg: Option<u32>,
    /// WKT or citation text when there is no EPSG code (e.g. user-defined CRS).
    pub crs_wkt: Option<String>,
    /// GDAL_NODATA (42113), parsed ("nan" -> NaN).
    pub nodata: Option<f64>,
    /// GDAL_METADATA per-band SCALE / OFFSET (band order; None where absent).
    pub scales: Vec<Option<f64>>,
    pub offsets: Vec<Option<f64>>,
    /// Raw GDAL_METADATA XML, if any.
    pub gdal_metadata: Option<String>,
}

/// Everything we keep from a COG header.
#[derive(Debug, Clone, PartialEq)]
pub struct CogHeader {
    pub little_endian: bool,
    pub bigtiff: bool,
    /// The full-resolution image (first IFD that is not a mask/overview).
    pub image: ImageLayout,
    /// Reduced-resolution images, largest first.
    pub overviews: Vec<ImageLayout>,
    /// Internal transparency mask of the full-resolution image, if any.
    pub mask: Option<ImageLayout>,
    /// Masks of the overviews, same order as `overviews` (None where absent).
    pub overview_masks: Vec<Option<ImageLayout>>,
    pub geo: GeoInfo,
    pub file_size: Option<u64>,
}

/// Parse as much as the cache allows.
///
/// Returns `Parse::Need(range)` for the first whole structure (IFD entry table, value array)
/// that is not cached yet. A needed range beyond a known `file_size` is an error, so driving
/// this with a fetcher always terminates.
pub fn parse_header(cache: &SparseBytes) -> Result<Parse> {
    match parse_inner(cache) {
        Ok(h) => Ok(Parse::Done(Box::new(h))),
        Err(Fail::Need(r)) => Ok(Parse::Need(r)),
        Err(Fail::Err(e)) => Err(e),
    }
}

/// Parse a whole file held in memory (its length is the file size).
pub fn parse_bytes(data: impl Into<Bytes>) -> Result<CogHeader> {
    let cache = SparseBytes::from_file(data.into());
    match parse_header(&cache)? {
        Parse::Done(h) => Ok(*h),
        Parse::Need(r) => Err(Error::corrupt(format!(
            "TIFF header needs bytes {}..{} beyond the end of the file",
            r.start, r.end
        ))),
    }
}

fn parse_inner(cache: &SparseBytes) -> PResult<CogHeader> {
    let hdr = header::read_header(cache)?;
    let src = Src {
        cache,
        le: hdr.little_endian,
        big: hdr.bigtiff,
    };
    let ifds = ifd::read_chain(src, hdr.first_ifd)?;
    let images = layout::assemble(src, &ifds)?;
    let full_ifd = ifds
        .get(images.full_index)
        .ok_or_else(|| Error::internal("full-resolution IFD index out of range"))?;
    let geo = georef::geo_info(src, full_ifd, images.image.samples_per_pixel)?;
    Ok(CogHeader {
        little_endian: hdr.little_endian,
        bigtiff: hdr.bigtiff,
        image: images.image,
        overviews: images.overviews,
        mask: images.mask,
        overview_masks: images.overview_masks,
        geo,
        file_size: cache.file_size,
    })
}
