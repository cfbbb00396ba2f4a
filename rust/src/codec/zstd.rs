//! ZSTD (TIFF code 50000). One-shot into the output when the whole tile is wanted (or the
//! frame says it fits), else a streaming decode that stops once the needed bytes are out.
//! The context is thread-local.

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

/// Fill `out` (the first bytes of a tile whose whole decoded size is `full_len`) from the
/// ZSTD frame(s) in `src`, stopping when `out` is full.
///
/// libtiff (so GDAL) writes ZSTD tiles with the streaming API: the frame does not record its
/// content size. A whole tile is still decoded in one shot, straight into `out`; only a
/// partial tile goes through the (buffered, copying) streaming decoder.
pub(crate) fn decode(src: &[u8], out: &mut [u8], full_len: usize) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    DCTX.with(|c| {
        let mut dctx = c.borrow_mut();
        let _ = dctx.reset(ResetDirective::SessionOnly);
        let one_shot = match get_frame_content_size(src) {
            Ok(Some(n)) => n <= out.len() as u64,
            _ => out.len() >= full_len,
        };
        if !one_shot {
            return stream(&mut dctx, src, out);
        }
        if let Ok(n) = dctx.decompress(&mut *out, src) {
            if n >= out.len() {
                return Ok(());
            }
            return Err(short_output(n, out.len()));
        }
        // More than one frame, or more data than the tile holds: stream what is needed.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A frame written by the streaming API, as libtiff writes ZSTD tiles: no content size.
    fn streamed(data: &[u8]) -> Vec<u8> {
        let mut e = ::zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn frames_without_content_size_decode_whole_partial_and_oversized() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let src = streamed(&data);
        assert!(matches!(get_frame_content_size(&src), Ok(None)));

        let mut whole = vec![0u8; data.len()];
        decode(&src, &mut whole, data.len()).unwrap();
        assert_eq!(whole, data);

        let mut first = vec![0u8; 1000];
        decode(&src, &mut first, data.len()).unwrap();
        assert_eq!(first, data[..1000]);

        // The stream holds more than the tile: the tile's bytes, as before.
        let mut tile = vec![0u8; 200_000];
        decode(&src, &mut tile, 200_000).unwrap();
        assert_eq!(tile, data[..200_000]);

        let mut too_long = vec![0u8; data.len() + 1];
        assert!(decode(&src, &mut too_long, data.len() + 1).is_err());
        let mut out = vec![0u8; data.len()];
        assert!(decode(&src[..src.len() / 2], &mut out, data.len()).is_err());
    }
}
