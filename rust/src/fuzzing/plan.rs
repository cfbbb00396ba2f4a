//! Fuzz entry point of the read planner: random image layouts and windows, planned, then
//! every tile "decoded" (uncompressed zeros) and placed the way a read places it.

use std::sync::Arc;

use super::{not_internal, Checked, Input, Violation};
use crate::codec;
use crate::error::{Error, Kind};
use crate::read::plan::{
    fill_bytes, place_fill, place_tile, place_tile_differenced, plan_reads, Window, WindowRequest,
};
use crate::tiff::ImageLayout;

/// Bits per sample the layouts pick from (the last ones are refused).
const BITS: [u16; 10] = [8, 16, 32, 64, 1, 4, 12, 15, 0, 128];
/// Most tiles all windows of one input may cover, and most output (or decoded) bytes (keeps
/// each input fast; the planner's own limits are what is under test, not the machine's memory).
const MAX_TILES: u64 = 4096;
const MAX_OUTPUT_BYTES: usize = 64 << 20;

/// Plan 1 to 8 windows over 1 to 3 fuzz-chosen layouts and place every tile.
pub fn plan_windows(data: &[u8]) -> Checked {
    let mut input = Input::new(data);
    let layouts: Vec<Arc<ImageLayout>> = (0..1 + input.below(3))
        .map(|_| Arc::new(layout(&mut input)))
        .collect();
    let mut requests = Vec::new();
    while !input.is_empty() && requests.len() < 8 {
        let Some(layout) = layouts.get(input.below(layouts.len())) else {
            break;
        };
        requests.push(request(&mut input, layout));
    }
    check_plan(&requests)
}

/// An image layout: mostly plausible, sometimes zero-sized, huge or with short tile tables.
fn layout(input: &mut Input<'_>) -> ImageLayout {
    let flags = input.u8();
    let dim = |input: &mut Input<'_>| {
        if flags & 1 == 0 {
            u32::from(input.u16() % 2048)
        } else {
            input.u32()
        }
    };
    let (width, height) = (dim(input), dim(input));
    let tile_width = u32::from(input.u16() % 520);
    let tile_height = u32::from(input.u16() % 520);
    let bits_per_sample = BITS.get(input.below(BITS.len())).copied().unwrap_or(8);
    let sample_format = 1 + u16::from(input.u8() % 3);
    let samples_per_pixel = u16::from(input.u8() % 5);
    let planar_configuration = 1 + u16::from((flags >> 1) & 1);
    let planes = if planar_configuration == 2 {
        u64::from(samples_per_pixel.max(1))
    } else {
        1
    };
    let tiles = u64::from(width.div_ceil(tile_width.max(1)))
        .saturating_mul(u64::from(height.div_ceil(tile_height.max(1))))
        .saturating_mul(planes);
    // full tables, or a few entries more or fewer
    let delta = i64::from(input.u8() % 8) - 4;
    let n = if flags & 4 == 0 {
        tiles
    } else {
        tiles.saturating_add_signed(delta)
    };
    let n = usize::try_from(n.min(MAX_TILES)).unwrap_or(0);
    let sparse_every = 1 + usize::from(input.u8() % 8);
    let tile_offsets = (0..n)
        .map(|i| {
            if i % sparse_every == 1 {
                0
            } else {
                1000 + i as u64 * 100
            }
        })
        .collect();
    ImageLayout {
        ifd_index: 0,
        width,
        height,
        tile_width,
        tile_height,
        tiled: flags & 8 == 0,
        bits_per_sample,
        sample_format,
        samples_per_pixel,
        planar_configuration,
        compression: 1,
        predictor: 1 + u16::from((flags >> 4) & 1),
        photometric: Some(1),
        extra_samples: Vec::new(),
        tile_offsets,
        tile_byte_counts: vec![100; n],
        jpeg_tables: None,
        ycbcr_subsampling: None,
        lerc_parameters: None,
        new_subfile_type: 0,
        little_endian: flags & 32 == 0,
    }
}

