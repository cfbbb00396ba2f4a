//! Walking the IFD chain: entry tables, next pointers, loop detection and caps.

use std::collections::HashSet;

use super::header::{corrupt, PResult, Src};
use super::tags::Entry;

/// Most IFDs we follow in one file.
pub(crate) const MAX_IFDS: usize = 1024;
/// Most entries we accept in one IFD (the classic TIFF limit).
pub(crate) const MAX_ENTRIES: u64 = 65535;
/// Most entries over all IFDs (bounds memory and time on hostile, overlapping IFDs).
pub(crate) const MAX_TOTAL_ENTRIES: usize = 1 << 20;

/// One image file directory.
#[derive(Debug, Clone)]
pub(crate) struct Ifd {
    pub index: u32,
    pub entries: Vec<Entry>,
}

impl Ifd {
    /// The entry of `tag` (the first one if duplicated). Entries are sorted by tag.
    pub fn get(&self, tag: u16) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.tag < tag);
        self.entries.get(i).filter(|e| e.tag == tag)
    }
}

/// Read every IFD of the chain starting at `first`.
pub(crate) fn read_chain(src: Src<'_>, first: u64) -> PResult<Vec<Ifd>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut off = first;
    let mut total = 0usize;
    while off != 0 {
        if out.len() >= MAX_IFDS {
            return Err(corrupt(format!(
                "TIFF has more than {MAX_IFDS} IFDs; refusing to follow the chain further"
            )));
        }
        if !seen.insert(off) {
            return Err(corrupt(format!(
                "IFD loop: the chain points back to the IFD at offset {off}"
            )));
        }
        let index = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let (ifd, next) = read_ifd(src, off, index)?;
        total = total.saturating_add(ifd.entries.len());
        if total > MAX_TOTAL_ENTRIES {
            return Err(corrupt(format!(
                "TIFF IFDs hold more than {MAX_TOTAL_ENTRIES} entries in total"
            )));
        }
        out.push(ifd);
        off = next;
    }
    Ok(out)
}

/// Read one IFD at `off`; returns it and the offset of the next one (0 = end).
fn read_ifd(src: Src<'_>, off: u64, index: u32) -> PResult<(Ifd, u64)> {
    let (count_size, entry_size) = if src.big { (8u64, 20u64) } else { (2, 12) };
    let cb = src.bytes(off, count_size)?;
    let n = if src.big {
        src.u64(cb, 0)?
    } else {
        u64::from(src.u16(cb, 0)?)
    };
    if n == 0 {
        return Err(corrupt(format!(
            "IFD {index} at offset {off} has no entries"
        )));
    }
    if n > MAX_ENTRIES {
        return Err(corrupt(format!(
            "IFD {index} at offset {off} claims {n} entries (at most {MAX_ENTRIES})"
        )));
    }
    let table_off = off
        .checked_add(count_size)
        .ok_or_else(|| corrupt("IFD offset overflows"))?;
    let table_len = n * entry_size + src.offset_size();
    let t = src.bytes(table_off, table_len)?;
    let mut entries = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    let es = usize::try_from(entry_size).unwrap_or(12);
    for chunk in t.chunks_exact(es).take(usize::try_from(n).unwrap_or(0)) {
        let tag = src.u16(chunk, 0)?;
        let typ = src.u16(chunk, 2)?;
        let (count, field_at) = if src.big {
            (src.u64(chunk, 4)?, 12usize)
        } else {
            (u64::from(src.u32(chunk, 4)?), 8usize)
        };
        let mut field = [0u8; 8];
        let flen = usize::try_from(src.offset_size()).unwrap_or(4);
        if let (Some(dst), Some(s)) = (field.get_mut(..flen), chunk.get(field_at..field_at + flen))
        {
            dst.copy_from_slice(s);
        }
        entries.push(Entry {
            tag,
            typ,
            count,
            field,
        });
    }
    // Stable: the first of duplicated tags stays first.
    entries.sort_by_key(|e| e.tag);
    let next_at = usize::try_from(n * entry_size).unwrap_or(usize::MAX);
    let next = src.offset(t, next_at)?;
    Ok((Ifd { index, entries }, next))
}
