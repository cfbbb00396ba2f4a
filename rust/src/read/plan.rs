//! Pure read planning: pixel windows per (record, band) -> the tiles they need -> where each
//! decoded tile's rows go in the output buffer. No I/O here.

use std::collections::HashMap;
use std::sync::Arc;

use crate::codec::{self, TileSpec};
use crate::error::{Error, Kind, Result};
#[cfg(feature = "runtime")]
use crate::io::redact;
use crate::tiff::ImageLayout;

/// Without the I/O runtime (the fuzz build) there is no URL parser: messages show URLs as
/// given (the runtime build redacts their secrets).
#[cfg(not(feature = "runtime"))]
fn redact(url: &str) -> String {
    url.to_string()
}

/// A pixel window in the image grid. Offsets may be negative and the window may extend past
/// the image: pixels outside the image are left untouched in the output (the caller pre-fills).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub col_off: i64,
    pub row_off: i64,
    pub width: u64,
    pub height: u64,
}

/// One window of one image (record x band), and where its pixels go in the output.
#[derive(Debug, Clone)]
pub struct WindowRequest {
    pub url: Arc<str>,
    pub layout: Arc<ImageLayout>,
    /// Fill for sparse tiles (cast to the dtype; NaN/out-of-range -> 0 for integers).
    pub nodata: Option<f64>,
    /// Sample (band) within the file: picks the plane (planar 2) or the sample of a chunky pixel.
    pub band_index: u16,
    pub window: Window,
    /// Byte offset in the output of window pixel (0, 0).
    pub out_offset_bytes: usize,
    /// Bytes between consecutive window rows in the output.
    pub out_row_stride_bytes: usize,
}

/// One compressed tile to fetch and decode (shared by every window that needs it).
#[derive(Debug, Clone)]
pub struct TileJob {
    pub url: Arc<str>,
    pub layout: Arc<ImageLayout>,
    pub nodata: Option<f64>,
    pub offset_bytes: u64,
    pub byte_count: u64,
    pub tile_col: u32,
    pub tile_row: u32,
    /// Rows stored in this tile (tile height, or fewer for the last strip).
    pub rows: u32,
    /// Rows that must be decoded (<= rows): the last needed row + 1.
    pub rows_needed: u32,
    /// Samples interleaved in this tile (samples_per_pixel if chunky, else 1).
    pub samples: u16,
}

impl TileJob {
    /// Sparse tile: nothing stored, every pixel is the fill value.
    pub fn is_sparse(&self) -> bool {
        self.byte_count == 0 || self.offset_bytes == 0
    }

    pub fn spec(&self) -> TileSpec<'_> {
        let l = &*self.layout;
        TileSpec {
            compression: l.compression,
            predictor: l.predictor,
            bits_per_sample: l.bits_per_sample,
            sample_format: l.sample_format,
            samples: self.samples,
            width: l.tile_width,
            rows: self.rows,
            little_endian: l.little_endian,
            photometric: l.photometric,
            jpeg_tables: l.jpeg_tables.as_deref(),
            lerc_parameters: l.lerc_parameters.as_deref(),
            nodata: self.nodata,
        }
    }
}

/// Copy instructions for one (tile, window) pair: a rectangle of the tile into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub request: usize,
    /// Sample of the decoded tile to take.
    pub sample: u16,
    /// First tile row/col (tile-local) and the extent copied.
    pub src_row: u32,
    pub src_col: u32,
    pub rows: u32,
    pub cols: u32,
    /// Output byte offset of the first copied pixel.
    pub dst_offset_bytes: usize,
    pub dst_row_stride_bytes: usize,
}

/// Everything a read needs, validated.
#[derive(Debug, Clone, Default)]
pub struct ReadPlan {
    pub jobs: Vec<TileJob>,
    /// `placements[j]`: where job `j`'s pixels go.
    pub placements: Vec<Vec<Placement>>,
    /// Bytes of output the plan writes into at most (for validating the buffer).
    pub required_output_bytes: usize,
    /// No two requests' output spans (first to last byte) overlap, so tiles of different
    /// requests may be placed concurrently; tiles of one request never overlap.
    pub outputs_disjoint: bool,
    /// Requests that cannot be read because of their file (a corrupt or unsupported layout:
    /// zero dimension, short tile tables, odd bits per sample), with why; they plan no tile.
    pub failed: Vec<(usize, Error)>,
}

