//! Run a [`ReadPlan`]: fetch tiles concurrently (tokio) and, as each response arrives, decode
//! its tiles on the rayon pool straight into the output.
//!
//! Memory stays bounded by what is in flight: the compressed bytes of the batches being
//! fetched plus one tile-sized scratch buffer per decode thread (decoded tiles are placed by
//! the thread that decoded them, never queued).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bytes::Bytes;
use futures::stream::{self, FuturesUnordered, StreamExt};

use crate::codec;
use crate::error::{Error, Result};
use crate::io::{self, IoOptions, Source};
use crate::read::plan::{
    fill_bytes, place_fill, place_tile, place_tile_differenced, Placement, ReadPlan, RowSink,
    TileJob,
};

/// Knobs of one read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub io: IoOptions,
    /// Tiles per fetch batch (one `get_ranges` call: its nearby tiles share requests).
    pub tiles_per_batch: usize,
    /// Batches in flight at once (bounds memory: their compressed bytes are held until decoded).
    pub batches_in_flight: usize,
    /// Compressed bytes of the batches in flight at most (a batch bigger than this runs
    /// alone): the memory a read holds for responses, whatever the tile size.
    pub max_bytes_in_flight: u64,
    /// Bytes of HTTP responses received but not yet decoded at most: further bodies wait in
    /// the socket buffers (see [`ByteBudget`](crate::io::ByteBudget)); one body takes at most
    /// a quarter of it.
    pub max_bytes_received: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            io: IoOptions::default(),
            tiles_per_batch: 16,
            batches_in_flight: 16,
            max_bytes_in_flight: DEFAULT_MAX_BYTES_IN_FLIGHT,
            max_bytes_received: DEFAULT_MAX_BYTES_RECEIVED,
        }
    }
}

/// Default [`ReadOptions::max_bytes_in_flight`]: 16 batches of 16 typical 512-px tiles fit
/// (about 50 MiB); 1024-px float tiles are held to this instead of hundreds of MiB.
pub const DEFAULT_MAX_BYTES_IN_FLIGHT: u64 = 128 * 1024 * 1024;

/// Default [`ReadOptions::max_bytes_received`]: a few merged responses per decode thread.
/// Measured on the ZSTD AOI benchmark read (B2z, 48 x 2.5 MiB): with everything received as
/// it arrived, 40-70 MiB of responses waited for the decode threads in fresh memory (about
/// 18,800 page faults in a new process); gated at 8-16 MiB, 0.213 -> 0.204-0.207 s and 7%
/// less CPU time.
pub const DEFAULT_MAX_BYTES_RECEIVED: u64 = 16 * 1024 * 1024;

/// Scratch buffers above this size are freed after use instead of kept for the next tile.
const SCRATCH_KEEP_BYTES: usize = 16 * 1024 * 1024;

thread_local! {
    /// Per decode thread: the tile being decoded, reused from tile to tile.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The caller's output buffer, written by the decode threads.
#[derive(Clone, Copy)]
struct SharedOut {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: `SharedOut` is only created in `execute_with_progress` from the `&mut [u8]` it holds
// for its whole run, and that function does not return (nor is its future dropped) before
// every decode job that got a copy has finished (`Writers` / `WaitForWriters`). Concurrent
// jobs write disjoint bytes (the plan's `outputs_disjoint`) or take `Writers::serial`.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    fn new(dst: &mut [u8]) -> Self {
        Self {
            ptr: dst.as_mut_ptr(),
            len: dst.len(),
        }
    }
}

impl RowSink for SharedOut {
    fn span_mut(&mut self, offset: usize, len: usize) -> Result<&mut [u8]> {
        let fits = offset.checked_add(len).is_some_and(|end| end <= self.len);
        if !fits {
            return Err(Error::internal("placement outside the output buffer"));
        }
        // SAFETY: `offset..offset + len` lies inside the live output buffer (checked above;
        // see the `Send`/`Sync` note for why it is live and why no other thread touches these
        // bytes now). The slice is used only while this job places its tile, and never
        // overlaps a decoded tile (those live in the job's own scratch).
        Ok(unsafe { std::slice::from_raw_parts_mut(self.ptr.add(offset), len) })
    }
}

