//! Fuzz entry point of the tile decoders: every codec, predictor and bit depth.
//!
//! Input: a 16-byte header choosing the [`TileSpec`], optional JPEG tables and nodata, then
//! the compressed tile. [`decode_seed`] writes that format for a real tile.

use super::{not_internal, Checked, Input, Violation};
use crate::codec::{self, TileSpec};

/// Compressions the header's first byte picks from (known ones first, then refused ones).
const COMPRESSIONS: [u16; 14] = [
    1, 5, 7, 8, 32946, 32773, 34887, 34925, 50000, 50001, 6, 9, 34933, 2,
];
/// Largest tile width and height tried (bounds the output buffers).
const MAX_SIDE: u16 = 512;

const FLAG_LITTLE_ENDIAN: u8 = 1;
const FLAG_PHOTOMETRIC: u8 = 2;
const FLAG_JPEG_TABLES: u8 = 4;
const FLAG_LERC_PARAMETERS: u8 = 8;
const FLAG_NODATA: u8 = 16;

/// The fuzz input that decodes `tile` with `spec`, `rows_needed` rows (for seed corpora).
pub fn decode_seed(spec: &TileSpec<'_>, rows_needed: u32, tile: &[u8]) -> Option<Vec<u8>> {
    let comp = COMPRESSIONS.iter().position(|&c| c == spec.compression)?;
    let side = |v: u32| {
        u16::try_from(v)
            .ok()
            .filter(|&v| (1..=MAX_SIDE).contains(&v))
    };
    let (width, rows, needed) = (side(spec.width)?, side(spec.rows)?, side(rows_needed)?);
    let mut flags = 0;
    for (on, flag) in [
        (spec.little_endian, FLAG_LITTLE_ENDIAN),
        (spec.photometric.is_some(), FLAG_PHOTOMETRIC),
        (spec.jpeg_tables.is_some(), FLAG_JPEG_TABLES),
        (spec.lerc_parameters.is_some(), FLAG_LERC_PARAMETERS),
        (spec.nodata.is_some(), FLAG_NODATA),
    ] {
        if on {
            flags |= flag;
        }
    }
    let tables = spec.jpeg_tables.unwrap_or(&[]);
    let mut out = vec![
        u8::try_from(comp).ok()?,
        u8::try_from(spec.bits_per_sample).ok()?,
        u8::try_from(spec.sample_format).ok()?,
        u8::try_from(spec.predictor).ok()?,
        u8::try_from(spec.samples).ok()?,
    ];
    out.extend((width - 1).to_le_bytes());
    out.extend((rows - 1).to_le_bytes());
    out.extend((needed - 1).to_le_bytes());
    out.push(flags);
    out.push(u8::try_from(spec.photometric.unwrap_or(0)).ok()?);
    let lerc_extra = spec.lerc_parameters.and_then(|p| p.get(1).copied());
    out.push(u8::try_from(lerc_extra.unwrap_or(0)).ok()?);
    out.extend(u16::try_from(tables.len()).ok()?.to_le_bytes());
    out.extend_from_slice(tables);
    if let Some(v) = spec.nodata {
        out.extend(v.to_le_bytes());
    }
    out.extend_from_slice(tile);
    Some(out)
}

/// Decode one fuzz-chosen tile; see the module docs for the input format.
pub fn decode_tile(data: &[u8]) -> Checked {
    let mut input = Input::new(data);
    let compression = COMPRESSIONS
        .get(input.below(COMPRESSIONS.len()))
        .copied()
        .unwrap_or(1);
    let bits_per_sample = u16::from(input.u8());
    let sample_format = u16::from(input.u8());
    let predictor = u16::from(input.u8() % 4);
    let samples = u16::from(input.u8() % 5);
    let width = 1 + u32::from(input.u16() % MAX_SIDE);
    let rows = 1 + u32::from(input.u16() % MAX_SIDE);
    let rows_needed = 1 + u32::from(input.u16()) % rows;
    let flags = input.u8();
    let photometric = u16::from(input.u8());
    let lerc = [4, u32::from(input.u8())];
    let tables_len = usize::from(input.u16());
    let tables = (flags & FLAG_JPEG_TABLES != 0).then(|| input.bytes(tables_len));
    let nodata = (flags & FLAG_NODATA != 0).then(|| input.f64());
    let spec = TileSpec {
        compression,
        predictor,
        bits_per_sample,
        sample_format,
        samples,
        width,
        rows,
        little_endian: flags & FLAG_LITTLE_ENDIAN != 0,
        photometric: (flags & FLAG_PHOTOMETRIC != 0).then_some(photometric),
        jpeg_tables: tables,
        lerc_parameters: (flags & FLAG_LERC_PARAMETERS != 0).then_some(&lerc[..]),
        nodata,
    };
    check_decode(input.rest(), &spec, rows_needed)
}

/// Decode `src` as `spec` (the first `rows_needed` rows, then all rows) and check the
/// invariants of the module docs.
fn check_decode(src: &[u8], spec: &TileSpec<'_>, rows_needed: u32) -> Checked {
    let Some(needed) = decode(src, spec, rows_needed)? else {
        return Ok(());
    };
    if rows_needed < spec.rows {
        if let Some(all) = decode(src, spec, spec.rows)? {
            if all.get(..needed.len()) != Some(&needed[..]) {
                return Err(Violation(format!(
                    "{spec:?}: the first {rows_needed} rows differ from those of the whole tile"
                )));
            }
        }
    }
    if codec::predictor_deferrable(spec) {
        check_deferred_predictor(src, spec, rows_needed, &needed)?;
    }
    Ok(())
}

/// The decoded rows, None when decoding failed (with an error that is not internal).
fn decode(src: &[u8], spec: &TileSpec<'_>, rows: u32) -> Result<Option<Vec<u8>>, Violation> {
    let len = match codec::decoded_len(spec, rows) {
        Ok(len) => len,
        Err(e) => return not_internal(&e, "decoded_len").map(|()| None),
    };
    let mut dst = vec![0u8; len];
    match codec::decode_into(src, spec, rows, &mut dst) {
        Ok(()) => Ok(Some(dst)),
        Err(e) => not_internal(&e, "decode_into").map(|()| None),
    }
}

/// Decoding without the predictor, then undoing it per row span, gives `expected`.
fn check_deferred_predictor(
    src: &[u8],
    spec: &TileSpec<'_>,
    rows_needed: u32,
    expected: &[u8],
) -> Checked {
    let mut differenced = vec![0u8; expected.len()];
    if let Err(e) = codec::decode_into_differenced(src, spec, rows_needed, &mut differenced) {
        not_internal(&e, "decode_into_differenced")?;
        return Err(Violation(format!(
            "{spec:?}: decode_into succeeded but decode_into_differenced failed: {e}"
        )));
    }
    let elem = codec::element_bytes(spec.bits_per_sample)
        .map_err(|e| Violation(format!("element_bytes: {e}")))?;
    let width = spec.width as usize;
    let (c0, c1) = (width / 3, width - width / 4);
    let row_bytes = width * elem;
    for (row, want) in differenced
        .chunks_exact(row_bytes)
        .zip(expected.chunks_exact(row_bytes))
    {
        let mut out = vec![0u8; (c1 - c0) * elem];
        codec::predictor::horizontal_span(row, elem, c0, c1, &mut out)
            .map_err(|e| Violation(format!("horizontal_span: {e}")))?;
        if want.get(c0 * elem..c1 * elem) != Some(&out[..]) {
            return Err(Violation(format!(
                "{spec:?}: deferred predictor gives other samples than decode_into"
            )));
        }
    }
    Ok(())
}
