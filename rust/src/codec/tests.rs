//! Round-trip tests: data encoded in-test with each codec, predictor and bit depth, plus
//! corrupt, truncated and random inputs that must give errors, never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_arguments
)]

use std::io::Write;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::error::Kind;

const BYTE_CODECS: [u16; 7] = [1, 5, 8, 32946, 32773, 34925, 50000];

fn spec(
    compression: u16,
    predictor: u16,
    bits: u16,
    fmt: u16,
    samples: u16,
    width: u32,
    rows: u32,
    le: bool,
) -> TileSpec<'static> {
    TileSpec {
        compression,
        predictor,
        bits_per_sample: bits,
        sample_format: fmt,
        samples,
        width,
        rows,
        little_endian: le,
        photometric: None,
        jpeg_tables: None,
        lerc_parameters: None,
        nodata: None,
    }
}

/// PackBits encoder: literal runs up to 128 bytes, repeat runs of 3..=128.
fn packbits(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let mut run = 1;
        while i + run < data.len() && run < 128 && data[i + run] == data[i] {
            run += 1;
        }
        if run >= 3 {
            out.push((1i16 - run as i16) as i8 as u8);
            out.push(data[i]);
            i += run;
            continue;
        }
        let start = i;
        while i < data.len() && i - start < 128 {
            if i + 2 < data.len() && data[i] == data[i + 1] && data[i] == data[i + 2] {
                break;
            }
            i += 1;
        }
        out.push((i - start - 1) as u8);
        out.extend_from_slice(&data[start..i]);
    }
    out
}

fn compress(code: u16, data: &[u8]) -> Vec<u8> {
    match code {
        1 => data.to_vec(),
        5 => weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(data)
            .unwrap(),
        8 | 32946 => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        32773 => packbits(data),
        34925 => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        50000 => ::zstd::bulk::compress(data, 3).unwrap(),
        c => panic!("no test encoder for {c}"),
    }
}

/// Random samples of `bits` each, as native container bytes.
fn random_native(rng: &mut StdRng, n: usize, bits: u16) -> Vec<u8> {
    let elem = element_bytes(bits).unwrap();
    let mut out = Vec::with_capacity(n * elem);
    for _ in 0..n {
        // Smooth-ish data so the codecs compress a little; still covers all bits.
        let v: u64 = rng.random::<u64>()
            & if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
        out.extend_from_slice(&v.to_ne_bytes()[..elem]);
        #[cfg(target_endian = "big")]
        compile_error!("tests assume a little-endian host");
    }
    out
}

/// Horizontal differencing (the encoder of predictor 2) on native rows.
fn hdiff(buf: &mut [u8], row_len: usize, samples: usize, elem: usize) {
    for row in buf.chunks_exact_mut(row_len) {
        let n = row_len / elem;
        for i in (samples..n).rev() {
            let get = |r: &[u8], k: usize| {
                let mut b = [0u8; 8];
                b[..elem].copy_from_slice(&r[k * elem..(k + 1) * elem]);
                u64::from_ne_bytes(b)
            };
            let v = get(row, i).wrapping_sub(get(row, i - samples));
            row[i * elem..(i + 1) * elem].copy_from_slice(&v.to_ne_bytes()[..elem]);
        }
    }
}

/// libtiff `fpDiff`: byte planes (MSB first) then byte differencing with stride `samples`.
fn fpdiff(buf: &mut [u8], row_len: usize, samples: usize, elem: usize) {
    let wc = row_len / elem;
    for row in buf.chunks_exact_mut(row_len) {
        let mut tmp = vec![0u8; row_len];
        for i in 0..wc {
            for b in 0..elem {
                // big-endian byte b of sample i
                tmp[b * wc + i] = row[i * elem + (elem - 1 - b)];
            }
        }
        for i in (samples..row_len).rev() {
            tmp[i] = tmp[i].wrapping_sub(tmp[i - samples]);
        }
        row.copy_from_slice(&tmp);
    }
}

fn swap(buf: &mut [u8], elem: usize) {
    buf.chunks_exact_mut(elem).for_each(<[u8]>::reverse);
}

fn decode_all(src: &[u8], s: &TileSpec<'_>, rows: u32) -> Result<Vec<u8>> {
    let mut out = vec![0u8; decoded_len(s, rows)?];
    decode_into(src, s, rows, &mut out)?;
    Ok(out)
}