/// Decode jobs that may still write into the output.
struct Writers {
    active: Mutex<usize>,
    idle: Condvar,
    /// Set when the read stops early: queued jobs then skip their work.
    cancelled: AtomicBool,
    /// Held while placing when requests' output spans overlap (placement is then serial).
    serial: Option<Mutex<()>>,
}

impl Writers {
    fn new(serial: bool) -> Arc<Self> {
        Arc::new(Self {
            active: Mutex::new(0),
            idle: Condvar::new(),
            cancelled: AtomicBool::new(false),
            serial: serial.then(|| Mutex::new(())),
        })
    }

    /// Count one more job until the returned token is dropped.
    fn enter(self: &Arc<Self>) -> WriterToken {
        *self.active.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        WriterToken(self.clone())
    }
}

/// One job's claim on the output; dropping it (even while unwinding) releases it.
struct WriterToken(Arc<Writers>);

impl Drop for WriterToken {
    fn drop(&mut self) {
        let mut active = self.0.active.lock().unwrap_or_else(PoisonError::into_inner);
        *active = active.saturating_sub(1);
        if *active == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// Blocks, when dropped, until no job writes into the output any more: the output borrow
/// must outlive every writer, also when a read fails or is cancelled half-way.
struct WaitForWriters(Arc<Writers>);

impl Drop for WaitForWriters {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
        let mut active = self.0.active.lock().unwrap_or_else(PoisonError::into_inner);
        while *active > 0 {
            active = self
                .0
                .idle
                .wait(active)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Group the plan's non-sparse jobs per URL into batches of nearby tiles (sorted by offset).
fn batches(plan: &ReadPlan, per_batch: usize) -> Vec<Vec<usize>> {
    let mut by_url: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, job) in plan.jobs.iter().enumerate() {
        if !job.is_sparse() {
            by_url.entry(&job.url).or_default().push(j);
        }
    }
    let mut out = Vec::new();
    let mut urls: Vec<_> = by_url.into_iter().collect();
    urls.sort_by(|a, b| a.0.cmp(b.0));
    for (_, mut jobs) in urls {
        jobs.sort_by_key(|&j| plan.jobs.get(j).map_or(0, |t| t.offset_bytes));
        for chunk in jobs.chunks(per_batch.max(1)) {
            out.push(chunk.to_vec());
        }
    }
    out
}

/// Compressed bytes of a batch's tiles.
fn batch_bytes(plan: &ReadPlan, batch: &[usize]) -> u64 {
    batch
        .iter()
        .filter_map(|&j| plan.jobs.get(j))
        .map(|t| t.byte_count)
        .sum()
}

/// A fetched tile with where its pixels go.
struct Arrived {
    /// Index of the job in the plan.
    index: usize,
    job: TileJob,
    bytes: Bytes,
    places: Vec<Placement>,
}

/// A window (request of the plan) that could not be read, and why. Its output bytes may be
/// partly written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowFailure {
    pub request: usize,
    pub error: Error,
}

/// What part of the plan some work did: tiles placed, and tiles (job indices) that failed.
#[derive(Debug, Default)]
struct Outcome {
    placed: usize,
    failed: Vec<(usize, Error)>,
}

impl Outcome {
    /// Every job of `jobs` failed with `error`.
    fn all_failed(jobs: &[usize], error: &Error) -> Self {
        Self {
            placed: 0,
            failed: jobs.iter().map(|&j| (j, error.clone())).collect(),
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.placed += other.placed;
        self.failed.extend(other.failed);
    }
}

/// Whether an error stops the whole read rather than failing the tiles it came from: the
/// read was cancelled (Ctrl-C, or the read is being dropped).
fn stops_the_read(e: &Error) -> bool {
    e.kind() == crate::error::Kind::Cancelled
}

/// `Ok(outcome)` for a tile-level error, `Err` for one that stops the read.
fn tile_error(jobs: &[usize], e: Error) -> Result<Outcome> {
    if stops_the_read(&e) {
        Err(e)
    } else {
        Ok(Outcome::all_failed(jobs, &e))
    }
}

/// Decode `job` into this thread's scratch buffer and place it; returns nothing but errors.
fn decode_and_place(tile: &Arrived, out: &mut SharedOut, writers: &Writers) -> Result<()> {
    let job = &tile.job;
    let spec = job.spec();
    // Room for the rows the placements need, or for the whole tile when the codec decodes it
    // whole anyway (it then decodes in place instead of through its own scratch buffer).
    let len = codec::decoded_len(&spec, codec::rows_to_decode(&spec, job.rows_needed))?;
    let elem = codec::element_bytes(job.layout.bits_per_sample)?;
    SCRATCH.with_borrow_mut(|scratch| {
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        let data = scratch
            .get_mut(..len)
            .ok_or_else(|| Error::internal("scratch buffer too small"))?;
        // A tile placed once undoes its predictor while being copied out (only the columns
        // and rows it needs); a tile shared by several placements undoes it once, here.
        let differenced = tile.places.len() == 1 && codec::predictor_deferrable(&spec);
        let decoded = if differenced {
            codec::decode_into_differenced(&tile.bytes, &spec, job.rows_needed, data)
        } else {
            codec::decode_into(&tile.bytes, &spec, job.rows_needed, data)
        };
        decoded.map_err(|e| {
            e.context(format!(
                "{}: tile (col {}, row {}) at bytes {}..{}",
                crate::io::redact(&job.url),
                job.tile_col,
                job.tile_row,
                job.offset_bytes,
                job.offset_bytes.saturating_add(job.byte_count)
            ))
        })?;
        let _serial = writers
            .serial
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner));
        for p in &tile.places {
            if differenced {
                place_tile_differenced(data, job.layout.tile_width, elem, p, out)?;
            } else {
                place_tile(data, job.layout.tile_width, job.samples, elem, p, out)?;
            }
        }
        Ok::<(), Error>(())
    })?;
    SCRATCH.with_borrow_mut(|scratch| {
        if scratch.capacity() > SCRATCH_KEEP_BYTES {
            *scratch = Vec::new();
        }
    });
    Ok(())
}

/// Decode and place each of `tiles` (a panic becomes that tile's error); a tile that fails
/// is reported in the outcome, the others are placed. Stops when the read is cancelled.
fn place_each(tiles: &[Arrived], out: &mut SharedOut, writers: &Writers) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for tile in tiles {
        if writers.cancelled.load(Ordering::Relaxed) {
            return Err(Error::new(
                crate::error::Kind::Cancelled,
                "read stopped before this tile was decoded",
            ));
        }
        // A panic in a rayon job would abort the process: turn it into an error instead.
        let placed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_and_place(tile, out, writers)
        }))
        .unwrap_or_else(|panic| Err(Error::from_panic(&*panic)));
        match placed {
            Ok(()) => outcome.placed += 1,
            Err(e) => outcome.merge(tile_error(&[tile.index], e)?),
        }
    }
    Ok(outcome)
}

