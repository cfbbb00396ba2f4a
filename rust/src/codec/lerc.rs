//! LERC (TIFF code 34887), optionally wrapped in DEFLATE or ZSTD (LercParameters
//! `[version, 0 none | 1 deflate | 2 zstd]`), decoded with Esri's library (`lerc` crate).
//!
//! GDAL writes chunky tiles as one LERC band of depth `samples` (older writers: `samples` bands
//! of depth 1, which we interleave). Pixels the blob's validity mask marks invalid become the
//! image nodata when set, else NaN for floats and 0 for integers.

use lerc::{decode as lerc_decode, get_blob_info, LercDataType};

use super::{decoded_len, deflate, zstd, TileSpec};
use crate::error::{Error, Result};

/// Decode one LERC tile into `dst`.
pub(crate) fn decode(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    let full_len = decoded_len(spec, spec.rows)?;
    // A LERC blob of incompressible data is about the raw size plus a mask and headers.
    let cap = full_len
        .saturating_add(full_len / 2)
        .saturating_add((spec.width as usize).saturating_mul(spec.rows as usize) / 8)
        .saturating_add(1 << 16);
    let extra = spec
        .lerc_parameters
        .and_then(|p| p.get(1).copied())
        .unwrap_or(0);
    let inflated;
    let blob: &[u8] = match extra {
        0 => src,
        1 => {
            inflated = deflate::inflate_capped(src, cap)?;
            &inflated
        }
        2 => {
            inflated = zstd::decode_capped(src, cap)?;
            &inflated
        }
        c => {
            return Err(Error::unsupported(format!(
                "LERC additional compression {c} is not supported"
            )))
        }
    };
    match (spec.sample_format, spec.bits_per_sample) {
        (1 | 4, 8) => typed::<u8>(blob, spec, rows_needed, dst),
        (2, 8) => typed::<i8>(blob, spec, rows_needed, dst),
        (1 | 4, 16) => typed::<u16>(blob, spec, rows_needed, dst),
        (2, 16) => typed::<i16>(blob, spec, rows_needed, dst),
        (1 | 4, 32) => typed::<u32>(blob, spec, rows_needed, dst),
        (2, 32) => typed::<i32>(blob, spec, rows_needed, dst),
        (3, 32) => typed::<f32>(blob, spec, rows_needed, dst),
        (3, 64) => typed::<f64>(blob, spec, rows_needed, dst),
        (f, b) => Err(Error::unsupported(format!(
            "LERC with {b}-bit SampleFormat {f} samples is not supported"
        ))),
    }
}

/// Sample types LERC decodes: the fill value for invalid pixels and native bytes.
trait Lerc: LercDataType {
    fn fill(nodata: Option<f64>) -> Self;
    fn put(self, out: &mut [u8]);
}

macro_rules! impl_lerc {
    ($t:ty, $missing:expr) => {
        impl Lerc for $t {
            fn fill(nodata: Option<f64>) -> Self {
                nodata.map_or($missing, |v| v as $t)
            }
            fn put(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_ne_bytes());
            }
        }
    };
}
impl_lerc!(u8, 0);
impl_lerc!(i8, 0);
impl_lerc!(u16, 0);
impl_lerc!(i16, 0);
impl_lerc!(u32, 0);
impl_lerc!(i32, 0);
impl_lerc!(f32, f32::NAN);
impl_lerc!(f64, f64::NAN);

fn lerc_err(e: impl std::fmt::Debug) -> Error {
    Error::corrupt(format!("corrupt LERC blob: {e:?}"))
}

fn typed<T: Lerc>(
    blob: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    dst: &mut [u8],
) -> Result<()> {
    let info = get_blob_info(blob).map_err(lerc_err)?;
    let (w, h, samples) = (
        spec.width as usize,
        spec.rows as usize,
        spec.samples as usize,
    );
    let (depth, bands) = (info.depth as usize, info.bands as usize);
    let interleaved = depth == samples && bands == 1;
    let band_seq = depth == 1 && bands == samples;
    if info.width as usize != w || info.height as usize != h || !(interleaved || band_seq) {
        return Err(Error::corrupt(format!(
            "LERC blob is {}x{} (depth {}, bands {}), expected {w}x{h} with {samples} samples",
            info.width, info.height, info.depth, info.bands
        )));
    }
    let masks = info.masks as usize;
    if masks > bands {
        return Err(Error::corrupt(format!(
            "LERC blob has {masks} masks for {bands} bands"
        )));
    }
    let (values, mask) = lerc_decode::<T>(blob, w, h, depth, bands, masks).map_err(lerc_err)?;
    let fill = T::fill(spec.nodata);
    let elem = std::mem::size_of::<T>();
    let pixels = w * rows_needed as usize;
    let plane = w * h;
    let valid = |band: usize, pixel: usize| -> bool {
        match &mask {
            None => true,
            Some(m) => {
                let idx = if masks > 1 {
                    band * plane + pixel
                } else {
                    pixel
                };
                m.get(idx).is_none_or(|&v| v != 0)
            }
        }
    };
    let mut outs = dst.chunks_exact_mut(elem);
    for pixel in 0..pixels {
        for s in 0..samples {
            let idx = if interleaved {
                pixel * samples + s
            } else {
                s * plane + pixel
            };
            let v = values.get(idx).copied().unwrap_or(fill);
            let v = if valid(s, pixel) { v } else { fill };
            if let Some(o) = outs.next() {
                v.put(o);
            }
        }
    }
    Ok(())
}
