//! Turn the Arrow read-plan batch (one row per window) into [`WindowRequest`]s.
//!
//! Columns: `url` (string), `layout` (struct, the `{band}_metadata` fields or an overview
//! entry; older collections may lack our appended fields), `band_index`, `col_off`, `row_off`,
//! `width`, `height`, `out_offset`, `out_row_stride` (integers; bytes for the last two).
//! Integer columns may be any Arrow integer type.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::DataType;
use bytes::Bytes;

use crate::enrich::bits_of_dtype;
use crate::error::{Error, Result};
use crate::read::plan::{Window, WindowRequest};
use crate::tiff::ImageLayout;

fn int_at(a: &dyn Array, i: usize) -> Option<i64> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Int8 => i64::from(a.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => i64::from(a.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => i64::from(a.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i),
        DataType::UInt8 => i64::from(a.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => i64::from(a.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => i64::from(a.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => i64::try_from(a.as_primitive::<UInt64Type>().value(i)).ok()?,
        DataType::Float64 => {
            let v = a.as_primitive::<arrow_array::types::Float64Type>().value(i);
            if v.fract() != 0.0 {
                return None;
            }
            v as i64
        }
        _ => return None,
    })
}

fn f64_at(a: &dyn Array, i: usize) -> Option<f64> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Float64 => Some(a.as_primitive::<arrow_array::types::Float64Type>().value(i)),
        DataType::Float32 => Some(f64::from(
            a.as_primitive::<arrow_array::types::Float32Type>().value(i),
        )),
        _ => int_at(a, i).map(|v| v as f64),
    }
}

fn list_at(a: &dyn Array, i: usize) -> Option<ArrayRef> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::List(_) => Some(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => Some(a.as_list::<i64>().value(i)),
        _ => None,
    }
}

fn int_list_at(a: &dyn Array, i: usize) -> Option<Vec<i64>> {
    let v = list_at(a, i)?;
    (0..v.len()).map(|k| int_at(v.as_ref(), k)).collect()
}

fn str_at(a: &dyn Array, i: usize) -> Option<String> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Some(a.as_string_view().value(i).to_string()),
        _ => None,
    }
}

fn bool_at(a: &dyn Array, i: usize) -> Option<bool> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Boolean => Some(a.as_boolean().value(i)),
        _ => None,
    }
}

fn binary_at(a: &dyn Array, i: usize) -> Option<Bytes> {
    if i >= a.len() || a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Binary => Some(Bytes::copy_from_slice(a.as_binary::<i32>().value(i))),
        DataType::LargeBinary => Some(Bytes::copy_from_slice(a.as_binary::<i64>().value(i))),
        _ => None,
    }
}

/// Named access to the children of a struct column.
struct StructView<'a> {
    children: HashMap<&'a str, &'a ArrayRef>,
}

impl<'a> StructView<'a> {
    fn new(s: &'a StructArray) -> Self {
        let children = s
            .fields()
            .iter()
            .zip(s.columns())
            .map(|(f, c)| (f.name().as_str(), c))
            .collect();
        Self { children }
    }
    fn get(&self, names: &[&str]) -> Option<&'a dyn Array> {
        names
            .iter()
            .find_map(|n| self.children.get::<str>(n).copied())
            .map(|a| a.as_ref())
    }
}

fn need<T>(v: Option<T>, row: usize, field: &str) -> Result<T> {
    v.ok_or_else(|| {
        Error::invalid(format!(
            "read plan row {row}: layout field '{field}' is missing or null"
        ))
    })
}

fn u32_of(v: i64, row: usize, field: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::invalid(format!(
            "read plan row {row}: layout field '{field}' = {v} out of range"
        ))
    })
}

fn u16_of(v: i64, row: usize, field: &str) -> Result<u16> {
    u16::try_from(v).map_err(|_| {
        Error::invalid(format!(
            "read plan row {row}: layout field '{field}' = {v} out of range"
        ))
    })
}

