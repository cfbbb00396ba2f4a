//! TIFF predictors, undone in place on native-endian rows.
//!
//! * 2 (horizontal differencing): per sample, wrapping add of the previous pixel's sample.
//! * 3 (floating point, libtiff `fpAcc`): each row stores the bytes of its samples as planes,
//!   most significant byte plane first, byte-differenced with a stride of `samples`; the file's
//!   byte order does not apply. We undo the differencing, then reassemble native samples.

use super::TileSpec;
use crate::error::{Error, Result};

/// An integer sample type the horizontal predictor works on.
trait Sample: Copy + Default {
    const SIZE: usize;
    fn read(b: &[u8]) -> Self;
    fn write(self, b: &mut [u8]);
    fn wrapping_add(self, o: Self) -> Self;
}

macro_rules! impl_sample {
    ($t:ty) => {
        impl Sample for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn read(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().unwrap_or_default())
            }
            #[inline(always)]
            fn write(self, b: &mut [u8]) {
                b.copy_from_slice(&self.to_ne_bytes());
            }
            #[inline(always)]
            fn wrapping_add(self, o: Self) -> Self {
                <$t>::wrapping_add(self, o)
            }
        }
    };
}
impl_sample!(u8);
impl_sample!(u16);
impl_sample!(u32);
impl_sample!(u64);

/// Undo the predictor of `spec` on `buf` (whole rows of `width * samples` native samples).
pub(crate) fn undo(buf: &mut [u8], spec: &TileSpec<'_>, elem: usize) -> Result<()> {
    let samples = spec.samples as usize;
    let row_len = (spec.width as usize) * samples * elem;
    if row_len == 0 {
        return Ok(());
    }
    match spec.predictor {
        1 => Ok(()),
        2 => {
            match elem {
                1 => horizontal::<u8>(buf, row_len, samples),
                2 => horizontal::<u16>(buf, row_len, samples),
                4 => horizontal::<u32>(buf, row_len, samples),
                8 => horizontal::<u64>(buf, row_len, samples),
                _ => {}
            }
            Ok(())
        }
        3 => {
            if spec.sample_format != 3 || !matches!(elem, 2 | 4 | 8) {
                return Err(Error::unsupported(format!(
                    "floating point Predictor 3 on {}-bit SampleFormat {} samples is not supported",
                    spec.bits_per_sample, spec.sample_format
                )));
            }
            floating_point(buf, row_len, samples, elem);
            Ok(())
        }
        p => Err(Error::unsupported(format!(
            "TIFF Predictor {p} is not supported"
        ))),
    }
}

/// Undo horizontal differencing (Predictor 2, one sample per pixel, `elem`-byte integers) of
/// one native-endian `row`, writing only samples `start..end` into `out`
/// (`(end - start) * elem` bytes). Samples before `start` are summed but not written, samples
/// after `end` not even read: a window's columns cost no more than the predictor alone.
pub fn horizontal_span(
    row: &[u8],
    elem: usize,
    start: usize,
    end: usize,
    out: &mut [u8],
) -> Result<()> {
    let ok = start <= end
        && end.checked_mul(elem).is_some_and(|n| n <= row.len())
        && out.len() == (end - start) * elem;
    if !ok {
        return Err(Error::internal("predictor span outside the row"));
    }
    match elem {
        1 => span::<u8>(row, start, end, out),
        2 => span_u16(row, start, end, out),
        4 => span::<u32>(row, start, end, out),
        8 => span::<u64>(row, start, end, out),
        _ => {
            return Err(Error::internal(
                "predictor span of an unsupported sample size",
            ))
        }
    }
    Ok(())
}

fn span<T: Sample>(row: &[u8], start: usize, end: usize, out: &mut [u8]) {
    let (head, rest) = row.split_at(start * T::SIZE);
    let mut acc = T::default();
    for c in head.chunks_exact(T::SIZE) {
        acc = T::read(c).wrapping_add(acc);
    }
    let wanted = rest.get(..(end - start) * T::SIZE).unwrap_or(&[]);
    for (c, o) in wanted
        .chunks_exact(T::SIZE)
        .zip(out.chunks_exact_mut(T::SIZE))
    {
        acc = T::read(c).wrapping_add(acc);
        acc.write(o);
    }
}