/// Element size and the output geometry of one request, checked.
pub(crate) fn request_extent(req: &WindowRequest) -> Result<(usize, usize)> {
    let elem = codec::element_bytes(req.layout.bits_per_sample)?;
    let w = usize::try_from(req.window.width).map_err(|_| Error::invalid("window too wide"))?;
    let h = usize::try_from(req.window.height).map_err(|_| Error::invalid("window too tall"))?;
    if w == 0 || h == 0 {
        return Ok((elem, req.out_offset_bytes));
    }
    let row_bytes = w
        .checked_mul(elem)
        .ok_or_else(|| Error::invalid("window row size overflows"))?;
    if req.out_row_stride_bytes < row_bytes {
        return Err(Error::invalid(format!(
            "{}: output row stride {} bytes is smaller than a window row ({} px x {} bytes)",
            redact(&req.url),
            req.out_row_stride_bytes,
            w,
            elem
        )));
    }
    let end = (h - 1)
        .checked_mul(req.out_row_stride_bytes)
        .and_then(|v| v.checked_add(row_bytes))
        .and_then(|v| v.checked_add(req.out_offset_bytes))
        .ok_or_else(|| Error::invalid("output extent overflows"))?;
    Ok((elem, end))
}

pub(crate) fn check_layout(req: &WindowRequest) -> Result<()> {
    let l = &*req.layout;
    if l.tile_width == 0 || l.tile_height == 0 || l.width == 0 || l.height == 0 {
        return Err(Error::corrupt(format!(
            "{}: image {}x{} with tiles {}x{} has a zero dimension",
            redact(&req.url),
            l.width,
            l.height,
            l.tile_width,
            l.tile_height
        )));
    }
    let spp = l.samples_per_pixel.max(1);
    if req.band_index >= spp {
        return Err(Error::invalid(format!(
            "band_index {} out of range for {} samples ({})",
            req.band_index,
            spp,
            redact(&req.url)
        )));
    }
    Ok(())
}

/// Whether a planning error belongs to the request's file (its layout is corrupt or not
/// supported): that request then fails alone. Any other error is the caller's (bad window,
/// stride or band) and fails the whole read.
pub(crate) fn is_file_error(e: &Error) -> bool {
    matches!(e.kind(), Kind::Corrupt | Kind::Unsupported)
}

/// Identity of a tile: (url, offset, byte count, tile col, tile row, plane).
type TileKey = (Arc<str>, u64, u64, u32, u32, u16);

/// Where a request's window meets its image, on the image's tile grid.
pub(crate) struct Coverage {
    /// Intersection of window and image, in image pixels: columns `x0..x1`, rows `y0..y1`.
    pub(crate) x0: i64,
    pub(crate) y0: i64,
    pub(crate) x1: i64,
    pub(crate) y1: i64,
    tiles_across: i64,
    tiles_per_plane: i64,
    /// Plane of the tile tables read (planar configuration 2), else 0.
    plane: u16,
    /// Sample of the decoded tile to take, and samples interleaved in a tile.
    sample: u16,
    samples: u16,
}

/// The tiles `req`'s window covers, or None when it covers no pixel of the image; fails
/// when the layout's tile tables are too short for its image.
pub(crate) fn coverage(req: &WindowRequest) -> Result<Option<Coverage>> {
    let l = &*req.layout;
    let (img_w, img_h) = (i64::from(l.width), i64::from(l.height));
    let (tw, th) = (i64::from(l.tile_width), i64::from(l.tile_height));
    let win_w = i64::try_from(req.window.width).map_err(|_| Error::invalid("window too wide"))?;
    let win_h = i64::try_from(req.window.height).map_err(|_| Error::invalid("window too tall"))?;
    let x0 = req.window.col_off.max(0);
    let y0 = req.window.row_off.max(0);
    let x1 = req.window.col_off.saturating_add(win_w).min(img_w);
    let y1 = req.window.row_off.saturating_add(win_h).min(img_h);
    if win_w == 0 || win_h == 0 || x0 >= x1 || y0 >= y1 {
        return Ok(None);
    }
    let tiles_across = (img_w + tw - 1) / tw;
    let tiles_per_plane = tiles_across
        .checked_mul((img_h + th - 1) / th)
        .ok_or_else(|| Error::corrupt("tile count overflows"))?;
    let spp = l.samples_per_pixel.max(1);
    let (plane, sample, samples) = if l.planar_configuration != 2 {
        (0u16, req.band_index, spp)
    } else if l.tile_offsets.len() as i64 == tiles_per_plane {
        // planar tables may be whole (all planes) or already sliced for this band
        (0, 0, 1)
    } else {
        (req.band_index, 0, 1)
    };
    check_tile_tables(req, tiles_per_plane, plane)?;
    Ok(Some(Coverage {
        x0,
        y0,
        x1,
        y1,
        tiles_across,
        tiles_per_plane,
        plane,
        sample,
        samples,
    }))
}