/// Build the layout of row `i` from the struct columns.
fn layout_at(s: &StructView<'_>, i: usize) -> Result<(ImageLayout, Option<f64>)> {
    let int = |names: &[&str]| s.get(names).and_then(|a| int_at(a, i));
    let width = need(int(&["image_width", "width"]), i, "image_width")?;
    let height = need(int(&["image_height", "height"]), i, "image_height")?;
    let tile_width = int(&["tile_width"]).unwrap_or(width);
    let tile_height = int(&["tile_height"]).unwrap_or(height);
    let (bits, fmt) = match (int(&["bits_per_sample"]), int(&["sample_format"])) {
        (Some(b), Some(f)) => (
            u16_of(b, i, "bits_per_sample")?,
            u16_of(f, i, "sample_format")?,
        ),
        _ => {
            let dtype = need(s.get(&["dtype"]).and_then(|a| str_at(a, i)), i, "dtype")?;
            bits_of_dtype(&dtype).ok_or_else(|| {
                Error::invalid(format!("read plan row {i}: unknown dtype {dtype:?}"))
            })?
        }
    };
    let offsets = need(
        s.get(&["tile_offsets"]).and_then(|a| int_list_at(a, i)),
        i,
        "tile_offsets",
    )?;
    let counts = need(
        s.get(&["tile_byte_counts"]).and_then(|a| int_list_at(a, i)),
        i,
        "tile_byte_counts",
    )?;
    let to_u64 = |v: Vec<i64>, f: &str| -> Result<Vec<u64>> {
        v.into_iter()
            .map(|x| {
                u64::try_from(x).map_err(|_| {
                    Error::invalid(format!("read plan row {i}: negative value in {f}"))
                })
            })
            .collect()
    };
    let lerc = s
        .get(&["lerc_parameters"])
        .and_then(|a| int_list_at(a, i))
        .map(|v| {
            v.into_iter()
                .filter_map(|x| u32::try_from(x).ok())
                .collect()
        });
    let layout = ImageLayout {
        ifd_index: 0,
        width: u32_of(width, i, "image_width")?,
        height: u32_of(height, i, "image_height")?,
        tile_width: u32_of(tile_width, i, "tile_width")?,
        tile_height: u32_of(tile_height, i, "tile_height")?,
        tiled: s
            .get(&["tiled"])
            .and_then(|a| bool_at(a, i))
            .unwrap_or(true),
        bits_per_sample: bits,
        sample_format: fmt,
        samples_per_pixel: u16_of(
            int(&["samples_per_pixel"]).unwrap_or(1),
            i,
            "samples_per_pixel",
        )?,
        planar_configuration: u16_of(
            int(&["planar_configuration"]).unwrap_or(1),
            i,
            "planar_configuration",
        )?,
        compression: u16_of(int(&["compression"]).unwrap_or(1), i, "compression")?,
        predictor: u16_of(int(&["predictor"]).unwrap_or(1), i, "predictor")?,
        photometric: int(&["photometric"]).and_then(|v| u16::try_from(v).ok()),
        extra_samples: Vec::new(),
        tile_offsets: to_u64(offsets, "tile_offsets")?,
        tile_byte_counts: to_u64(counts, "tile_byte_counts")?,
        jpeg_tables: s.get(&["jpeg_tables"]).and_then(|a| binary_at(a, i)),
        ycbcr_subsampling: None,
        lerc_parameters: lerc,
        new_subfile_type: 0,
        little_endian: s
            .get(&["little_endian"])
            .and_then(|a| bool_at(a, i))
            .unwrap_or(true),
    };
    let nodata = s.get(&["nodata"]).and_then(|a| f64_at(a, i));
    Ok((layout, nodata))
}

