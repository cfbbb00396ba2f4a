"""What the GDAL-written test corpus contains: one :class:`CorpusSpec` per file.

Each spec is turned into a GeoTIFF by :mod:`support.corpus` with rasterio (GDAL). The COG
driver is used where it supports the feature; GTiff (tiled) otherwise: planar
(band-interleaved) layout, big-endian byte order, strips, sparse files, non-square tiles,
JPEG with ``PHOTOMETRIC=RGB`` and GTiff-style internal overviews.

Image sizes are deliberately not multiples of the tile size so edge tiles are partial.
Tags are derived from the spec (see :func:`derive_tags`) plus any ``extra_tags``.

Names starting with ``deflate`` are single-band, lossless DEFLATE files (the fault tests
select them by prefix); the very first spec is a small plain COG of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass

CRS_UTM33 = "EPSG:32633"
CRS_WGS84 = "EPSG:4326"
#: A projected CRS with no EPSG code (transverse Mercator on a made-up meridian).
CRS_CUSTOM = (
    "+proj=tmerc +lat_0=0 +lon_0=13.7 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m +no_defs"
)

DTYPE_TAGS = {
    "uint8": "u8",
    "int8": "i8",
    "uint16": "u16",
    "int16": "i16",
    "uint32": "u32",
    "int32": "i32",
    "uint64": "u64",
    "int64": "i64",
    "float32": "f32",
    "float64": "f64",
}

NAN = float("nan")


@dataclass(frozen=True)
class CorpusSpec:
    """How to write one corpus file.

    ``compress`` is GDAL's COMPRESS value; ``options`` are extra creation options as
    ``(KEY, value)`` pairs. ``tile`` is ``(block_width, block_height)`` for tiled files;
    ``strip_rows`` makes a striped GTiff with that ``BLOCKYSIZE``. ``sparse`` writes only
    some blocks with ``SPARSE_OK=TRUE``. ``overviews`` is ``"auto"`` (COG driver) or a tuple
    of decimation factors built into a GTiff.
    """

    name: str
    dtype: str
    width: int = 300
    height: int = 260
    count: int = 1
    driver: str = "COG"
    compress: str = "DEFLATE"
    predictor: int | None = None
    tile: tuple[int, int] = (256, 256)
    strip_rows: int | None = None
    interleave: str = "pixel"
    photometric: str | None = None
    nbits: int | None = None
    bigtiff: bool = False
    big_endian: bool = False
    sparse: bool = False
    overviews: str | tuple[int, ...] | None = None
    mask: bool = False
    nodata: float | None = None
    crs: str = CRS_UTM33
    south_up: bool = False
    pixel_is_point: bool = False
    scale_offset: tuple[float, float] | None = None
    lossy: bool = False
    options: tuple[tuple[str, str], ...] = ()
    extra_tags: tuple[str, ...] = ()
    notes: str = ""


def derive_tags(spec: CorpusSpec) -> frozenset[str]:
    """Tags describing what a spec exercises."""
    tags = {spec.compress.lower(), DTYPE_TAGS[spec.dtype], spec.dtype, spec.driver.lower()}
    if spec.predictor:
        tags.add(f"pred{spec.predictor}")
    if spec.count == 1:
        tags.add("single_band")
    else:
        tags |= {
            "multiband",
            f"bands{spec.count}",
            "planar" if spec.interleave == "band" else "chunky",
        }
    if spec.strip_rows is not None:
        tags.add("striped")
    else:
        tags.add("tiled")
        bw, bh = spec.tile
        tags.add(f"t{bw}" if bw == bh else f"t{bw}x{bh}")
        if bw != bh:
            tags.add("nonsquare_tile")
        if spec.width % bw or spec.height % bh:
            tags.add("partial_tiles")
    if spec.photometric:
        tags.add(spec.photometric.lower())
    if spec.compress == "JPEG" and spec.count >= 3 and spec.photometric is None:
        tags.add("ycbcr")  # the COG driver's default for 3-band JPEG
    if spec.nbits is not None:
        tags.add(f"nbits{spec.nbits}")
        if spec.dtype == "float32" and spec.nbits == 16:
            tags.add("float16")
    if spec.bigtiff:
        tags.add("bigtiff")
    if spec.big_endian:
        tags.add("big_endian")
    if spec.sparse:
        tags.add("sparse")
    if spec.overviews:
        tags.add("overviews")
    if spec.mask:
        tags.add("mask")
    if spec.nodata is not None:
        tags.add("nodata")
        tags.add("nodata_nan" if spec.nodata != spec.nodata else f"nodata_{spec.nodata:g}")
    if spec.crs == CRS_CUSTOM:
        tags.add("custom_crs")
    else:
        tags.add("epsg" + spec.crs.split(":")[1])
    if spec.south_up:
        tags.add("south_up")
    if spec.pixel_is_point:
        tags.add("pixel_is_point")
    if spec.scale_offset is not None:
        tags.add("scale_offset")
    if spec.lossy:
        tags.add("lossy")
    tags.update(spec.extra_tags)
    return frozenset(tags)


def _s(name: str, dtype: str, **kw: object) -> CorpusSpec:
    return CorpusSpec(name=name, dtype=dtype, **kw)  # type: ignore[arg-type]


def _be(name: str, dtype: str, **kw: object) -> CorpusSpec:
    """A big-endian tiled GTiff (the COG driver ignores ENDIANNESS)."""
    return _s(name, dtype, driver="GTiff", big_endian=True, **kw)


SPECS: tuple[CorpusSpec, ...] = (
    # --- DEFLATE, single band: the first one is the fault tests' workhorse -----------------
    _s("deflate_u8_t256.tif", "uint8"),
    _s("deflate_pred2_u16_t256.tif", "uint16", predictor=2, nodata=0, width=333, height=277),
    _s("deflate_pred2_u16_t512.tif", "uint16", predictor=2, tile=(512, 512), width=700, height=530),
    _s("deflate_pred3_f32_t256.tif", "float32", predictor=3, nodata=NAN),
    _s("deflate_pred2_i16_t256.tif", "int16", predictor=2, nodata=-9999),
    _s("deflate_pred2_u8_t256.tif", "uint8", predictor=2, crs=CRS_WGS84),
    _s("deflate_pred2_i8_t256.tif", "int8", predictor=2),
    _s("deflate_pred2_u32_t256.tif", "uint32", predictor=2),
    _s("deflate_pred2_u64_t256.tif", "uint64", predictor=2, width=257, height=255),
    _s("deflate_pred3_f64_t256.tif", "float64", predictor=3, nodata=-9999, crs=CRS_WGS84),
    _s(
        "deflate_u8_t256x128.tif",
        "uint8",
        driver="GTiff",
        tile=(256, 128),
        width=517,
        height=389,
        notes="non-square tiles (GTiff; COG tiles are square)",
    ),
    _s(
        "deflate_u16_small_64x48.tif",
        "uint16",
        width=64,
        height=48,
        notes="image smaller than one tile",
    ),
    _s(
        "deflate_pred3_f16_nbits16.tif",
        "float32",
        predictor=3,
        nbits=16,
        notes="NBITS=16 on Float32 stores IEEE half floats (GDAL 3.10 has no Float16 type)",
    ),
    # --- other lossless codecs ------------------------------------------------------------
    _s("none_u8_t256.tif", "uint8", compress="NONE"),
    _s("none_f64_t256.tif", "float64", compress="NONE", nodata=NAN, crs=CRS_WGS84),
    _s(
        "none_i32_t512.tif",
        "int32",
        compress="NONE",
        tile=(512, 512),
        width=530,
        height=300,
        nodata=-9999,
    ),
    _s("lzw_u8_t256.tif", "uint8", compress="LZW"),
    _s("lzw_pred2_u16_t256.tif", "uint16", compress="LZW", predictor=2, nodata=0),
    _s("lzw_pred2_i16_t256.tif", "int16", compress="LZW", predictor=2),
    _s("lzw_pred2_i64_t256.tif", "int64", compress="LZW", predictor=2),
    _s("lzw_pred3_f32_t256.tif", "float32", compress="LZW", predictor=3, nodata=-9999),
    _s("zstd_u8_t256.tif", "uint8", compress="ZSTD"),
    _s("zstd_pred2_u16_t256.tif", "uint16", compress="ZSTD", predictor=2),
    _s("zstd_pred2_i32_t256.tif", "int32", compress="ZSTD", predictor=2, nodata=-9999),
    _s("zstd_pred3_f64_t256.tif", "float64", compress="ZSTD", predictor=3, nodata=NAN),
    _s("zstd_u16_t1024.tif", "uint16", compress="ZSTD", tile=(1024, 1024), width=1100, height=150),
    _s("packbits_u8_t256.tif", "uint8", compress="PACKBITS"),
    _s("packbits_i16_t256.tif", "int16", compress="PACKBITS", nodata=-9999),
    _s(
        "lzma_u16_t256.tif",
        "uint16",
        compress="LZMA",
        notes="GDAL 3.10 writes no PREDICTOR with LZMA (silently dropped), so none here",
    ),
    _s("lzma_f32_t256.tif", "float32", compress="LZMA"),
    # --- NBITS --------------------------------------------------------------------------
    _s("nbits1_u8_deflate.tif", "uint8", nbits=1),
    _s("nbits4_u8_none.tif", "uint8", compress="NONE", nbits=4),
    _s("nbits12_u16_lzw.tif", "uint16", compress="LZW", nbits=12),
    _s("nbits15_u16_zstd.tif", "uint16", compress="ZSTD", nbits=15),
    # --- lossy and image codecs ---------------------------------------------------------
    _s("jpeg_grey_u8_t256.tif", "uint8", compress="JPEG", lossy=True),
    _s(
        "jpeg_ycbcr_rgb_t256.tif",
        "uint8",
        count=3,
        compress="JPEG",
        lossy=True,
        notes="COG driver default PHOTOMETRIC=YCBCR for 3-band JPEG",
    ),
    _s(
        "jpeg_rgb_photometric_rgb_t256.tif",
        "uint8",
        count=3,
        driver="GTiff",
        compress="JPEG",
        photometric="RGB",
        lossy=True,
    ),
    _s(
        "jpeg_planar3_rgb_t256.tif",
        "uint8",
        count=3,
        driver="GTiff",
        compress="JPEG",
        photometric="RGB",
        interleave="band",
        lossy=True,
    ),
    _s(
        "webp_rgb_lossless_t256.tif",
        "uint8",
        count=3,
        compress="WEBP",
        options=(("QUALITY", "100"),),
        notes="COG: QUALITY=100 turns on WebP lossless",
    ),
    _s(
        "webp_rgba_q80_t256.tif",
        "uint8",
        count=4,
        compress="WEBP",
        options=(("QUALITY", "80"),),
        lossy=True,
    ),
    _s(
        "lerc_f32_t256.tif",
        "float32",
        compress="LERC",
        nodata=-9999,
        notes="MAX_Z_ERROR=0: lossless",
    ),
    _s("lerc_u8_t256.tif", "uint8", compress="LERC"),
    _s("lerc_deflate_f32_t256.tif", "float32", compress="LERC_DEFLATE"),
    _s("lerc_zstd_u16_t256.tif", "uint16", compress="LERC_ZSTD"),
    _s(
        "lerc_lossy_f32_t256.tif",
        "float32",
        compress="LERC",
        options=(("MAX_Z_ERROR", "0.01"),),
        lossy=True,
    ),
    # --- multiband: pixel- (chunky) and band-interleaved (planar) -------------------------
    _s("chunky3_deflate_pred2_u16.tif", "uint16", count=3, predictor=2),
    _s("chunky4_zstd_pred3_f32.tif", "float32", count=4, compress="ZSTD", predictor=3, nodata=NAN),
    _s(
        "chunky3_lzw_u8_t512.tif",
        "uint8",
        count=3,
        compress="LZW",
        tile=(512, 512),
        width=600,
        height=520,
    ),
    _s(
        "planar3_deflate_pred2_u16.tif",
        "uint16",
        count=3,
        driver="GTiff",
        predictor=2,
        interleave="band",
        nodata=0,
    ),
    _s(
        "planar4_lzw_u8.tif",
        "uint8",
        count=4,
        driver="GTiff",
        compress="LZW",
        interleave="band",
        extra_tags=("alpha",),
        notes="GDAL makes a 4-band uint8 GTiff RGB + alpha (ExtraSamples)",
    ),
    _s(
        "planar3_zstd_pred3_f64.tif",
        "float64",
        count=3,
        driver="GTiff",
        compress="ZSTD",
        predictor=3,
        interleave="band",
    ),
    # --- BigTIFF ------------------------------------------------------------------------
    _s("bigtiff_deflate_pred2_u16.tif", "uint16", predictor=2, bigtiff=True, nodata=0),
    _s(
        "bigtiff_zstd_f32_ov.tif",
        "float32",
        compress="ZSTD",
        bigtiff=True,
        overviews="auto",
        width=700,
        height=650,
    ),
    # --- big-endian (GTiff, tiled) ------------------------------------------------------
    _be("be_deflate_pred2_u16.tif", "uint16", predictor=2, nodata=0),
    _be("be_lzw_pred2_i32.tif", "int32", compress="LZW", predictor=2),
    _be("be_deflate_pred3_f32.tif", "float32", predictor=3, nodata=NAN),
    _be("be_zstd_pred3_f64.tif", "float64", compress="ZSTD", predictor=3),
    _be("be_none_i16.tif", "int16", compress="NONE", nodata=-9999),
    _be("be_deflate_pred2_u16_chunky3.tif", "uint16", count=3, predictor=2),
    _be("be_bigtiff_lzw_pred2_u64.tif", "uint64", compress="LZW", predictor=2, bigtiff=True),
    _be("be_striped_deflate_pred2_i16.tif", "int16", predictor=2, strip_rows=16),
    # --- striped (GTiff, TILED=NO, uneven last strip) -----------------------------------
    _s(
        "striped_deflate_pred2_u16_rows16.tif",
        "uint16",
        driver="GTiff",
        predictor=2,
        strip_rows=16,
        nodata=0,
    ),
    _s("striped_none_u8_rows7.tif", "uint8", driver="GTiff", compress="NONE", strip_rows=7),
    _s(
        "striped_lzw_planar3_u8_rows32.tif",
        "uint8",
        count=3,
        driver="GTiff",
        compress="LZW",
        interleave="band",
        strip_rows=32,
    ),
    _s(
        "striped_zstd_pred3_f32_rows24.tif",
        "float32",
        driver="GTiff",
        compress="ZSTD",
        predictor=3,
        strip_rows=24,
        nodata=NAN,
    ),
    # --- sparse (GTiff SPARSE_OK=TRUE, some blocks never written) -------------------------
    _s(
        "sparse_deflate_u16_nodata.tif",
        "uint16",
        driver="GTiff",
        sparse=True,
        nodata=65535,
        width=700,
        height=520,
    ),
    _s(
        "sparse_deflate_u8_no_nodata.tif",
        "uint8",
        driver="GTiff",
        sparse=True,
        width=700,
        height=520,
    ),
    _s(
        "sparse_zstd_f32_nodata_nan.tif",
        "float32",
        driver="GTiff",
        compress="ZSTD",
        sparse=True,
        nodata=NAN,
        width=600,
        height=600,
    ),
    # --- overviews ----------------------------------------------------------------------
    _s(
        "ov_deflate_pred2_u16.tif",
        "uint16",
        predictor=2,
        overviews="auto",
        width=700,
        height=650,
        nodata=0,
    ),
    _s(
        "ov_jpeg_ycbcr_rgb.tif",
        "uint8",
        count=3,
        compress="JPEG",
        overviews="auto",
        width=700,
        height=650,
        lossy=True,
    ),
    _s(
        "ov_mask_zstd_u8.tif",
        "uint8",
        compress="ZSTD",
        overviews="auto",
        mask=True,
        width=600,
        height=560,
    ),
    _s(
        "ov_gtiff_lzw_i16.tif",
        "int16",
        driver="GTiff",
        compress="LZW",
        overviews=(2, 4, 8),
        width=517,
        height=389,
        nodata=-9999,
        notes="GTiff internal overviews (not COG layout)",
    ),
    # --- masks, georeferencing and metadata variants ------------------------------------
    _s("mask_deflate_u8.tif", "uint8", mask=True),
    _s("mask_gtiff_lzw_u16.tif", "uint16", driver="GTiff", compress="LZW", mask=True),
    _s("southup_deflate_u16.tif", "uint16", south_up=True, nodata=0),
    _s("southup_lzw_f32_4326.tif", "float32", compress="LZW", south_up=True, crs=CRS_WGS84),
    _s("point_deflate_i16.tif", "int16", pixel_is_point=True),
    _s("custom_crs_deflate_u8.tif", "uint8", crs=CRS_CUSTOM),
    _s("scale_offset_deflate_i16.tif", "int16", scale_offset=(0.01, -50.0), nodata=-9999),
)

#: Tags the engine tests rely on; the corpus must contain each.
REQUIRED_TAGS = (
    "bigtiff",
    "big_endian",
    "striped",
    "overviews",
    "sparse",
    "south_up",
    "nodata",
    "jpeg",
)
