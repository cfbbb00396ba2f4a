//! [`ImageLayout`] of one IFD, and sorting IFDs into full resolution / overviews / masks.

use bytes::Bytes;

use super::header::{corrupt, Fail, PResult, Src};
use super::ifd::Ifd;
use super::tags::{tag, Entry};
use super::ImageLayout;
use crate::error::Error;

/// NewSubfileType bit: reduced-resolution image.
const REDUCED: u32 = 1;
/// NewSubfileType bit: transparency mask.
const MASK: u32 = 4;
/// PhotometricInterpretation of a transparency mask.
const PHOTOMETRIC_MASK: u16 = 4;

/// The images of one file, classified.
pub(crate) struct Images {
    /// Index (in the chain) of the full-resolution IFD.
    pub full_index: usize,
    pub image: ImageLayout,
    pub overviews: Vec<ImageLayout>,
    pub mask: Option<ImageLayout>,
    pub overview_masks: Vec<Option<ImageLayout>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Full,
    Overview,
    Mask,
    Other,
}

fn opt_u64(src: Src<'_>, ifd: &Ifd, t: u16) -> PResult<Option<u64>> {
    match ifd.get(t) {
        Some(e) if e.count > 0 => e.first_u64(src).map(Some),
        _ => Ok(None),
    }
}

fn opt_u16(src: Src<'_>, ifd: &Ifd, t: u16, name: &str) -> PResult<Option<u16>> {
    opt_u64(src, ifd, t)?
        .map(|v| {
            u16::try_from(v).map_err(|_| {
                corrupt(format!(
                    "IFD {}: {name} value {v} is out of range",
                    ifd.index
                ))
            })
        })
        .transpose()
}

fn req_u32(src: Src<'_>, ifd: &Ifd, t: u16, name: &str) -> PResult<u32> {
    let v = opt_u64(src, ifd, t)?
        .ok_or_else(|| corrupt(format!("IFD {}: missing {name} tag ({t})", ifd.index)))?;
    match u32::try_from(v) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(corrupt(format!(
            "IFD {}: {name} is {v}, expected 1..2^32",
            ifd.index
        ))),
    }
}

/// Per-sample tag whose values must all be equal (BitsPerSample, SampleFormat).
fn uniform_u16(src: Src<'_>, ifd: &Ifd, t: u16, name: &str, default: u16) -> PResult<u16> {
    let Some(e) = ifd.get(t).filter(|e| e.count > 0) else {
        return Ok(default);
    };
    let vals = e.u64s(src)?;
    let first = vals.first().copied().unwrap_or(u64::from(default));
    if vals.iter().any(|v| *v != first) {
        return Err(Fail::Err(Error::unsupported(format!(
            "IFD {}: {name} differs between samples ({vals:?}); only one value for all samples is supported",
            ifd.index
        ))));
    }
    u16::try_from(first)
        .map_err(|_| corrupt(format!("IFD {}: {name} {first} out of range", ifd.index)))
}

fn subfile_type(src: Src<'_>, ifd: &Ifd) -> PResult<u32> {
    Ok(opt_u64(src, ifd, tag::NEW_SUBFILE_TYPE)?
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0))
}

fn role(src: Src<'_>, ifd: &Ifd) -> PResult<Role> {
    let nst = subfile_type(src, ifd)?;
    if nst & MASK != 0 {
        let photometric = opt_u64(src, ifd, tag::PHOTOMETRIC)?;
        return Ok(if photometric == Some(u64::from(PHOTOMETRIC_MASK)) {
            Role::Mask
        } else {
            Role::Other
        });
    }
    if nst & REDUCED != 0 {
        return Ok(Role::Overview);
    }
    Ok(Role::Full)
}

/// Classify every IFD and build the layouts we keep.
pub(crate) fn assemble(src: Src<'_>, ifds: &[Ifd]) -> PResult<Images> {
    let mut roles = Vec::with_capacity(ifds.len());
    for ifd in ifds {
        let r = match role(src, ifd)? {
            // Further pages of a multi-page TIFF are not ours.
            Role::Full if roles.contains(&Role::Full) => Role::Other,
            r => r,
        };
        roles.push(r);
    }
    let used = ifds.iter().zip(&roles).filter(|(_, r)| **r != Role::Other);
    prefetch_arrays(src, used.map(|(i, _)| i))?;
    let mut full: Option<(usize, ImageLayout)> = None;
    let mut overviews = Vec::new();
    let mut masks = Vec::new();
    for (i, (ifd, r)) in ifds.iter().zip(&roles).enumerate() {
        match r {
            Role::Full if full.is_none() => full = Some((i, layout(src, ifd)?)),
            Role::Overview => overviews.push(layout(src, ifd)?),
            Role::Mask => masks.push(layout(src, ifd)?),
            Role::Full | Role::Other => {}
        }
    }
    let Some((full_index, image)) = full else {
        return Err(corrupt(
            "TIFF has no full-resolution image (every IFD is an overview or a mask)",
        ));
    };
    overviews.sort_by_key(|o| std::cmp::Reverse(u64::from(o.width) * u64::from(o.height)));
    let mut mask = None;
    let mut overview_masks: Vec<Option<ImageLayout>> = vec![None; overviews.len()];
    for m in masks {
        let dims = (m.width, m.height);
        if m.new_subfile_type & REDUCED == 0 && dims == (image.width, image.height) {
            if mask.is_none() {
                mask = Some(m);
            }
            continue;
        }
        let slot = overviews
            .iter()
            .zip(overview_masks.iter_mut())
            .find(|(o, s)| (o.width, o.height) == dims && s.is_none())
            .map(|(_, s)| s);
        if let Some(s) = slot {
            *s = Some(m);
        }
    }
    Ok(Images {
        full_index,
        image,
        overviews,
        mask,
        overview_masks,
    })
}