/// Parse and validate the plan batch (no I/O).
pub fn requests_from_batch(batch: &RecordBatch) -> Result<Vec<WindowRequest>> {
    let col = |name: &str| -> Result<&ArrayRef> {
        batch
            .column_by_name(name)
            .ok_or_else(|| Error::invalid(format!("read plan lacks column '{name}'")))
    };
    let urls = col("url")?;
    let layout = col("layout")?;
    // A dictionary-encoded layout column (many windows of few images) is parsed once per
    // distinct layout; a plain struct column once per row.
    let (layout, keys) = match layout.as_any_dictionary_opt() {
        Some(dict) => {
            let keys: Vec<Option<usize>> = dict
                .normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| (!dict.keys().is_null(i)).then_some(k))
                .collect();
            (dict.values(), Some(keys))
        }
        None => (layout, None),
    };
    let layout = layout.as_struct_opt().ok_or_else(|| {
        Error::invalid("read plan column 'layout' must be a struct (or a dictionary of structs)")
    })?;
    let view = StructView::new(layout);
    let mut parsed: HashMap<usize, (Arc<ImageLayout>, Option<f64>)> = HashMap::new();
    let ints = [
        "band_index",
        "col_off",
        "row_off",
        "width",
        "height",
        "out_offset",
        "out_row_stride",
    ];
    let mut cols = Vec::with_capacity(ints.len());
    for name in ints {
        cols.push(col(name)?);
    }
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let url = need(str_at(urls.as_ref(), i), i, "url")?;
        let row = match &keys {
            Some(keys) => keys.get(i).copied().flatten(),
            None => Some(i),
        };
        let row = match row {
            Some(r) if !layout.is_null(r) => r,
            _ => {
                return Err(Error::invalid(format!(
                    "read plan row {i} ({url}): no tile layout (metadata is null: the asset was not enriched or its header failed)"
                )))
            }
        };
        let (lay, nodata) = match (keys.is_some(), parsed.get(&row)) {
            (true, Some((lay, nodata))) => (lay.clone(), *nodata),
            _ => {
                let (lay, nodata) = layout_at(&view, row).map_err(|e| e.context(&url))?;
                let lay = Arc::new(lay);
                if keys.is_some() {
                    parsed.insert(row, (lay.clone(), nodata));
                }
                (lay, nodata)
            }
        };
        let v = |k: usize, name: &str| -> Result<i64> {
            cols.get(k)
                .and_then(|c| int_at(c.as_ref(), i))
                .ok_or_else(|| Error::invalid(format!("read plan row {i}: '{name}' is null")))
        };
        let nonneg = |x: i64, name: &str| -> Result<u64> {
            u64::try_from(x).map_err(|_| {
                Error::invalid(format!("read plan row {i}: '{name}' must be >= 0, got {x}"))
            })
        };
        let usz = |x: i64, name: &str| -> Result<usize> {
            usize::try_from(x).map_err(|_| {
                Error::invalid(format!("read plan row {i}: '{name}' must be >= 0, got {x}"))
            })
        };
        out.push(WindowRequest {
            url: Arc::from(url.as_str()),
            layout: lay,
            nodata,
            band_index: u16::try_from(v(0, "band_index")?)
                .map_err(|_| Error::invalid(format!("read plan row {i}: bad band_index")))?,
            window: Window {
                col_off: v(1, "col_off")?,
                row_off: v(2, "row_off")?,
                width: nonneg(v(3, "width")?, "width")?,
                height: nonneg(v(4, "height")?, "height")?,
            },
            out_offset_bytes: usz(v(5, "out_offset")?, "out_offset")?,
            out_row_stride_bytes: usz(v(6, "out_row_stride")?, "out_row_stride")?,
        });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int64Builder, ListBuilder};
    use arrow_array::{DictionaryArray, Int32Array, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};

    fn layouts(n: usize) -> ArrayRef {
        let ints = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v; n])) };
        let list = || -> ArrayRef {
            let mut b = ListBuilder::new(Int64Builder::new());
            for _ in 0..n {
                b.values().append_value(8);
                b.append(true);
            }
            Arc::new(b.finish())
        };
        let dtype: ArrayRef = Arc::new(StringArray::from(vec!["uint8"; n]));
        let fields = [
            ("image_width", ints(4)),
            ("image_height", ints(4)),
            ("tile_width", ints(4)),
            ("tile_height", ints(4)),
            ("dtype", dtype),
            ("tile_offsets", list()),
            ("tile_byte_counts", list()),
        ];
        let (f, c): (Vec<_>, Vec<_>) = fields
            .into_iter()
            .map(|(name, a)| (Field::new(name, a.data_type().clone(), true), a))
            .unzip();
        Arc::new(StructArray::new(f.into(), c, None))
    }

    fn plan(layout: ArrayRef, rows: usize) -> RecordBatch {
        let int = |v: i64| -> ArrayRef { Arc::new(Int64Array::from(vec![v; rows])) };
        let url: ArrayRef = Arc::new(StringArray::from(vec!["file:///x.tif"; rows]));
        let cols = vec![
            url,
            layout,
            int(0),
            int(0),
            int(0),
            int(1),
            int(1),
            int(0),
            int(1),
        ];
        let names = [
            "url",
            "layout",
            "band_index",
            "col_off",
            "row_off",
            "width",
            "height",
            "out_offset",
            "out_row_stride",
        ];
        let schema = Schema::new(
            cols.iter()
                .zip(names)
                .map(|(c, n)| Field::new(n, c.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(Arc::new(schema), cols).expect("plan batch")
    }

    #[test]
    fn dictionary_layouts_are_parsed_once_and_shared() {
        let keys = Int32Array::from(vec![0, 0, 0]);
        let dict = DictionaryArray::try_new(keys, layouts(1)).expect("dictionary");
        let requests = requests_from_batch(&plan(Arc::new(dict), 3)).expect("requests");
        assert_eq!(requests.len(), 3);
        assert!(Arc::ptr_eq(&requests[0].layout, &requests[2].layout));
        assert_eq!(requests[0].layout.width, 4);
        let plain = requests_from_batch(&plan(layouts(3), 3)).expect("requests");
        assert!(!Arc::ptr_eq(&plain[0].layout, &plain[1].layout));
        assert_eq!(
            plain[1].layout.tile_offsets,
            requests[1].layout.tile_offsets
        );
    }

    #[test]
    fn null_dictionary_key_is_an_error() {
        let keys = Int32Array::from(vec![Some(0), None]);
        let dict = DictionaryArray::try_new(keys, layouts(1)).expect("dictionary");
        let err = requests_from_batch(&plan(Arc::new(dict), 2)).expect_err("null layout");
        assert!(err.to_string().contains("no tile layout"), "{err}");
    }
}
