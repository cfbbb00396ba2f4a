//! One tokio runtime and one rayon decode pool per process (rebuilt lazily after fork).

use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Builder, Runtime};

use crate::error::{Error, Result};

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);
static DECODE_POOL: Mutex<Option<(u32, &'static rayon::ThreadPool)>> = Mutex::new(None);

/// This process's I/O runtime. A forked child builds its own; the parent's is leaked, never dropped.
pub fn runtime() -> Result<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, rt)) = *slot {
        if owner == pid {
            return Ok(rt);
        }
    }
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rasteret-io")
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the I/O runtime: {e}")))?;
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// This process's decode pool (one thread per core).
pub fn decode_pool() -> Result<&'static rayon::ThreadPool> {
    let pid = std::process::id();
    let mut slot = DECODE_POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((owner, pool)) = *slot {
        if owner == pid {
            return Ok(pool);
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("rasteret-decode-{i}"))
        .build()
        .map_err(|e| Error::internal(format!("cannot start the decode pool: {e}")))?;
    let pool: &'static rayon::ThreadPool = Box::leak(Box::new(pool));
    *slot = Some((pid, pool));
    Ok(pool)
}
