//! Zonal statistics: count, sum, mean, min, max and standard deviation of the pixels of one
//! window that a polygon covers, folded as soon as the window's batch is decoded.
//!
//! Each request is a polygon's whole pixel window on one image band (it may reach outside
//! the image). Its part inside the image is cut into strips of rows (a bounded number of
//! bytes each, tile-row aligned when possible); strips are read in batches through
//! [`execute`], and while one batch is fetched the previous one is folded on the decode pool.
//! Nothing larger than a batch is ever held, and no pixel array leaves this module.
//!
//! Per strip the polygon is rasterized onto the rows of the request's grid that the strip
//! covers ([`rasterize_rows`]: GDAL's rules, `all_touched` or pixel centres), and a pixel
//! counts when it is burnt, inside the image, set in the image's internal mask (when it has
//! one), not NaN and not the nodata value. Strips merge with Chan's pairwise formulas, so the
//! standard deviation (population, `ddof = 0`) is that of a two-pass computation.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::geom::{rasterize_rows, Affine, Polygon};
use crate::io::runtime::decode_pool;
use crate::read::execute::{execute, ReadOptions, WindowFailure};
use crate::read::plan::{plan_reads, Window, WindowRequest};

mod sample;
use sample::{value, Sample};

/// Default strip size: the decoded bytes of one strip at most (unless one tile row is more).
pub const DEFAULT_STRIP_BYTES: usize = 16 * 1024 * 1024;
/// Default batch size: the decoded bytes read in one [`execute`] call at most.
pub const DEFAULT_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// One (geometry, image band) pair to reduce.
#[derive(Debug, Clone)]
pub struct ZonalRequest {
    /// The geometry's whole window on the image (offsets may be negative, the window may
    /// extend past the image); its output offset and stride are ignored.
    pub read: WindowRequest,
    /// The image's internal mask (a uint8 layout of the same size, 0 = invalid pixel), when
    /// it has one; its window is taken from `read`.
    pub mask: Option<WindowRequest>,
    /// Index of the geometry in the polygons given to [`zonal_stats`].
    pub geometry: usize,
    /// Pixel -> world transform of `read.window` (its pixel (0, 0) is the window's first).
    pub transform: Affine,
    /// Pixel value left out of the statistics (NaN always is).
    pub nodata: Option<f64>,
}

/// Knobs of one [`zonal_stats`] call.
#[derive(Debug, Clone)]
pub struct ZonalOptions {
    pub all_touched: bool,
    pub strip_bytes: usize,
    pub batch_bytes: usize,
}

impl Default for ZonalOptions {
    fn default() -> Self {
        Self {
            all_touched: false,
            strip_bytes: DEFAULT_STRIP_BYTES,
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

/// Running statistics of a set of pixel values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Sum of squared deviations from `mean`.
    pub m2: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
        }
    }
}

impl Stats {
    /// Add the values of `other` (Chan et al.'s pairwise update of mean and `m2`).
    pub fn merge(&mut self, other: &Stats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (n1, n2) = (self.count as f64, other.count as f64);
        let n = n1 + n2;
        let delta = other.mean - self.mean;
        self.mean += delta * n2 / n;
        self.m2 += other.m2 + delta * delta * n1 * n2 / n;
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Population standard deviation (None without values).
    pub fn std(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.m2 / self.count as f64).sqrt())
    }
}

/// One strip of one request: image rows `rows`, image columns `cols`.
#[derive(Debug, Clone)]
struct Strip {
    request: usize,
    rows: Range<i64>,
    cols: Range<i64>,
}

/// The strips of every request, in request order (a request outside its image has none).
fn strips(requests: &[ZonalRequest], strip_bytes: usize) -> Result<Vec<Strip>> {
    let mut out = Vec::new();
    for (i, z) in requests.iter().enumerate() {
        let w = z.read.window;
        let lay = &z.read.layout;
        let cols = w.col_off.max(0)..(w.col_off + w.width as i64).min(i64::from(lay.width));
        let rows = w.row_off.max(0)..(w.row_off + w.height as i64).min(i64::from(lay.height));
        if cols.is_empty() || rows.is_empty() {
            continue;
        }
        let row_bytes =
            (cols.end - cols.start) as usize * crate::codec::element_bytes(lay.bits_per_sample)?;
        let tile_rows = i64::from(lay.tile_height.max(1));
        let mut per_strip = (strip_bytes / row_bytes.max(1)).max(1) as i64;
        if per_strip >= tile_rows {
            per_strip -= per_strip % tile_rows;
        }
        let mut start = rows.start;
        while start < rows.end {
            let end = ((start / per_strip + 1) * per_strip).min(rows.end);
            out.push(Strip {
                request: i,
                rows: start..end,
                cols: cols.clone(),
            });
            start = end;
        }
    }
    Ok(out)
}

