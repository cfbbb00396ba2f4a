//! Fuzz entry point of the Arrow read-plan import ([`requests_from_batch`]): plan batches of
//! arbitrary column types, nulls, dictionary-encoded layouts, list offsets and slices, built
//! with arrow-rs from the fuzz bytes; the requests it accepts are then planned and placed.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, LargeBinaryBuilder, LargeStringBuilder, StringBuilder,
    StringViewBuilder,
};
use arrow_array::ffi::{from_ffi, to_ffi};
use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, Int8Array, LargeListArray, ListArray, RecordBatch, StructArray, UInt16Array,
    UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{Field, Fields, Schema};

use super::plan::check_plan;
use super::{not_internal, Checked, Input, Violation};
use crate::read::arrow::requests_from_batch;

/// What a layout field holds, which picks the Arrow types tried for it.
#[derive(Clone, Copy)]
enum Holds {
    Int,
    IntList,
    Dtype,
    Bool,
    Binary,
    Float,
}

/// Fields of the `layout` struct the importer reads (aliases included).
const LAYOUT_FIELDS: [(&str, Holds); 20] = [
    ("image_width", Holds::Int),
    ("width", Holds::Int),
    ("image_height", Holds::Int),
    ("height", Holds::Int),
    ("tile_width", Holds::Int),
    ("tile_height", Holds::Int),
    ("bits_per_sample", Holds::Int),
    ("sample_format", Holds::Int),
    ("dtype", Holds::Dtype),
    ("tile_offsets", Holds::IntList),
    ("tile_byte_counts", Holds::IntList),
    ("lerc_parameters", Holds::IntList),
    ("tiled", Holds::Bool),
    ("samples_per_pixel", Holds::Int),
    ("planar_configuration", Holds::Int),
    ("compression", Holds::Int),
    ("predictor", Holds::Int),
    ("photometric", Holds::Int),
    ("jpeg_tables", Holds::Binary),
    ("nodata", Holds::Float),
];

/// Top-level integer columns of the plan.
const INT_COLUMNS: [&str; 7] = [
    "band_index",
    "col_off",
    "row_off",
    "width",
    "height",
    "out_offset",
    "out_row_stride",
];

const DTYPES: [&str; 13] = [
    "uint8",
    "uint16",
    "int16",
    "float32",
    "float64",
    "uint32",
    "int32",
    "int8",
    "uint64",
    "int64",
    "float16",
    "complex64",
    "",
];

/// Import a fuzz-built plan batch directly; see the module docs.
pub fn plan_import(data: &[u8]) -> Checked {
    let Some((batch, sliced)) = build_batch(&mut Input::new(data)) else {
        return Ok(());
    };
    let direct = requests_from_batch(&batch);
    if !sliced {
        // The plan a Python caller hands over arrives through the Arrow C data interface.
        let imported = ffi_round_trip(&batch)?;
        let via_ffi = requests_from_batch(&imported);
        if format!("{direct:?}") != format!("{via_ffi:?}") {
            return Err(Violation(format!(
                "the plan imports differently through the C data interface:\n{direct:?}\n{via_ffi:?}"
            )));
        }
    }
    match direct {
        Ok(requests) if requests.len() != batch.num_rows() => Err(Violation(format!(
            "{} plan rows gave {} requests",
            batch.num_rows(),
            requests.len()
        ))),
        Ok(requests) => check_plan(&requests),
        Err(e) => not_internal(&e, "requests_from_batch"),
    }
}

/// `batch` exported and imported again through the Arrow C data interface.
fn ffi_round_trip(batch: &RecordBatch) -> Result<RecordBatch, Violation> {
    let exported = StructArray::from(batch.clone()).into_data();
    let (array, schema) =
        to_ffi(&exported).map_err(|e| Violation(format!("Arrow C export: {e}")))?;
    // SAFETY: `array` and `schema` were just produced by `to_ffi` from a valid array; they
    // are moved in (released once) and not used after.
    let imported = unsafe { from_ffi(array, &schema) }
        .map_err(|e| Violation(format!("Arrow C import: {e}")))?;
    Ok(RecordBatch::from(StructArray::from(imported)))
}

