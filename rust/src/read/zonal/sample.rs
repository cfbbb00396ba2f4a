//! Decoded samples as float64 values, with NaN and nodata left out.

use crate::error::Result;

/// How to read one decoded sample (native byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sample {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F16,
    F32,
    F64,
}

impl Sample {
    pub(super) fn of(bits: u16, format: u16) -> Result<Self> {
        Ok(match (crate::codec::element_bytes(bits)?, format) {
            (1, 2) => Self::I8,
            (1, _) => Self::U8,
            (2, 2) => Self::I16,
            (2, 3) => Self::F16,
            (2, _) => Self::U16,
            (4, 2) => Self::I32,
            (4, 3) => Self::F32,
            (4, _) => Self::U32,
            (8, 2) => Self::I64,
            (8, 3) => Self::F64,
            _ => Self::U64,
        })
    }

    pub(super) fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::U16 | Self::I16 | Self::F16 => 2,
            Self::U32 | Self::I32 | Self::F32 => 4,
            Self::U64 | Self::I64 | Self::F64 => 8,
        }
    }
}

/// The value of a sample, or None when it is left out (NaN, or equal to `nodata` compared in
/// the sample's own type for floats, as NumPy compares an array with a Python float).
pub(super) fn value(sample: Sample, px: &[u8], nodata: Option<f64>) -> Option<f64> {
    fn arr<const N: usize>(px: &[u8]) -> Option<[u8; N]> {
        px.get(..N)?.try_into().ok()
    }
    let v = match sample {
        Sample::U8 => f64::from(u8::from_ne_bytes(arr(px)?)),
        Sample::I8 => f64::from(i8::from_ne_bytes(arr(px)?)),
        Sample::U16 => f64::from(u16::from_ne_bytes(arr(px)?)),
        Sample::I16 => f64::from(i16::from_ne_bytes(arr(px)?)),
        Sample::U32 => f64::from(u32::from_ne_bytes(arr(px)?)),
        Sample::I32 => f64::from(i32::from_ne_bytes(arr(px)?)),
        Sample::U64 => u64::from_ne_bytes(arr(px)?) as f64,
        Sample::I64 => i64::from_ne_bytes(arr(px)?) as f64,
        Sample::F16 => {
            let v = half::f16::from_ne_bytes(arr(px)?);
            if v.is_nan() || nodata.is_some_and(|n| v == half::f16::from_f64(n)) {
                return None;
            }
            return Some(v.to_f64());
        }
        Sample::F32 => {
            let v = f32::from_ne_bytes(arr(px)?);
            if v.is_nan() || nodata.is_some_and(|n| v == n as f32) {
                return None;
            }
            return Some(f64::from(v));
        }
        Sample::F64 => f64::from_ne_bytes(arr(px)?),
    };
    if v.is_nan() || nodata == Some(v) {
        return None;
    }
    Some(v)
}