/// Where a strip's pixels (and its mask's) lie in its batch's buffer.
#[derive(Debug, Clone)]
struct Placed {
    strip: Strip,
    sample: Sample,
    data: usize,
    stride: usize,
    mask: Option<usize>,
}

/// The reads of one batch of strips, laid out back to back in one buffer.
struct Batch {
    /// Each strip's data window, then its mask window (when it has one).
    reads: Vec<WindowRequest>,
    /// Per read, the strip (index into `placed`) it belongs to.
    owner: Vec<usize>,
    placed: Vec<Placed>,
    /// Bytes of the buffer.
    bytes: usize,
}

/// The read requests of `strips` laid out back to back (each strip's data, then its mask).
fn lay_out(requests: &[ZonalRequest], strips: &[Strip]) -> Result<Batch> {
    let mut reads = Vec::with_capacity(strips.len());
    let mut owner = Vec::with_capacity(strips.len());
    let mut placed = Vec::with_capacity(strips.len());
    let mut end = 0usize;
    for (k, s) in strips.iter().enumerate() {
        let z = requests
            .get(s.request)
            .ok_or_else(|| Error::internal("bad zonal request index"))?;
        let lay = &z.read.layout;
        let sample = Sample::of(lay.bits_per_sample, lay.sample_format)?;
        let window = Window {
            col_off: s.cols.start,
            row_off: s.rows.start,
            width: (s.cols.end - s.cols.start) as u64,
            height: (s.rows.end - s.rows.start) as u64,
        };
        let (w, h) = (window.width as usize, window.height as usize);
        let stride = w * sample.size();
        let data = end.next_multiple_of(8);
        end = data + stride * h;
        reads.push(WindowRequest {
            window,
            out_offset_bytes: data,
            out_row_stride_bytes: stride,
            ..z.read.clone()
        });
        owner.push(k);
        let mask = match &z.mask {
            Some(m) => {
                let at = end.next_multiple_of(8);
                end = at + w * h;
                reads.push(WindowRequest {
                    window,
                    out_offset_bytes: at,
                    out_row_stride_bytes: w,
                    ..m.clone()
                });
                owner.push(k);
                Some(at)
            }
            None => None,
        };
        placed.push(Placed {
            strip: s.clone(),
            sample,
            data,
            stride,
            mask,
        });
    }
    Ok(Batch {
        reads,
        owner,
        placed,
        bytes: end,
    })
}

/// What a fold needs of a request.
#[derive(Debug, Clone)]
struct Zone {
    geometry: usize,
    transform: Affine,
    window: Window,
    nodata: Option<f64>,
}

/// The statistics of one placed strip in `buf`, its mask rows given (`mask` holds rows
/// `strip.rows` of the request's grid, `window.width` wide).
fn fold_strip(buf: &[u8], p: &Placed, zone: &Zone, mask: &[bool]) -> Result<Stats> {
    let missing = || Error::internal("zonal strip outside its buffer");
    let width = zone.window.width as usize;
    let (n_rows, n_cols) = (
        (p.strip.rows.end - p.strip.rows.start) as usize,
        (p.strip.cols.end - p.strip.cols.start) as usize,
    );
    let first_col = (p.strip.cols.start - zone.window.col_off) as usize;
    let size = p.sample.size();
    let each = |f: &mut dyn FnMut(f64)| -> Result<()> {
        for r in 0..n_rows {
            let row = buf
                .get(p.data + r * p.stride..p.data + r * p.stride + n_cols * size)
                .ok_or_else(missing)?;
            let burnt = mask
                .get(r * width + first_col..r * width + first_col + n_cols)
                .ok_or_else(missing)?;
            let valid = match p.mask {
                Some(at) => Some(
                    buf.get(at + r * n_cols..at + (r + 1) * n_cols)
                        .ok_or_else(missing)?,
                ),
                None => None,
            };
            for (c, (px, &inside)) in row.chunks_exact(size).zip(burnt).enumerate() {
                if !inside || valid.is_some_and(|v| v.get(c) == Some(&0)) {
                    continue;
                }
                if let Some(v) = value(p.sample, px, zone.nodata) {
                    f(v);
                }
            }
        }
        Ok(())
    };
    let mut s = Stats::default();
    each(&mut |v| {
        s.count += 1;
        s.sum += v;
        s.min = s.min.min(v);
        s.max = s.max.max(v);
    })?;
    if s.count > 0 {
        s.mean = s.sum / s.count as f64;
        let mean = s.mean;
        let mut m2 = 0.0;
        each(&mut |v| m2 += (v - mean) * (v - mean))?;
        s.m2 = m2;
    }
    Ok(s)
}