/// [`span`] for 16-bit samples: eight at a time with an SSE2 prefix sum on x86_64 (the
/// running sum carries from vector to vector in two shuffles and an add, instead of one
/// dependent add per sample).
#[cfg(target_arch = "x86_64")]
fn span_u16(row: &[u8], start: usize, end: usize, out: &mut [u8]) {
    use std::arch::x86_64::{
        _mm_add_epi16, _mm_extract_epi16, _mm_loadu_si128, _mm_set1_epi16, _mm_shufflehi_epi16,
        _mm_slli_si128, _mm_storeu_si128, _mm_unpackhi_epi64,
    };
    let (head, rest) = row.split_at(start * 2);
    let mut acc = head
        .chunks_exact(2)
        .fold(0u16, |a, c| u16::read(c).wrapping_add(a));
    let wanted = rest.get(..(end - start) * 2).unwrap_or(&[]);
    let mut src = wanted.chunks_exact(16);
    let mut dst = out.chunks_exact_mut(16);
    // SAFETY: SSE2 is part of the x86_64 baseline; every load and store is an unaligned
    // 16-byte access to a chunk of exactly 16 bytes.
    unsafe {
        let mut carry = _mm_set1_epi16(acc as i16);
        for (s, o) in (&mut src).zip(&mut dst) {
            let mut v = _mm_loadu_si128(s.as_ptr().cast());
            v = _mm_add_epi16(v, _mm_slli_si128::<2>(v));
            v = _mm_add_epi16(v, _mm_slli_si128::<4>(v));
            v = _mm_add_epi16(v, _mm_slli_si128::<8>(v));
            v = _mm_add_epi16(v, carry);
            _mm_storeu_si128(o.as_mut_ptr().cast(), v);
            // Broadcast the last sample: the carry into the next eight.
            carry = _mm_shufflehi_epi16::<0xFF>(v);
            carry = _mm_unpackhi_epi64(carry, carry);
        }
        acc = _mm_extract_epi16::<7>(carry) as u16;
    }
    for (c, o) in src
        .remainder()
        .chunks_exact(2)
        .zip(dst.into_remainder().chunks_exact_mut(2))
    {
        acc = u16::read(c).wrapping_add(acc);
        acc.write(o);
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn span_u16(row: &[u8], start: usize, end: usize, out: &mut [u8]) {
    span::<u16>(row, start, end, out)
}

/// Horizontal differencing, undone row by row.
fn horizontal<T: Sample>(buf: &mut [u8], row_len: usize, samples: usize) {
    if samples == 1 {
        // Four rows at a time: independent add chains keep the CPU busy.
        let mut quads = buf.chunks_exact_mut(row_len * 4);
        for quad in &mut quads {
            let (r01, r23) = quad.split_at_mut(row_len * 2);
            let (r0, r1) = r01.split_at_mut(row_len);
            let (r2, r3) = r23.split_at_mut(row_len);
            let mut prev = [T::default(); 4];
            let rows = r0
                .chunks_exact_mut(T::SIZE)
                .zip(r1.chunks_exact_mut(T::SIZE))
                .zip(
                    r2.chunks_exact_mut(T::SIZE)
                        .zip(r3.chunks_exact_mut(T::SIZE)),
                );
            for ((a, b), (c, d)) in rows {
                let [pa, pb, pc, pd] = &mut prev;
                *pa = T::read(a).wrapping_add(*pa);
                *pb = T::read(b).wrapping_add(*pb);
                *pc = T::read(c).wrapping_add(*pc);
                *pd = T::read(d).wrapping_add(*pd);
                pa.write(a);
                pb.write(b);
                pc.write(c);
                pd.write(d);
            }
        }
        for row in quads.into_remainder().chunks_exact_mut(row_len) {
            let mut prev = T::default();
            for c in row.chunks_exact_mut(T::SIZE) {
                let v = T::read(c).wrapping_add(prev);
                v.write(c);
                prev = v;
            }
        }
        return;
    }
    match samples {
        2 => return horizontal_n::<T, 2>(buf, row_len),
        3 => return horizontal_n::<T, 3>(buf, row_len),
        4 => return horizontal_n::<T, 4>(buf, row_len),
        _ => {}
    }
    let mut prev = vec![T::default(); samples];
    for row in buf.chunks_exact_mut(row_len) {
        prev.fill(T::default());
        for px in row.chunks_exact_mut(samples * T::SIZE) {
            for (c, p) in px.chunks_exact_mut(T::SIZE).zip(prev.iter_mut()) {
                let v = T::read(c).wrapping_add(*p);
                v.write(c);
                *p = v;
            }
        }
    }
}

/// Horizontal differencing with `S` samples per pixel known at compile time.
fn horizontal_n<T: Sample, const S: usize>(buf: &mut [u8], row_len: usize) {
    for row in buf.chunks_exact_mut(row_len) {
        let mut prev = [T::default(); S];
        for px in row.chunks_exact_mut(S * T::SIZE) {
            for (c, p) in px.chunks_exact_mut(T::SIZE).zip(prev.iter_mut()) {
                *p = T::read(c).wrapping_add(*p);
                p.write(c);
            }
        }
    }
}

/// libtiff `fpAcc`: undo byte differencing, then gather byte planes (MSB plane first).
fn floating_point(buf: &mut [u8], row_len: usize, samples: usize, elem: usize) {
    let count = row_len / elem;
    let mut tmp = vec![0u8; row_len];
    for row in buf.chunks_exact_mut(row_len) {
        horizontal::<u8>(row, row_len, samples);
        tmp.copy_from_slice(row);
        for (i, out) in row.chunks_exact_mut(elem).enumerate() {
            // Plane p holds byte p of each sample in big-endian order.
            for (p, b) in out.iter_mut().enumerate() {
                *b = tmp.get(p * count + i).copied().unwrap_or(0);
            }
            if cfg!(target_endian = "little") {
                out.reverse();
            }
        }
    }
}

#[cfg(test)]
mod span_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn spec(bits: u16, width: u32) -> TileSpec<'static> {
        TileSpec {
            compression: 1,
            predictor: 2,
            bits_per_sample: bits,
            sample_format: 1,
            samples: 1,
            width,
            rows: 1,
            little_endian: true,
            photometric: None,
            jpeg_tables: None,
            lerc_parameters: None,
            nodata: None,
        }
    }

    #[test]
    fn span_equals_the_whole_row_undone_then_sliced() {
        for elem in [1usize, 2, 4, 8] {
            let width = 53;
            let row: Vec<u8> = (0..width * elem).map(|i| (i * 31 % 251) as u8).collect();
            let mut whole = row.clone();
            undo(&mut whole, &spec(elem as u16 * 8, width as u32), elem).unwrap();
            for (start, end) in [(0, width), (0, 1), (5, 17), (3, 44), (52, 53), (12, 12)] {
                let mut out = vec![0u8; (end - start) * elem];
                horizontal_span(&row, elem, start, end, &mut out).unwrap();
                assert_eq!(
                    out,
                    whole[start * elem..end * elem],
                    "elem {elem} {start}..{end}"
                );
            }
            let mut out = vec![0u8; 2 * elem];
            assert!(horizontal_span(&row, elem, 52, 54, &mut out).is_err());
        }
    }
}
