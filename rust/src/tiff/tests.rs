//! Unit tests of the header parser, built on [`super::test_writer`].
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::ops::Range;

use bytes::Bytes;

use super::test_writer::{tiled_ifd, Built, IfdSpec, TiffWriter, V};
use super::*;
use crate::error::Kind;

const VARIANTS: [(bool, bool); 4] = [(true, false), (false, false), (true, true), (false, true)];

fn geokeys(keys: &[[u16; 4]]) -> V {
    let mut v = vec![1, 1, 0, keys.len() as u16];
    for k in keys {
        v.extend_from_slice(k);
    }
    V::Short(v)
}

fn georef(ifd: &mut IfdSpec) {
    ifd.set(33550, V::Double(vec![10.0, 10.0, 0.0]));
    ifd.set(
        33922,
        V::Double(vec![0.0, 0.0, 0.0, 500_000.0, 4_000_000.0, 0.0]),
    );
    ifd.set(
        34735,
        geokeys(&[[1024, 0, 1, 1], [1025, 0, 1, 1], [3072, 0, 1, 32633]]),
    );
}

fn one(le: bool, big: bool, ifds: Vec<IfdSpec>) -> Vec<u8> {
    let mut w = TiffWriter::new(le, big);
    w.ifds = ifds;
    w.build().bytes
}

fn parse(data: &[u8]) -> Result<CogHeader> {
    parse_bytes(Bytes::copy_from_slice(data))
}

/// Run fetch_header over an in-memory file; returns the result and the requested ranges.
fn fetch_counting(data: &[u8], readahead: u64) -> (Result<CogHeader>, Vec<Range<u64>>) {
    let file = Bytes::copy_from_slice(data);
    let mut calls = Vec::new();
    let res = futures::executor::block_on(fetch_header(
        |r: Range<u64>| {
            calls.push(r.clone());
            let len = file.len() as u64;
            let s = r.start.min(len) as usize;
            let e = r.end.min(len) as usize;
            let b = file.slice(s..e.max(s));
            async move { Ok(b) }
        },
        readahead,
    ));
    (res, calls)
}

fn assert_corrupt(r: Result<CogHeader>, needle: &str) {
    let e = r.expect_err("expected an error");
    assert_eq!(e.kind(), Kind::Corrupt, "{e}");
    assert!(
        e.message().contains(needle),
        "message {:?} lacks {needle:?}",
        e.message()
    );
}

#[test]
fn tiled_all_byte_orders_and_flavours() {
    for (le, big) in VARIANTS {
        let mut ifd = tiled_ifd(1000, 700, 256, 256, 1, big);
        georef(&mut ifd);
        ifd.set(347, V::Undef(vec![0xFF, 0xD8, 0xFF, 0xD9, 1, 2, 3, 4, 5]));
        ifd.set(530, V::Short(vec![2, 2]));
        ifd.set(50674, V::Long(vec![3, 1]));
        ifd.set(338, V::Short(vec![2]));
        let data = one(le, big, vec![ifd]);
        let h = parse(&data).unwrap();
        assert_eq!((h.little_endian, h.bigtiff), (le, big));
        let im = &h.image;
        assert_eq!(
            (im.width, im.height, im.tile_width, im.tile_height),
            (1000, 700, 256, 256)
        );
        assert!(im.tiled);
        assert_eq!(im.tile_offsets.len(), 12);
        assert_eq!(im.tile_offsets[3], 103_000);
        assert_eq!(im.tile_byte_counts[11], 511);
        assert_eq!(
            (im.bits_per_sample, im.sample_format, im.compression),
            (16, 1, 8)
        );
        assert_eq!(
            (im.samples_per_pixel, im.planar_configuration, im.predictor),
            (1, 1, 1)
        );
        assert_eq!(im.photometric, Some(1));
        assert_eq!(im.extra_samples, vec![2]);
        assert_eq!(
            im.jpeg_tables.as_deref(),
            Some(&[0xFF, 0xD8, 0xFF, 0xD9, 1, 2, 3, 4, 5][..])
        );
        assert_eq!(im.ycbcr_subsampling, Some([2, 2]));
        assert_eq!(im.lerc_parameters, Some(vec![3, 1]));
        assert_eq!(im.little_endian, le);
        assert_eq!(
            h.geo.transform,
            Some([10.0, 0.0, 500_000.0, 0.0, -10.0, 4_000_000.0])
        );
        assert_eq!(h.geo.epsg, Some(32633));
        assert_eq!(h.geo.raster_type, Some(1));
        assert_eq!(h.geo.crs_wkt, None);
        assert_eq!(h.file_size, Some(data.len() as u64));
        assert!(h.overviews.is_empty() && h.mask.is_none());
    }
}