/// The tile tables of `req`'s layout hold an entry for every tile up to plane `plane`.
fn check_tile_tables(req: &WindowRequest, tiles_per_plane: i64, plane: u16) -> Result<()> {
    let l = &*req.layout;
    let needed = tiles_per_plane
        .checked_mul(i64::from(plane) + 1)
        .ok_or_else(|| Error::corrupt("tile count overflows"))?;
    if (l.tile_offsets.len() as i64) < needed || (l.tile_byte_counts.len() as i64) < needed {
        return Err(Error::corrupt(format!(
            "{}: tile tables hold {} offsets / {} byte counts, but a {}x{} image in {}x{} tiles needs {} per plane",
            redact(&req.url),
            l.tile_offsets.len(),
            l.tile_byte_counts.len(),
            l.width,
            l.height,
            l.tile_width,
            l.tile_height,
            tiles_per_plane
        )));
    }
    Ok(())
}

/// Compressed bytes a tile may claim (its TileByteCounts entry) per decoded byte.
pub const TILE_EXPANSION_LIMIT: u64 = 10;
/// A tile may always claim this many compressed bytes, however small its pixels.
pub const MIN_TILE_BYTE_LIMIT: u64 = 1 << 20;

/// The most compressed bytes a tile of `decoded_bytes` may claim before the read refuses it:
/// [`TILE_EXPANSION_LIMIT`] times its decoded size plus 4 KiB, and at least
/// [`MIN_TILE_BYTE_LIMIT`] (the bound libtiff applies). No codec makes a tile that much
/// larger than its pixels, so a larger count is corrupt (or hostile), and fetching it would
/// hold that many bytes in memory for nothing.
pub fn max_tile_byte_count(decoded_bytes: u64) -> u64 {
    decoded_bytes
        .saturating_mul(TILE_EXPANSION_LIMIT)
        .saturating_add(4096)
        .max(MIN_TILE_BYTE_LIMIT)
}

/// One tile a request needs: which tile, how many of its rows, and where its part goes.
struct TilePiece {
    key: TileKey,
    /// Rows stored in the tile, and rows that must be decoded for this request.
    rows: u32,
    rows_needed: u32,
    placement: Placement,
}

