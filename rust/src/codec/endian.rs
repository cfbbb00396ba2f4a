//! Byte order: turn file-order samples into native order, in place.

/// Swap each `elem`-byte sample of `buf` when the file's byte order differs from the host's.
pub(crate) fn to_native(buf: &mut [u8], elem: usize, file_little_endian: bool) {
    if file_little_endian == cfg!(target_endian = "little") || elem < 2 {
        return;
    }
    match elem {
        2 => buf.chunks_exact_mut(2).for_each(|c| c.swap(0, 1)),
        4 => buf.chunks_exact_mut(4).for_each(<[u8]>::reverse),
        8 => buf.chunks_exact_mut(8).for_each(<[u8]>::reverse),
        _ => buf.chunks_exact_mut(elem).for_each(<[u8]>::reverse),
    }
}
