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
//!
//! Capacities are rounded up to size classes (four per power of two) so that a returned body
//! fits the next one of about the same size. A body may hold a permit of a read's
//! [`ByteBudget`](crate::io::budget::ByteBudget) of received, undecoded bytes until its last
//! slice drops.

use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;

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

/// Buffers up to this size are allocated exactly; bigger ones in size classes.
const EXACT_MAX_BYTES: usize = 64 * 1024;

/// `capacity` rounded up to its size class: four classes per power of two above
/// [`EXACT_MAX_BYTES`] (at most 25% more than asked).
pub fn size_class(capacity: usize) -> usize {
    if capacity <= EXACT_MAX_BYTES {
        return capacity;
    }
    let step = (capacity.next_power_of_two() / 8).max(1);
    capacity.div_ceil(step).saturating_mul(step)
}

/// An empty buffer with room for at least `capacity` bytes (the smallest pooled one that
/// fits, else a new one of the size class).
pub fn take(capacity: usize) -> Vec<u8> {
    let capacity = size_class(capacity);
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

/// Owner of a received body: goes back to the pool (and its gate permit, if any, to its gate)
/// when the last `Bytes` of it is dropped.
struct RecvBuf(Vec<u8>, Option<OwnedSemaphorePermit>);

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        give(std::mem::take(&mut self.0));
        self.1.take();
    }
}

/// Freeze a filled buffer into `Bytes` that recycle it once dropped.
pub fn into_bytes(buf: Vec<u8>) -> Bytes {
    into_bytes_admitted(buf, None)
}

/// [`into_bytes`], holding `admitted` (a byte-budget permit) until the last slice drops.
pub fn into_bytes_admitted(buf: Vec<u8>, admitted: Option<OwnedSemaphorePermit>) -> Bytes {
    if buf.is_empty() {
        give(buf);
        return Bytes::new();
    }
    Bytes::from_owner(RecvBuf(buf, admitted))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn size_classes_round_up_by_at_most_a_quarter() {
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(1000), 1000);
        assert_eq!(size_class(EXACT_MAX_BYTES), EXACT_MAX_BYTES);
        for cap in [
            EXACT_MAX_BYTES + 1,
            300_000,
            850_000,
            1 << 20,
            (1 << 20) + 1,
            3_000_001,
        ] {
            let c = size_class(cap);
            assert!(c >= cap && c <= cap + cap / 4 + 1, "{cap} -> {c}");
            assert_eq!(size_class(c), c, "a class is its own class");
        }
        // bodies of about the same size share a class
        assert_eq!(size_class(820_000), size_class(880_000));
    }

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