/// The pieces of tile (`tx`, `ty`) request `ri` (`req`, elements of `elem` bytes) needs.
fn tile_piece(
    req: &WindowRequest,
    ri: usize,
    elem: usize,
    cov: &Coverage,
    (tx, ty): (i64, i64),
) -> Result<TilePiece> {
    let l = &*req.layout;
    let (img_w, img_h) = (i64::from(l.width), i64::from(l.height));
    let (tw, th) = (i64::from(l.tile_width), i64::from(l.tile_height));
    let (tile_left, tile_top) = (tx * tw, ty * th);
    let rows_stored = th.min(img_h - tile_top);
    // strips store only the rows that exist; tiles always store full blocks
    let rows = if l.tiled { th } else { rows_stored };
    let (ry0, ry1) = (cov.y0.max(tile_top), cov.y1.min(tile_top + rows_stored));
    let (rx0, rx1) = (cov.x0.max(tile_left), cov.x1.min(tile_left + tw).min(img_w));
    let flat = cov.tiles_per_plane * i64::from(cov.plane) + ty * cov.tiles_across + tx;
    let flat = usize::try_from(flat).map_err(|_| Error::corrupt("bad tile index"))?;
    let (Some(&offset), Some(&count)) = (l.tile_offsets.get(flat), l.tile_byte_counts.get(flat))
    else {
        return Err(Error::corrupt("tile index out of range"));
    };
    if offset != 0 {
        let pixels = u64::try_from(tw * rows).map_err(|_| Error::corrupt("bad tile size"))?;
        let decoded = pixels
            .saturating_mul(u64::from(cov.samples))
            .saturating_mul(elem as u64);
        let limit = max_tile_byte_count(decoded);
        if count > limit {
            return Err(Error::corrupt(format!(
                "{}: tile (col {tx}, row {ty}) claims {count} compressed bytes \
                 (TileByteCounts), more than the {limit}-byte limit for a {tw}x{rows} tile of \
                 {decoded} decoded bytes (10 x decoded + 4 KiB, at least 1 MiB)",
                redact(&req.url)
            )));
        }
    }
    let dst_row = usize::try_from(ry0 - req.window.row_off)
        .map_err(|_| Error::internal("negative destination row"))?;
    let dst_col = usize::try_from(rx0 - req.window.col_off)
        .map_err(|_| Error::internal("negative destination column"))?;
    Ok(TilePiece {
        key: (
            req.url.clone(),
            offset,
            count,
            tx as u32,
            ty as u32,
            cov.plane,
        ),
        rows: rows as u32,
        rows_needed: (ry1 - tile_top) as u32,
        placement: Placement {
            request: ri,
            sample: cov.sample,
            src_row: (ry0 - tile_top) as u32,
            src_col: (rx0 - tile_left) as u32,
            rows: (ry1 - ry0) as u32,
            cols: (rx1 - rx0) as u32,
            dst_offset_bytes: req.out_offset_bytes
                + dst_row * req.out_row_stride_bytes
                + dst_col * elem,
            dst_row_stride_bytes: req.out_row_stride_bytes,
        },
    })
}

/// Every tile piece of request `ri`, in tile-row order (empty when it covers no pixel).
fn request_pieces(req: &WindowRequest, ri: usize, elem: usize) -> Result<(u16, Vec<TilePiece>)> {
    check_layout(req)?;
    let Some(cov) = coverage(req)? else {
        return Ok((1, Vec::new()));
    };
    let (tw, th) = (
        i64::from(req.layout.tile_width),
        i64::from(req.layout.tile_height),
    );
    let mut pieces = Vec::new();
    for ty in (cov.y0 / th)..=((cov.y1 - 1) / th) {
        for tx in (cov.x0 / tw)..=((cov.x1 - 1) / tw) {
            pieces.push(tile_piece(req, ri, elem, &cov, (tx, ty))?);
        }
    }
    Ok((cov.samples, pieces))
}

impl ReadPlan {
    /// Add `piece` of `req` (tiles of `samples` interleaved samples): a new job for a tile
    /// not planned yet (`index`: tile -> job), else one more placement of its job.
    fn add(
        &mut self,
        index: &mut HashMap<TileKey, usize>,
        req: &WindowRequest,
        samples: u16,
        piece: TilePiece,
    ) {
        let next = self.jobs.len();
        let (offset_bytes, byte_count, tile_col, tile_row) =
            (piece.key.1, piece.key.2, piece.key.3, piece.key.4);
        let job = *index.entry(piece.key).or_insert(next);
        if job == next {
            self.jobs.push(TileJob {
                url: req.url.clone(),
                layout: req.layout.clone(),
                nodata: req.nodata,
                offset_bytes,
                byte_count,
                tile_col,
                tile_row,
                rows: piece.rows,
                rows_needed: 0,
                samples,
            });
            self.placements.push(Vec::new());
        }
        if let Some(j) = self.jobs.get_mut(job) {
            j.rows_needed = j.rows_needed.max(piece.rows_needed);
        }
        if let Some(p) = self.placements.get_mut(job) {
            p.push(piece.placement);
        }
    }
}

