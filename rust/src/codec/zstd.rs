//! ZSTD (TIFF code 50000). One-shot into the output when the frame fits exactly, else a
//! streaming decode that stops once the needed bytes are out. The context is thread-local.

use std::cell::RefCell;

use zstd::zstd_safe::{
    get_error_name, get_frame_content_size, DCtx, InBuffer, OutBuffer, ResetDirective,
};

use super::short_output;
use crate::error::{Error, Result};

thread_local! {
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

fn corrupt(code: usize) -> Error {
    Error::corrupt(format!("corrupt ZSTD stream: {}", get_error_name(code)))
}

/// Fill `out` from the ZSTD frame(s) in `src`, stopping when `out` is full.
pub(crate) fn decode(src: &[u8], out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    DCTX.with(|c| {
        let mut dctx = c.borrow_mut();
        let _ = dctx.reset(ResetDirective::SessionOnly);
        // Fast path: the (single) frame says it holds no more than we need.
        let fits = matches!(get_frame_content_size(src), Ok(Some(n)) if n <= out.len() as u64);
        if !fits {
            return stream(&mut dctx, src, out);
        }
        if let Ok(n) = dctx.decompress(&mut *out, src) {
            if n >= out.len() {
                return Ok(());
            }
            return Err(short_output(n, out.len()));
        }
        let _ = dctx.reset(ResetDirective::SessionOnly);
        stream(&mut dctx, src, out)
    })
}

fn stream(dctx: &mut DCtx<'static>, src: &[u8], out: &mut [u8]) -> Result<()> {
    let wanted = out.len();
    let mut input = InBuffer::around(src);
    let mut output = OutBuffer::around(out);
    loop {
        let before = (input.pos(), output.pos());
        let hint = dctx
            .decompress_stream(&mut output, &mut input)
            .map_err(corrupt)?;
        if output.pos() >= wanted {
            return Ok(());
        }
        let stalled = before == (input.pos(), output.pos());
        if (hint == 0 && input.pos() >= src.len()) || stalled {
            return Err(short_output(output.pos(), wanted));
        }
    }
}

/// Decode a whole ZSTD stream of unknown size, refusing to grow past `cap` bytes (LERC).
pub(crate) fn decode_capped(src: &[u8], cap: usize) -> Result<Vec<u8>> {
    DCTX.with(|c| {
        let mut dctx = c.borrow_mut();
        let _ = dctx.reset(ResetDirective::SessionOnly);
        let mut out: Vec<u8> =
            Vec::with_capacity(src.len().saturating_mul(4).clamp(4096, cap.max(4096)));
        let mut input = InBuffer::around(src);
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return Err(Error::corrupt(format!(
                        "ZSTD stream decodes past {cap} bytes"
                    )));
                }
                out.reserve(out.len().max(4096).min(cap - out.len()));
            }
            let before = (input.pos(), out.len());
            let mut output = OutBuffer::around_pos(&mut out, before.1);
            let hint = dctx
                .decompress_stream(&mut output, &mut input)
                .map_err(corrupt)?;
            let done = hint == 0 && input.pos() >= src.len();
            if done {
                return Ok(out);
            }
            if before == (input.pos(), out.len()) && out.len() < out.capacity() {
                return Err(Error::corrupt("truncated ZSTD stream"));
            }
        }
    })
}
