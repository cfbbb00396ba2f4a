//! Merge nearby tile ranges into fewer, bigger requests.
//!
//! Unlike object_store's default (1 MiB gap), the gap is small (tiles of one window are usually
//! adjacent) and merged requests are capped, so a batch of tiles becomes a few requests that can
//! still run concurrently.

use std::ops::Range;

/// One request covering several input ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Bytes to fetch.
    pub range: Range<u64>,
    /// Indices (into the input slice) of the ranges it covers.
    pub members: Vec<usize>,
}

/// Group non-empty `ranges` (any order, duplicates and overlaps allowed) into merged requests.
///
/// Two ranges share a request when, sorted by start, the gap between the request so far and the
/// next range is at most `gap` bytes and the merged request stays within `max_merged` bytes (a
/// single range longer than `max_merged` gets a request of its own). Empty ranges are skipped:
/// callers answer them with empty bytes. Ranges with `start > end` must be rejected before.
pub fn coalesce(ranges: &[Range<u64>], gap: u64, max_merged: u64) -> Vec<Merged> {
    let mut order: Vec<usize> = (0..ranges.len())
        .filter(|&i| ranges.get(i).is_some_and(|r| r.end > r.start))
        .collect();
    order.sort_by_key(|&i| ranges.get(i).map_or((0, 0), |r| (r.start, r.end)));
    let mut out: Vec<Merged> = Vec::new();
    for i in order {
        let Some(r) = ranges.get(i) else { continue };
        if let Some(cur) = out.last_mut() {
            let new_end = cur.range.end.max(r.end);
            let close = r.start <= cur.range.end.saturating_add(gap);
            let small = new_end - cur.range.start <= max_merged;
            if close && (small || r.end <= cur.range.end) {
                cur.range.end = new_end;
                cur.members.push(i);
                continue;
            }
        }
        out.push(Merged {
            range: r.clone(),
            members: vec![i],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )]
    use super::*;

    fn ranges_of(m: &[Merged]) -> Vec<Range<u64>> {
        m.iter().map(|m| m.range.clone()).collect()
    }

    #[test]
    fn adjacent_and_small_gaps_merge() {
        let m = coalesce(&[0..10, 10..20, 25..30], 5, 1 << 20);
        assert_eq!(ranges_of(&m), vec![0..30]);
        assert_eq!(m[0].members, vec![0, 1, 2]);
    }

    #[test]
    fn big_gap_splits() {
        let m = coalesce(&[0..10, 100..110], 5, 1 << 20);
        assert_eq!(ranges_of(&m), vec![0..10, 100..110]);
    }

    #[test]
    fn unsorted_duplicates_and_overlaps() {
        let m = coalesce(&[50..60, 0..10, 50..60, 5..15], 0, 1 << 20);
        assert_eq!(ranges_of(&m), vec![0..15, 50..60]);
        assert_eq!(m[0].members, vec![1, 3]);
        assert_eq!(m[1].members, vec![0, 2]);
    }

    #[test]
    fn contained_range_never_splits() {
        let m = coalesce(&[0..100, 10..20], 0, 50);
        assert_eq!(ranges_of(&m), vec![0..100]);
    }

    #[test]
    fn respects_max_merged() {
        let rs: Vec<Range<u64>> = (0..10).map(|i| i * 100..(i + 1) * 100).collect();
        let m = coalesce(&rs, 1024, 300);
        assert_eq!(ranges_of(&m), vec![0..300, 300..600, 600..900, 900..1000]);
        for mm in &m {
            assert!(mm.range.end - mm.range.start <= 300);
        }
    }

    #[test]
    fn oversized_single_range_alone() {
        let m = coalesce(&[0..1000, 1000..1010], 10, 100);
        assert_eq!(ranges_of(&m), vec![0..1000, 1000..1010]);
    }

    #[test]
    fn empty_ranges_skipped() {
        let m = coalesce(&[5..5, 0..10], 0, 100);
        assert_eq!(ranges_of(&m), vec![0..10]);
        assert_eq!(m[0].members, vec![1]);
        assert!(coalesce(&[], 0, 100).is_empty());
    }

    #[test]
    fn every_input_covered_once() {
        let rs: Vec<Range<u64>> = (0..200u64)
            .map(|i| {
                let s = (i * 7919) % 5000;
                s..s + 1 + (i % 37)
            })
            .collect();
        let m = coalesce(&rs, 16, 512);
        let mut seen = vec![0; rs.len()];
        for mm in &m {
            for &i in &mm.members {
                seen[i] += 1;
                assert!(mm.range.start <= rs[i].start && rs[i].end <= mm.range.end);
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }
}