/// Whether no two output spans `(start, end)` overlap (sorts them).
fn spans_disjoint(spans: &mut [(usize, usize)]) -> bool {
    spans.sort_unstable();
    spans.windows(2).all(|w| match w {
        [a, b] => b.0 >= a.1,
        _ => true,
    })
}

/// Plan every tile of every request; tiles shared by several requests are planned once.
/// A request whose file layout is corrupt or unsupported goes to [`ReadPlan::failed`]; an
/// inconsistent request (window, stride, band) fails the whole plan.
pub fn plan_reads(requests: &[WindowRequest]) -> Result<ReadPlan> {
    let mut plan = ReadPlan::default();
    let mut index: HashMap<TileKey, usize> = HashMap::new();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(requests.len());
    for (ri, req) in requests.iter().enumerate() {
        let planned = request_extent(req).and_then(|(elem, end)| {
            let (samples, pieces) = request_pieces(req, ri, elem)?;
            Ok((end, samples, pieces))
        });
        let (end, samples, pieces) = match planned {
            Ok(planned) => planned,
            Err(e) if is_file_error(&e) => {
                plan.failed.push((ri, e));
                continue;
            }
            Err(e) => return Err(e),
        };
        plan.required_output_bytes = plan.required_output_bytes.max(end);
        if req.window.width > 0 && req.window.height > 0 {
            spans.push((req.out_offset_bytes, end));
        }
        for piece in pieces {
            plan.add(&mut index, req, samples, piece);
        }
    }
    plan.outputs_disjoint = spans_disjoint(&mut spans);
    Ok(plan)
}

/// The fill value of a sparse tile as native-endian bytes of the element type.
pub fn fill_bytes(layout: &ImageLayout, nodata: Option<f64>) -> Result<Vec<u8>> {
    let elem = codec::element_bytes(layout.bits_per_sample)?;
    let v = nodata.unwrap_or(0.0);
    let int_ok = v.is_finite() && v.fract() == 0.0;
    Ok(match (layout.sample_format, elem) {
        (3, 2) => half::f16::from_f64(v).to_bits().to_ne_bytes().to_vec(),
        (3, 4) => (v as f32).to_ne_bytes().to_vec(),
        (3, 8) => v.to_ne_bytes().to_vec(),
        (2, 1) if int_ok => (v as i8).to_ne_bytes().to_vec(),
        (2, 2) if int_ok => (v as i16).to_ne_bytes().to_vec(),
        (2, 4) if int_ok => (v as i32).to_ne_bytes().to_vec(),
        (2, 8) if int_ok => (v as i64).to_ne_bytes().to_vec(),
        (_, 1) if int_ok => (v as u8).to_ne_bytes().to_vec(),
        (_, 2) if int_ok => (v as u16).to_ne_bytes().to_vec(),
        (_, 4) if int_ok => (v as u32).to_ne_bytes().to_vec(),
        (_, 8) if int_ok => (v as u64).to_ne_bytes().to_vec(),
        (_, n) => vec![0u8; n],
    })
}

/// Where placed rows are written: a plain slice, or the output shared by a parallel read.
pub trait RowSink {
    /// The `len` output bytes from byte `offset`, to write in place; a span outside the
    /// output is an internal error.
    fn span_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8]>;

    /// Copy `src` to byte `offset` of the output.
    fn put(&mut self, offset: usize, src: &[u8]) -> Result<()> {
        self.span_mut(offset, src.len())?.copy_from_slice(src);
        Ok(())
    }
}

impl RowSink for [u8] {
    fn span_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8]> {
        offset
            .checked_add(len)
            .and_then(|end| self.get_mut(offset..end))
            .ok_or_else(|| Error::internal("placement outside the output buffer"))
    }
}