/// A window on `layout`: mostly near the image, sometimes anywhere in `i64`.
fn request(input: &mut Input<'_>, layout: &Arc<ImageLayout>) -> WindowRequest {
    let flags = input.u8();
    let off = |input: &mut Input<'_>| {
        if flags & 1 == 0 {
            i64::from(input.u16() as i16)
        } else {
            input.i64()
        }
    };
    let (col_off, row_off) = (off(input), off(input));
    let size = |input: &mut Input<'_>| {
        if flags & 2 == 0 {
            u64::from(input.u16() % 2048)
        } else {
            input.i64() as u64
        }
    };
    let (width, height) = (size(input), size(input));
    let elem = codec::element_bytes(layout.bits_per_sample).unwrap_or(1);
    let out_row_stride_bytes = if flags & 4 == 0 {
        usize::try_from(width)
            .unwrap_or(usize::MAX)
            .saturating_mul(elem)
            .saturating_add(usize::from(input.u8() % 4))
    } else {
        usize::from(input.u16())
    };
    WindowRequest {
        url: Arc::from(if flags & 8 == 0 { "mem://a" } else { "mem://b" }),
        layout: layout.clone(),
        nodata: (flags & 16 != 0).then(|| f64::from(input.u16() as i16)),
        band_index: u16::from(input.u8() % 5),
        window: Window {
            col_off,
            row_off,
            width,
            height,
        },
        out_offset_bytes: usize::from(input.u16()),
        out_row_stride_bytes,
    }
}

/// Tiles `req`'s window may cover at most (image-clipped; 1 for a layout the planner refuses).
fn tiles_covered(req: &WindowRequest) -> u64 {
    let l = &*req.layout;
    if l.tile_width == 0 || l.tile_height == 0 {
        return 1;
    }
    let across = req.window.width.min(u64::from(l.width)) / u64::from(l.tile_width) + 2;
    let down = req.window.height.min(u64::from(l.height)) / u64::from(l.tile_height) + 2;
    across.saturating_mul(down)
}

/// Plan `requests`, then decode and place every tile as a read does; see the module docs.
pub(crate) fn check_plan(requests: &[WindowRequest]) -> Checked {
    let covered = requests
        .iter()
        .map(tiles_covered)
        .fold(0u64, u64::saturating_add);
    if covered > MAX_TILES {
        return Ok(());
    }
    let plan = match plan_reads(requests) {
        Ok(plan) => plan,
        Err(e) if e.kind() == Kind::InvalidArgument => return Ok(()),
        Err(e) => {
            return Err(Violation(format!(
                "plan_reads failed with {:?}, not InvalidArgument: {e}",
                e.kind()
            )))
        }
    };
    for (ri, e) in &plan.failed {
        if !matches!(e.kind(), Kind::Corrupt | Kind::Unsupported) || *ri >= requests.len() {
            return Err(Violation(format!("request {ri} failed with {e}")));
        }
    }
    if plan.required_output_bytes > MAX_OUTPUT_BYTES {
        return Ok(());
    }
    let decoded_bytes = plan
        .jobs
        .iter()
        .map(|j| codec::decoded_len(&j.spec(), j.rows_needed).unwrap_or(0))
        .fold(0usize, usize::saturating_add);
    if decoded_bytes > MAX_OUTPUT_BYTES {
        return Ok(());
    }
    let mut out = vec![0u8; plan.required_output_bytes];
    for (job, places) in plan.jobs.iter().zip(&plan.placements) {
        if places.iter().any(|p| p.request >= requests.len()) {
            return Err(Violation("a placement names no request".into()));
        }
        let placed = if job.is_sparse() {
            fill_bytes(&job.layout, job.nodata).and_then(|fill| {
                places
                    .iter()
                    .try_for_each(|p| place_fill(&fill, p, &mut out))
            })
        } else {
            decode_and_place(job, places, &mut out)
        };
        if let Err(e) = placed {
            not_internal(&e, "placing a planned tile")?;
            if e.kind() == Kind::InvalidArgument {
                return Err(Violation(format!("a planned tile is inconsistent: {e}")));
            }
        }
    }
    Ok(())
}

/// Decode `job` (stored uncompressed, all zeros) and place it, as the read executor does.
fn decode_and_place(
    job: &crate::read::plan::TileJob,
    places: &[crate::read::plan::Placement],
    out: &mut [u8],
) -> Result<(), Error> {
    let spec = job.spec();
    let len = codec::decoded_len(&spec, job.rows_needed)?;
    let elem = codec::element_bytes(spec.bits_per_sample)?;
    let stored = vec![0u8; len.saturating_mul(2)];
    let mut decoded = vec![0u8; len];
    let differenced = places.len() == 1 && codec::predictor_deferrable(&spec);
    if differenced {
        codec::decode_into_differenced(&stored, &spec, job.rows_needed, &mut decoded)?;
    } else {
        codec::decode_into(&stored, &spec, job.rows_needed, &mut decoded)?;
    }
    for p in places {
        if differenced {
            place_tile_differenced(&decoded, spec.width, elem, p, out)?;
        } else {
            place_tile(&decoded, spec.width, job.samples, elem, p, out)?;
        }
    }
    Ok(())
}
