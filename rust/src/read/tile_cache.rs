//! A bounded LRU of decoded tiles in front of the read engine, and the windows assembled
//! from it (what GDAL's block cache does for TorchGeo's own reader).
//!
//! A cached read looks every tile its windows need up in memory (then in an optional
//! directory of tiles shared with other processes), fetches and decodes the missing ones in
//! ONE engine read of whole tiles, keeps them, and copies each window out of its tiles. Keys
//! are `(url, ifd, band, tile row, tile col)`. With read-ahead, a missing tile brings the rest
//! of its tile row: those tiles follow it in a COG, so they arrive in the same requests.
//!
//! Pixels of a window outside its image are left untouched (the caller pre-fills them), as in
//! an uncached read; a window needing a tile that cannot be read fails alone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::codec;
use crate::error::{Error, Result};
use crate::read::execute::{execute_with_progress, ReadOptions, WindowFailure};
use crate::read::plan::{check_layout, coverage, is_file_error, plan_reads, request_extent};
use crate::read::{Window, WindowRequest};

/// Identity of one decoded tile of one band.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TileKey {
    url: Arc<str>,
    ifd: u32,
    band: u16,
    row: u32,
    col: u32,
}

impl TileKey {
    /// A stable text form, written at the head of a shared tile file to check it on read.
    fn label(&self) -> String {
        format!(
            "{}\n{}:{}:{}:{}\n",
            self.url, self.ifd, self.band, self.row, self.col
        )
    }
}

/// The memory part: tiles by key, with their last use for eviction.
#[derive(Default)]
struct Lru {
    tiles: HashMap<TileKey, (Arc<[u8]>, u64)>,
    by_use: BTreeMap<u64, TileKey>,
    clock: u64,
    bytes: usize,
}

impl Lru {
    fn get(&mut self, key: &TileKey) -> Option<Arc<[u8]>> {
        self.clock += 1;
        let now = self.clock;
        let (tile, used) = self.tiles.get_mut(key)?;
        self.by_use.remove(used);
        *used = now;
        self.by_use.insert(now, key.clone());
        Some(tile.clone())
    }

    fn put(&mut self, key: TileKey, tile: Arc<[u8]>, max_bytes: usize) {
        if tile.len() > max_bytes {
            return;
        }
        self.clock += 1;
        if let Some((old, used)) = self.tiles.remove(&key) {
            self.by_use.remove(&used);
            self.bytes -= old.len();
        }
        self.bytes += tile.len();
        self.by_use.insert(self.clock, key.clone());
        self.tiles.insert(key, (tile, self.clock));
        while self.bytes > max_bytes {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((old, _)) = self.tiles.remove(&oldest) {
                self.bytes -= old.len();
            }
        }
    }
}

/// Bytes a process writes to the shared directory between two checks of its size.
const CHECK_EVERY_BYTES: u64 = 16 * 1024 * 1024;

/// Decoded tiles as files in one directory, shared by the processes of one dataset (the
/// DataLoader workers of a TorchGeo dataset), bounded (approximately) by `max_bytes`.
///
/// A file holds the key's label then the tile's bytes; it is written under a temporary name
/// and renamed, so a reader sees a whole tile or none. A tile that vanished (evicted by
/// another process) or does not match is a miss, never an error; write failures are ignored.
struct SharedTiles {
    dir: PathBuf,
    max_bytes: u64,
    written: AtomicU64,
    temp_names: AtomicU64,
    hits: AtomicU64,
}

impl SharedTiles {
    fn file(&self, key: &TileKey) -> PathBuf {
        let mut a = DefaultHasher::new();
        key.hash(&mut a);
        let mut b = DefaultHasher::new();
        (0x5eed_u32, key).hash(&mut b);
        self.dir
            .join(format!("{:016x}{:016x}.tile", a.finish(), b.finish()))
    }

    fn get(&self, key: &TileKey, len: usize) -> Option<Arc<[u8]>> {
        let data = std::fs::read(self.file(key)).ok()?;
        let label = key.label();
        let tile = data.strip_prefix(label.as_bytes())?;
        if tile.len() != len {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Arc::from(tile))
    }