/// Copy one decoded tile (chunky `(rows, tile_width, samples)`, `elem` bytes per sample) into
/// the output as `p` says. Bounds are checked; a mismatch is an internal error, never a panic.
pub fn place_tile<S: RowSink + ?Sized>(
    decoded: &[u8],
    tile_width: u32,
    samples: u16,
    elem: usize,
    p: &Placement,
    dst: &mut S,
) -> Result<()> {
    let tw = tile_width as usize;
    let spp = samples as usize;
    let px_bytes = elem * spp;
    let run = p.cols as usize * elem;
    let mut gathered: Vec<u8> = Vec::new();
    for r in 0..p.rows as usize {
        let src_px = (p.src_row as usize + r) * tw + p.src_col as usize;
        let src_start = src_px * px_bytes + p.sample as usize * elem;
        let dst_start = p.dst_offset_bytes + r * p.dst_row_stride_bytes;
        if spp == 1 {
            let src_row = decoded
                .get(src_start..src_start + run)
                .ok_or_else(|| Error::internal("placement outside the decoded tile"))?;
            dst.put(dst_start, src_row)?;
        } else {
            let src_end = src_start + (p.cols as usize).saturating_sub(1) * px_bytes + elem;
            let src_row = decoded
                .get(src_start..src_end)
                .ok_or_else(|| Error::internal("placement outside the decoded tile"))?;
            gathered.clear();
            for s in src_row.chunks(px_bytes) {
                gathered.extend_from_slice(s.get(..elem).unwrap_or(s));
            }
            dst.put(dst_start, &gathered)?;
        }
    }
    Ok(())
}

/// [`place_tile`] for a tile decoded without its predictor
/// ([`codec::decode_into_differenced`]): each placed row's differencing is undone on the way
/// out, for the placement's columns only. One sample per pixel.
pub fn place_tile_differenced<S: RowSink + ?Sized>(
    decoded: &[u8],
    tile_width: u32,
    elem: usize,
    p: &Placement,
    dst: &mut S,
) -> Result<()> {
    let row_bytes = tile_width as usize * elem;
    let (c0, c1) = (p.src_col as usize, p.src_col as usize + p.cols as usize);
    let run = p.cols as usize * elem;
    for r in 0..p.rows as usize {
        let start = (p.src_row as usize + r) * row_bytes;
        let row = decoded
            .get(start..start + row_bytes)
            .ok_or_else(|| Error::internal("placement outside the decoded tile"))?;
        let out = dst.span_mut(p.dst_offset_bytes + r * p.dst_row_stride_bytes, run)?;
        codec::predictor::horizontal_span(row, elem, c0, c1, out)?;
    }
    Ok(())
}