/// Fold every strip of `placed` (one batch, read into `buf`): per request, its statistics
/// or why they cannot be computed. Strips of one geometry on the same grid rows (the bands
/// of a record) share one mask.
fn fold_batch(
    buf: &[u8],
    placed: &[Placed],
    zones: &[Zone],
    polygons: &[Vec<Polygon>],
    all_touched: bool,
) -> Vec<(usize, Result<Stats>)> {
    use rayon::prelude::*;
    let key = |p: &Placed| {
        let z = zones.get(p.strip.request);
        z.map(|z| {
            let t = z.transform;
            (
                z.geometry,
                [t.a, t.b, t.c, t.d, t.e, t.f].map(f64::to_bits),
                z.window,
                p.strip.rows.clone(),
            )
        })
    };
    let mut groups: Vec<&[Placed]> = Vec::new();
    let mut rest = placed;
    while let Some(first) = rest.first() {
        let k = key(first);
        let n = rest.iter().take_while(|p| key(p) == k).count().max(1);
        let (group, tail) = rest.split_at(n.min(rest.len()));
        groups.push(group);
        rest = tail;
    }
    let run = || {
        groups
            .par_iter()
            .flat_map_iter(|group| {
                let mut mask: Option<Result<Vec<bool>>> = None;
                group.iter().map(move |p| {
                    let request = p.strip.request;
                    let Some(zone) = zones.get(request) else {
                        return (request, Err(Error::internal("bad zonal request index")));
                    };
                    let burnt = mask.get_or_insert_with(|| {
                        let parts = polygons
                            .get(zone.geometry)
                            .ok_or_else(|| Error::invalid("geometry index out of range"))?;
                        let top = zone.window.row_off;
                        let rows =
                            (p.strip.rows.start - top) as usize..(p.strip.rows.end - top) as usize;
                        rasterize_rows(
                            parts,
                            &zone.transform,
                            zone.window.width as usize,
                            zone.window.height as usize,
                            rows,
                            all_touched,
                        )
                    });
                    let stats = match burnt {
                        Ok(m) => fold_strip(buf, p, zone, m),
                        Err(e) => Err(e.clone()),
                    };
                    (request, stats)
                })
            })
            .collect()
    };
    // called on the decode pool: the groups spread over its threads
    run()
}

/// The statistics of a batch being folded, per strip: its request and its result.
type Fold = tokio::sync::oneshot::Receiver<Vec<(usize, Result<Stats>)>>;

/// Run `fold_batch` on the decode pool; the buffer and strips move there (the read of the
/// next batch proceeds meanwhile).
fn spawn_fold(
    buf: Vec<u8>,
    placed: Vec<Placed>,
    zones: Arc<Vec<Zone>>,
    polygons: Arc<Vec<Vec<Polygon>>>,
    all_touched: bool,
) -> Result<Fold> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    decode_pool()?.spawn(move || {
        // a panic in a rayon job would abort the process: it fails the batch's requests
        let folded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fold_batch(&buf, &placed, &zones, &polygons, all_touched)
        }))
        .unwrap_or_else(|panic| {
            let e = Error::from_panic(&*panic);
            placed
                .iter()
                .map(|p| (p.strip.request, Err(e.clone())))
                .collect()
        });
        let _ = tx.send(folded);
    });
    Ok(rx)
}

