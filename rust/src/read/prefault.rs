//! Fault the output buffer's pages in while the first responses are on their way.
//!
//! A fresh output array (NumPy's `zeros`/`empty` of a large read) is mapped but not backed:
//! the first write to each page costs a page fault and the kernel zeroing the page (about a
//! fifth of a large read's CPU time on our benchmark machine). Reads start with a round trip
//! during which both cores idle, so the pages are populated then, on a blocking thread, with
//! `madvise(MADV_POPULATE_WRITE)`: it allocates the pages without touching their contents,
//! so it is safe while decode threads write into them.

/// Buffers smaller than this are not worth a thread.
pub const MIN_PREFAULT_BYTES: usize = 8 * 1024 * 1024;
/// Bytes populated per `madvise` call (two huge pages).
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// Populate `len` bytes at `addr` for writing (Linux; elsewhere nothing). Failures (an old
/// kernel without `MADV_POPULATE_WRITE`, memory that is not anonymous) are ignored: the
/// pages then fault in on first write, as without this.
pub fn populate_for_write(addr: usize, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const MADV_POPULATE_WRITE: libc::c_int = 23;
        let page = 4096usize;
        let start = addr.div_ceil(page) * page;
        let end = (addr + len) / page * page;
        // In chunks: the kernel holds the process's memory-map lock for the whole call, and
        // other threads' mmap/munmap (allocators growing) must not wait for 100 MiB of pages.
        let mut at = start;
        while at < end {
            let n = CHUNK_BYTES.min(end - at);
            // SAFETY: the range lies inside a live, writable buffer the caller keeps alive
            // until this returns; MADV_POPULATE_WRITE neither reads nor changes its contents.
            let rc = unsafe { libc::madvise(at as *mut libc::c_void, n, MADV_POPULATE_WRITE) };
            if rc != 0 {
                return; // unsupported here: pages fault in on first write instead
            }
            at += n;
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (addr, len);
    }
}
