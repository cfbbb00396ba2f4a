//! [`SparseBytes`]: the cache of fetched byte ranges of one file.

use std::ops::Range;

use bytes::Bytes;

use super::SparseBytes;

fn chunk_end(start: u64, data: &Bytes) -> u64 {
    start.saturating_add(data.len() as u64)
}

impl SparseBytes {
    /// A cache holding a whole file (its length is the file size).
    pub fn from_file(data: Bytes) -> Self {
        let size = data.len() as u64;
        Self {
            chunks: vec![(0, data)],
            file_size: Some(size),
        }
    }

    /// The bytes of `range` if one cached chunk holds all of them (an empty range is always
    /// available).
    pub fn get(&self, range: Range<u64>) -> Option<&[u8]> {
        if range.start >= range.end {
            return Some(&[]);
        }
        self.chunks.iter().find_map(|(start, data)| {
            if *start <= range.start && range.end <= chunk_end(*start, data) {
                let a = usize::try_from(range.start - start).ok()?;
                let b = usize::try_from(range.end - start).ok()?;
                data.get(a..b)
            } else {
                None
            }
        })
    }

    /// First offset at or after `from` that is not cached.
    pub fn cached_until(&self, from: u64) -> u64 {
        self.chunks
            .iter()
            .find(|(start, data)| *start <= from && from < chunk_end(*start, data))
            .map_or(from, |(start, data)| chunk_end(*start, data))
    }

    /// Add fetched bytes at `start`, merging with overlapping or adjacent chunks so that any
    /// cached range lies within one chunk.
    pub fn insert(&mut self, start: u64, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let end = chunk_end(start, &data);
        let (touching, mut kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.chunks)
            .into_iter()
            .partition(|(s, d)| *s <= end && chunk_end(*s, d) >= start);
        if touching.is_empty() {
            kept.push((start, data));
        } else {
            let ustart = touching.iter().map(|(s, _)| *s).fold(start, u64::min);
            let uend = touching
                .iter()
                .map(|(s, d)| chunk_end(*s, d))
                .fold(end, u64::max);
            let len = usize::try_from(uend - ustart).unwrap_or(0);
            let mut buf = vec![0u8; len];
            for (s, d) in touching
                .iter()
                .map(|(s, d)| (*s, d))
                .chain([(start, &data)])
            {
                let at = usize::try_from(s - ustart).unwrap_or(usize::MAX);
                if let Some(dst) = at.checked_add(d.len()).and_then(|e| buf.get_mut(at..e)) {
                    dst.copy_from_slice(d);
                }
            }
            kept.push((ustart, Bytes::from(buf)));
        }
        kept.sort_by_key(|(s, _)| *s);
        self.chunks = kept;
    }
}
