//! LZW (TIFF code 5): MSB-first codes with TIFF's early code-size switch (weezl).

use weezl::{decode::Decoder, BitOrder, LzwStatus};

use super::short_output;
use crate::error::{Error, Result};

/// Fill `out` from the LZW stream `src`, stopping when `out` is full. A missing end-of-information
/// code is tolerated (libtiff does too) as long as enough bytes were produced.
pub(crate) fn decode(src: &[u8], out: &mut [u8]) -> Result<()> {
    let mut dec = Decoder::with_tiff_size_switch(BitOrder::Msb, 8);
    let mut i = 0usize;
    let mut o = 0usize;
    while o < out.len() {
        let input = src.get(i..).unwrap_or_default();
        let rest = out.get_mut(o..).unwrap_or_default();
        let r = dec.decode_bytes(input, rest);
        i += r.consumed_in;
        o += r.consumed_out;
        match r.status {
            Ok(LzwStatus::Ok) => {
                if r.consumed_in == 0 && r.consumed_out == 0 {
                    break;
                }
            }
            Ok(LzwStatus::Done) | Ok(LzwStatus::NoProgress) => break,
            Err(e) => {
                if o >= out.len() {
                    break;
                }
                return Err(Error::corrupt(format!("corrupt LZW stream: {e}")));
            }
        }
    }
    if o < out.len() {
        return Err(short_output(o, out.len()));
    }
    Ok(())
}