/// Encode `native` as the file would store it, compress, then check full and partial decodes.
fn roundtrip(s: &TileSpec<'_>, native: &[u8]) {
    let elem = element_bytes(s.bits_per_sample).unwrap();
    let row_len = s.width as usize * s.samples as usize * elem;
    let mut stored = native.to_vec();
    match s.predictor {
        2 => hdiff(&mut stored, row_len, s.samples as usize, elem),
        3 => fpdiff(&mut stored, row_len, s.samples as usize, elem),
        _ => {}
    }
    if !s.little_endian && s.predictor != 3 && elem > 1 {
        swap(&mut stored, elem);
    }
    let comp = compress(s.compression, &stored);
    let full = decode_all(&comp, s, s.rows).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert!(full == native, "full decode differs: {s:?}");
    for rows in [0, 1, s.rows / 3, s.rows.saturating_sub(1)] {
        let part = decode_all(&comp, s, rows).unwrap_or_else(|e| panic!("{s:?} rows {rows}: {e}"));
        assert!(
            part[..] == native[..part.len()],
            "partial {rows} differs: {s:?}"
        );
    }
}

#[test]
fn int_predictors_all_codecs_widths_and_byte_orders() {
    let mut rng = StdRng::seed_from_u64(1);
    for code in BYTE_CODECS {
        for predictor in [1, 2] {
            for bits in [8u16, 16, 32, 64] {
                for le in [true, false] {
                    for samples in [1u16, 2, 3, 4, 5] {
                        let s = spec(code, predictor, bits, 1, samples, 33, 20, le);
                        let n = 33 * 20 * samples as usize;
                        roundtrip(&s, &random_native(&mut rng, n, bits));
                    }
                }
            }
        }
    }
}

#[test]
fn float_predictor_f16_f32_f64() {
    let mut rng = StdRng::seed_from_u64(2);
    for code in [1, 8, 50000, 5] {
        for bits in [16u16, 32, 64] {
            for le in [true, false] {
                for samples in [1u16, 2] {
                    let s = spec(code, 3, bits, 3, samples, 17, 9, le);
                    let n = 17 * 9 * samples as usize;
                    let native: Vec<u8> = match bits {
                        16 => (0..n)
                            .flat_map(|_| {
                                half::f16::from_f32(rng.random_range(-100.0..100.0)).to_ne_bytes()
                            })
                            .collect(),
                        32 => (0..n)
                            .flat_map(|_| rng.random_range(-1e6f32..1e6).to_ne_bytes())
                            .collect(),
                        _ => (0..n)
                            .flat_map(|_| rng.random_range(-1e9f64..1e9).to_ne_bytes())
                            .collect(),
                    };
                    roundtrip(&s, &native);
                }
            }
        }
    }
}

#[test]
fn float_predictor_matches_known_libtiff_layout() {
    // One row of two f32 samples 1.0 (3F800000) and 2.0 (40000000), samples = 1:
    // planes [3F 40][80 00][00 00][00 00], then byte differences.
    let planes = [0x3Fu8, 0x40, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00];
    let mut stored = planes;
    for i in (1..8).rev() {
        stored[i] = stored[i].wrapping_sub(stored[i - 1]);
    }
    for le in [true, false] {
        let s = spec(1, 3, 32, 3, 1, 2, 1, le);
        let out = decode_all(&stored, &s, 1).unwrap();
        let v: Vec<f32> = out
            .chunks(4)
            .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(v, [1.0, 2.0]);
    }
}

/// Pack values MSB-first into byte-aligned rows (24-bit big-endian files: reversed triples).
fn pack_bits(values: &[u32], per_row: usize, bits: u16, le: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for row in values.chunks(per_row) {
        if bits == 24 && !le {
            for v in row {
                let b = v.to_le_bytes();
                out.extend_from_slice(&b[..3]);
            }
            continue;
        }
        let mut acc: u64 = 0;
        let mut have = 0u32;
        for &v in row {
            acc = (acc << bits) | u64::from(v);
            have += u32::from(bits);
            while have >= 8 {
                have -= 8;
                out.push((acc >> have) as u8);
            }
        }
        if have > 0 {
            out.push((acc << (8 - have)) as u8);
        }
        acc = 0;
        let _ = acc;
    }
    out
}