/// Tile (or strip) grid of an IFD with its validated offsets / byte-counts entries.
struct Grid<'i> {
    tiled: bool,
    tile_width: u32,
    tile_height: u32,
    offsets: &'i Entry,
    counts: &'i Entry,
}

fn grid<'i>(
    src: Src<'_>,
    ifd: &'i Ifd,
    width: u32,
    height: u32,
    samples_per_pixel: u16,
    planar_configuration: u16,
) -> PResult<Grid<'i>> {
    let idx = ifd.index;
    let tiled = [tag::TILE_WIDTH, tag::TILE_LENGTH, tag::TILE_OFFSETS]
        .iter()
        .any(|t| ifd.get(*t).is_some());
    let (tile_width, tile_height, off_tag, cnt_tag, off_name, cnt_name) = if tiled {
        (
            req_u32(src, ifd, tag::TILE_WIDTH, "TileWidth")?,
            req_u32(src, ifd, tag::TILE_LENGTH, "TileLength")?,
            tag::TILE_OFFSETS,
            tag::TILE_BYTE_COUNTS,
            "TileOffsets",
            "TileByteCounts",
        )
    } else {
        let rows = match opt_u64(src, ifd, tag::ROWS_PER_STRIP)? {
            None => height,
            Some(0) => return Err(corrupt(format!("IFD {idx}: RowsPerStrip is 0"))),
            Some(r) => u32::try_from(r).unwrap_or(u32::MAX).min(height),
        };
        (
            width,
            rows,
            tag::STRIP_OFFSETS,
            tag::STRIP_BYTE_COUNTS,
            "StripOffsets",
            "StripByteCounts",
        )
    };
    let planes = if planar_configuration == 2 {
        u64::from(samples_per_pixel)
    } else {
        1
    };
    let across = u64::from(width.div_ceil(tile_width));
    let down = u64::from(height.div_ceil(tile_height));
    let expected = across
        .checked_mul(down)
        .and_then(|n| n.checked_mul(planes))
        .ok_or_else(|| corrupt(format!("IFD {idx}: tile count overflows")))?;
    let offsets_entry = ifd
        .get(off_tag)
        .ok_or_else(|| corrupt(format!("IFD {idx}: missing {off_name} tag ({off_tag})")))?;
    let counts_entry = ifd
        .get(cnt_tag)
        .ok_or_else(|| corrupt(format!("IFD {idx}: missing {cnt_name} tag ({cnt_tag})")))?;
    for (e, name) in [(offsets_entry, off_name), (counts_entry, cnt_name)] {
        if e.count != expected {
            return Err(corrupt(format!(
                "IFD {idx}: {name} has {} entries but a {width}x{height} image with \
                 {tile_width}x{tile_height} tiles and {planes} plane(s) needs {expected}",
                e.count
            )));
        }
    }
    Ok(Grid {
        tiled,
        tile_width,
        tile_height,
        offsets: offsets_entry,
        counts: counts_entry,
    })
}

/// The grid of an IFD from its own tags (for prefetching before the full layout).
fn grid_of<'i>(src: Src<'_>, ifd: &'i Ifd) -> PResult<Grid<'i>> {
    let width = req_u32(src, ifd, tag::IMAGE_WIDTH, "ImageWidth")?;
    let height = req_u32(src, ifd, tag::IMAGE_LENGTH, "ImageLength")?;
    let spp = opt_u16(src, ifd, tag::SAMPLES_PER_PIXEL, "SamplesPerPixel")?.unwrap_or(1);
    let planar = opt_u16(src, ifd, tag::PLANAR_CONFIGURATION, "PlanarConfiguration")?.unwrap_or(1);
    grid(src, ifd, width, height, spp, planar)
}

