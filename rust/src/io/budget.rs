//! A bound on bytes held at once, for the read path's two budgets: compressed bytes of the
//! tile batches in flight (requested, received or being decoded), and HTTP response bytes
//! received but not yet decoded (a body is read off its socket only once admitted; the rest
//! waits in the kernel's socket buffers instead of in fresh user memory, and what is received
//! is decoded while still in cache).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, Result};

/// A semaphore counting bytes in units (KiB, or more for budgets past 2 TiB). Holders wait in
/// order; one holder takes at most `1 / min_holders` of the budget, so that many holders fit
/// at once whatever their size (a bigger one is under-counted rather than left waiting).
#[derive(Clone, Debug)]
pub struct ByteBudget {
    permits: Arc<Semaphore>,
    /// Bytes per permit.
    unit: u64,
    /// Permits one holder takes at most.
    holder_max: u32,
}

impl ByteBudget {
    /// About `max_bytes` in all (at least `min_holders` units), at most `1 / min_holders` of
    /// it per holder.
    pub fn new(max_bytes: u64, min_holders: u32) -> Self {
        let unit = (max_bytes / u64::from(u32::MAX / 2)).max(1024);
        let min_holders = min_holders.max(1);
        let total = u32::try_from(max_bytes / unit)
            .unwrap_or(u32::MAX / 2)
            .max(min_holders);
        Self {
            permits: Arc::new(Semaphore::new(total as usize)),
            unit,
            holder_max: (total / min_holders).max(1),
        }
    }

    /// Wait for room for `bytes`; the room is given back when the permit drops.
    pub async fn acquire(&self, bytes: u64) -> Result<OwnedSemaphorePermit> {
        let want = u32::try_from(bytes.div_ceil(self.unit))
            .unwrap_or(u32::MAX)
            .clamp(1, self.holder_max);
        self.permits
            .clone()
            .acquire_many_owned(want)
            .await
            .map_err(|_| Error::internal("a byte budget was closed"))
    }

    /// Bytes not currently held.
    pub fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * self.unit
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::io::recv_buf::{into_bytes_admitted, take};

    #[test]
    fn a_received_body_holds_its_room_until_its_last_slice_drops() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let gate = ByteBudget::new(64 * 1024, 4); // 64 KiB, 16 KiB per body at most
            let kib = |g: &ByteBudget| g.available_bytes() / 1024;
            let permit = gate.acquire(10_000).await.ok();
            assert_eq!(kib(&gate), 64 - 10);
            let mut buf = take(10_000);
            buf.extend_from_slice(&[3u8; 10_000]);
            let body = into_bytes_admitted(buf, permit);
            let part = body.slice(0..10);
            drop(body);
            assert_eq!(kib(&gate), 64 - 10, "a slice still holds the body");
            drop(part);
            assert_eq!(kib(&gate), 64);
            // a body bigger than a quarter of the gate takes a quarter
            let big = gate.acquire(10 << 20).await;
            assert_eq!(kib(&gate), 64 - 16);
            drop(big);
            // a full gate makes the next body wait
            let held: Vec<_> =
                futures::future::join_all((0..4).map(|_| gate.acquire(16 * 1024))).await;
            assert_eq!(kib(&gate), 0);
            let waiting =
                tokio::time::timeout(std::time::Duration::from_millis(50), gate.acquire(1)).await;
            assert!(waiting.is_err(), "admitted past a full gate");
            drop(held);
            assert!(gate.acquire(1).await.is_ok());
        });
    }

    #[test]
    fn a_whole_budget_holder_may_take_everything() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let budget = ByteBudget::new(1 << 20, 1);
            let all = budget.acquire(5 << 20).await.unwrap();
            assert_eq!(budget.available_bytes(), 0);
            drop(all);
            assert_eq!(budget.available_bytes(), 1 << 20);
        });
    }
}
