//! Run a [`ReadPlan`]: fetch tiles concurrently (tokio), decode them on the rayon pool, and
//! place decoded rows into the output. Only this driver loop writes the output buffer.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, StreamExt};

use crate::codec;
use crate::error::{Error, Result};
use crate::io::{self, IoOptions, Source};
use crate::read::buffers;
use crate::read::plan::{fill_bytes, place_fill, place_tile, ReadPlan, TileJob};

/// Knobs of one read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub io: IoOptions,
    /// Tiles per fetch+decode batch (one `get_ranges` call, one pool job).
    pub tiles_per_batch: usize,
    /// Batches in flight at once (bounds memory: decoded tiles wait here to be placed).
    pub batches_in_flight: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            io: IoOptions::default(),
            tiles_per_batch: 16,
            batches_in_flight: 16,
        }
    }
}

/// A decoded tile waiting to be placed: job index + its native-endian samples.
struct Decoded {
    job: usize,
    data: Vec<u8>,
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

fn decode_job(job: &TileJob, bytes: &[u8]) -> Result<Vec<u8>> {
    let spec = job.spec();
    let len = codec::decoded_len(&spec, job.rows_needed)?;
    let mut data = buffers::take(len);
    codec::decode_into(bytes, &spec, job.rows_needed, &mut data).map_err(|e| {
        e.context(format!(
            "{}: tile (col {}, row {}) at bytes {}..{}",
            crate::io::redact(&job.url),
            job.tile_col,
            job.tile_row,
            job.offset_bytes,
            job.offset_bytes.saturating_add(job.byte_count)
        ))
    })?;
    Ok(data)
}

/// Decode a batch on the rayon pool and await the result without blocking the runtime.
async fn decode_on_pool(jobs: Vec<(usize, TileJob, Bytes)>) -> Result<Vec<Decoded>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    io::runtime::decode_pool()?.spawn(move || {
        // A panic in a rayon job would abort the process: turn it into an error instead.
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            jobs.iter()
                .map(|(j, job, bytes)| decode_job(job, bytes).map(|data| Decoded { job: *j, data }))
                .collect::<Result<Vec<Decoded>>>()
        }))
        .unwrap_or_else(|panic| Err(Error::from_panic(&*panic)));
        let _ = tx.send(out);
    });
    rx.await
        .map_err(|_| Error::internal("the decode pool dropped a job"))?
}

async fn fetch_and_decode(
    plan: &ReadPlan,
    batch: Vec<usize>,
    sources: &HashMap<Arc<str>, Source>,
) -> Result<Vec<Decoded>> {
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
    let fetched = source.get_ranges(&ranges).await?;
    let jobs = batch
        .into_iter()
        .zip(fetched)
        .filter_map(|(j, bytes)| plan.jobs.get(j).map(|t| (j, t.clone(), bytes)))
        .collect();
    decode_on_pool(jobs).await
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
    // Sparse tiles: fill, no I/O.
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
    let mut pending = stream::iter(batches(plan, opts.tiles_per_batch))
        .map(|b| fetch_and_decode(plan, b, sources))
        .buffer_unordered(opts.batches_in_flight.max(1));
    while let Some(decoded) = pending.next().await {
        let decoded = decoded?;
        let placed = decoded.len();
        for tile in decoded {
            let job = plan
                .jobs
                .get(tile.job)
                .ok_or_else(|| Error::internal("bad job index"))?;
            let elem = codec::element_bytes(job.layout.bits_per_sample)?;
            let places = plan
                .placements
                .get(tile.job)
                .ok_or_else(|| Error::internal("bad job index"))?;
            for p in places {
                place_tile(&tile.data, job.layout.tile_width, job.samples, elem, p, dst)?;
            }
            buffers::give(tile.data);
        }
        if let Some(counter) = done {
            counter.fetch_add(placed, Ordering::Relaxed);
        }
    }
    Ok(())
}
