//! LZMA (TIFF code 34925): an .xz stream (liblzma), decoded until the needed bytes are out.

use liblzma::stream::{Action, Status, Stream};

use super::short_output;
use crate::error::{Error, Result};

/// Memory limit for the LZMA dictionary: GDAL's presets stay far below it.
const MEMLIMIT: u64 = 512 << 20;

/// Fill `out` from the xz stream `src`, stopping when `out` is full.
pub(crate) fn decode(src: &[u8], out: &mut [u8]) -> Result<()> {
    if out.is_empty() {
        return Ok(());
    }
    let mut s = Stream::new_stream_decoder(MEMLIMIT, 0)
        .map_err(|e| Error::internal(format!("cannot start the LZMA decoder: {e}")))?;
    loop {
        let i = usize::try_from(s.total_in()).unwrap_or(usize::MAX);
        let o = usize::try_from(s.total_out()).unwrap_or(usize::MAX);
        let input = src.get(i..).unwrap_or_default();
        let rest = out.get_mut(o..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(());
        }
        let status = s
            .process(input, rest, Action::Run)
            .map_err(|e| Error::corrupt(format!("corrupt LZMA stream: {e}")))?;
        let progressed = (s.total_in(), s.total_out()) != (i as u64, o as u64);
        let filled = usize::try_from(s.total_out()).unwrap_or(usize::MAX);
        if filled >= out.len() {
            return Ok(());
        }
        if status == Status::StreamEnd || !progressed {
            return Err(short_output(filled, out.len()));
        }
    }
}
