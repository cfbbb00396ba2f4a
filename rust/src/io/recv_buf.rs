//! Recycled receive buffers for range responses.
//!
//! A read streams its compressed tiles through a few dozen response bodies at a time; without
//! recycling, every body is a fresh allocation that the allocator (per-thread heaps, bodies
//! freed by the decode threads) rarely hands back to the next response, so a read's resident
//! memory grows with the bytes it fetches, and every fresh page is a page fault. Bodies are
//! instead `Bytes` owned by a [`RecvBuf`] whose drop (when the last slice of the body is gone)
//! returns the allocation here for the next response.
//!
//! Only `try_lock` is used: a lock held by another thread (or inherited locked by a forked
//! child) just means a fresh allocation or a dropped buffer, never a wait or a deadlock.

use std::sync::Mutex;

use bytes::Bytes;

/// Upper bound of the bytes kept for reuse.
const POOL_LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// Buffers bigger than this are not kept.
const KEEP_MAX_BYTES: usize = 16 * 1024 * 1024;

struct Pool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

/// An empty buffer with room for at least `capacity` bytes (the smallest pooled one that
/// fits, else a new one).
pub fn take(capacity: usize) -> Vec<u8> {
    if let Ok(mut pool) = POOL.try_lock() {
        let best = pool
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= capacity)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        if let Some(i) = best {
            let buf = pool.buffers.swap_remove(i);
            pool.bytes = pool.bytes.saturating_sub(buf.capacity());
            return buf;
        }
    }
    Vec::with_capacity(capacity)
}

/// Return a buffer for reuse (dropped when too big, or the pool is full or busy).
fn give(mut buf: Vec<u8>) {
    let cap = buf.capacity();
    if cap == 0 || cap > KEEP_MAX_BYTES {
        return;
    }
    if let Ok(mut pool) = POOL.try_lock() {
        if pool.bytes + cap <= POOL_LIMIT_BYTES {
            buf.clear();
            pool.bytes += cap;
            pool.buffers.push(buf);
        }
    }
}

/// Owner of a received body: goes back to the pool when the last `Bytes` of it is dropped.
struct RecvBuf(Vec<u8>);

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
    }
}

/// Freeze a filled buffer into `Bytes` that recycle it once dropped.
pub fn into_bytes(buf: Vec<u8>) -> Bytes {
    if buf.is_empty() {
        give(buf);
        return Bytes::new();
    }
    Bytes::from_owner(RecvBuf(buf))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn bodies_come_back_to_the_pool_when_their_last_slice_drops() {
        let mut a = take(1000);
        a.extend_from_slice(&[7u8; 1000]);
        let ptr = a.as_ptr();
        let body = into_bytes(a);
        let part = body.slice(10..20);
        drop(body);
        assert_eq!(&part[..], &[7u8; 10]);
        drop(part);
        let b = take(500);
        assert!(b.is_empty());
        // the same allocation comes back (unless another test thread took it meanwhile)
        if b.as_ptr() == ptr {
            assert!(b.capacity() >= 1000);
        }
        give(b);
        assert!(take(2000).capacity() >= 2000);
    }

    /// A process forked while the pool's lock is held (DataLoader workers fork at any time)
    /// inherits it locked forever: taking and returning buffers there must neither wait nor
    /// fail.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_child_forked_while_the_pool_is_locked_neither_waits_nor_fails() {
        use std::time::{Duration, Instant};

        let held = POOL.lock().unwrap();
        // SAFETY: the child only allocates, touches the pool (try_lock) and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let mut buf = take(4096);
            let ok = buf.capacity() >= 4096;
            buf.extend_from_slice(&[1u8; 4096]);
            let body = into_bytes(buf); // its drop returns the buffer: the pool is locked
            let ok = ok && body.len() == 4096;
            drop(body);
            let ok = ok && take(16).capacity() >= 16;
            // SAFETY: leave the child without running the test harness's exit path.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r == pid {
                break;
            }
            if Instant::now() > deadline {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                panic!("the forked child is stuck on the pool's lock");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child failed"
        );
    }
}