    fn put(&self, key: &TileKey, tile: &[u8]) {
        let mut body = key.label().into_bytes();
        body.extend_from_slice(tile);
        let size = body.len() as u64;
        if size > self.max_bytes {
            return;
        }
        let target = self.file(key);
        let n = self.temp_names.fetch_add(1, Ordering::Relaxed);
        let temp = self.dir.join(format!(".{}-{n}.tmp", std::process::id()));
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&temp, body))
            .and_then(|()| std::fs::rename(&temp, &target));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
            return;
        }
        let every = CHECK_EVERY_BYTES.min((self.max_bytes / 4).max(1));
        // a check brings the files to 3/4 of the budget, and less than 1/4 more is written
        // before the next one: one process keeps the directory within its budget
        let since = self.written.fetch_add(size, Ordering::Relaxed) + size;
        if since >= every {
            self.written.store(0, Ordering::Relaxed);
            evict_oldest(&self.dir, self.max_bytes, &target);
        }
    }
}

/// Bring the tile files of `dir` down to 3/4 of `max_bytes` when they exceed it, oldest first
/// (file times are coarse: ties go either way), never removing `keep`.
fn evict_oldest(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files = Vec::new();
    let mut total = 0u64;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "tile") {
            continue;
        }
        if let Ok(meta) = entry.metadata() {
            let modified = meta.modified().ok();
            total += meta.len();
            files.push((modified, meta.len(), path));
        }
    }
    if total <= max_bytes {
        return;
    }
    files.sort();
    let goal = max_bytes / 4 * 3;
    for (_, size, path) in files {
        if total <= goal {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            total -= size;
        }
    }
}

