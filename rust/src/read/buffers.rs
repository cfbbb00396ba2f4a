//! Recycled tile buffers: decoded tiles are short-lived and tile-sized (hundreds of KiB), so
//! reusing them avoids fresh, kernel-zeroed pages for every tile of a read.
//!
//! Only `try_lock` is used: a lock held by another thread (or inherited locked by a forked
//! child) just means a fresh allocation, never a wait or a deadlock.

use std::sync::Mutex;

/// Upper bound of bytes kept for reuse.
const POOL_LIMIT_BYTES: usize = 64 * 1024 * 1024;

struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

/// A buffer of exactly `len` bytes. Its contents are unspecified (recycled bytes or zeros):
/// callers overwrite all of it.
pub fn take(len: usize) -> Vec<u8> {
    if let Ok(mut pool) = POOL.try_lock() {
        if let Some(pos) = pool.buffers.iter().rposition(|b| b.capacity() >= len) {
            let mut buf = pool.buffers.swap_remove(pos);
            pool.bytes = pool.bytes.saturating_sub(buf.capacity());
            drop(pool);
            buf.resize(len, 0);
            buf.truncate(len);
            return buf;
        }
    }
    vec![0u8; len]
}

/// Return a buffer for reuse (dropped when the pool is full or busy).
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 {
        return;
    }
    if let Ok(mut pool) = POOL.try_lock() {
        if pool.bytes + buf.capacity() <= POOL_LIMIT_BYTES {
            pool.bytes += buf.capacity();
            pool.buffers.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn buffers_are_reused_with_the_asked_length() {
        let mut a = take(1000);
        a[999] = 7;
        let ptr = a.as_ptr();
        give(a);
        let b = take(500);
        assert_eq!(b.len(), 500);
        // the same allocation comes back (unless another test thread took it meanwhile)
        if b.as_ptr() == ptr {
            assert!(b.capacity() >= 1000);
        }
        give(b);
        let c = take(2000);
        assert_eq!(c.len(), 2000);
    }
}