#[test]
fn sub_byte_and_odd_depths() {
    let mut rng = StdRng::seed_from_u64(3);
    for bits in [1u16, 2, 3, 4, 7, 12, 15, 17, 24, 31] {
        for le in [true, false] {
            for code in [1, 8, 50000] {
                let (w, rows, samples) = (13u32, 7u32, 2u16);
                let per_row = (w * u32::from(samples)) as usize;
                let values: Vec<u32> = (0..per_row * rows as usize)
                    .map(|_| rng.random::<u32>() & ((1u64 << bits) - 1) as u32)
                    .collect();
                let stored = pack_bits(&values, per_row, bits, le);
                assert_eq!(
                    stored.len(),
                    (per_row * bits as usize).div_ceil(8) * rows as usize
                );
                let s = spec(code, 1, bits, 1, samples, w, rows, le);
                let comp = compress(code, &stored);
                for r in [rows, 3] {
                    let out = decode_all(&comp, &s, r).unwrap();
                    let elem = element_bytes(bits).unwrap();
                    let got: Vec<u32> = out
                        .chunks(elem)
                        .map(|c| {
                            let mut b = [0u8; 4];
                            b[..elem].copy_from_slice(c);
                            u32::from_ne_bytes(b)
                        })
                        .collect();
                    assert_eq!(
                        got[..],
                        values[..per_row * r as usize],
                        "bits {bits} le {le} code {code}"
                    );
                }
            }
        }
    }
}

#[test]
fn predictor_with_odd_bits_is_unsupported() {
    let s = spec(1, 2, 12, 1, 1, 4, 1, true);
    let e = decode_all(&[0u8; 6], &s, 1).unwrap_err();
    assert_eq!(e.kind(), Kind::Unsupported);
}

#[test]
fn short_last_strip() {
    let mut rng = StdRng::seed_from_u64(4);
    for code in BYTE_CODECS {
        let s = spec(code, 2, 16, 1, 1, 37, 5, true);
        roundtrip(&s, &random_native(&mut rng, 37 * 5, 16));
    }
}

#[test]
fn large_tile_partial_and_excess() {
    // 256x256 u16: exercises libdeflate one-shot, scratch and streaming paths, plus excess data.
    let mut rng = StdRng::seed_from_u64(5);
    let native = random_native(&mut rng, 256 * 256, 16);
    for code in BYTE_CODECS {
        let s = spec(code, 2, 16, 1, 1, 256, 256, true);
        roundtrip(&s, &native);
        for rows in [100, 200, 255] {
            let full = decode_all(
                &compress(code, &native),
                &spec(code, 1, 16, 1, 1, 256, 256, true),
                256,
            )
            .unwrap();
            let part = decode_all(
                &compress(code, &native),
                &spec(code, 1, 16, 1, 1, 256, 256, true),
                rows,
            )
            .unwrap();
            assert_eq!(part[..], full[..part.len()]);
        }
        // A stream that holds more than the tile (e.g. a padded writer) is fine.
        let mut more = native.clone();
        more.extend_from_slice(&[7u8; 1000]);
        let out = decode_all(
            &compress(code, &more),
            &spec(code, 1, 16, 1, 1, 256, 256, true),
            256,
        )
        .unwrap();
        assert!(out == native);
    }
}

#[test]
fn a_buffer_with_room_for_the_whole_tile_gives_the_same_needed_rows() {
    // With predictor 2 the needed rows are predictor-undone exactly as in a prefix-sized
    // buffer; DEFLATE past 60% decodes the whole tile in place, the others use the prefix.
    let mut rng = StdRng::seed_from_u64(6);
    let native = random_native(&mut rng, 256 * 256, 16);
    let mut differenced = native.clone();
    hdiff(&mut differenced, 512, 1, 2);
    for code in BYTE_CODECS {
        let s = spec(code, 2, 16, 1, 1, 256, 256, true);
        let src = compress(code, &differenced);
        for rows in [1, 100, 154, 200, 255] {
            let whole = rows_to_decode(&s, rows) == 256;
            let deflate = matches!(code, 8 | 32946);
            assert_eq!(whole, deflate && rows >= 154, "code {code} rows {rows}");
            let mut roomy = vec![0u8; decoded_len(&s, 256).unwrap()];
            decode_into(&src, &s, rows, &mut roomy).unwrap();
            let part = decode_all(&src, &s, rows).unwrap();
            assert_eq!(roomy[..part.len()], part[..], "code {code} rows {rows}");
            assert_eq!(part[..], native[..part.len()], "code {code} rows {rows}");
        }
    }
    // Any other size than the prefix or the whole tile is refused.
    let s = spec(8, 1, 16, 1, 1, 256, 256, true);
    let mut odd = vec![0u8; decoded_len(&s, 200).unwrap() + 2];
    assert_eq!(
        decode_into(&[0; 16], &s, 200, &mut odd).unwrap_err().kind(),
        Kind::InvalidArgument
    );
}

