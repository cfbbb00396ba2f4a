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
    job: TileJob,
    bytes: Bytes,
    places: Vec<Placement>,
}

/// Decode `job` into this thread's scratch buffer and place it; returns nothing but errors.
fn decode_and_place(tile: &Arrived, out: &mut SharedOut, writers: &Writers) -> Result<()> {
    let job = &tile.job;
    let spec = job.spec();
    let len = codec::decoded_len(&spec, job.rows_needed)?;
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

/// Decode and place `tiles` on the rayon pool; resolves to the number placed.
async fn place_on_pool(
    tiles: Vec<Arrived>,
    out: SharedOut,
    writers: &Arc<Writers>,
) -> Result<usize> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let token = writers.enter();
    io::runtime::decode_pool()?.spawn(move || {
        let writers = &token.0;
        let mut out = out;
        // A panic in a rayon job would abort the process: turn it into an error instead.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for tile in &tiles {
                if writers.cancelled.load(Ordering::Relaxed) {
                    return Err(Error::new(
                        crate::error::Kind::Cancelled,
                        "read stopped before this tile was decoded",
                    ));
                }
                decode_and_place(tile, &mut out, writers)?;
            }
            Ok(tiles.len())
        }))
        .unwrap_or_else(|panic| Err(Error::from_panic(&*panic)));
        let _ = tx.send(result);
        drop(token);
    });
    rx.await
        .map_err(|_| Error::internal("the decode pool dropped a job"))?
}

/// Fetch one batch; each merged response is decoded and placed as soon as it arrives.
async fn fetch_and_place(
    plan: &ReadPlan,
    batch: Vec<usize>,
    sources: &HashMap<Arc<str>, Source>,
    out: SharedOut,
    writers: &Arc<Writers>,
    gate: &io::ByteBudget,
) -> Result<usize> {
    let first = batch
        .first()
        .and_then(|&j| plan.jobs.get(j))
        .ok_or_else(|| Error::internal("empty tile batch"))?;
    let source = sources
        .get(&first.url)
        .ok_or_else(|| Error::internal("no source for URL"))?;
    let mut ranges: Vec<Range<u64>> = Vec::with_capacity(batch.len());
    for &j in &batch {
        let t = plan
            .jobs
            .get(j)
            .ok_or_else(|| Error::internal("bad job index"))?;
        let end = t.offset_bytes.checked_add(t.byte_count).ok_or_else(|| {
            Error::corrupt(format!(
                "{}: tile byte range overflows",
                crate::io::redact(&t.url)
            ))
        })?;
        ranges.push(t.offset_bytes..end);
    }
    // Each arriving part goes straight to the decode pool, which drops it once placed: the
    // parts never wait on each other, as the gate requires.
    let mut arriving = source.get_ranges_as_ready(&ranges, Some(gate.clone()))?;
    let mut decoding = FuturesUnordered::new();
    let mut placed = 0;
    loop {
        tokio::select! {
            part = arriving.next(), if !arriving.is_empty() => {
                let Some(part) = part else { continue };
                let mut tiles = Vec::new();
                for (i, bytes) in part? {
                    let j = *batch.get(i).ok_or_else(|| Error::internal("bad range index"))?;
                    let (Some(job), Some(places)) = (plan.jobs.get(j), plan.placements.get(j))
                    else {
                        return Err(Error::internal("bad job index"));
                    };
                    tiles.push(Arrived { job: job.clone(), bytes, places: places.clone() });
                }
                decoding.push(place_on_pool(tiles, out, writers));
            }
            done = decoding.next(), if !decoding.is_empty() => {
                if let Some(done) = done {
                    placed += done?;
                }
            }
            else => break,
        }
    }
    Ok(placed)
}

/// Execute `plan`, writing into `dst` (which must hold `plan.required_output_bytes`).
pub async fn execute(plan: &ReadPlan, dst: &mut [u8], opts: &ReadOptions) -> Result<()> {
    execute_with_progress(plan, dst, opts, None).await
}

/// Number of tiles `plan` fetches (its non-sparse jobs): the total for progress reports.
pub fn tiles_to_fetch(plan: &ReadPlan) -> usize {
    plan.jobs.iter().filter(|j| !j.is_sparse()).count()
}

/// [`execute`], adding the number of tiles placed so far to `done` as batches finish.
pub async fn execute_with_progress(
    plan: &ReadPlan,
    dst: &mut [u8],
    opts: &ReadOptions,
    done: Option<&AtomicUsize>,
) -> Result<()> {
    if dst.len() < plan.required_output_bytes {
        return Err(Error::invalid(format!(
            "output buffer holds {} bytes, the read needs {}",
            dst.len(),
            plan.required_output_bytes
        )));
    }
    // Sparse tiles: fill, no I/O (before any decode job may write).
    for (job, places) in plan.jobs.iter().zip(&plan.placements) {
        if job.is_sparse() {
            let fill = fill_bytes(&job.layout, job.nodata)?;
            for p in places {
                place_fill(&fill, p, dst)?;
            }
        }
    }
    let mut sources: HashMap<Arc<str>, Source> = HashMap::new();
    for job in &plan.jobs {
        if !job.is_sparse() && !sources.contains_key(&job.url) {
            sources.insert(job.url.clone(), Source::open(&job.url, &opts.io)?);
        }
    }
    let sources = &sources;
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
            let _held = budget.acquire(batch_bytes(plan, &b)).await?;
            fetch_and_place(plan, b, sources, out, writers, gate).await
        })
        .buffer_unordered(opts.batches_in_flight.max(1));
    while let Some(placed) = pending.next().await {
        let placed = placed?;
        if let Some(counter) = done {
            counter.fetch_add(placed, Ordering::Relaxed);
        }
    }
    Ok(())
}
