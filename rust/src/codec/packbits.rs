//! PackBits (TIFF code 32773): byte-oriented run-length encoding.

use super::short_output;
use crate::error::Result;

/// Fill `out` from the PackBits stream `src`, stopping when `out` is full.
pub(crate) fn decode(src: &[u8], out: &mut [u8]) -> Result<()> {
    let mut i = 0usize;
    let mut o = 0usize;
    while o < out.len() {
        let Some(&n) = src.get(i) else { break };
        i += 1;
        let n = n as i8;
        if n >= 0 {
            let count = n as usize + 1;
            let take = count.min(out.len() - o);
            let Some(lit) = src.get(i..i + take) else {
                // Truncated literal run: copy what is there, then report the shortfall.
                let lit = src.get(i..).unwrap_or_default();
                if let Some(d) = out.get_mut(o..o + lit.len()) {
                    d.copy_from_slice(lit);
                }
                return Err(short_output(o + lit.len(), out.len()));
            };
            if let Some(d) = out.get_mut(o..o + take) {
                d.copy_from_slice(lit);
            }
            i += count;
            o += take;
        } else if n != -128 {
            let count = (1 - n as isize) as usize;
            let Some(&b) = src.get(i) else { break };
            i += 1;
            let take = count.min(out.len() - o);
            if let Some(d) = out.get_mut(o..o + take) {
                d.fill(b);
            }
            o += take;
        }
    }
    if o < out.len() {
        return Err(short_output(o, out.len()));
    }
    Ok(())
}