/// Decode and place `tiles` on the rayon pool.
async fn place_on_pool(
    tiles: Vec<Arrived>,
    out: SharedOut,
    writers: &Arc<Writers>,
) -> Result<Outcome> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let token = writers.enter();
    io::runtime::decode_pool()?.spawn(move || {
        let mut out = out;
        let _ = tx.send(place_each(&tiles, &mut out, &token.0));
        drop(token);
    });
    rx.await
        .map_err(|_| Error::internal("the decode pool dropped a job"))?
}

/// The byte ranges of `batch`'s tiles, and the jobs they belong to; a tile whose range
/// overflows fails alone (in the outcome).
fn batch_ranges(
    plan: &ReadPlan,
    batch: &[usize],
) -> Result<(Vec<Range<u64>>, Vec<usize>, Outcome)> {
    let mut ranges: Vec<Range<u64>> = Vec::with_capacity(batch.len());
    let mut jobs = Vec::with_capacity(batch.len());
    let mut outcome = Outcome::default();
    for &j in batch {
        let t = plan
            .jobs
            .get(j)
            .ok_or_else(|| Error::internal("bad job index"))?;
        match t.offset_bytes.checked_add(t.byte_count) {
            Some(end) => {
                ranges.push(t.offset_bytes..end);
                jobs.push(j);
            }
            None => outcome.failed.push((
                j,
                Error::corrupt(format!(
                    "{}: tile byte range overflows",
                    crate::io::redact(&t.url)
                )),
            )),
        }
    }
    Ok((ranges, jobs, outcome))
}

