//! The `{band}_metadata` Arrow struct (fields 1-17 in order) plus our appended
//! fields, built column-wise from parsed headers.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray,
    StringArray, StructArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields};

use crate::error::{Error, Result};
use crate::tiff::{CogHeader, ImageLayout};

/// numpy dtype name of the decoded samples of a layout.
pub fn dtype_name(bits_per_sample: u16, sample_format: u16) -> Result<&'static str> {
    let name = match (sample_format, bits_per_sample) {
        (3, 16) => "float16",
        (3, 32) => "float32",
        (3, 64) => "float64",
        (3, b) => {
            return Err(Error::unsupported(format!(
                "Unsupported TIFF dtype: SampleFormat=3, BitsPerSample={b}"
            )))
        }
        (2, 1..=8) => "int8",
        (2, 9..=16) => "int16",
        (2, 17..=32) => "int32",
        (2, 33..=64) => "int64",
        (1 | 4, 1..=8) => "uint8",
        (1 | 4, 9..=16) => "uint16",
        (1 | 4, 17..=32) => "uint32",
        (1 | 4, 33..=64) => "uint64",
        (s, b) => {
            return Err(Error::unsupported(format!(
                "Unsupported TIFF dtype: SampleFormat={s}, BitsPerSample={b}"
            )))
        }
    };
    Ok(name)
}

/// (bits_per_sample, sample_format) of a numpy dtype name (for collections lacking the fields).
pub fn bits_of_dtype(name: &str) -> Option<(u16, u16)> {
    Some(match name {
        "uint8" => (8, 1),
        "uint16" => (16, 1),
        "uint32" => (32, 1),
        "uint64" => (64, 1),
        "int8" => (8, 2),
        "int16" => (16, 2),
        "int32" => (32, 2),
        "int64" => (64, 2),
        "float16" => (16, 3),
        "float32" => (32, 3),
        "float64" => (64, 3),
        _ => return None,
    })
}

fn i32_of<T: TryInto<i32>>(v: T) -> Option<i32> {
    v.try_into().ok()
}

fn list_i64(rows: impl Iterator<Item = Option<Vec<Option<i64>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(rows))
}
fn list_i32(rows: impl Iterator<Item = Option<Vec<Option<i32>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(rows))
}
fn list_f64(rows: impl Iterator<Item = Option<Vec<Option<f64>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows))
}