/// Consecutive ranges of `strips` whose decoded bytes stay within `batch_bytes` (a strip
/// bigger than that alone).
fn batches(requests: &[ZonalRequest], strips: &[Strip], batch_bytes: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0usize, 0usize);
    for (k, s) in strips.iter().enumerate() {
        let z = requests.get(s.request);
        let elem = z.map_or(1, |z| {
            crate::codec::element_bytes(z.read.layout.bits_per_sample).unwrap_or(1)
                + usize::from(z.mask.is_some())
        });
        let n = (s.rows.end - s.rows.start) as usize * (s.cols.end - s.cols.start) as usize * elem;
        if k > start && bytes + n > batch_bytes {
            out.push(start..k);
            start = k;
            bytes = 0;
        }
        bytes += n;
    }
    if start < strips.len() {
        out.push(start..strips.len());
    }
    out
}

/// The statistics of every request (`Stats::default()`, count 0, for one that covers no
/// valid pixel) and the requests that failed (a tile that cannot be fetched or decoded, a
/// geometry that cannot be rasterized), each once, in request order; their statistics are
/// meaningless.
///
/// # Errors
/// Errors of the whole read (invalid store options, cancellation), or an invalid request
/// (a geometry index out of range).
pub async fn zonal_stats(
    requests: &[ZonalRequest],
    polygons: Arc<Vec<Vec<Polygon>>>,
    opts: &ZonalOptions,
    read_opts: &ReadOptions,
) -> Result<(Vec<Stats>, Vec<WindowFailure>)> {
    if let Some(z) = requests.iter().find(|z| z.geometry >= polygons.len()) {
        return Err(Error::invalid(format!(
            "geometry index {} out of range for {} geometries",
            z.geometry,
            polygons.len()
        )));
    }
    let zones: Arc<Vec<Zone>> = Arc::new(
        requests
            .iter()
            .map(|z| Zone {
                geometry: z.geometry,
                transform: z.transform,
                window: z.read.window,
                nodata: z.nodata,
            })
            .collect(),
    );
    let all = strips(requests, opts.strip_bytes.max(1))?;
    let mut stats = vec![Stats::default(); requests.len()];
    let mut failed: BTreeMap<usize, Error> = BTreeMap::new();
    let mut absorb = |folded: Vec<(usize, Result<Stats>)>, failed: &mut BTreeMap<usize, Error>| {
        for (request, s) in folded {
            match (s, stats.get_mut(request)) {
                (Ok(s), Some(slot)) => slot.merge(&s),
                (Err(e), _) => {
                    failed.entry(request).or_insert(e);
                }
                (Ok(_), None) => {}
            }
        }
    };
    let mut pending: Option<Fold> = None;
    for range in batches(requests, &all, opts.batch_bytes.max(1)) {
        let batch = all.get(range).unwrap_or_default();
        let Batch {
            reads,
            owner,
            placed,
            bytes,
        } = lay_out(requests, batch)?;
        let plan = plan_reads(&reads)?;
        let mut buf = vec![0u8; bytes.max(plan.required_output_bytes)];
        let read = execute(&plan, &mut buf, read_opts);
        let failures = match pending.take() {
            Some(rx) => {
                let (failures, folded) = futures::join!(read, rx);
                let folded = folded.map_err(|_| Error::internal("a zonal fold was dropped"))?;
                absorb(folded, &mut failed);
                failures?
            }
            None => read.await?,
        };
        let mut bad = vec![false; placed.len()];
        for f in failures {
            let k = owner.get(f.request).copied();
            if let Some(slot) = k.and_then(|k| bad.get_mut(k)) {
                *slot = true;
            }
            if let Some(p) = k.and_then(|k| placed.get(k)) {
                failed.entry(p.strip.request).or_insert(f.error);
            }
        }
        let good: Vec<Placed> = placed
            .into_iter()
            .zip(bad)
            .filter_map(|(p, bad)| (!bad).then_some(p))
            .collect();
        pending = Some(spawn_fold(
            buf,
            good,
            zones.clone(),
            polygons.clone(),
            opts.all_touched,
        )?);
    }
    if let Some(rx) = pending {
        let folded = rx
            .await
            .map_err(|_| Error::internal("a zonal fold was dropped"))?;
        absorb(folded, &mut failed);
    }
    let failures = failed
        .into_iter()
        .map(|(request, error)| WindowFailure { request, error })
        .collect();
    Ok((stats, failures))
}

#[cfg(test)]
mod tests;