/// The tiles of one merged response (`parts`: index into `jobs`, bytes), with their places.
fn arrived(plan: &ReadPlan, jobs: &[usize], parts: io::RangeParts) -> Result<Vec<Arrived>> {
    let mut tiles = Vec::with_capacity(parts.len());
    for (i, bytes) in parts {
        let j = *jobs
            .get(i)
            .ok_or_else(|| Error::internal("bad range index"))?;
        let (Some(job), Some(places)) = (plan.jobs.get(j), plan.placements.get(j)) else {
            return Err(Error::internal("bad job index"));
        };
        tiles.push(Arrived {
            index: j,
            job: job.clone(),
            bytes,
            places: places.clone(),
        });
    }
    Ok(tiles)
}

/// Fetch one batch from `source`; each merged response is decoded and placed as soon as it
/// arrives. Tiles whose request or decoding fails are reported in the outcome.
async fn fetch_and_place(
    plan: &ReadPlan,
    batch: &[usize],
    source: &Source,
    out: SharedOut,
    writers: &Arc<Writers>,
    gate: &io::ByteBudget,
) -> Result<Outcome> {
    let (ranges, jobs, mut outcome) = batch_ranges(plan, batch)?;
    // Each arriving part goes straight to the decode pool, which drops it once placed: the
    // parts never wait on each other, as the gate requires.
    let mut arriving = match source.get_ranges_as_ready(&ranges, Some(gate.clone())) {
        Ok(arriving) => arriving,
        Err(e) => return tile_error(&jobs, e),
    };
    let mut decoding = FuturesUnordered::new();
    loop {
        tokio::select! {
            part = arriving.next(), if !arriving.is_empty() => match part {
                Some(Ok(parts)) => {
                    decoding.push(place_on_pool(arrived(plan, &jobs, parts)?, out, writers));
                }
                Some(Err(failure)) => {
                    let failed: Vec<usize> =
                        failure.members.iter().filter_map(|&i| jobs.get(i).copied()).collect();
                    outcome.merge(tile_error(&failed, failure.error)?);
                }
                None => {}
            },
            done = decoding.next(), if !decoding.is_empty() => {
                if let Some(done) = done {
                    outcome.merge(done?);
                }
            }
            else => break,
        }
    }
    Ok(outcome)
}

/// Execute `plan`, writing into `dst` (which must hold `plan.required_output_bytes`); returns
/// the windows that failed (see [`execute_with_progress`]).
pub async fn execute(
    plan: &ReadPlan,
    dst: &mut [u8],
    opts: &ReadOptions,
) -> Result<Vec<WindowFailure>> {
    execute_with_progress(plan, dst, opts, None).await
}

/// Number of tiles `plan` fetches (its non-sparse jobs): the total for progress reports.
pub fn tiles_to_fetch(plan: &ReadPlan) -> usize {
    plan.jobs.iter().filter(|j| !j.is_sparse()).count()
}

/// Fill the sparse tiles of `plan` (no I/O); returns those that failed.
fn fill_sparse(plan: &ReadPlan, dst: &mut [u8]) -> Outcome {
    let mut outcome = Outcome::default();
    for (j, (job, places)) in plan.jobs.iter().zip(&plan.placements).enumerate() {
        if !job.is_sparse() {
            continue;
        }
        let filled = fill_bytes(&job.layout, job.nodata)
            .and_then(|fill| places.iter().try_for_each(|p| place_fill(&fill, p, dst)));
        if let Err(e) = filled {
            outcome.failed.push((j, e));
        }
    }
    outcome
}