#[test]
fn strips_with_short_offsets_and_defaults() {
    for (le, big) in VARIANTS {
        let strips = |rps: Option<u32>, n: usize| {
            let mut e = vec![
                (256, V::Short(vec![100])),
                (257, V::Short(vec![50])),
                (273, V::Short((0..n as u16).map(|i| 200 + i).collect())),
                (279, V::Short(vec![7; n])),
            ];
            if let Some(r) = rps {
                e.push((278, V::Long(vec![r])));
            }
            IfdSpec::new(e)
        };
        let h = parse(&one(le, big, vec![strips(Some(16), 4)])).unwrap();
        let im = &h.image;
        assert!(!im.tiled);
        assert_eq!((im.tile_width, im.tile_height), (100, 16));
        assert_eq!(im.tile_offsets, vec![200, 201, 202, 203]);
        assert_eq!(
            (im.bits_per_sample, im.sample_format, im.samples_per_pixel),
            (1, 1, 1)
        );
        assert_eq!(
            (im.compression, im.predictor, im.planar_configuration),
            (1, 1, 1)
        );
        assert_eq!(im.photometric, None);
        assert_eq!(h.geo, GeoInfo::default());
        // RowsPerStrip absent -> one strip of the whole height; huge -> clamped.
        for rps in [None, Some(u32::MAX)] {
            let h = parse(&one(le, big, vec![strips(rps, 1)])).unwrap();
            assert_eq!(h.image.tile_height, 50);
        }
        assert_corrupt(
            parse(&one(le, big, vec![strips(Some(16), 3)])),
            "StripOffsets has 3",
        );
    }
}

#[test]
fn overviews_and_masks_are_classified() {
    for (le, big) in VARIANTS {
        let mask = |w, h, nst: u32| {
            let mut m = tiled_ifd(w, h, 256, 256, 1, big);
            m.set(254, V::Long(vec![nst]));
            m.set(262, V::Short(vec![4]));
            m.set(258, V::Short(vec![1]));
            m
        };
        let ov = |w, h| {
            let mut o = tiled_ifd(w, h, 256, 256, 1, big);
            o.set(254, V::Long(vec![1]));
            o
        };
        let mut full = tiled_ifd(2000, 1000, 256, 256, 1, big);
        georef(&mut full);
        // Out of order on purpose: the small overview first.
        let ifds = vec![
            full,
            mask(2000, 1000, 4),
            ov(500, 250),
            ov(1000, 500),
            mask(1000, 500, 5),
        ];
        let h = parse(&one(le, big, ifds)).unwrap();
        assert_eq!(h.image.ifd_index, 0);
        assert_eq!(h.image.width, 2000);
        let m = h.mask.as_ref().unwrap();
        assert_eq!((m.ifd_index, m.width, m.photometric), (1, 2000, Some(4)));
        let dims: Vec<_> = h.overviews.iter().map(|o| (o.width, o.ifd_index)).collect();
        assert_eq!(dims, vec![(1000, 3), (500, 2)]);
        assert_eq!(h.overview_masks.len(), 2);
        assert_eq!(h.overview_masks[0].as_ref().unwrap().ifd_index, 4);
        assert!(h.overview_masks[1].is_none());
        assert_eq!(h.overviews[0].new_subfile_type, 1);
        assert_eq!(h.geo.epsg, Some(32633));
    }
}

#[test]
fn planar_separate_needs_offsets_per_plane() {
    for (le, big) in VARIANTS {
        let mut ifd = tiled_ifd(512, 512, 256, 256, 3, big);
        ifd.set(277, V::Short(vec![3]));
        ifd.set(284, V::Short(vec![2]));
        ifd.set(258, V::Short(vec![16, 16, 16]));
        let h = parse(&one(le, big, vec![ifd.clone()])).unwrap();
        assert_eq!(h.image.tile_offsets.len(), 12);
        assert_eq!(h.image.planar_configuration, 2);
        assert_eq!(h.image.bits_per_sample, 16);
        // Pixel-interleaved needs only 4.
        ifd.set(284, V::Short(vec![1]));
        assert_corrupt(
            parse(&one(le, big, vec![ifd])),
            "TileOffsets has 12 entries",
        );
    }
}