/// Decoded tiles kept by one process, bounded by `max_bytes`.
pub struct TileCache {
    max_bytes: usize,
    readahead_rows: bool,
    lru: Mutex<Lru>,
    shared: Mutex<Option<Arc<SharedTiles>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The tiles one window covers, on its image's tile grid (empty when it misses the image).
struct Covered {
    rows: std::ops::Range<i64>,
    cols: std::ops::Range<i64>,
}

fn covered(req: &WindowRequest) -> Result<Covered> {
    let (tw, th) = (
        i64::from(req.layout.tile_width),
        i64::from(req.layout.tile_height),
    );
    Ok(match coverage(req)? {
        Some(c) => Covered {
            rows: c.y0 / th..(c.y1 - 1) / th + 1,
            cols: c.x0 / tw..(c.x1 - 1) / tw + 1,
        },
        None => Covered {
            rows: 0..0,
            cols: 0..0,
        },
    })
}

/// Decoded bytes of one whole tile of `req`'s band.
fn tile_bytes(req: &WindowRequest) -> Result<usize> {
    let elem = codec::element_bytes(req.layout.bits_per_sample)?;
    (req.layout.tile_width as usize)
        .checked_mul(req.layout.tile_height as usize)
        .and_then(|n| n.checked_mul(elem))
        .ok_or_else(|| Error::corrupt("tile size overflows"))
}

fn key_of(req: &WindowRequest, row: i64, col: i64) -> TileKey {
    TileKey {
        url: req.url.clone(),
        ifd: req.layout.ifd_index,
        band: req.band_index,
        row: u32::try_from(row).unwrap_or(u32::MAX),
        col: u32::try_from(col).unwrap_or(u32::MAX),
    }
}

/// What one cached read works on: each window's tiles, the tiles at hand, the ones to fetch.
#[derive(Default)]
struct Lookup {
    /// Per request: its tile keys (None when the request failed before any I/O).
    keys: Vec<Option<Vec<TileKey>>>,
    got: HashMap<TileKey, Arc<[u8]>>,
    /// Missing tiles, each with the request whose layout describes it.
    missing: Vec<(TileKey, usize)>,
    failed: HashMap<TileKey, Error>,
    failed_requests: Vec<(usize, Error)>,
    /// Output bytes the windows write into at most.
    required_output_bytes: usize,
}

impl TileCache {
    pub fn new(max_bytes: usize, readahead_rows: bool) -> Self {
        Self {
            max_bytes,
            readahead_rows,
            lru: Mutex::default(),
            shared: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
    pub fn readahead_rows(&self) -> bool {
        self.readahead_rows
    }
    /// Tiles found (in memory or shared) and tiles fetched, over this cache's life.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
    /// Tiles found in the shared directory.
    pub fn shared_hits(&self) -> u64 {
        self.shared_tiles()
            .map_or(0, |s| s.hits.load(Ordering::Relaxed))
    }
    /// Tiles held in memory, and their bytes.
    pub fn len(&self) -> usize {
        self.memory().tiles.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn nbytes(&self) -> usize {
        self.memory().bytes
    }
    pub fn clear(&self) {
        *self.memory() = Lru::default();
    }

    /// Share tiles with other processes through files in `dir` (created on first write),
    /// at most about `max_bytes` of them.
    pub fn share(&self, dir: PathBuf, max_bytes: u64) {
        let shared = SharedTiles {
            dir,
            max_bytes,
            written: AtomicU64::new(0),
            temp_names: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        };
        *self.shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(shared));
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn shared_tiles(&self) -> Option<Arc<SharedTiles>> {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The tile `key` (`len` bytes) from memory, else from the shared directory (then kept
    /// in memory too); None when neither holds it.
    fn find(&self, key: &TileKey, len: usize, shared: Option<&SharedTiles>) -> Option<Arc<[u8]>> {
        if let Some(tile) = self.memory().get(key) {
            return Some(tile);
        }
        let tile = shared?.get(key, len)?;
        self.memory().put(key.clone(), tile.clone(), self.max_bytes);
        Some(tile)
    }

    /// Read every window of `requests` whose tiles are all held (in memory or the shared
    /// directory) into `dst`; returns, per request, whether it was read. Nothing is fetched;
    /// windows not read are left untouched (a read through [`read_cached`] then fetches
    /// their tiles and reports their errors).
    pub fn read_held(&self, requests: &[WindowRequest], dst: &mut [u8]) -> Result<Vec<bool>> {
        let mut required = 0usize;
        for req in requests {
            required = required.max(request_extent(req)?.1);
        }
        if dst.len() < required {
            return Err(Error::invalid(format!(
                "output buffer holds {} bytes, the read needs {required}",
                dst.len()
            )));
        }
        let shared = self.shared_tiles();
        let mut read = Vec::with_capacity(requests.len());
        let mut tiles: Vec<(TileKey, Arc<[u8]>)> = Vec::new();
        for req in requests {
            tiles.clear();
            let held = check_layout(req)
                .and_then(|()| covered(req))
                .ok()
                .and_then(|c| {
                    let len = tile_bytes(req).ok()?;
                    for row in c.rows.clone() {
                        for col in c.cols.clone() {
                            let key = key_of(req, row, col);
                            let tile = self.find(&key, len, shared.as_deref())?;
                            tiles.push((key, tile));
                        }
                    }
                    Some(())
                });
            if held.is_some() {
                for (key, tile) in &tiles {
                    place(req, key, tile, dst)?;
                }
                self.hits.fetch_add(tiles.len() as u64, Ordering::Relaxed);
            }
            read.push(held.is_some());
        }
        Ok(read)
    }

    /// The tiles `requests` need: found in memory or the shared directory, or still missing.
    fn lookup(&self, requests: &[WindowRequest]) -> Result<Lookup> {
        let shared = self.shared_tiles();
        let mut found = Lookup::default();
        let mut missing: HashSet<TileKey> = HashSet::new();
        for (ri, req) in requests.iter().enumerate() {
            let (_, end) = request_extent(req)?;
            found.required_output_bytes = found.required_output_bytes.max(end);
            let checked = check_layout(req).and_then(|()| covered(req));
            let c = match checked {
                Ok(c) => c,
                Err(e) if is_file_error(&e) => {
                    found.failed_requests.push((ri, e));
                    found.keys.push(None);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let len = tile_bytes(req)?;
            let mut keys = Vec::new();
            for row in c.rows.clone() {
                for col in c.cols.clone() {
                    let key = key_of(req, row, col);
                    keys.push(key.clone());
                    if found.got.contains_key(&key) || missing.contains(&key) {
                        continue;
                    }
                    match self.find(&key, len, shared.as_deref()) {
                        Some(t) => {
                            self.hits.fetch_add(1, Ordering::Relaxed);
                            found.got.insert(key, t);
                        }
                        None => {
                            self.misses.fetch_add(1, Ordering::Relaxed);
                            missing.insert(key.clone());
                            found.missing.push((key, ri));
                        }
                    }
                }
            }
            found.keys.push(Some(keys));
        }
        if self.readahead_rows {
            self.add_rows(requests, &mut found, &mut missing);
        }
        Ok(found)
    }

    /// Add the uncached tiles of every missing tile's row to `found.missing`.
    fn add_rows(
        &self,
        requests: &[WindowRequest],
        found: &mut Lookup,
        missing: &mut HashSet<TileKey>,
    ) {
        let lru = self.memory();
        let mut extra = Vec::new();
        for (key, ri) in &found.missing {
            let Some(req) = requests.get(*ri) else {
                continue;
            };
            let l = &*req.layout;
            let across = l.width.div_ceil(l.tile_width.max(1));
            for col in 0..across {
                let other = TileKey { col, ..key.clone() };
                if !found.got.contains_key(&other)
                    && !lru.tiles.contains_key(&other)
                    && missing.insert(other.clone())
                {
                    extra.push((other, *ri));
                }
            }
        }
        found.missing.extend(extra);
    }

    /// Fetch and decode every missing tile of `found` in one engine read; keep them.
    async fn fetch(
        &self,
        requests: &[WindowRequest],
        found: &mut Lookup,
        opts: &ReadOptions,
        done: Option<&AtomicUsize>,
    ) -> Result<()> {
        if found.missing.is_empty() {
            return Ok(());
        }
        let mut fetches = Vec::with_capacity(found.missing.len());
        let mut spans = Vec::with_capacity(found.missing.len());
        let mut offset = 0usize;
        for (key, ri) in &found.missing {
            let req = requests
                .get(*ri)
                .ok_or_else(|| Error::internal("tile of an unknown request"))?;
            let len = tile_bytes(req)?;
            let l = &*req.layout;
            fetches.push(WindowRequest {
                window: Window {
                    col_off: i64::from(key.col) * i64::from(l.tile_width),
                    row_off: i64::from(key.row) * i64::from(l.tile_height),
                    width: u64::from(l.tile_width),
                    height: u64::from(l.tile_height),
                },
                out_offset_bytes: offset,
                out_row_stride_bytes: len / l.tile_height.max(1) as usize,
                ..req.clone()
            });
            spans.push(offset..offset + len);
            offset += len;
        }
        let plan = plan_reads(&fetches)?;
        let mut scratch = vec![0u8; offset];
        let failures = execute_with_progress(&plan, &mut scratch, opts, done).await?;
        let mut failed: HashMap<usize, Error> =
            failures.into_iter().map(|f| (f.request, f.error)).collect();
        let shared = self.shared_tiles();
        for (i, ((key, _), span)) in found.missing.drain(..).zip(spans).enumerate() {
            if let Some(e) = failed.remove(&i) {
                found.failed.insert(key, e);
                continue;
            }
            let bytes = scratch
                .get(span)
                .ok_or_else(|| Error::internal("tile outside the scratch buffer"))?;
            let tile: Arc<[u8]> = Arc::from(bytes);
            self.memory().put(key.clone(), tile.clone(), self.max_bytes);
            if let Some(s) = &shared {
                s.put(&key, &tile);
            }
            found.got.insert(key, tile);
        }
        Ok(())
    }
}

/// Copy the part of one tile that lies in `req`'s window into the output.
fn place(req: &WindowRequest, key: &TileKey, tile: &[u8], dst: &mut [u8]) -> Result<()> {
    let l = &*req.layout;
    let elem = codec::element_bytes(l.bits_per_sample)?;
    let (tw, th) = (i64::from(l.tile_width), i64::from(l.tile_height));
    let (tx0, ty0) = (i64::from(key.col) * tw, i64::from(key.row) * th);
    let w = i64::try_from(req.window.width).map_err(|_| Error::invalid("window too wide"))?;
    let h = i64::try_from(req.window.height).map_err(|_| Error::invalid("window too tall"))?;
    let (c0, r0) = (req.window.col_off, req.window.row_off);
    let x0 = c0.max(tx0);
    let x1 = (c0 + w).min(tx0 + tw).min(i64::from(l.width));
    let y0 = r0.max(ty0);
    let y1 = (r0 + h).min(ty0 + th).min(i64::from(l.height));
    if x1 <= x0 || y1 <= y0 {
        return Ok(());
    }
    let out_of_range = || Error::internal("tile copy outside its buffers");
    let to_usize = |v: i64| usize::try_from(v).map_err(|_| out_of_range());
    let row_bytes = to_usize(x1 - x0)? * elem;
    let tile_stride = to_usize(tw)? * elem;
    for y in y0..y1 {
        let src = to_usize(y - ty0)? * tile_stride + to_usize(x0 - tx0)? * elem;
        let dst_at = req.out_offset_bytes
            + to_usize(y - r0)? * req.out_row_stride_bytes
            + to_usize(x0 - c0)? * elem;
        let from = tile.get(src..src + row_bytes).ok_or_else(out_of_range)?;
        dst.get_mut(dst_at..dst_at + row_bytes)
            .ok_or_else(out_of_range)?
            .copy_from_slice(from);
    }
    Ok(())
}

/// Read every window of `requests` into `dst` through `cache`: tiles at hand are reused,
/// missing ones fetched in one engine read and kept. Returns the windows that failed (a
/// window needing a tile that could not be read, or whose layout is corrupt); errors that are
/// no window's fail the read.
pub async fn read_cached(
    cache: &TileCache,
    requests: &[WindowRequest],
    dst: &mut [u8],
    opts: &ReadOptions,
    done: Option<&AtomicUsize>,
) -> Result<Vec<WindowFailure>> {
    let mut found = cache.lookup(requests)?;
    if dst.len() < found.required_output_bytes {
        return Err(Error::invalid(format!(
            "output buffer holds {} bytes, the read needs {}",
            dst.len(),
            found.required_output_bytes
        )));
    }
    cache.fetch(requests, &mut found, opts, done).await?;
    let mut failures: Vec<WindowFailure> = std::mem::take(&mut found.failed_requests)
        .into_iter()
        .map(|(request, error)| WindowFailure { request, error })
        .collect();
    for (ri, (req, keys)) in requests.iter().zip(&found.keys).enumerate() {
        let Some(keys) = keys else { continue };
        if let Some(e) = keys.iter().find_map(|k| found.failed.get(k)) {
            failures.push(WindowFailure {
                request: ri,
                error: e.clone(),
            });
            continue;
        }
        for key in keys {
            let tile = found
                .got
                .get(key)
                .ok_or_else(|| Error::internal("tile neither cached nor fetched"))?;
            place(req, key, tile, dst)?;
        }
    }
    failures.sort_by_key(|f| f.request);
    Ok(failures)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::tiff::ImageLayout;

    /// A 10x6 uint8 image in 4x4 raw tiles (3 across, 2 down; edge tiles stored whole), tile
    /// `i` at `16 + 16 * i` holding `i * 16 + k` for pixel `k` of the tile.
    fn image(tag: &str) -> (PathBuf, Arc<ImageLayout>, Vec<u8>) {
        let path = std::env::temp_dir().join(format!(
            "rasteret-tile-cache-{tag}-{}-{}.bin",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut file = vec![0u8; 16];
        for tile in 0..6u8 {
            file.extend((0..16u8).map(|k| tile * 16 + k));
        }
        std::fs::write(&path, &file).unwrap();
        let layout = Arc::new(ImageLayout {
            ifd_index: 0,
            width: 10,
            height: 6,
            tile_width: 4,
            tile_height: 4,
            tiled: true,
            bits_per_sample: 8,
            sample_format: 1,
            samples_per_pixel: 1,
            planar_configuration: 1,
            compression: 1,
            predictor: 1,
            photometric: Some(1),
            extra_samples: vec![],
            tile_byte_counts: vec![16; 6],
            tile_offsets: (0..6).map(|i| 16 + 16 * i).collect(),
            jpeg_tables: None,
            ycbcr_subsampling: None,
            lerc_parameters: None,
            new_subfile_type: 0,
            little_endian: true,
        });
        // the image as rasterio would read it, row by row
        let mut pixels = Vec::new();
        for y in 0..6u8 {
            for x in 0..10u8 {
                let tile = (y / 4) * 3 + x / 4;
                pixels.push(tile * 16 + (y % 4) * 4 + x % 4);
            }
        }
        (path, layout, pixels)
    }

    fn window(
        url: &str,
        layout: &Arc<ImageLayout>,
        win: (i64, i64, u64, u64),
        slot: usize,
    ) -> WindowRequest {
        let (col_off, row_off, width, height) = win;
        WindowRequest {
            url: url.into(),
            layout: layout.clone(),
            nodata: None,
            band_index: 0,
            window: Window {
                col_off,
                row_off,
                width,
                height,
            },
            out_offset_bytes: slot * 64,
            out_row_stride_bytes: width as usize,
        }
    }

    /// Window `win` of `pixels` (10 wide, 6 tall), `fill` outside the image.
    fn expected(pixels: &[u8], win: (i64, i64, u64, u64), fill: u8) -> Vec<u8> {
        let (c0, r0, w, h) = win;
        let mut out = Vec::new();
        for y in r0..r0 + h as i64 {
            for x in c0..c0 + w as i64 {
                let inside = (0..10).contains(&x) && (0..6).contains(&y);
                out.push(if inside {
                    pixels[(y * 10 + x) as usize]
                } else {
                    fill
                });
            }
        }
        out
    }

    /// Per request: whether the cache serves it without I/O (read into a scratch buffer).
    fn held(cache: &TileCache, requests: &[WindowRequest]) -> Vec<bool> {
        let mut scratch = vec![0u8; requests.len() * 64];
        cache.read_held(requests, &mut scratch).unwrap()
    }

    fn read(cache: &TileCache, requests: &[WindowRequest], out: &mut [u8]) -> Vec<WindowFailure> {
        let rt = crate::io::runtime().unwrap();
        rt.block_on(read_cached(
            cache,
            requests,
            out,
            &ReadOptions::default(),
            None,
        ))
        .unwrap()
    }

    #[test]
    fn windows_are_assembled_from_tiles_and_reused() {
        let (path, layout, pixels) = image("assemble");
        let url = path.to_str().unwrap();
        let windows = [(2, 1, 7, 4), (-3, -2, 5, 4), (8, 4, 4, 4), (0, 0, 4, 4)];
        let requests: Vec<_> = windows
            .iter()
            .enumerate()
            .map(|(i, w)| window(url, &layout, *w, i))
            .collect();
        let cache = TileCache::new(1 << 20, false);
        let mut out = vec![9u8; 4 * 64];
        assert!(read(&cache, &requests, &mut out).is_empty());
        for (i, w) in windows.iter().enumerate() {
            let n = (w.2 * w.3) as usize;
            assert_eq!(
                &out[i * 64..i * 64 + n],
                expected(&pixels, *w, 9),
                "window {w:?}"
            );
        }
        // window 0 covers tiles (0,0),(0,1),(0,2),(1,0),(1,1),(1,2): all six, fetched once
        assert_eq!((cache.misses(), cache.len(), cache.nbytes()), (6, 6, 96));
        assert_eq!(held(&cache, &requests), vec![true; 4]);

        // windows whose tiles are held are read without I/O; a cache that holds none
        // leaves the output untouched
        let mut held = vec![9u8; 4 * 64];
        assert_eq!(
            cache.read_held(&requests, &mut held).unwrap(),
            vec![true; 4]
        );
        assert_eq!(held, out);
        let empty = TileCache::new(1 << 20, false);
        let mut untouched = vec![7u8; 4 * 64];
        assert_eq!(
            empty.read_held(&requests, &mut untouched).unwrap(),
            vec![false; 4]
        );
        assert!(untouched.iter().all(|&b| b == 7));
        assert!(cache.read_held(&requests, &mut untouched[..100]).is_err());

        // the file is gone: the same windows still read, from memory alone
        std::fs::remove_file(&path).unwrap();
        let mut again = vec![9u8; 4 * 64];
        assert!(read(&cache, &requests, &mut again).is_empty());
        assert_eq!(again, out);
        assert_eq!(cache.misses(), 6);
        assert!(cache.hits() >= 6);
    }

    #[test]
    fn the_least_recently_used_tiles_are_evicted_first() {
        let (path, layout, _) = image("evict");
        let url = path.to_str().unwrap();
        let cache = TileCache::new(2 * 16, false); // two tiles
        let tile = |col: i64| window(url, &layout, (col * 4, 0, 4, 4), 0);
        let mut out = vec![0u8; 64];
        for col in [0, 1, 0, 2] {
            assert!(read(&cache, &[tile(col)], &mut out).is_empty());
        }
        // tile 1 was used least recently when tile 2 arrived
        assert_eq!(
            held(&cache, &[tile(0), tile(1), tile(2)]),
            vec![true, false, true]
        );
        assert_eq!((cache.len(), cache.nbytes()), (2, 32));
        cache.clear();
        assert!(cache.is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn readahead_brings_the_rest_of_a_tile_row() {
        let (path, layout, _) = image("readahead");
        let url = path.to_str().unwrap();
        let cache = TileCache::new(1 << 20, true);
        let mut out = vec![0u8; 64];
        assert!(read(&cache, &[window(url, &layout, (0, 4, 2, 2), 0)], &mut out).is_empty());
        let row1 = |col: i64| window(url, &layout, (col * 4, 4, 2, 2), 0);
        let row0 = window(url, &layout, (0, 0, 2, 2), 0);
        assert_eq!(
            held(&cache, &[row1(0), row1(1), row1(2), row0]),
            vec![true, true, true, false]
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_window_whose_tiles_cannot_be_read_fails_alone() {
        let (path, layout, pixels) = image("failures");
        let url = path.to_str().unwrap();
        let missing = format!("{url}.missing");
        let mut short = (*layout).clone();
        short.tile_offsets.truncate(2);
        short.tile_byte_counts.truncate(2);
        let short = Arc::new(short);
        let requests = [
            window(url, &layout, (0, 0, 4, 4), 0),
            window(&missing, &layout, (0, 0, 4, 4), 1),
            window(url, &short, (0, 0, 4, 4), 2),
        ];
        let cache = TileCache::new(1 << 20, false);
        let mut out = vec![0u8; 3 * 64];
        let failures = read(&cache, &requests, &mut out);
        let got: Vec<(usize, Kind)> = failures
            .iter()
            .map(|f| (f.request, f.error.kind()))
            .collect();
        assert_eq!(got, vec![(1, Kind::NotFound), (2, Kind::Corrupt)]);
        assert_eq!(&out[..16], expected(&pixels, (0, 0, 4, 4), 0));
        assert_eq!(held(&cache, &requests), vec![true, false, false]);
        // a buffer too small for the windows fails the read as a whole
        let rt = crate::io::runtime().unwrap();
        let err = rt
            .block_on(read_cached(
                &cache,
                &requests,
                &mut out[..100],
                &ReadOptions::default(),
                None,
            ))
            .unwrap_err();
        assert_eq!(err.kind(), Kind::InvalidArgument);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn caches_sharing_a_directory_reuse_each_others_tiles() {
        let (path, layout, pixels) = image("shared");
        let url = path.to_str().unwrap();
        let dir = path.with_extension("shared");
        let all = window(url, &layout, (0, 0, 10, 6), 0);
        let first = TileCache::new(1 << 20, false);
        first.share(dir.clone(), 1 << 20);
        let mut out = vec![0u8; 64];
        assert!(read(&first, std::slice::from_ref(&all), &mut out).is_empty());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 6);

        std::fs::remove_file(&path).unwrap();
        let second = TileCache::new(1 << 20, false);
        second.share(dir.clone(), 1 << 20);
        assert_eq!(held(&second, std::slice::from_ref(&all)), vec![true]);
        let mut again = vec![0u8; 64];
        assert!(read(&second, &[all], &mut again).is_empty());
        assert_eq!(&again[..60], &pixels[..]);
        assert_eq!((second.shared_hits(), second.misses()), (6, 0));

        // a budget of two tiles keeps the directory near it, the newest tile always kept
        let (path, layout, _) = image("shared-small");
        let url = path.to_str().unwrap();
        let small_dir = path.with_extension("shared");
        let small = TileCache::new(1 << 20, false);
        let per_file = (TileKey {
            url: url.into(),
            ifd: 0,
            band: 0,
            row: 0,
            col: 0,
        })
        .label()
        .len()
            + 16;
        small.share(small_dir.clone(), 2 * per_file as u64);
        for col in 0..3 {
            let mut out = vec![0u8; 64];
            assert!(read(
                &small,
                &[window(url, &layout, (col * 4, 0, 4, 4), 0)],
                &mut out
            )
            .is_empty());
        }
        let files = std::fs::read_dir(&small_dir).unwrap().count();
        assert!((1..=2).contains(&files), "{files} tile files");
        let newest = window(url, &layout, (8, 0, 4, 4), 0);
        small.clear();
        assert_eq!(held(&small, &[newest]), vec![true]);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&small_dir);
        let _ = std::fs::remove_file(&path);
    }
}