#[test]
fn truncated_streams_are_corrupt() {
    let mut rng = StdRng::seed_from_u64(6);
    let native = random_native(&mut rng, 64 * 64, 16);
    for code in BYTE_CODECS {
        let s = spec(code, 1, 16, 1, 1, 64, 64, true);
        let comp = compress(code, &native);
        for cut in [0, 1, comp.len() / 2, comp.len() - 1] {
            let r = decode_all(&comp[..cut], &s, 64);
            // A cut at the very end can still yield all bytes for some codecs (checksums aside).
            if cut < comp.len() / 2 + 1 {
                let e = r.expect_err(&format!("code {code} cut {cut}"));
                assert_eq!(e.kind(), Kind::Corrupt, "code {code} cut {cut}: {e}");
            }
        }
    }
    let e = decode_all(&[1, 2, 3], &spec(1, 1, 8, 1, 1, 4, 1, true), 1).unwrap_err();
    assert_eq!(e.message(), "tile decoded to 3 bytes, expected 4");
}

#[test]
fn unsupported_compressions_are_named() {
    let s = spec(6, 1, 8, 1, 1, 4, 4, true);
    let e = decode_all(&[0; 16], &s, 4).unwrap_err();
    assert_eq!(e.kind(), Kind::Unsupported);
    assert!(e.message().contains("6 (old-style JPEG)"), "{e}");
    let e = decode_all(&[0; 16], &spec(34712, 1, 8, 1, 1, 4, 4, true), 4).unwrap_err();
    assert!(e.message().contains("34712 (JPEG 2000)"), "{e}");
    let e = decode_all(&[0; 16], &spec(4242, 1, 8, 1, 1, 4, 4, true), 4).unwrap_err();
    assert!(e.message().contains("4242 (unknown)"), "{e}");
}

#[test]
fn bad_arguments_are_invalid() {
    let s = spec(1, 1, 8, 1, 1, 4, 4, true);
    let mut out = vec![0u8; 3];
    assert_eq!(
        decode_into(&[0; 16], &s, 1, &mut out).unwrap_err().kind(),
        Kind::InvalidArgument
    );
    let mut out = vec![0u8; 20];
    assert_eq!(
        decode_into(&[0; 16], &s, 5, &mut out).unwrap_err().kind(),
        Kind::InvalidArgument
    );
}

#[test]
fn lerc_roundtrip_plain_deflate_zstd_and_mask() {
    let (w, h) = (16usize, 8usize);
    let data: Vec<f32> = (0..w * h).map(|i| i as f32 * 0.5).collect();
    let mut mask = vec![1u8; w * h];
    mask[3] = 0;
    let blob = ::lerc::encode(&data, Some(&mask), w, h, 1, 1, 1, 0.0).unwrap();
    for (extra, payload) in [
        (0u32, blob.clone()),
        (1, compress(8, &blob)),
        (2, compress(50000, &blob)),
    ] {
        let params = [4u32, extra];
        for nodata in [None, Some(-9999.0)] {
            let mut s = spec(34887, 1, 32, 3, 1, w as u32, h as u32, true);
            s.lerc_parameters = Some(&params);
            s.nodata = nodata;
            let out = decode_all(&payload, &s, h as u32).unwrap();
            let got: Vec<f32> = out
                .chunks(4)
                .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
                .collect();
            for (i, (g, d)) in got.iter().zip(&data).enumerate() {
                if i == 3 {
                    match nodata {
                        None => assert!(g.is_nan()),
                        Some(v) => assert_eq!(*g, v as f32),
                    }
                } else {
                    assert_eq!(g, d);
                }
            }
            let part = decode_all(&payload, &s, 3).unwrap();
            assert_eq!(part[..], out[..part.len()]);
        }
    }
    // u16 with 3 interleaved samples (depth 3).
    let data: Vec<u16> = (0..w * h * 3).map(|i| (i * 7) as u16).collect();
    let blob = ::lerc::encode(&data, None, w, h, 3, 1, 0, 0.0).unwrap();
    let s = spec(34887, 1, 16, 1, 3, w as u32, h as u32, true);
    let out = decode_all(&blob, &s, h as u32).unwrap();
    let got: Vec<u16> = out
        .chunks(2)
        .map(|c| u16::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, data);
    // Wrong dimensions are corrupt.
    let s = spec(34887, 1, 16, 1, 3, w as u32, h as u32 + 1, true);
    assert_eq!(decode_all(&blob, &s, 2).unwrap_err().kind(), Kind::Corrupt);
}