#[test]
fn mixed_bits_per_sample_is_unsupported() {
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    ifd.set(277, V::Short(vec![2]));
    ifd.set(258, V::Short(vec![8, 16]));
    let e = parse(&one(true, false, vec![ifd])).unwrap_err();
    assert_eq!(e.kind(), Kind::Unsupported);
    assert!(e.message().contains("BitsPerSample"), "{e}");
}

#[test]
fn pixel_is_point_is_shifted_to_area() {
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    georef(&mut ifd);
    ifd.set(
        34735,
        geokeys(&[[1024, 0, 1, 1], [1025, 0, 1, 2], [3072, 0, 1, 32633]]),
    );
    let h = parse(&one(true, false, vec![ifd])).unwrap();
    assert_eq!(h.geo.raster_type, Some(2));
    assert_eq!(
        h.geo.transform,
        Some([10.0, 0.0, 499_995.0, 0.0, -10.0, 4_000_005.0])
    );
}

#[test]
fn model_transformation_wins() {
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    let m = vec![
        2.0, 0.5, 0.0, 100.0, //
        0.25, -2.0, 0.0, 200.0, //
        0.0, 0.0, 0.0, 0.0, //
        0.0, 0.0, 0.0, 1.0,
    ];
    ifd.set(34264, V::Double(m.clone()));
    ifd.set(34735, geokeys(&[[1024, 0, 1, 2], [2048, 0, 1, 4326]]));
    let h = parse(&one(false, true, vec![ifd])).unwrap();
    assert_eq!(h.geo.transform, Some([2.0, 0.5, 100.0, 0.25, -2.0, 200.0]));
    assert_eq!(h.geo.model_transformation, Some(m));
    assert_eq!(h.geo.epsg, Some(4326));
    assert_eq!(h.geo.pixel_scale, None);
}

#[test]
fn user_defined_crs_gives_citation() {
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    georef(&mut ifd);
    let ascii = "My custom LCC|WGS 84|";
    ifd.set(
        34735,
        geokeys(&[
            [1024, 0, 1, 1],
            [1026, 34737, 14, 0],
            [2049, 34737, 7, 14],
            [3072, 0, 1, 32767],
        ]),
    );
    ifd.set(34737, V::Ascii(ascii.into()));
    let h = parse(&one(true, false, vec![ifd.clone()])).unwrap();
    assert_eq!(h.geo.epsg, None);
    assert_eq!(h.geo.crs_wkt.as_deref(), Some("My custom LCC"));
    // User-defined geographic CRS: the GeogCitation.
    ifd.set(
        34735,
        geokeys(&[[1024, 0, 1, 2], [2049, 34737, 7, 14], [2048, 0, 1, 32767]]),
    );
    let h = parse(&one(true, false, vec![ifd])).unwrap();
    assert_eq!(h.geo.crs_wkt.as_deref(), Some("WGS 84"));
}

#[test]
fn gdal_nodata_variants() {
    let cases: [(&str, Option<f64>); 7] = [
        ("-9999", Some(-9999.0)),
        ("0", Some(0.0)),
        (" 1e+38 ", Some(1e38)),
        ("-inf", Some(f64::NEG_INFINITY)),
        ("inf", Some(f64::INFINITY)),
        ("garbage", None),
        ("", None),
    ];
    for (text, want) in cases {
        let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
        ifd.set(42113, V::Ascii(text.into()));
        let h = parse(&one(true, false, vec![ifd])).unwrap();
        assert_eq!(h.geo.nodata, want, "{text:?}");
    }
    for text in ["nan", "NaN", "-nan"] {
        let mut ifd = tiled_ifd(256, 256, 256, 256, 1, true);
        ifd.set(42113, V::Ascii(text.into()));
        let h = parse(&one(false, true, vec![ifd])).unwrap();
        assert!(h.geo.nodata.unwrap().is_nan(), "{text}");
    }
}