/// When several offset / byte-count arrays are missing and lie close together, ask for all of
/// them in one range (a COG's arrays follow its IFDs). Invalid IFDs are left to [`layout`].
fn prefetch_arrays<'i>(src: Src<'_>, ifds: impl Iterator<Item = &'i Ifd>) -> PResult<()> {
    let mut missing = Vec::new();
    for ifd in ifds {
        let Ok(g) = grid_of(src, ifd) else { continue };
        for e in [g.offsets, g.counts] {
            if let Ok(Some(r)) = e.value_range(src) {
                if src.cache.get(r.clone()).is_none() {
                    missing.push(r);
                }
            }
        }
    }
    if missing.len() < 2 {
        return Ok(());
    }
    let lo = missing.iter().map(|r| r.start).min().unwrap_or(0);
    let hi = missing.iter().map(|r| r.end).max().unwrap_or(0);
    let sum = missing
        .iter()
        .fold(0u64, |acc, r| acc.saturating_add(r.end - r.start));
    if hi.saturating_sub(lo) <= sum.saturating_mul(2).saturating_add(1 << 20) {
        src.bytes(lo, hi - lo)?;
    }
    Ok(())
}

/// Build the layout of one IFD (tiles or strips), validating the offsets count.
pub(crate) fn layout(src: Src<'_>, ifd: &Ifd) -> PResult<ImageLayout> {
    let idx = ifd.index;
    let width = req_u32(src, ifd, tag::IMAGE_WIDTH, "ImageWidth")?;
    let height = req_u32(src, ifd, tag::IMAGE_LENGTH, "ImageLength")?;
    let samples_per_pixel =
        opt_u16(src, ifd, tag::SAMPLES_PER_PIXEL, "SamplesPerPixel")?.unwrap_or(1);
    if samples_per_pixel == 0 {
        return Err(corrupt(format!("IFD {idx}: SamplesPerPixel is 0")));
    }
    let bits_per_sample = uniform_u16(src, ifd, tag::BITS_PER_SAMPLE, "BitsPerSample", 1)?;
    let sample_format = uniform_u16(src, ifd, tag::SAMPLE_FORMAT, "SampleFormat", 1)?;
    let planar_configuration =
        opt_u16(src, ifd, tag::PLANAR_CONFIGURATION, "PlanarConfiguration")?.unwrap_or(1);
    if !matches!(planar_configuration, 1 | 2) {
        return Err(corrupt(format!(
            "IFD {idx}: PlanarConfiguration is {planar_configuration}, expected 1 or 2"
        )));
    }
    let compression = opt_u16(src, ifd, tag::COMPRESSION, "Compression")?.unwrap_or(1);
    let predictor = opt_u16(src, ifd, tag::PREDICTOR, "Predictor")?.unwrap_or(1);
    let photometric = opt_u16(src, ifd, tag::PHOTOMETRIC, "PhotometricInterpretation")?;
    let new_subfile_type = subfile_type(src, ifd)?;

    let g = grid(
        src,
        ifd,
        width,
        height,
        samples_per_pixel,
        planar_configuration,
    )?;
    let (tiled, tile_width, tile_height) = (g.tiled, g.tile_width, g.tile_height);
    let tile_offsets = g.offsets.u64s(src)?;
    let tile_byte_counts = g.counts.u64s(src)?;

    let extra_samples = match ifd.get(tag::EXTRA_SAMPLES) {
        Some(e) => e
            .u64s(src)?
            .into_iter()
            .map(|v| u16::try_from(v).unwrap_or(u16::MAX))
            .collect(),
        None => Vec::new(),
    };
    let jpeg_tables = match ifd.get(tag::JPEG_TABLES) {
        Some(e) if e.count > 0 => Some(Bytes::copy_from_slice(e.byte_values(src)?)),
        _ => None,
    };
    let ycbcr_subsampling = match ifd.get(tag::YCBCR_SUBSAMPLING) {
        Some(e) if e.count >= 2 => {
            let v = e.u64s_n(src, 2)?;
            match (v.first(), v.get(1)) {
                (Some(a), Some(b)) => Some([
                    u16::try_from(*a).unwrap_or(u16::MAX),
                    u16::try_from(*b).unwrap_or(u16::MAX),
                ]),
                _ => None,
            }
        }
        _ => None,
    };
    let lerc_parameters = match ifd.get(tag::LERC_PARAMETERS) {
        Some(e) => Some(
            e.u64s(src)?
                .into_iter()
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
                .collect(),
        ),
        None => None,
    };

    Ok(ImageLayout {
        ifd_index: idx,
        width,
        height,
        tile_width,
        tile_height,
        tiled,
        bits_per_sample,
        sample_format,
        samples_per_pixel,
        planar_configuration,
        compression,
        predictor,
        photometric,
        extra_samples,
        tile_offsets,
        tile_byte_counts,
        jpeg_tables,
        ycbcr_subsampling,
        lerc_parameters,
        new_subfile_type,
        little_endian: src.le,
    })
}