#[test]
fn webp_lossless_rgb_and_rgba() {
    let (w, h) = (20u32, 10u32);
    for (samples, color) in [
        (3u16, image_webp::ColorType::Rgb8),
        (4, image_webp::ColorType::Rgba8),
    ] {
        let data: Vec<u8> = (0..w * h * u32::from(samples))
            .map(|i| (i * 13 % 251) as u8)
            .collect();
        let mut enc = Vec::new();
        image_webp::WebPEncoder::new(&mut enc)
            .encode(&data, w, h, color)
            .unwrap();
        let s = spec(50001, 1, 8, 1, samples, w, h, true);
        let out = decode_all(&enc, &s, h).unwrap();
        assert!(out == data, "webp samples {samples}");
        let part = decode_all(&enc, &s, 4).unwrap();
        assert_eq!(part[..], data[..part.len()]);
    }
}

#[test]
fn jpeg_splice_joins_tables_and_tile() {
    let tables = [0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 9, 0xFF, 0xD9];
    let tile = [0xFF, 0xD8, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9];
    let v = jpeg::tests_splice(&tile, Some(&tables)).unwrap();
    assert_eq!(
        v,
        [0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 9, 0xFF, 0xDA, 1, 2, 0xFF, 0xD9]
    );
    assert!(jpeg::tests_splice(&tile, None).is_none());
}

#[test]
fn jpeg_rejects_unsupported_layouts() {
    let mut s = spec(7, 1, 12, 1, 1, 8, 8, true);
    assert_eq!(
        decode_all(&[0; 8], &s, 8).unwrap_err().kind(),
        Kind::Unsupported
    );
    s.bits_per_sample = 8;
    s.samples = 4;
    s.photometric = Some(5);
    assert_eq!(
        decode_all(&[0; 8], &s, 8).unwrap_err().kind(),
        Kind::Unsupported
    );
}

/// Every compression code x random garbage, bit-flipped valid streams and truncations: never panic.
#[test]
fn garbage_never_panics() {
    let mut rng = StdRng::seed_from_u64(7);
    let codes = [
        1u16, 5, 6, 7, 8, 32773, 32946, 34887, 34925, 50000, 50001, 9, 0,
    ];
    let native = random_native(&mut rng, 32 * 16, 16);
    let mut valid: Vec<(u16, Vec<u8>)> = BYTE_CODECS
        .iter()
        .map(|&c| (c, compress(c, &native)))
        .collect();
    let mut webp = Vec::new();
    image_webp::WebPEncoder::new(&mut webp)
        .encode(&vec![9u8; 32 * 16 * 3], 32, 16, image_webp::ColorType::Rgb8)
        .unwrap();
    valid.push((50001, webp));
    let lerc_data: Vec<u16> = native
        .chunks(2)
        .map(|c| u16::from_ne_bytes([c[0], c[1]]))
        .collect();
    valid.push((
        34887,
        ::lerc::encode(&lerc_data, None, 32, 16, 1, 1, 0, 0.0).unwrap(),
    ));
    for _ in 0..60 {
        let len = rng.random_range(0..600);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if rng.random_bool(0.3) && junk.len() > 4 {
            junk[..2].copy_from_slice(&[0xFF, 0xD8]);
        }
        for code in codes {
            for (bits, samples, fmt) in [
                (8u16, 1u16, 1u16),
                (16, 1, 1),
                (8, 3, 1),
                (32, 1, 3),
                (4, 1, 1),
            ] {
                let mut s = spec(code, 1, bits, fmt, samples, 32, 16, true);
                s.photometric = Some(if samples == 3 { 6 } else { 1 });
                let _ = decode_all(&junk, &s, 16);
                let _ = decode_all(&junk, &s, 5);
            }
        }
    }
    for (code, stream) in &valid {
        let (bits, samples) = if *code == 50001 { (8, 3) } else { (16, 1) };
        let s = spec(*code, 2, bits, 1, samples, 32, 16, true);
        for _ in 0..200 {
            let mut m = stream.clone();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..m.len());
                m[i] ^= 1 << rng.random_range(0..8);
            }
            if rng.random_bool(0.3) {
                m.truncate(rng.random_range(0..m.len()));
            }
            let _ = decode_all(&m, &s, 16);
            let _ = decode_all(&m, &s, 3);
        }
    }
}