#[test]
fn gdal_metadata_scale_offset() {
    let xml = r#"<GDALMetadata>
  <Item name="AREA_OR_POINT">Area</Item>
  <Item name="SCALE" sample="0" role="scale">0.5</Item>
  <Item name="OFFSET" sample="0" role="offset">-10</Item>
  <Item name="SCALE" sample="2" role="scale">2.5e-3</Item>
  <Item name="DESCRIPTION" sample="1" role="description">red</Item>
</GDALMetadata>"#;
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    ifd.set(277, V::Short(vec![3]));
    ifd.set(42112, V::Ascii(xml.into()));
    let h = parse(&one(true, false, vec![ifd.clone()])).unwrap();
    assert_eq!(h.geo.scales, vec![Some(0.5), None, Some(0.0025)]);
    assert_eq!(h.geo.offsets, vec![Some(-10.0), None, None]);
    assert_eq!(h.geo.gdal_metadata.as_deref(), Some(xml));
    // Metadata without scale/offset: both empty.
    ifd.set(
        42112,
        V::Ascii("<GDALMetadata><Item name=\"X\">1</Item></GDALMetadata>".into()),
    );
    let h = parse(&one(true, false, vec![ifd])).unwrap();
    assert!(h.geo.scales.is_empty() && h.geo.offsets.is_empty());
}

/// A GDAL-like COG: ghost area, all IFDs and their arrays first, tile data after.
fn gdal_like_cog(le: bool, big: bool) -> Built {
    let mut w = TiffWriter::new(le, big);
    w.ghost = 400;
    w.tail_pad = 300_000;
    let mut full = tiled_ifd(10980, 10980, 512, 512, 1, big);
    georef(&mut full);
    full.set(42113, V::Ascii("0".into()));
    w.ifds = vec![
        full,
        {
            let mut o = tiled_ifd(5490, 5490, 512, 512, 1, big);
            o.set(254, V::Long(vec![1]));
            o
        },
        {
            let mut o = tiled_ifd(2745, 2745, 512, 512, 1, big);
            o.set(254, V::Long(vec![1]));
            o
        },
    ];
    w.build()
}

#[test]
fn readahead_one_request_for_compact_header() {
    for (le, big) in VARIANTS {
        let built = gdal_like_cog(le, big);
        assert!(built.bytes.len() > 300_000);
        let (res, calls) = fetch_counting(&built.bytes, 64 * 1024);
        let h = res.unwrap();
        assert_eq!(calls, vec![0..65536], "one request only");
        assert_eq!(h.image.tile_offsets.len(), 22 * 22);
        assert_eq!(h.overviews.len(), 2);
        assert_eq!(h.file_size, None);
        assert_eq!(h, {
            let mut full = parse(&built.bytes).unwrap();
            full.file_size = None;
            full
        });
    }
    // A file smaller than the read-ahead: one request, file size learnt.
    let small = one(true, false, vec![tiled_ifd(256, 256, 256, 256, 1, false)]);
    let (res, calls) = fetch_counting(&small, 64 * 1024);
    assert_eq!(calls.len(), 1);
    assert_eq!(res.unwrap().file_size, Some(small.len() as u64));
}

#[test]
fn readahead_few_requests_for_big_offsets_at_end() {
    for (le, big) in [(true, false), (false, true)] {
        let mut w = TiffWriter::new(le, big);
        w.tail_pad = 3 << 20;
        // 1024 x 512 tiles of 16x16 -> 524288 tiles: 2 MiB (LONG) or 4 MiB (LONG8) per array.
        let mut ifd = tiled_ifd(16 * 1024, 16 * 512, 16, 16, 1, big);
        ifd.deferred = vec![324, 325];
        w.ifds = vec![ifd];
        let built = w.build();
        let (res, calls) = fetch_counting(&built.bytes, 64 * 1024);
        let h = res.unwrap();
        assert_eq!(h.image.tile_offsets.len(), 524_288);
        assert_eq!(h.image.tile_byte_counts[524_287], 500 + 524_287);
        assert_eq!(calls.len(), 2, "{calls:?}");
    }
}