/// The source of every URL the plan fetches from (or why it cannot be opened).
fn open_sources(plan: &ReadPlan, opts: &ReadOptions) -> HashMap<Arc<str>, Result<Source>> {
    let mut sources = HashMap::new();
    for job in &plan.jobs {
        if !job.is_sparse() && !sources.contains_key(&job.url) {
            sources.insert(job.url.clone(), Source::open(&job.url, &opts.io));
        }
    }
    sources
}

/// The windows of `plan` that failed: those the plan could not lay out, and those needing a
/// failed tile (each window once, with the first error found for it), in request order.
fn window_failures(plan: &ReadPlan, failed_jobs: Vec<(usize, Error)>) -> Vec<WindowFailure> {
    let mut by_request: HashMap<usize, Error> = HashMap::new();
    for (request, error) in plan.failed.iter().cloned() {
        by_request.entry(request).or_insert(error);
    }
    for (j, error) in failed_jobs {
        for p in plan.placements.get(j).into_iter().flatten() {
            by_request.entry(p.request).or_insert_with(|| error.clone());
        }
    }
    let mut failures: Vec<WindowFailure> = by_request
        .into_iter()
        .map(|(request, error)| WindowFailure { request, error })
        .collect();
    failures.sort_by_key(|f| f.request);
    failures
}