/// A plan batch, and whether any struct or batch level of it is a slice with an offset.
fn build_batch(input: &mut Input<'_>) -> Option<(RecordBatch, bool)> {
    let rows = 1 + input.below(6);
    // extra rows before and after, sliced away at some level
    let (front, back) = (input.below(3), input.below(3));
    let slice_level = input.u8() % 4; // 0 none, 1 batch, 2 layout struct, 3 its children
    let len = if slice_level == 1 {
        rows + front + back
    } else {
        rows
    };
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    let mut push = |name: &str, column: ArrayRef| {
        fields.push(Field::new(name, column.data_type().clone(), true));
        columns.push(column);
    };
    let url_kind = input.u8();
    if url_kind % 8 != 7 {
        push(
            "url",
            strings(input, len, url_kind, &["file:///a.tif", "mem://b"]),
        );
    }
    let layout = layout_column(input, len, slice_level == 3, slice_level == 2, front)?;
    push("layout", layout);
    for name in INT_COLUMNS {
        let kind = input.u8();
        if kind % 16 != 15 {
            push(name, ints(input, len, kind));
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema, columns).ok()?;
    let batch = if slice_level == 1 {
        batch.slice(front, rows)
    } else {
        batch
    };
    Some((batch, slice_level != 0))
}

/// The `layout` column (`len` rows): a struct, possibly with nulls, a slice of a longer one
/// (`slice_struct`: rows `front..front + len` of it), built of sliced children
/// (`slice_children`), or dictionary-encoded.
fn layout_column(
    input: &mut Input<'_>,
    len: usize,
    slice_children: bool,
    slice_struct: bool,
    front: usize,
) -> Option<ArrayRef> {
    let flags = input.u8();
    let dictionary = flags & 1 != 0;
    let n = if dictionary { 1 + input.below(3) } else { len };
    let padded = if slice_children || slice_struct {
        n + front + 2
    } else {
        n
    };
    let mut fields = Vec::new();
    let mut children = Vec::new();
    for (name, holds) in LAYOUT_FIELDS {
        let kind = input.u8();
        if kind % 8 == 7 {
            continue;
        }
        let mut child = match holds {
            Holds::Int => ints(input, padded, kind),
            Holds::IntList => int_lists(input, padded, kind),
            Holds::Dtype => strings(input, padded, kind, &DTYPES),
            Holds::Bool => bools(input, padded, kind),
            Holds::Binary => binaries(input, padded, kind),
            Holds::Float => floats(input, padded, kind),
        };
        if slice_children {
            child = child.slice(front, n);
        }
        fields.push(Field::new(name, child.data_type().clone(), true));
        children.push(child);
    }
    if fields.is_empty() {
        return None;
    }
    let struct_len = if slice_children { n } else { padded };
    let nulls = (flags & 2 != 0).then(|| {
        NullBuffer::from(
            (0..struct_len)
                .map(|_| input.u8() % 5 != 0)
                .collect::<Vec<_>>(),
        )
    });
    let layout: ArrayRef =
        Arc::new(StructArray::try_new(Fields::from(fields), children, nulls).ok()?);
    let layout = if slice_struct {
        layout.slice(front, n)
    } else {
        layout
    };
    if !dictionary {
        return Some(layout);
    }
    let keys: Int32Array = (0..len)
        .map(|_| {
            let k = input.u8();
            (k != 255).then_some(i32::from(k) % (n as i32 + 1))
        })
        .collect();
    let dict = DictionaryArray::<Int32Type>::try_new(keys, layout).ok()?;
    Some(Arc::new(dict))
}

/// One integer: mostly small, sometimes 16 bits, sometimes any `i64`.
fn int_value(input: &mut Input<'_>) -> i64 {
    match input.u8() {
        b @ 0..=199 => i64::from(b),
        200..=231 => i64::from(input.u16()),
        232..=247 => i64::from(input.u16() as i16),
        _ => input.i64(),
    }
}

/// `len` integers (with nulls when `kind` says) as the Arrow type `kind` picks, or floats or
/// strings (a wrong type the importer must refuse).
fn ints(input: &mut Input<'_>, len: usize, kind: u8) -> ArrayRef {
    let with_nulls = kind & 0x80 != 0;
    let values: Vec<Option<i64>> = (0..len)
        .map(|_| {
            let null = with_nulls && input.u8() % 4 == 0;
            let v = int_value(input);
            (!null).then_some(v)
        })
        .collect();
    let it = values.iter().copied();
    match kind % 11 {
        0 => Arc::new(Int8Array::from_iter(it.map(|v| v.map(|v| v as i8)))),
        1 => Arc::new(Int16Array::from_iter(it.map(|v| v.map(|v| v as i16)))),
        2 => Arc::new(Int32Array::from_iter(it.map(|v| v.map(|v| v as i32)))),
        3 | 10 => Arc::new(Int64Array::from_iter(it)),
        4 => Arc::new(UInt8Array::from_iter(it.map(|v| v.map(|v| v as u8)))),
        5 => Arc::new(UInt16Array::from_iter(it.map(|v| v.map(|v| v as u16)))),
        6 => Arc::new(UInt32Array::from_iter(it.map(|v| v.map(|v| v as u32)))),
        7 => Arc::new(UInt64Array::from_iter(it.map(|v| v.map(|v| v as u64)))),
        8 => {
            Arc::new(Float64Array::from_iter(it.map(|v| {
                v.map(|v| v as f64 + if v % 7 == 3 { 0.5 } else { 0.0 })
            })))
        }
        _ => {
            let mut b = StringBuilder::new();
            for v in values {
                b.append_option(v.map(|v| v.to_string()));
            }
            Arc::new(b.finish())
        }
    }
}

/// `len` lists of integers (List or LargeList, values starting past a sliced prefix).
fn int_lists(input: &mut Input<'_>, len: usize, kind: u8) -> ArrayRef {
    let skip = input.below(3);
    let mut lengths = Vec::with_capacity(len);
    let mut total = skip;
    for _ in 0..len {
        let n = match input.u8() {
            b @ 0..=239 => usize::from(b % 32),
            _ => usize::from(input.u16() % 4096),
        };
        lengths.push(n);
        total += n;
    }
    let values = ints(input, total, kind >> 3).slice(0, total);
    let mut offsets = vec![skip];
    let mut at = skip;
    for n in &lengths {
        at += n;
        offsets.push(at);
    }
    let nulls = (kind & 0x40 != 0)
        .then(|| NullBuffer::from((0..len).map(|_| input.u8() % 4 != 0).collect::<Vec<_>>()));
    let field = Arc::new(Field::new("item", values.data_type().clone(), true));
    let list: Option<ArrayRef> = if kind & 4 == 0 {
        let offsets = offsets
            .iter()
            .map(|&o| i32::try_from(o).ok())
            .collect::<Option<Vec<_>>>();
        offsets.and_then(|o| {
            ListArray::try_new(field, OffsetBuffer::new(o.into()), values, nulls)
                .ok()
                .map(|a| Arc::new(a) as ArrayRef)
        })
    } else {
        let offsets: Vec<i64> = offsets.iter().map(|&o| o as i64).collect();
        LargeListArray::try_new(field, OffsetBuffer::new(offsets.into()), values, nulls)
            .ok()
            .map(|a| Arc::new(a) as ArrayRef)
    };
    list.unwrap_or_else(|| ints(input, len, 3))
}

/// `len` strings picked from `choices` (Utf8, LargeUtf8 or Utf8View; nulls when `kind` says).
fn strings(input: &mut Input<'_>, len: usize, kind: u8, choices: &[&str]) -> ArrayRef {
    let values: Vec<Option<&str>> = (0..len)
        .map(|_| {
            let b = input.u8();
            (kind & 0x80 == 0 || b % 4 != 0)
                .then(|| choices.get(usize::from(b) % choices.len().max(1)).copied())
                .flatten()
        })
        .collect();
    match kind % 3 {
        0 => {
            let mut b = StringBuilder::new();
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        1 => {
            let mut b = LargeStringBuilder::new();
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringViewBuilder::new();
            values.iter().for_each(|v| b.append_option(*v));
            Arc::new(b.finish())
        }
    }
}

fn bools(input: &mut Input<'_>, len: usize, kind: u8) -> ArrayRef {
    let mut b = BooleanBuilder::new();
    for _ in 0..len {
        let v = input.u8();
        b.append_option((kind & 0x80 == 0 || v % 4 != 0).then_some(v & 1 == 1));
    }
    Arc::new(b.finish())
}

fn binaries(input: &mut Input<'_>, len: usize, kind: u8) -> ArrayRef {
    let values: Vec<Option<&[u8]>> = (0..len)
        .map(|_| {
            let n = input.below(64);
            (kind & 0x80 == 0 || n % 4 != 0).then(|| input.bytes(n))
        })
        .collect();
    if kind & 1 == 0 {
        let mut b = BinaryBuilder::new();
        values.iter().for_each(|v| b.append_option(*v));
        Arc::new(b.finish())
    } else {
        let mut b = LargeBinaryBuilder::new();
        values.iter().for_each(|v| b.append_option(*v));
        Arc::new(b.finish())
    }
}

fn floats(input: &mut Input<'_>, len: usize, kind: u8) -> ArrayRef {
    let values: Vec<Option<f64>> = (0..len)
        .map(|_| {
            let v = input.f64();
            (kind & 0x80 == 0 || input.u8() % 4 != 0).then_some(v)
        })
        .collect();
    match kind % 3 {
        0 => Arc::new(Float64Array::from(values)),
        1 => Arc::new(Float32Array::from_iter(
            values.into_iter().map(|v| v.map(|v| v as f32)),
        )),
        _ => ints(input, len, kind),
    }
}