#[test]
fn readahead_arrays_of_all_ifds_in_one_request() {
    // Full resolution + 2 overviews, all offset arrays (~2.6 MiB) after 3 MiB of tile data.
    for (le, big) in [(true, false), (false, true)] {
        let mut w = TiffWriter::new(le, big);
        w.tail_pad = 3 << 20;
        let mut ifds = vec![tiled_ifd(8192, 8192, 16, 16, 1, big)];
        for (n, size) in [(1u32, 4096u32), (1, 2048)] {
            let mut o = tiled_ifd(size, size, 16, 16, 1, big);
            o.set(254, V::Long(vec![n]));
            ifds.push(o);
        }
        for i in &mut ifds {
            i.deferred = vec![324, 325];
        }
        w.ifds = ifds;
        let built = w.build();
        let (res, calls) = fetch_counting(&built.bytes, 64 * 1024);
        let h = res.unwrap();
        assert_eq!(h.overviews[1].tile_offsets.len(), 128 * 128);
        assert_eq!(calls.len(), 2, "{calls:?}");
        let mut want = parse(&built.bytes).unwrap();
        want.file_size = None;
        assert_eq!(h, want);
    }
}

#[test]
fn readahead_ifd_far_from_start() {
    // IFD after 1 MiB of leading data (as non-COG writers do): read-ahead + one more request.
    for (le, big) in VARIANTS {
        let mut w = TiffWriter::new(le, big);
        w.ghost = 1 << 20;
        w.ifds = vec![tiled_ifd(4096, 4096, 256, 256, 1, big)];
        let built = w.build();
        let (res, calls) = fetch_counting(&built.bytes, 64 * 1024);
        assert_eq!(res.unwrap().image.tile_offsets.len(), 256);
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(
            calls[1].end - calls[1].start,
            128 * 1024,
            "doubling: {calls:?}"
        );
    }
}

#[test]
fn readahead_fetch_errors_and_long_bodies() {
    let data = one(true, false, vec![tiled_ifd(256, 256, 256, 256, 1, false)]);
    // A transport error is passed through unchanged.
    let res = futures::executor::block_on(fetch_header(
        |_r: Range<u64>| async { Err::<Bytes, _>(Error::transport("boom")) },
        1024,
    ));
    assert_eq!(res.unwrap_err().kind(), Kind::Transport);
    // A server ignoring the range end (whole body) still parses.
    let file = Bytes::from(data.clone());
    let h = futures::executor::block_on(fetch_header(
        |r: Range<u64>| {
            let b = file.slice(r.start.min(file.len() as u64) as usize..);
            async move { Ok(b) }
        },
        16,
    ))
    .unwrap();
    assert_eq!(h.image.tile_offsets.len(), 1);
}

/// A virtual endless BigTIFF: IFD k (one ImageWidth entry) at k GiB points to IFD k+1.
fn endless_chain(limits: readahead::Limits) -> (Result<CogHeader>, Vec<Range<u64>>) {
    let mut calls = Vec::new();
    let res = futures::executor::block_on(readahead::fetch_header_limited(
        |r: Range<u64>| {
            calls.push(r.clone());
            let len = (r.end - r.start) as usize;
            let mut b = vec![0u8; len];
            let mut put = |at: u64, bytes: &[u8]| {
                for (k, v) in bytes.iter().enumerate() {
                    let pos = at + k as u64;
                    if pos >= r.start && pos < r.end {
                        b[(pos - r.start) as usize] = *v;
                    }
                }
            };
            put(0, b"II+\0\x08\0\0\0");
            put(8, &(1u64 << 30).to_le_bytes());
            let first = (r.start >> 30).max(1);
            for k in first..=(r.end >> 30) {
                let at = k << 30;
                let mut ifd = 1u64.to_le_bytes().to_vec();
                ifd.extend_from_slice(&[
                    0, 1, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0,
                ]);
                ifd.extend_from_slice(&((k + 1) << 30).to_le_bytes());
                put(at, &ifd);
            }
            async move { Ok(Bytes::from(b)) }
        },
        1024,
        limits,
    ));
    (res, calls)
}

#[test]
fn readahead_rounds_and_bytes_are_capped() {
    let limits = readahead::Limits {
        max_rounds: 64,
        max_growth: 4096,
        max_total: 16 << 20,
    };
    let (res, calls) = endless_chain(limits);
    assert_corrupt(res, "after 64 range requests");
    assert_eq!(calls.len(), 65);
    assert!(calls.iter().all(|r| r.end - r.start <= 4096));
    let (res, calls) = endless_chain(readahead::Limits {
        max_total: 64 * 1024,
        ..limits
    });
    assert_corrupt(res, "more than 65536 bytes");
    assert!(calls.len() < 30, "{}", calls.len());
}