/// [`execute`], adding the number of tiles placed so far to `done` as batches finish.
///
/// A tile that cannot be fetched, decoded or placed fails every window that needs it; the
/// other windows are read in full, and the failed ones are returned (also those of
/// [`ReadPlan::failed`]). Errors that are not a tile's (the buffer is too small, the store
/// options are invalid, the read was cancelled) fail the whole read.
pub async fn execute_with_progress(
    plan: &ReadPlan,
    dst: &mut [u8],
    opts: &ReadOptions,
    done: Option<&AtomicUsize>,
) -> Result<Vec<WindowFailure>> {
    if dst.len() < plan.required_output_bytes {
        return Err(Error::invalid(format!(
            "output buffer holds {} bytes, the read needs {}",
            dst.len(),
            plan.required_output_bytes
        )));
    }
    io::store::validate_options(&opts.io.store_options)?;
    // Sparse tiles: fill, no I/O (before any decode job may write).
    let mut outcome = fill_sparse(plan, dst);
    let sources = &open_sources(plan, opts);
    // From here on `dst` is written only through `out`; `_wait` (dropped before `dst`'s borrow
    // ends, on every path out of this function) waits for the decode jobs still holding it.
    let out = SharedOut::new(dst);
    let writers = Writers::new(!plan.outputs_disjoint);
    let _wait = WaitForWriters(writers.clone());
    let writers = &writers;
    let budget = &io::ByteBudget::new(opts.max_bytes_in_flight, 1);
    let gate = &io::ByteBudget::new(opts.max_bytes_received, 4);
    let mut pending = stream::iter(batches(plan, opts.tiles_per_batch))
        .map(|b| async move {
            let url = b.first().and_then(|&j| plan.jobs.get(j)).map(|t| &t.url);
            let source = match url.and_then(|u| sources.get(u)) {
                Some(Ok(source)) => source,
                Some(Err(e)) => return tile_error(&b, e.clone()),
                None => return Err(Error::internal("no source for a tile batch")),
            };
            let _held = budget.acquire(batch_bytes(plan, &b)).await?;
            fetch_and_place(plan, &b, source, out, writers, gate).await
        })
        .buffer_unordered(opts.batches_in_flight.max(1));
    while let Some(batch) = pending.next().await {
        let batch = batch?;
        if let Some(counter) = done {
            counter.fetch_add(batch.placed, Ordering::Relaxed);
        }
        outcome.merge(batch);
    }
    Ok(window_failures(plan, outcome.failed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::read::plan::{plan_reads, Window, WindowRequest};
    use crate::tiff::ImageLayout;

    /// An 8x4 uint8 image in two 4x4 tiles at `offsets`, compressed as `compression`.
    fn layout(offsets: Vec<u64>, compression: u16) -> Arc<ImageLayout> {
        Arc::new(ImageLayout {
            ifd_index: 0,
            width: 8,
            height: 4,
            tile_width: 4,
            tile_height: 4,
            tiled: true,
            bits_per_sample: 8,
            sample_format: 1,
            samples_per_pixel: 1,
            planar_configuration: 1,
            compression,
            predictor: 1,
            photometric: Some(1),
            extra_samples: vec![],
            tile_byte_counts: vec![16; offsets.len()],
            tile_offsets: offsets,
            jpeg_tables: None,
            ycbcr_subsampling: None,
            lerc_parameters: None,
            new_subfile_type: 0,
            little_endian: true,
        })
    }

    fn request(url: &str, layout: &Arc<ImageLayout>, col_off: i64, slot: usize) -> WindowRequest {
        WindowRequest {
            url: url.into(),
            layout: layout.clone(),
            nodata: None,
            band_index: 0,
            window: Window {
                col_off,
                row_off: 0,
                width: 4,
                height: 4,
            },
            out_offset_bytes: slot * 16,
            out_row_stride_bytes: 4,
        }
    }

    #[test]
    fn failed_windows_are_reported_and_the_others_read() {
        // raw tiles at 16 (values 1..=16) and 32 (101..=116); 16 bytes of garbage at 48
        let path = std::env::temp_dir().join(format!(
            "rasteret-window-failures-{}-{}.bin",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut file = vec![0u8; 16];
        file.extend(1..=16u8);
        file.extend(101..=116u8);
        file.extend([0xFF; 16]);
        std::fs::write(&path, &file).unwrap();
        let good = path.to_str().unwrap();
        let missing = format!("{good}.missing");
        let raw = layout(vec![16, 32], 1);
        let garbage = layout(vec![48, 48], 8); // both tiles: a corrupt deflate stream
        let short_tables = layout(vec![16], 1); // two tiles, one table entry
        let requests = [
            request(good, &raw, 0, 0),
            request(&missing, &raw, 0, 1),
            request(good, &raw, 4, 2),
            request(good, &short_tables, 0, 3),
            request(good, &garbage, 0, 4),
            request(good, &garbage, 4, 5), // the same corrupt tile, needed by a second window
        ];
        let plan = plan_reads(&requests).unwrap();
        assert_eq!(
            plan.failed.len(),
            1,
            "short tile tables fail their request alone"
        );
        let mut out = vec![0u8; 6 * 16];
        let rt = crate::io::runtime().unwrap();
        let failures = rt
            .block_on(execute(&plan, &mut out, &ReadOptions::default()))
            .unwrap();
        let _ = std::fs::remove_file(&path);

        let got: Vec<(usize, Kind)> = failures
            .iter()
            .map(|f| (f.request, f.error.kind()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Kind::NotFound),
                (3, Kind::Corrupt),
                (4, Kind::Corrupt),
                (5, Kind::Corrupt)
            ]
        );
        assert!(
            failures[0].error.message().contains(".missing"),
            "{:?}",
            failures[0]
        );
        assert!(failures[1].error.message().contains("tile tables"));
        assert!(failures[2].error.message().contains("tile (col 0, row 0)"));
        assert_eq!(&out[..16], &file[16..32], "window 0 read in full");
        assert_eq!(&out[32..48], &file[32..48], "window 2 read in full");
    }

    #[test]
    fn a_missing_source_fails_only_its_windows() {
        let raw = layout(vec![16, 32], 1);
        let plan = plan_reads(&[request("/nonexistent/rasteret/a.tif", &raw, 0, 0)]).unwrap();
        let mut out = vec![7u8; 16];
        let rt = crate::io::runtime().unwrap();
        let failures = rt
            .block_on(execute(&plan, &mut out, &ReadOptions::default()))
            .unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].request, 0);
        assert_eq!(failures[0].error.kind(), Kind::NotFound);
        // a read whose output buffer is too small still fails as a whole
        let err = rt
            .block_on(execute(&plan, &mut out[..8], &ReadOptions::default()))
            .unwrap_err();
        assert_eq!(err.kind(), Kind::InvalidArgument);
    }
}