/// Micro-benchmark: 512x512 u16 DEFLATE + predictor 2 tiles, libdeflate vs flate2 (zlib-rs).
/// `cargo test --release --lib codec::tests::bench_deflate -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_deflate_u16_pred2() {
    use std::time::Instant;
    let (w, h) = (512usize, 512usize);
    // Smooth terrain-like data with noise.
    let mut rng = StdRng::seed_from_u64(8);
    let native: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let v =
                1000.0 + 300.0 * (x / 40.0).sin() * (y / 55.0).cos() + rng.random_range(0.0..8.0);
            (v as u16).to_ne_bytes()
        })
        .collect();
    let mut stored = native.clone();
    hdiff(&mut stored, w * 2, 1, 2);
    let comp = compress(8, &stored);
    if let Ok(path) = std::env::var("BENCH_DUMP") {
        // For comparing with imagecodecs: the compressed tile and the expected result.
        std::fs::write(format!("{path}.zlib"), &comp).unwrap();
        std::fs::write(format!("{path}.raw"), &native).unwrap();
    }
    let s = spec(8, 2, 16, 1, 1, w as u32, h as u32, true);
    let mut out = vec![0u8; native.len()];
    let iters = 200;
    let mb = (native.len() * iters) as f64 / 1e6;
    let t = Instant::now();
    for _ in 0..iters {
        decode_into(&comp, &s, h as u32, &mut out).unwrap();
    }
    let ours = mb / t.elapsed().as_secs_f64();
    assert!(out == native);
    let t = Instant::now();
    for _ in 0..iters {
        deflate::stream(&comp, &mut out).unwrap();
        predictor::undo(&mut out, &s, 2).unwrap();
    }
    let zrs = mb / t.elapsed().as_secs_f64();
    let mut d = libdeflater::Decompressor::new();
    let t = Instant::now();
    for _ in 0..iters {
        d.zlib_decompress(&comp, &mut out).unwrap();
    }
    let raw = mb / t.elapsed().as_secs_f64();
    println!(
        "512x512 u16 deflate+pred2 ({} -> {} bytes): decode_into (libdeflate) {ours:.0} MB/s, \
         flate2/zlib-rs stream + pred {zrs:.0} MB/s, raw libdeflate inflate only {raw:.0} MB/s",
        comp.len(),
        native.len()
    );
}

/// The fuzz target's harness (fuzz/fuzz_targets/decode_tile.rs) on random and mutated input.
#[test]
fn fuzz_harness_smoke() {
    const COMPRESSIONS: [u16; 11] = [1, 5, 7, 8, 32946, 32773, 34887, 50000, 50001, 34925, 9];
    const BITS: [u16; 8] = [1, 4, 8, 12, 16, 32, 64, 15];
    let mut rng = StdRng::seed_from_u64(9);
    let seeds: Vec<Vec<u8>> = BYTE_CODECS
        .iter()
        .map(|&c| compress(c, &random_native(&mut rng, 700, 8)))
        .collect();
    for iter in 0..4000 {
        let head: [u8; 8] = rng.random();
        let mut src: Vec<u8> = if iter % 2 == 0 {
            (0..rng.random_range(0..300))
                .map(|_| rng.random())
                .collect()
        } else {
            seeds[iter % seeds.len()].clone()
        };
        if !src.is_empty() && iter % 2 == 1 {
            let i = rng.random_range(0..src.len());
            src[i] ^= rng.random::<u8>() | 1;
        }
        let bits = BITS[usize::from(head[1]) % BITS.len()];
        let sample_format = match bits {
            16 | 32 | 64 if head[2] & 1 == 1 => 3,
            _ => 1 + u16::from(head[2] >> 7),
        };
        let s = TileSpec {
            compression: COMPRESSIONS[usize::from(head[0]) % COMPRESSIONS.len()],
            predictor: 1 + u16::from(head[3] % 3),
            bits_per_sample: bits,
            sample_format,
            samples: 1 + u16::from(head[4] % 4),
            width: 1 + u32::from(head[5] % 64),
            rows: 1 + u32::from(head[6] % 64),
            little_endian: head[7] & 1 == 0,
            photometric: Some(u16::from(head[7] >> 1) % 7),
            jpeg_tables: None,
            lerc_parameters: None,
            nodata: None,
        };
        let rows_needed = 1 + u32::from(head[7] >> 2) % s.rows;
        if let Ok(len) = decoded_len(&s, rows_needed) {
            let mut dst = vec![0u8; len];
            let _ = decode_into(&src, &s, rows_needed, &mut dst);
        }
    }
}
