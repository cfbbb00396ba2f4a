//! `block_on`: run a core future on this process's runtime with the GIL released, checking for
//! Ctrl-C every 100 ms (dropping the future cancels in-flight requests).

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;

use futures::FutureExt;

use crate::error::{Error, Result};
use crate::io;
use crate::python::errors::to_pyerr;

/// Build the future with `make_fut` and run it to completion outside the GIL. `on_tick` runs with the GIL every 100 ms (signals
/// are checked first): use it for progress callbacks.
pub(crate) fn block_on<T, F>(
    py: Python<'_>,
    make_fut: impl FnOnce() -> F + Send,
    mut on_tick: impl FnMut(Python<'_>) -> PyResult<()> + Send,
) -> PyResult<T>
where
    T: Send,
    F: Future<Output = Result<T>>,
{
    let rt = io::runtime().map_err(to_pyerr)?;
    py.detach(|| {
        let fut = std::panic::AssertUnwindSafe(make_fut()).catch_unwind();
        let fut = async {
            fut.await
                .unwrap_or_else(|panic| Err(Error::from_panic(&*panic)))
        };
        rt.block_on(async {
            tokio::pin!(fut);
            // The first tick is 100 ms away: awaiting an interval's immediate first tick
            // would wait for the timer driver's next turn (1 ms granularity), a delay every
            // call would pay, which dominates reads served from memory.
            let every = Duration::from_millis(100);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tokio::select! {
                    out = &mut fut => return out.map_err(to_pyerr),
                    _ = tick.tick() => Python::attach(|py| {
                        py.check_signals()?;
                        on_tick(py)
                    })?,
                }
            }
        })
    })
}