/// Fill the placement's rectangle with `fill` (one element's bytes).
pub fn place_fill(fill: &[u8], p: &Placement, dst: &mut [u8]) -> Result<()> {
    let run = p.cols as usize * fill.len();
    for r in 0..p.rows as usize {
        let start = p.dst_offset_bytes + r * p.dst_row_stride_bytes;
        let row = dst
            .get_mut(start..start + run)
            .ok_or_else(|| Error::internal("fill outside the output buffer"))?;
        for d in row.chunks_exact_mut(fill.len().max(1)) {
            d.copy_from_slice(fill);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    pub(crate) fn layout(w: u32, h: u32, tw: u32, th: u32, tiled: bool) -> ImageLayout {
        let n = (w.div_ceil(tw) * h.div_ceil(th)) as usize;
        ImageLayout {
            ifd_index: 0,
            width: w,
            height: h,
            tile_width: tw,
            tile_height: th,
            tiled,
            bits_per_sample: 16,
            sample_format: 1,
            samples_per_pixel: 1,
            planar_configuration: 1,
            compression: 1,
            predictor: 1,
            photometric: Some(1),
            extra_samples: vec![],
            tile_offsets: (0..n as u64).map(|i| 1000 + i * 100).collect(),
            tile_byte_counts: vec![100; n],
            jpeg_tables: None,
            ycbcr_subsampling: None,
            lerc_parameters: None,
            new_subfile_type: 0,
            little_endian: true,
        }
    }

    fn req(l: &Arc<ImageLayout>, w: Window) -> WindowRequest {
        WindowRequest {
            url: "mem://a".into(),
            layout: l.clone(),
            nodata: None,
            band_index: 0,
            window: w,
            out_offset_bytes: 0,
            out_row_stride_bytes: w.width as usize * 2,
        }
    }

    #[test]
    fn tile_byte_counts_past_the_limit_fail_their_request_before_any_fetch() {
        assert_eq!(max_tile_byte_count(2048), MIN_TILE_BYTE_LIMIT);
        assert_eq!(
            max_tile_byte_count(512 * 512 * 2),
            512 * 512 * 2 * 10 + 4096
        );
        assert_eq!(max_tile_byte_count(u64::MAX), u64::MAX);
        let w = Window {
            col_off: 0,
            row_off: 0,
            width: 40,
            height: 10,
        };
        // 32x32 u16 tiles (2 KiB decoded): the 1 MiB floor applies
        let mut at_limit = layout(100, 100, 32, 32, true);
        at_limit.tile_byte_counts[1] = MIN_TILE_BYTE_LIMIT;
        let plan = plan_reads(&[req(&Arc::new(at_limit.clone()), w)]).unwrap();
        assert!(plan.failed.is_empty());
        assert_eq!(plan.jobs.len(), 2);
        let mut past = at_limit;
        past.tile_byte_counts[1] = 4 << 30;
        let other = Window {
            col_off: 64,
            width: 20,
            ..w
        };
        let plan =
            plan_reads(&[req(&Arc::new(past.clone()), w), req(&Arc::new(past), other)]).unwrap();
        assert_eq!(plan.failed.len(), 1);
        let (index, err) = &plan.failed[0];
        assert_eq!(*index, 0);
        assert_eq!(err.kind(), Kind::Corrupt);
        let msg = err.to_string();
        assert!(
            msg.contains("mem://a") && msg.contains("tile (col 1, row 0)"),
            "{msg}"
        );
        assert!(
            msg.contains("4294967296") && msg.contains("1048576-byte limit"),
            "{msg}"
        );
        assert_eq!(
            plan.jobs.len(),
            1,
            "the other request's tile is still planned"
        );
        // a sparse tile (offset 0) is never fetched: its count does not matter
        let mut sparse = layout(100, 100, 32, 32, true);
        sparse.tile_offsets[1] = 0;
        sparse.tile_byte_counts[1] = u64::MAX;
        assert!(plan_reads(&[req(&Arc::new(sparse), w)])
            .unwrap()
            .failed
            .is_empty());
    }

    #[test]
    fn window_crossing_four_tiles_plans_four_jobs() {
        let l = Arc::new(layout(100, 100, 32, 32, true));
        let w = Window {
            col_off: 20,
            row_off: 20,
            width: 20,
            height: 20,
        };
        let plan = plan_reads(&[req(&l, w)]).unwrap();
        assert_eq!(plan.jobs.len(), 4);
        let total: u32 = plan
            .placements
            .iter()
            .flatten()
            .map(|p| p.rows * p.cols)
            .sum();
        assert_eq!(total, 400);
        assert_eq!(plan.required_output_bytes, 20 * 20 * 2);
        // First tile only needs rows up to 31 -> all 32; tile row 1 needs rows 0..8.
        let lower = plan.jobs.iter().find(|j| j.tile_row == 1).unwrap();
        assert_eq!(lower.rows_needed, 8);
    }

    #[test]
    fn shared_tiles_are_planned_once() {
        let l = Arc::new(layout(64, 64, 64, 64, true));
        let w = Window {
            col_off: 0,
            row_off: 0,
            width: 8,
            height: 8,
        };
        let mut r2 = req(&l, w);
        r2.out_offset_bytes = 128;
        let plan = plan_reads(&[req(&l, w), r2]).unwrap();
        assert_eq!(plan.jobs.len(), 1);
        assert_eq!(plan.placements[0].len(), 2);
    }

    #[test]
    fn window_outside_image_plans_nothing_but_edges_clip() {
        let l = Arc::new(layout(50, 40, 32, 32, true));
        let outside = Window {
            col_off: 60,
            row_off: 0,
            width: 5,
            height: 5,
        };
        assert!(plan_reads(&[req(&l, outside)]).unwrap().jobs.is_empty());
        let edge = Window {
            col_off: 40,
            row_off: 30,
            width: 20,
            height: 20,
        };
        let plan = plan_reads(&[req(&l, edge)]).unwrap();
        let total: u32 = plan
            .placements
            .iter()
            .flatten()
            .map(|p| p.rows * p.cols)
            .sum();
        assert_eq!(total, 10 * 10);
    }

    #[test]
    fn last_strip_stores_fewer_rows() {
        let l = Arc::new(layout(10, 25, 10, 8, false));
        let w = Window {
            col_off: 0,
            row_off: 0,
            width: 10,
            height: 25,
        };
        let plan = plan_reads(&[req(&l, w)]).unwrap();
        let last = plan.jobs.iter().find(|j| j.tile_row == 3).unwrap();
        assert_eq!((last.rows, last.rows_needed), (1, 1));
    }

    #[test]
    fn a_corrupt_layout_fails_its_request_alone() {
        let good = Arc::new(layout(64, 64, 32, 32, true));
        let mut short = layout(64, 64, 32, 32, true);
        short.tile_offsets.truncate(3);
        let mut zero = layout(64, 64, 32, 32, true);
        zero.tile_width = 0;
        let w = Window {
            col_off: 0,
            row_off: 0,
            width: 64,
            height: 64,
        };
        let plan = plan_reads(&[
            req(&Arc::new(short), w),
            req(&good, w),
            req(&Arc::new(zero), w),
        ])
        .unwrap();
        let failed: Vec<(usize, Kind)> = plan.failed.iter().map(|(r, e)| (*r, e.kind())).collect();
        assert_eq!(failed, vec![(0, Kind::Corrupt), (2, Kind::Corrupt)]);
        assert_eq!(plan.jobs.len(), 4);
        assert!(plan.placements.iter().flatten().all(|p| p.request == 1));
        // an inconsistent request (band out of range) still fails the whole plan
        let mut bad_band = req(&good, w);
        bad_band.band_index = 3;
        let err = plan_reads(&[req(&good, w), bad_band]).unwrap_err();
        assert_eq!(err.kind(), Kind::InvalidArgument);
    }

    #[test]
    fn too_small_stride_is_rejected() {
        let l = Arc::new(layout(10, 10, 10, 10, true));
        let mut r = req(
            &l,
            Window {
                col_off: 0,
                row_off: 0,
                width: 4,
                height: 4,
            },
        );
        r.out_row_stride_bytes = 4;
        assert!(plan_reads(&[r]).is_err());
    }

    #[test]
    fn overlapping_output_spans_are_flagged() {
        let l = Arc::new(layout(10, 10, 10, 10, true));
        let win = Window {
            col_off: 0,
            row_off: 0,
            width: 4,
            height: 4,
        };
        let a = req(&l, win);
        let mut b = req(&l, win);
        // a covers bytes 0..(3 * stride + 8); b right after it, then overlapping it
        b.out_offset_bytes = 3 * a.out_row_stride_bytes + 8;
        assert!(
            plan_reads(&[a.clone(), b.clone()])
                .unwrap()
                .outputs_disjoint
        );
        b.out_offset_bytes -= 2;
        assert!(!plan_reads(&[a.clone(), b]).unwrap().outputs_disjoint);
        assert!(plan_reads(&[a]).unwrap().outputs_disjoint);
    }

    #[test]
    fn place_tile_extracts_one_sample_of_chunky_pixels() {
        // 2x2 tile, 3 samples of u8: pixel value = 10*px + sample
        let decoded: Vec<u8> = (0..4u8)
            .flat_map(|px| (0..3u8).map(move |s| 10 * px + s))
            .collect();
        let p = Placement {
            request: 0,
            sample: 2,
            src_row: 0,
            src_col: 0,
            rows: 2,
            cols: 2,
            dst_offset_bytes: 0,
            dst_row_stride_bytes: 2,
        };
        let mut dst = vec![0u8; 4];
        place_tile(&decoded, 2, 3, 1, &p, dst.as_mut_slice()).unwrap();
        assert_eq!(dst, vec![2, 12, 22, 32]);
    }

    #[test]
    fn fill_bytes_casts_nodata() {
        let mut l = layout(1, 1, 1, 1, true);
        assert_eq!(fill_bytes(&l, Some(7.0)).unwrap(), 7u16.to_ne_bytes());
        assert_eq!(fill_bytes(&l, Some(f64::NAN)).unwrap(), 0u16.to_ne_bytes());
        l.sample_format = 3;
        l.bits_per_sample = 32;
        assert!(
            f32::from_ne_bytes(fill_bytes(&l, Some(f64::NAN)).unwrap().try_into().unwrap())
                .is_nan()
        );
    }
}
