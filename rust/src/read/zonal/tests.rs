//! Tests of the zonal reduction: merging, nodata comparison, strips and batches on a
//! raw local file, per-request failures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use super::*;
use crate::tiff::ImageLayout;

/// An 8x4 uint8 image in two raw 4x4 tiles at bytes 16 and 32.
fn layout() -> Arc<ImageLayout> {
    Arc::new(ImageLayout {
        ifd_index: 0,
        width: 8,
        height: 4,
        tile_width: 4,
        tile_height: 4,
        tiled: true,
        bits_per_sample: 8,
        sample_format: 1,
        samples_per_pixel: 1,
        planar_configuration: 1,
        compression: 1,
        predictor: 1,
        photometric: Some(1),
        extra_samples: vec![],
        tile_byte_counts: vec![16, 16],
        tile_offsets: vec![16, 32],
        jpeg_tables: None,
        ycbcr_subsampling: None,
        lerc_parameters: None,
        new_subfile_type: 0,
        little_endian: true,
    })
}

fn request(url: &str, window: Window, nodata: Option<f64>) -> ZonalRequest {
    ZonalRequest {
        read: WindowRequest {
            url: url.into(),
            layout: layout(),
            nodata: None,
            band_index: 0,
            window,
            out_offset_bytes: 0,
            out_row_stride_bytes: 0,
        },
        mask: None,
        geometry: 0,
        // image grid: 1-unit pixels, origin (0, 4); the window's pixel (0, 0) moved
        transform: Affine::from_array([
            1.0,
            0.0,
            window.col_off as f64,
            0.0,
            -1.0,
            4.0 - window.row_off as f64,
        ]),
        nodata,
    }
}

/// Pixel (row, col) of the image holds `row * 8 + col` (tile 0: cols 0-3, tile 1: 4-7).
fn image_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "rasteret-zonal-{}-{}.bin",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut file = vec![0u8; 16];
    for tile in 0..2u8 {
        for row in 0..4u8 {
            for col in 0..4u8 {
                file.push(row * 8 + tile * 4 + col);
            }
        }
    }
    std::fs::write(&path, &file).unwrap();
    path
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<Polygon> {
    vec![Polygon {
        rings: vec![vec![[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]],
    }]
}

fn two_pass(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[test]
fn merged_parts_equal_one_pass_over_all() {
    let values: Vec<f64> = (0..37).map(|i| f64::from(i * i % 11) - 3.5).collect();
    let mut whole = Stats::default();
    let mut merged = Stats::default();
    for chunk in values.chunks(5) {
        let mut s = Stats::default();
        for &v in chunk {
            s.count += 1;
            s.sum += v;
            s.min = s.min.min(v);
            s.max = s.max.max(v);
        }
        s.mean = s.sum / s.count as f64;
        s.m2 = chunk.iter().map(|v| (v - s.mean) * (v - s.mean)).sum();
        merged.merge(&s);
        whole.merge(&Stats::default());
    }
    let (mean, std) = two_pass(&values);
    assert_eq!(merged.count, 37);
    assert!((merged.mean - mean).abs() < 1e-12);
    assert!((merged.std().unwrap() - std).abs() < 1e-12);
    assert_eq!(whole.count, 0);
    assert_eq!(whole.std(), None);
}

#[test]
fn float_nodata_is_compared_in_the_sample_type() {
    let px = 0.1f32.to_ne_bytes();
    assert_eq!(value(Sample::F32, &px, Some(0.1)), None);
    assert_eq!(value(Sample::F32, &f32::NAN.to_ne_bytes(), None), None);
    assert_eq!(value(Sample::U8, &[255], Some(255.0)), None);
    assert_eq!(value(Sample::U8, &[254], Some(255.0)), Some(254.0));
    assert_eq!(
        value(Sample::I16, &(-9999i16).to_ne_bytes(), Some(-9999.0)),
        None
    );
}

#[test]
fn strips_batches_and_clipping_give_the_same_statistics() {
    let path = image_file();
    let url = path.to_str().unwrap().to_string();
    // a window reaching 2 px past the image's left and top edges; the box covers image
    // cols 0..=5, rows 0..=2 (its centres), plus pixels outside the image
    let window = Window {
        col_off: -2,
        row_off: -2,
        width: 8,
        height: 5,
    };
    let polygons = Arc::new(vec![rect(-2.0, 1.0, 6.0, 6.0)]);
    let requests = [
        request(&url, window, None),
        request(&url, window, Some(9.0)),
        // wholly outside the image: no strip, count 0
        request(
            &url,
            Window {
                col_off: 20,
                row_off: 0,
                width: 2,
                height: 2,
            },
            None,
        ),
    ];
    let rt = crate::io::runtime().unwrap();
    let read = ReadOptions::default();
    let mut results = Vec::new();
    for (strip_bytes, batch_bytes) in [(1 << 20, 1 << 20), (1, 1), (6, 13)] {
        let opts = ZonalOptions {
            all_touched: false,
            strip_bytes,
            batch_bytes,
        };
        let (stats, failures) = rt
            .block_on(zonal_stats(&requests, polygons.clone(), &opts, &read))
            .unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        results.push(stats);
    }
    let _ = std::fs::remove_file(&path);
    let values: Vec<f64> = (0..3)
        .flat_map(|r| (0..6).map(move |c| f64::from(r * 8 + c)))
        .collect();
    let (mean, std) = two_pass(&values);
    let s = results[0][0];
    assert_eq!(s.count, 18);
    assert_eq!((s.min, s.max, s.sum), (0.0, 21.0, values.iter().sum()));
    assert!((s.mean - mean).abs() < 1e-12 && (s.std().unwrap() - std).abs() < 1e-12);
    assert_eq!(results[0][1].count, 17, "pixel value 9 is nodata");
    assert_eq!(results[0][2].count, 0);
    for other in &results[1..] {
        for (a, b) in other.iter().zip(&results[0]) {
            assert_eq!(
                (a.count, a.sum, a.min, a.max),
                (b.count, b.sum, b.min, b.max)
            );
            assert!((a.m2 - b.m2).abs() < 1e-9);
        }
    }
}

#[test]
fn a_missing_file_fails_its_requests_only() {
    let path = image_file();
    let good = path.to_str().unwrap().to_string();
    let window = Window {
        col_off: 0,
        row_off: 0,
        width: 8,
        height: 4,
    };
    let requests = [
        request(&good, window, None),
        request("/nonexistent/rasteret/zonal.tif", window, None),
    ];
    let polygons = Arc::new(vec![rect(0.0, 0.0, 8.0, 4.0)]);
    let rt = crate::io::runtime().unwrap();
    let (stats, failures) = rt
        .block_on(zonal_stats(
            &requests,
            polygons,
            &ZonalOptions::default(),
            &ReadOptions::default(),
        ))
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(stats[0].count, 32);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].request, 1);
    assert!(failures[0].error.message().contains("zonal.tif"));
}