#[test]
fn ifd_loop_is_an_error() {
    for (le, big) in VARIANTS {
        let ifds = vec![tiled_ifd(512, 512, 256, 256, 1, big), {
            let mut o = tiled_ifd(256, 256, 256, 256, 1, big);
            o.set(254, V::Long(vec![1]));
            o
        }];
        let mut w = TiffWriter::new(le, big);
        w.ifds = ifds;
        let mut built = w.build();
        let (pos, first) = (built.next_ptr_pos[1], built.ifd_offsets[0]);
        built.patch_offset(pos, first);
        assert_corrupt(parse(&built.bytes), "loop");
        let (res, _) = fetch_counting(&built.bytes, 64);
        assert_corrupt(res, "loop");
    }
}

#[test]
fn offsets_past_eof_are_errors() {
    for (le, big) in VARIANTS {
        let mut w = TiffWriter::new(le, big);
        w.ifds = vec![tiled_ifd(4096, 4096, 256, 256, 1, big)];
        let built = w.build();
        let len = built.bytes.len() as u64;
        // First IFD offset beyond EOF.
        let mut b1 = w.build();
        b1.patch_offset(if big { 8 } else { 4 }, len + 1000);
        assert_corrupt(parse(&b1.bytes), "past end of file");
        let (res, calls) = fetch_counting(&b1.bytes, 1024);
        assert_corrupt(res, "past end of file");
        assert!(calls.len() <= 3, "{calls:?}");
        // Next IFD pointer beyond EOF.
        let mut b2 = w.build();
        b2.patch_offset(b2.next_ptr_pos[0], len * 4);
        assert_corrupt(parse(&b2.bytes), "past end of file");
        // Truncated before the offsets array.
        let cut = &built.bytes[..built.bytes.len() - 100];
        assert_corrupt(parse(cut), "past end of file");
        let (res, _) = fetch_counting(cut, 64 * 1024);
        assert_corrupt(res, "past end of file");
    }
}

#[test]
fn not_a_tiff() {
    assert_corrupt(parse(b"GIF89a\0\0\0\0\0\0"), "bad byte-order mark");
    assert_corrupt(parse(b"II\x2b\0"), "only 4 bytes");
    assert_corrupt(parse(b""), "only 0 bytes");
    assert_corrupt(parse(b"II\x2c\0\x08\0\0\0"), "expected 42");
    assert_corrupt(parse(b"II\x2a\0\0\0\0\0"), "no image");
    let (res, calls) = fetch_counting(b"II", 64 * 1024);
    assert_corrupt(res, "only 2 bytes");
    assert_eq!(calls.len(), 1);
}

#[test]
fn huge_counts_are_capped() {
    // A tag claiming 2^40 values must not allocate or fetch.
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, true);
    ifd.set(33550, V::Raw(12, 1 << 40, 1000u64.to_le_bytes().to_vec()));
    let data = one(true, true, vec![ifd]);
    assert_corrupt(parse(&data), "cap");
    // A mismatching offsets count is rejected before its array is read.
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, true);
    ifd.set(324, V::Raw(16, 1 << 30, 1000u64.to_le_bytes().to_vec()));
    assert_corrupt(
        parse(&one(true, true, vec![ifd])),
        "TileOffsets has 1073741824",
    );
}

#[test]
fn unknown_field_types_skipped_unless_needed() {
    let mut ifd = tiled_ifd(256, 256, 256, 256, 1, false);
    ifd.set(40000, V::Raw(99, 5, vec![1, 2, 3, 4]));
    ifd.set(40001, V::Byte(vec![1, 2, 3, 4, 5, 6]));
    assert!(parse(&one(true, false, vec![ifd.clone()])).is_ok());
    ifd.set(256, V::Raw(99, 1, vec![1, 2, 3, 4]));
    assert_corrupt(parse(&one(true, false, vec![ifd])), "field type 99");
}

