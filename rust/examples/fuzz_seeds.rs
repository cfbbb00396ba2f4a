//! Write fuzz seed corpora from real COGs (the GDAL-written test corpus):
//! `cargo run --example fuzz_seeds -- <dir of .tif files> <fuzz/corpus>`.
//!
//! - `parse_header/<name>`: the file cut after its header (before its first tile);
//! - `decode_tile/<name>`: the smallest stored tile of the full-resolution image, with the
//!   header `_core::fuzzing::decode_tile` reads (codec, bit depth, predictor, tile size);
//! - `geo_tags/*`: GeoKey directories and GDAL metadata of typical GeoTIFFs.
//!
//! Files larger than `MAX_SEED_BYTES` are skipped, to keep the corpus small.

use std::path::Path;

use _core::codec::{decode_into, decoded_len, TileSpec};
use _core::fuzzing::decode_seed;
use _core::tiff::{parse_bytes, CogHeader, ImageLayout};

const MAX_SEED_BYTES: usize = 24 << 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(src), Some(out)) = (args.get(1), args.get(2)) else {
        return Err("usage: fuzz_seeds <dir of .tif files> <fuzz/corpus>".into());
    };
    let out = Path::new(out);
    for target in ["parse_header", "decode_tile", "geo_tags"] {
        std::fs::create_dir_all(out.join(target))?;
    }
    let mut paths: Vec<_> = std::fs::read_dir(src)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tif"))
        .collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("file name")?
            .to_string();
        let data = std::fs::read(&path)?;
        let header = match parse_bytes(data.clone()) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("{name}: skipped ({e})");
                continue;
            }
        };
        let cut = header_end(&header).min(data.len());
        if let Some(head) = data.get(..cut).filter(|h| h.len() <= MAX_SEED_BYTES) {
            if parse_bytes(head.to_vec()).is_ok() {
                std::fs::write(out.join("parse_header").join(&name), head)?;
            }
        }
        if let Some(seed) = tile_seed(&header.image, header.geo.nodata, &data) {
            std::fs::write(out.join("decode_tile").join(&name), seed)?;
        }
    }
    for (name, seed) in geo_seeds() {
        std::fs::write(out.join("geo_tags").join(name), seed)?;
    }
    Ok(())
}

/// Offset of the first stored tile of any image (where the header of a COG ends).
fn header_end(h: &CogHeader) -> usize {
    let images = std::iter::once(&h.image)
        .chain(&h.overviews)
        .chain(&h.mask)
        .chain(h.overview_masks.iter().flatten());
    images
        .flat_map(|l| l.tile_offsets.iter().copied())
        .filter(|&o| o > 0)
        .min()
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or(usize::MAX)
}

/// The decode_tile input of the smallest stored tile of `l` (when it decodes and is small).
fn tile_seed(l: &ImageLayout, nodata: Option<f64>, data: &[u8]) -> Option<Vec<u8>> {
    let (i, (&off, &len)) = l
        .tile_offsets
        .iter()
        .zip(&l.tile_byte_counts)
        .enumerate()
        .filter(|(_, (&o, &n))| o > 0 && n > 0)
        .min_by_key(|(_, (_, &n))| n)?;
    let tile = data.get(usize::try_from(off).ok()?..usize::try_from(off + len).ok()?)?;
    let tiles_down = l.height.div_ceil(l.tile_height.max(1));
    let tiles_across = l.width.div_ceil(l.tile_width.max(1));
    let tile_row = u32::try_from(i).ok()? / tiles_across.max(1) % tiles_down.max(1);
    let rows = if l.tiled {
        l.tile_height
    } else {
        l.tile_height.min(l.height - tile_row * l.tile_height)
    };
    let spec = TileSpec {
        compression: l.compression,
        predictor: l.predictor,
        bits_per_sample: l.bits_per_sample,
        sample_format: l.sample_format,
        samples: if l.planar_configuration == 2 {
            1
        } else {
            l.samples_per_pixel
        },
        width: l.tile_width,
        rows,
        little_endian: l.little_endian,
        photometric: l.photometric,
        jpeg_tables: l.jpeg_tables.as_deref(),
        lerc_parameters: l.lerc_parameters.as_deref(),
        nodata,
    };
    let mut dst = vec![0u8; decoded_len(&spec, rows).ok()?];
    decode_into(tile, &spec, rows, &mut dst).ok()?;
    decode_seed(&spec, rows, tile).filter(|s| s.len() <= MAX_SEED_BYTES)
}

/// geo_tags inputs: GeoKey directory words, doubles, ASCII parameters, samples, metadata text.
fn geo_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let seed = |dir: &[u16], doubles: &[f64], ascii: &str, samples: u8, text: &str| {
        let mut out = vec![u8::try_from(dir.len()).unwrap_or(0)];
        dir.iter().for_each(|w| out.extend(w.to_le_bytes()));
        out.push(u8::try_from(doubles.len()).unwrap_or(0));
        doubles.iter().for_each(|d| out.extend(d.to_le_bytes()));
        out.push(u8::try_from(ascii.len()).unwrap_or(0));
        out.extend(ascii.as_bytes());
        out.push(samples);
        out.extend(text.as_bytes());
        out
    };
    let utm = [
        1, 1, 0, 4, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633, 3076, 0, 1, 9001,
    ];
    let user = [
        1, 1, 0, 5, 1024, 0, 1, 1, 1025, 0, 1, 2, 1026, 34737, 22, 0, 3072, 0, 1, 32767, 2057,
        34736, 1, 0,
    ];
    let geographic = [
        1, 1, 0, 3, 1024, 0, 1, 2, 2048, 0, 1, 4326, 2049, 34737, 7, 0,
    ];
    let metadata =
        "<GDALMetadata>\n  <Item name=\"SCALE\" sample=\"0\" role=\"scale\">0.01</Item>\n  \
                    <Item name=\"OFFSET\" sample=\"0\" role=\"offset\">-5</Item>\n  \
                    <Item name=\"SCALE\" sample=\"1\" role=\"scale\">2</Item>\n</GDALMetadata>";
    vec![
        ("utm", seed(&utm, &[], "", 1, "-9999")),
        (
            "user_defined",
            seed(&user, &[6378137.0], "Custom transverse|", 2, metadata),
        ),
        (
            "geographic_point",
            seed(
                &geographic,
                &[30.0, 30.0, 0.0, 0.0, 0.0, 0.0, 500000.0, 4e6],
                "WGS 84|",
                3,
                "nan",
            ),
        ),
    ]
}
