//! Parse TIFFs written by GDAL (through rasterio) and compare with what rasterio reports.
//! Needs python3 (or `$PYTHON`) with rasterio; skipped with a note when rasterio is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::ops::Range;
use std::process::Command;

use _core::tiff::{fetch_header, parse_bytes, CogHeader};
use bytes::Bytes;

fn fetch_count(file: &Bytes, readahead: u64) -> (CogHeader, usize) {
    let mut n = 0;
    let h = futures::executor::block_on(fetch_header(
        |r: Range<u64>| {
            n += 1;
            let len = file.len() as u64;
            let (s, e) = (r.start.min(len) as usize, r.end.min(len) as usize);
            let b = file.slice(s..e.max(s));
            async move { Ok(b) }
        },
        readahead,
    ))
    .unwrap();
    (h, n)
}

fn opt_f64(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse().unwrap())
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn has_rasterio() -> bool {
    Command::new(python())
        .args(["-c", "import rasterio"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn gdal_written_tiffs_match_rasterio() {
    if !has_rasterio() {
        eprintln!("skipping: python3 with rasterio is not available");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rasteret_tiff_gdal_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiff_gdal_cogs.py");
    let out = Command::new(python())
        .arg(script)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('|').collect();
        let name = f[0];
        let num = |i: usize| f[i].parse::<u64>().unwrap();
        let file = Bytes::from(std::fs::read(dir.join(format!("{name}.tif"))).unwrap());
        let h = parse_bytes(file.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let im = &h.image;
        let ctx = format!("{name}: {h:#?}");
        assert_eq!(u64::from(im.width), num(1), "{ctx}");
        assert_eq!(u64::from(im.height), num(2), "{ctx}");
        assert_eq!(u64::from(im.tile_width), num(3), "{ctx}");
        assert_eq!(u64::from(im.tile_height), num(4), "{ctx}");
        assert_eq!(u64::from(im.tiled), num(5), "{name}");
        assert_eq!(u64::from(im.bits_per_sample), num(6), "{name}");
        assert_eq!(u64::from(im.sample_format), num(7), "{name}");
        assert_eq!(u64::from(im.samples_per_pixel), num(8), "{name}");
        assert_eq!(u64::from(im.planar_configuration), num(9), "{name}");
        assert_eq!(u64::from(h.bigtiff), num(10), "{name}");
        assert_eq!(u64::from(h.little_endian), num(11), "{name}");
        let want: Vec<f64> = f[12].split(',').map(|v| v.parse().unwrap()).collect();
        let got = h.geo.transform.expect("transform");
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() < 1e-9,
                "{name}: transform {got:?} vs {want:?}"
            );
        }
        match f[13] {
            "" => {
                assert_eq!(h.geo.epsg, None, "{name}");
                let wkt = h.geo.crs_wkt.clone().unwrap_or_default();
                assert!(!wkt.is_empty(), "{name}: user-defined CRS without citation");
            }
            code => assert_eq!(h.geo.epsg, Some(code.parse().unwrap()), "{name}"),
        }
        match (f[14], h.geo.nodata) {
            ("", got) => assert_eq!(got, None, "{name}"),
            ("nan", got) => assert!(got.unwrap().is_nan(), "{name}"),
            (v, got) => assert_eq!(got, opt_f64(v), "{name}"),
        }
        let ovw: Vec<u64> = f[15]
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        let got_ovw: Vec<u64> = h.overviews.iter().map(|o| u64::from(o.width)).collect();
        assert_eq!(got_ovw, ovw, "{name}");
        let has_mask = num(16) == 1;
        assert_eq!(h.mask.is_some(), has_mask, "{ctx}");
        if has_mask {
            assert!(h.overview_masks.iter().all(Option::is_some), "{ctx}");
            assert_eq!(h.mask.as_ref().unwrap().width, im.width);
        }
        assert_eq!(im.tile_offsets[0], num(17), "{name}");
        assert_eq!(*im.tile_offsets.last().unwrap(), num(18), "{name}");
        if let Some(s) = opt_f64(f[19]) {
            assert_eq!(h.geo.scales.first().copied().flatten(), Some(s), "{name}");
            assert_eq!(
                h.geo.offsets.first().copied().flatten(),
                opt_f64(f[20]),
                "{name}"
            );
            assert_eq!(h.geo.scales.len(), usize::from(im.samples_per_pixel));
        }
        assert_eq!(h.geo.raster_type, Some(num(21) as u16), "{name}");
        assert_eq!(u64::from(im.compression), num(22), "{name}");
        match im.compression {
            7 => {
                assert!(
                    im.jpeg_tables.as_ref().is_some_and(|t| t.len() > 4),
                    "{ctx}"
                );
                assert_eq!(im.photometric, Some(6), "{name}: YCbCr expected");
            }
            34887 => assert_eq!(im.lerc_parameters.as_deref(), Some(&[4, 2][..]), "{ctx}"),
            _ => {}
        }

        // Read-ahead: GDAL COGs need exactly one 64 KiB request; the result is identical.
        let (fh, requests) = fetch_count(&file, 64 * 1024);
        if name.starts_with("cog_") {
            assert_eq!(requests, 1, "{name}");
        }
        assert!(requests <= 3, "{name}: {requests} requests");
        assert_eq!(fh.image, h.image, "{name}");
        assert_eq!(fh.overviews, h.overviews, "{name}");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} files checked");
    let _ = std::fs::remove_dir_all(&dir);
}