#[test]
fn every_prefix_never_panics() {
    for (le, big) in VARIANTS {
        let mut full = tiled_ifd(1000, 700, 256, 256, 1, big);
        georef(&mut full);
        full.set(42112, V::Ascii("<GDALMetadata><Item name=\"SCALE\" sample=\"0\" role=\"scale\">2</Item></GDALMetadata>".into()));
        let mut ov = tiled_ifd(500, 350, 256, 256, 1, big);
        ov.set(254, V::Long(vec![1]));
        let data = one(le, big, vec![full, ov]);
        for n in 0..data.len() {
            let r = parse(&data[..n]);
            assert!(r.is_err(), "prefix {n} parsed");
            let (r2, calls) = fetch_counting(&data[..n], 32);
            assert!(r2.is_err() && calls.len() <= MAX_ROUNDS + 1);
        }
        assert!(parse(&data).is_ok());
    }
}

/// xorshift64*: deterministic pseudo-random bytes without extra dependencies.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let prefixes: [&[u8]; 5] = [
        b"",
        b"II*\0",
        b"MM\0*",
        b"II+\0\x08\0\0\0",
        b"MM\0+\0\x08\0\0",
    ];
    for round in 0..3000 {
        let len = (rng.next() % 512) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let p = prefixes[round % prefixes.len()];
        if data.len() >= p.len() {
            data[..p.len()].copy_from_slice(p);
        }
        let _ = parse(&data);
        let _ = fetch_counting(&data, 64);
    }
    // Bit flips in a valid file reach deeper code paths.
    for (le, big) in VARIANTS {
        let mut full = tiled_ifd(1000, 700, 256, 256, 1, big);
        georef(&mut full);
        let mut ov = tiled_ifd(500, 350, 256, 256, 1, big);
        ov.set(254, V::Long(vec![1]));
        let data = one(le, big, vec![full, ov]);
        for _ in 0..2000 {
            let mut d = data.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() as usize) % d.len();
                d[i] ^= 1 << (rng.next() % 8);
            }
            let _ = parse(&d);
        }
    }
}

#[test]
fn sparse_bytes_merge() {
    let mut c = SparseBytes::default();
    c.insert(10, Bytes::from_static(b"abcd"));
    c.insert(20, Bytes::from_static(b"xy"));
    assert_eq!(c.chunks.len(), 2);
    c.insert(14, Bytes::from_static(b"012345"));
    assert_eq!(c.chunks.len(), 1);
    assert_eq!(c.get(10..22), Some(&b"abcd012345xy"[..]));
    assert_eq!(c.get(9..12), None);
    assert_eq!(c.cached_until(12), 22);
    assert_eq!(c.cached_until(30), 30);
}

/// Longer mutation fuzzing over test files and any `*.tif` in `RASTERET_FUZZ_DIR`;
/// `RASTERET_FUZZ_ITERS` mutations per file (default 20000).
#[test]
#[ignore = "slow; run with --include-ignored"]
fn long_mutation_fuzz() {
    let iters: usize = std::env::var("RASTERET_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut files = Vec::new();
    for (le, big) in VARIANTS {
        let mut full = tiled_ifd(1000, 700, 256, 256, 1, big);
        georef(&mut full);
        full.set(42113, V::Ascii("-9999".into()));
        full.set(42112, V::Ascii("<GDALMetadata><Item name=\"SCALE\" sample=\"0\" role=\"scale\">2</Item></GDALMetadata>".into()));
        let mut m = tiled_ifd(1000, 700, 256, 256, 1, big);
        m.set(254, V::Long(vec![4]));
        m.set(262, V::Short(vec![4]));
        let mut ov = tiled_ifd(500, 350, 256, 256, 1, big);
        ov.set(254, V::Long(vec![1]));
        files.push(one(le, big, vec![full, m, ov]));
    }
    if let Ok(dir) = std::env::var("RASTERET_FUZZ_DIR") {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "tif") {
                let mut d = std::fs::read(&p).unwrap();
                d.truncate(64 * 1024);
                files.push(d);
            }
        }
    }
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for data in &files {
        for _ in 0..iters {
            let mut d = data.clone();
            for _ in 0..1 + rng.next() % 8 {
                let i = (rng.next() as usize) % d.len();
                match rng.next() % 3 {
                    0 => d[i] ^= 1 << (rng.next() % 8),
                    1 => d[i] = rng.next() as u8,
                    _ => d[i] = [0, 0xFF, 1, 0x80][(rng.next() % 4) as usize],
                }
            }
            let _ = parse(&d);
        }
    }
}