/// Columns describing one image layout each (None rows are null).
fn layout_columns(layouts: &[Option<&ImageLayout>]) -> HashMap<&'static str, ArrayRef> {
    let mut cols: HashMap<&'static str, ArrayRef> = HashMap::new();
    let int = |f: &dyn Fn(&ImageLayout) -> Option<i32>| -> ArrayRef {
        Arc::new(Int32Array::from(
            layouts.iter().map(|l| l.and_then(f)).collect::<Vec<_>>(),
        ))
    };
    cols.insert("image_width", int(&|l| i32_of(l.width)));
    cols.insert("image_height", int(&|l| i32_of(l.height)));
    cols.insert("tile_width", int(&|l| i32_of(l.tile_width)));
    cols.insert("tile_height", int(&|l| i32_of(l.tile_height)));
    cols.insert("predictor", int(&|l| Some(i32::from(l.predictor))));
    cols.insert("compression", int(&|l| Some(i32::from(l.compression))));
    cols.insert(
        "samples_per_pixel",
        int(&|l| Some(i32::from(l.samples_per_pixel))),
    );
    cols.insert(
        "planar_configuration",
        int(&|l| Some(i32::from(l.planar_configuration))),
    );
    cols.insert("photometric", int(&|l| l.photometric.map(i32::from)));
    cols.insert(
        "bits_per_sample",
        int(&|l| Some(i32::from(l.bits_per_sample))),
    );
    cols.insert("sample_format", int(&|l| Some(i32::from(l.sample_format))));
    cols.insert(
        "dtype",
        Arc::new(StringArray::from(
            layouts
                .iter()
                .map(|l| l.and_then(|l| dtype_name(l.bits_per_sample, l.sample_format).ok()))
                .collect::<Vec<_>>(),
        )),
    );
    let as_i64 =
        |v: &[u64]| -> Vec<Option<i64>> { v.iter().map(|&x| i64::try_from(x).ok()).collect() };
    cols.insert(
        "tile_offsets",
        list_i64(layouts.iter().map(|l| l.map(|l| as_i64(&l.tile_offsets)))),
    );
    cols.insert(
        "tile_byte_counts",
        list_i64(
            layouts
                .iter()
                .map(|l| l.map(|l| as_i64(&l.tile_byte_counts))),
        ),
    );
    cols.insert(
        "extra_samples",
        list_i32(layouts.iter().map(|l| {
            l.and_then(|l| {
                (!l.extra_samples.is_empty()).then(|| {
                    l.extra_samples
                        .iter()
                        .map(|&v| Some(i32::from(v)))
                        .collect()
                })
            })
        })),
    );
    cols.insert(
        "little_endian",
        Arc::new(BooleanArray::from(
            layouts
                .iter()
                .map(|l| l.map(|l| l.little_endian))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "tiled",
        Arc::new(BooleanArray::from(
            layouts
                .iter()
                .map(|l| l.map(|l| l.tiled))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "jpeg_tables",
        Arc::new(BinaryArray::from_opt_vec(
            layouts
                .iter()
                .map(|l| l.and_then(|l| l.jpeg_tables.as_deref()))
                .collect(),
        )),
    );
    cols.insert(
        "lerc_parameters",
        list_i32(layouts.iter().map(|l| {
            l.and_then(|l| {
                l.lerc_parameters
                    .as_ref()
                    .map(|v| v.iter().map(|&x| i32::try_from(x).ok()).collect())
            })
        })),
    );
    cols.insert(
        "ycbcr_subsampling",
        list_i32(layouts.iter().map(|l| {
            l.and_then(|l| {
                l.ycbcr_subsampling
                    .map(|v| v.iter().map(|&x| Some(i32::from(x))).collect())
            })
        })),
    );
    cols.insert(
        "new_subfile_type",
        Arc::new(Int64Array::from(
            layouts
                .iter()
                .map(|l| l.map(|l| i64::from(l.new_subfile_type)))
                .collect::<Vec<_>>(),
        )),
    );
    cols
}

/// Field order of an overview / mask layout struct.
pub const LAYOUT_FIELDS: &[&str] = &[
    "image_width",
    "image_height",
    "tile_width",
    "tile_height",
    "dtype",
    "predictor",
    "compression",
    "tile_offsets",
    "tile_byte_counts",
    "samples_per_pixel",
    "planar_configuration",
    "photometric",
    "extra_samples",
    "bits_per_sample",
    "sample_format",
    "little_endian",
    "tiled",
    "jpeg_tables",
    "lerc_parameters",
    "ycbcr_subsampling",
    "new_subfile_type",
];

/// The 17 documented fields (docs/schema.md), then ours (appended, never renamed).
pub const METADATA_FIELDS: &[&str] = &[
    "image_width",
    "image_height",
    "tile_width",
    "tile_height",
    "dtype",
    "transform",
    "predictor",
    "compression",
    "tile_offsets",
    "tile_byte_counts",
    "pixel_scale",
    "tiepoint",
    "nodata",
    "samples_per_pixel",
    "planar_configuration",
    "photometric",
    "extra_samples",
    // ours
    "bits_per_sample",
    "sample_format",
    "little_endian",
    "tiled",
    "jpeg_tables",
    "lerc_parameters",
    "ycbcr_subsampling",
    "new_subfile_type",
    "bigtiff",
    "file_size",
    "crs_epsg",
    "crs_wkt",
    "raster_type",
    "geo_transform",
    "scales",
    "offsets",
    "overviews",
    "mask",
];

fn assemble(
    names: &[&'static str],
    mut cols: HashMap<&'static str, ArrayRef>,
    valid: Option<NullBuffer>,
) -> Result<StructArray> {
    let mut fields = Vec::with_capacity(names.len());
    let mut arrays = Vec::with_capacity(names.len());
    for name in names {
        let a = cols
            .remove(name)
            .ok_or_else(|| Error::internal(format!("metadata column {name} not built")))?;
        fields.push(Field::new(*name, a.data_type().clone(), true));
        arrays.push(a);
    }
    StructArray::try_new(Fields::from(fields), arrays, valid)
        .map_err(|e| Error::internal(format!("cannot build metadata struct: {e}")))
}

fn layout_struct(layouts: &[Option<&ImageLayout>]) -> Result<StructArray> {
    let valid = NullBuffer::from(layouts.iter().map(Option::is_some).collect::<Vec<_>>());
    assemble(LAYOUT_FIELDS, layout_columns(layouts), Some(valid))
}

/// The metadata struct column for parsed headers (None = failed/missing -> null row).
pub fn metadata_array(headers: &[Option<&CogHeader>]) -> Result<StructArray> {
    let images: Vec<Option<&ImageLayout>> = headers.iter().map(|h| h.map(|h| &h.image)).collect();
    let mut cols = layout_columns(&images);
    let geo = |f: &dyn Fn(&CogHeader) -> Option<Vec<Option<f64>>>| {
        list_f64(headers.iter().map(|h| h.and_then(f)))
    };
    cols.insert(
        "transform",
        geo(&|h| {
            h.geo
                .transform
                .map(|t| vec![Some(t[0]), Some(t[2]), Some(t[4]), Some(t[5])])
        }),
    );
    cols.insert(
        "geo_transform",
        geo(&|h| {
            h.geo
                .transform
                .map(|t| t.iter().map(|&v| Some(v)).collect())
        }),
    );
    cols.insert(
        "pixel_scale",
        geo(&|h| {
            h.geo
                .pixel_scale
                .as_ref()
                .map(|v| v.iter().map(|&x| Some(x)).collect())
        }),
    );
    cols.insert(
        "tiepoint",
        geo(&|h| {
            h.geo
                .tiepoint
                .as_ref()
                .map(|v| v.iter().map(|&x| Some(x)).collect())
        }),
    );
    cols.insert(
        "scales",
        geo(&|h| (!h.geo.scales.is_empty()).then(|| h.geo.scales.clone())),
    );
    cols.insert(
        "offsets",
        geo(&|h| (!h.geo.offsets.is_empty()).then(|| h.geo.offsets.clone())),
    );
    cols.insert(
        "nodata",
        Arc::new(Float64Array::from(
            headers
                .iter()
                .map(|h| h.and_then(|h| h.geo.nodata))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "bigtiff",
        Arc::new(BooleanArray::from(
            headers
                .iter()
                .map(|h| h.map(|h| h.bigtiff))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "file_size",
        Arc::new(Int64Array::from(
            headers
                .iter()
                .map(|h| h.and_then(|h| h.file_size.and_then(|s| i64::try_from(s).ok())))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "crs_epsg",
        Arc::new(Int32Array::from(
            headers
                .iter()
                .map(|h| h.and_then(|h| h.geo.epsg.and_then(i32_of)))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "raster_type",
        Arc::new(Int32Array::from(
            headers
                .iter()
                .map(|h| h.and_then(|h| h.geo.raster_type.map(i32::from)))
                .collect::<Vec<_>>(),
        )),
    );
    cols.insert(
        "crs_wkt",
        Arc::new(StringArray::from(
            headers
                .iter()
                .map(|h| h.and_then(|h| h.geo.crs_wkt.clone()))
                .collect::<Vec<_>>(),
        )),
    );
    // overviews: list<layout struct>
    let mut flat: Vec<Option<&ImageLayout>> = Vec::new();
    let mut offsets: Vec<i32> = vec![0];
    for h in headers {
        if let Some(h) = h {
            flat.extend(h.overviews.iter().map(Some));
        }
        let n = i32::try_from(flat.len()).map_err(|_| Error::internal("too many overviews"))?;
        offsets.push(n);
    }
    let ov_struct = layout_struct(&flat)?;
    let ov_field = Arc::new(Field::new("item", ov_struct.data_type().clone(), true));
    let ov_valid = NullBuffer::from(headers.iter().map(Option::is_some).collect::<Vec<_>>());
    let overviews = ListArray::try_new(
        ov_field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(ov_struct),
        Some(ov_valid),
    )
    .map_err(|e| Error::internal(format!("cannot build overviews column: {e}")))?;
    cols.insert("overviews", Arc::new(overviews));
    let masks: Vec<Option<&ImageLayout>> = headers
        .iter()
        .map(|h| h.and_then(|h| h.mask.as_ref()))
        .collect();
    cols.insert("mask", Arc::new(layout_struct(&masks)?));

    let valid = NullBuffer::from(headers.iter().map(Option::is_some).collect::<Vec<_>>());
    assemble(METADATA_FIELDS, cols, Some(valid))
}

/// Data type of the metadata struct (for schemas built before any header is parsed).
pub fn metadata_type() -> Result<DataType> {
    Ok(metadata_array(&[])?.data_type().clone())
}
