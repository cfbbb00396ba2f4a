"""rasteret.fetch (AsyncCOGHeaderParser, read_cog, COGReader, tile helpers) against rasterio.

Every file is a GDAL-written corpus COG served by the Range-capable HTTP server; the oracle is
rasterio on the same file: header fields against the dataset's profile and GDAL's block
offsets, AOI reads against ``rasterio.mask.mask``, window reads against boundless
``src.read(window=...)``, tiles against the matching windows.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import fields

import numpy as np
import pyarrow as pa
import pytest
import rasterio
import rasterio.mask
import shapely
from affine import Affine
from rasteret.errors import CogHeaderError, RemoteIOError, RemoteNotFoundError
from rasteret.fetch.cog import (
    COGReader,
    CogReadResult,
    COGTileRequest,
    apply_mask_and_crop,
    compute_tile_indices,
    merge_tiles,
    read_cog,
)
from rasteret.fetch.header_parser import (
    AsyncCOGHeaderParser,
    get_crs_from_tiff_tags,
    get_raster_type_from_geokeys,
)
from rasteret.types import CogMetadata
from rasterio.windows import Window
from shapely.geometry import mapping

#: TIFF Compression codes of rasterio's compression names
COMPRESSION_CODES = {
    "none": 1,
    "lzw": 5,
    "jpeg": 7,
    "deflate": 8,
    "packbits": 32773,
    "lzma": 34925,
    "lerc": 34887,
    "zstd": 50000,
}

HEADER_FILES = [
    "deflate_pred2_u16_t256.tif",
    "deflate_pred3_f32_t256.tif",  # NaN nodata
    "deflate_pred3_f64_t256.tif",  # EPSG:4326, nodata -9999
    "deflate_u8_t256x128.tif",  # non-square tiles
    "zstd_u16_t1024.tif",
    "bigtiff_deflate_pred2_u16.tif",
    "be_deflate_pred2_u16.tif",
    "be_zstd_pred3_f64.tif",
    "be_bigtiff_lzw_pred2_u64.tif",
    "point_deflate_i16.tif",  # PixelIsPoint
    "southup_deflate_u16.tif",
    "jpeg_grey_u8_t256.tif",
    "lerc_f32_t256.tif",
    "chunky3_deflate_pred2_u16.tif",
    "planar3_deflate_pred2_u16.tif",
]


def run(coro):
    return asyncio.run(coro)


def parse(urls, **kwargs):
    async def go():
        async with AsyncCOGHeaderParser(**kwargs) as parser:
            return await parser.process_cog_headers_batch(urls)

    return run(go())


def fill_of(src):
    return src.nodata if src.nodata is not None else 0


def assert_pixels_equal(got, expected, name=""):
    assert got.dtype == expected.dtype, name
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    if got.dtype.kind == "f":
        assert np.array_equal(got, expected, equal_nan=True), name
    else:
        np.testing.assert_array_equal(got, expected, err_msg=name)


def plain(meta, **changes):
    """A plain CogMetadata with the fields of ``meta`` (and ``changes``)."""
    values = {f.name: getattr(meta, f.name) for f in fields(CogMetadata)}
    return CogMetadata(**{**values, **changes})


def pixel_polygon(src, corners):
    """A polygon through the given (col, row) pixel positions, in the raster CRS."""
    return shapely.Polygon([src.transform * xy for xy in corners])


def inner_triangle(src, shrink=0.2):
    """A triangle inside the raster, in the raster CRS, vertices off the pixel grid."""
    left, bottom, right, top = src.bounds
    rx, ry = src.res
    dx = (right - left) * shrink + 0.37 * rx
    dy = (top - bottom) * shrink + 0.41 * ry
    return shapely.Polygon(
        [(left + dx, bottom + dy), (right - dx, bottom + 2 * dy), (left + 2 * dx, top - dy)]
    )


@pytest.fixture(scope="module")
def headers(cog_corpus, http_server):
    """``{file name: (url, CogMetadata)}`` of HEADER_FILES, parsed in one batch."""
    urls = [http_server.url(name) for name in HEADER_FILES]
    parsed = parse(urls)
    return {name: (url, meta) for name, url, meta in zip(HEADER_FILES, urls, parsed, strict=True)}


# ---------------------------------------------------------------------------- headers


@pytest.mark.parametrize("name", HEADER_FILES)
def test_header_fields_match_rasterio(cog_corpus, headers, name):
    url, meta = headers[name]
    assert isinstance(meta, CogMetadata)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        assert (meta.width, meta.height) == (src.width, src.height)
        assert (meta.tile_height, meta.tile_width) == src.block_shapes[0]
        assert np.dtype(meta.dtype) == np.dtype(src.dtypes[0])
        assert meta.samples_per_pixel == src.count
        if src.count > 1:  # GDAL calls single-band files band-interleaved
            assert meta.planar_configuration == (2 if src.interleaving.value == "BAND" else 1)
        assert (
            meta.compression
            == COMPRESSION_CODES[src.compression.name.lower() if src.compression else "none"]
        )
        predictor = src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR")
        assert (meta.predictor or 1) == int(predictor or 1)
        if src.nodata is None:
            assert meta.nodata is None
        elif math.isnan(src.nodata):
            assert math.isnan(meta.nodata)
        else:
            assert meta.nodata == src.nodata
        sx, tx, sy, ty = meta.transform
        t = src.transform  # GDAL reports PixelIsPoint files shifted to PixelIsArea too
        assert (sx, tx, sy, ty) == pytest.approx((t.a, t.c, t.e, t.f), rel=0, abs=1e-9)
        assert meta.crs == src.crs.to_epsg()
        # tile tables: GDAL's own block offsets/sizes (first band's plane)
        across = -(-src.width // meta.tile_width)
        for row, col in [(0, 0), (0, across - 1), (-(-src.height // meta.tile_height) - 1, 0)]:
            i = row * across + col
            offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
            size = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
            assert (meta.tile_offsets[i], meta.tile_byte_counts[i]) == (int(offset), int(size))


def test_batch_keeps_order_in_several_batches(cog_corpus, http_server):
    names = ["deflate_u8_t256.tif", "zstd_u16_t1024.tif", "deflate_u16_small_64x48.tif"]
    urls = [http_server.url(n) for n in (*names, names[0])]
    parsed = parse(urls, batch_size=2, max_concurrent=4)
    assert len(parsed) == 4
    for url, meta in zip(urls, parsed, strict=True):
        with rasterio.open(cog_corpus.root / url.rsplit("/", 1)[1]) as src:
            assert (meta.width, meta.height) == (src.width, src.height)
    assert parsed[0] == parsed[3] and parsed[0] is not parsed[3]


def test_parser_caches_headers_for_cache_ttl(http_server):
    name = "lzw_u8_t256.tif"  # (see test_header_retries_then_fails)
    url = http_server.url(name)

    async def requests_per_parse(**kwargs):
        counts = []
        async with AsyncCOGHeaderParser(**kwargs) as parser:
            for _ in range(2):
                http_server.reset_log()
                meta = await parser.parse_cog_header(url)
                assert meta.width == 300
                counts.append(http_server.count(name))
        return counts

    first, second = run(requests_per_parse())
    assert first > 0 and second == 0
    assert run(requests_per_parse(cache_ttl=0)) == [first, first]


def test_parse_cog_header_one_url(cog_corpus, http_server):
    async def go():
        parser = AsyncCOGHeaderParser(max_concurrent=1, batch_size=1)
        return await parser.parse_cog_header(http_server.url("be_none_i16.tif"))

    meta = run(go())
    with rasterio.open(cog_corpus.by_name("be_none_i16.tif").path) as src:
        assert (meta.width, meta.height, meta.nodata) == (src.width, src.height, src.nodata)


def test_batch_error_propagates(http_server):
    good = http_server.url("deflate_u8_t256.tif")
    with pytest.raises(FileNotFoundError) as missing:
        parse([good, http_server.url("no_such_file.tif")])
    assert isinstance(missing.value, RemoteNotFoundError)
    assert "no_such_file.tif" in str(missing.value)
    with pytest.raises(ValueError) as not_tiff:  # the corpus manifest is JSON, not a TIFF
        parse([good, http_server.url("manifest.json")])
    assert isinstance(not_tiff.value, CogHeaderError)


def test_header_retries_then_fails(http_server):
    # not the fault tests' workhorse file, whose whole body the core may have cached
    name = "packbits_u8_t256.tif"
    url = http_server.url(name)
    http_server.inject(name, status=503, times=2)
    (meta,) = parse([url], retry_attempts=3, cache_ttl=0)
    assert meta.width == 300 and http_server.pending_faults() == []
    http_server.inject(name, status=503, times=2)
    with pytest.raises(OSError, match="503"):
        parse([url], retry_attempts=2, cache_ttl=0)
    assert http_server.pending_faults() == []


def test_header_rejects_what_cogmetadata_cannot_describe(http_server):
    with pytest.raises(NotImplementedError, match="tiled GeoTIFF/COG"):
        parse([http_server.url("striped_deflate_pred2_u16_rows16.tif")])
    with pytest.raises(NotImplementedError, match="SampleFormat=1, BitsPerSample=12"):
        parse([http_server.url("nbits12_u16_lzw.tif")])


def test_geokey_helpers_on_tag_dicts():
    wkt = 'PROJCRS["WGS 84 / UTM zone 33N",ID["EPSG",32633]]'
    assert get_crs_from_tiff_tags({34737: (wkt,)}) == 32633
    assert get_crs_from_tiff_tags({34737: "no code here|"}) is None
    both = (1, 1, 0, 3, 1024, 0, 1, 1, 2048, 0, 1, 4326, 3072, 0, 1, 32618)
    assert get_crs_from_tiff_tags({34735: both}) == 32618  # projected wins
    assert get_crs_from_tiff_tags({34735: (1, 1, 0, 1, 2048, 0, 1, 4269)}) == 4269
    in_doubles = {34735: (1, 1, 0, 1, 3072, 34736, 1, 1), 34736: (0.5, 3857.0)}
    assert get_crs_from_tiff_tags(in_doubles) == 3857
    assert get_crs_from_tiff_tags({34735: (1, 1, 0, 1, 3072, 0, 1, 32767)}) == 32767
    assert get_crs_from_tiff_tags({34735: (1, 1, 0, 3, 3072, 0, 1)}) is None  # truncated
    assert get_crs_from_tiff_tags({}) is None
    assert get_raster_type_from_geokeys({34735: (1, 1, 0, 1, 1025, 0, 1, 2)}) == 2
    assert get_raster_type_from_geokeys({34735: both}) == 1
    assert get_raster_type_from_geokeys({34735: (1, 1, 0, 1, 3072, 0, 1, 32633)}) == 1
    assert get_raster_type_from_geokeys({}) == 1


def test_geokey_helpers_on_a_gdal_file(cog_corpus):
    tifffile = pytest.importorskip("tifffile")
    with tifffile.TiffFile(cog_corpus.by_name("point_deflate_i16.tif").path) as tif:
        tags = {t.code: t.value for t in tif.pages[0].tags}
    assert get_raster_type_from_geokeys(tags) == 2
    assert get_crs_from_tiff_tags(tags) == 32633


# ---------------------------------------------------------------------------- read_cog

AOI_FILES = [
    ("deflate_pred2_u16_t256.tif", None),
    ("deflate_pred3_f32_t256.tif", None),
    ("deflate_pred2_i16_t256.tif", None),
    ("southup_deflate_u16.tif", None),
    ("be_deflate_pred2_u16.tif", None),
    ("be_zstd_pred3_f64.tif", None),
    ("chunky3_deflate_pred2_u16.tif", 1),
    ("planar3_deflate_pred2_u16.tif", 2),
    ("deflate_u8_t256x128.tif", None),
]


def metadata_of(http_server, name):
    url = http_server.url(name)
    (meta,) = parse([url])
    return url, meta


@pytest.mark.parametrize("all_touched", [False, True])
@pytest.mark.parametrize(("name", "band_index"), AOI_FILES)
def test_read_cog_aoi_matches_rasterio_mask(cog_corpus, http_server, name, band_index, all_touched):
    url, meta = metadata_of(http_server, name)
    band = (band_index or 0) + 1
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        aoi = inner_triangle(src)
        expected, expected_transform = rasterio.mask.mask(
            src,
            [aoi],
            crop=True,
            filled=True,
            nodata=fill_of(src),
            all_touched=all_touched,
            indexes=band,
        )
        outside, _, _ = rasterio.mask.raster_geometry_mask(
            src, [aoi], crop=True, all_touched=all_touched
        )
    geoms = pa.array([aoi.wkb], pa.binary())
    got = run(
        read_cog(
            url,
            meta,
            band_index=band_index,
            geom_array=geoms,
            geometry_crs=None,
            all_touched=all_touched,
        )
    )
    assert isinstance(got, CogReadResult) and got.mode == "aoi"
    assert_pixels_equal(got.data, expected, name)
    assert tuple(got.transform) == pytest.approx(tuple(expected_transform))
    np.testing.assert_array_equal(got.valid_mask, ~outside)
    if math.isnan(fill_of(src)):
        assert math.isnan(got.fill_value_used)
    else:
        assert got.fill_value_used == fill_of(src)


def test_read_cog_aoi_from_wgs84_wkb(cog_corpus, http_server):
    # (WKB, not native GeoArrow: importing geoarrow.pyarrow registers its extension types
    # process-wide, which changes what later tests see in Arrow field metadata)
    from rasterio.warp import transform_geom

    name = "deflate_pred2_u16_t256.tif"
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        aoi = inner_triangle(src)
        aoi_4326 = shapely.geometry.shape(transform_geom(src.crs, "EPSG:4326", mapping(aoi)))
        back = transform_geom("EPSG:4326", src.crs, mapping(aoi_4326))
        expected, _ = rasterio.mask.mask(src, [back], crop=True, nodata=0, indexes=1)
    geoms = pa.chunked_array([[shapely.box(0, 0, 1, 1).wkb], [aoi_4326.wkb]], pa.large_binary())
    got = run(read_cog(url, meta, geom_array=geoms, geom_idx=1, geometry_crs=4326))
    assert_pixels_equal(got.data, expected, name)
    with pytest.raises(ValueError, match="mask_geometry"):
        run(read_cog(url, meta, geom_array=geoms, geom_idx=1, mask_geometry="hull"))


def test_read_cog_aoi_uncropped_and_unfilled(cog_corpus, http_server):
    name = "deflate_pred2_i16_t256.tif"  # 300 x 260 in 256 x 256 tiles, nodata -9999
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        # touches all four tiles
        aoi = pixel_polygon(src, [(5.3, 258.4), (295.2, 200.1), (20.7, 3.3)])
        full, _ = rasterio.mask.mask(src, [aoi], crop=False, nodata=-9999, indexes=1)
        raw = src.read(1)
        transform = src.transform
    geoms = pa.array([aoi.wkb])
    got = run(read_cog(url, meta, geom_array=geoms, geometry_crs=None, crop=False))
    # the tile-aligned canvas of the tiles the AOI touches, past the image edges
    assert got.data.shape == (512, 512)
    assert got.transform == transform
    canvas = np.full((512, 512), -9999, dtype=np.int16)
    canvas[:260, :300] = full
    assert_pixels_equal(got.data, canvas, name)
    assert got.valid_mask[:260, :300].any()
    assert not got.valid_mask[260:, :].any() and not got.valid_mask[:, 300:].any()
    unfilled = run(
        read_cog(url, meta, geom_array=geoms, geometry_crs=None, crop=False, filled=False)
    )
    assert unfilled.fill_value_used is None and got.fill_value_used == -9999
    np.testing.assert_array_equal(unfilled.data[:260, :300], raw)
    np.testing.assert_array_equal(unfilled.valid_mask, got.valid_mask)
    # an AOI in the first tile only: the canvas is that tile
    corner = pixel_polygon(src, [(10.5, 10.5), (100.5, 20.5), (30.5, 90.5)])
    one = run(read_cog(url, meta, geom_array=pa.array([corner.wkb]), geometry_crs=None, crop=False))
    assert one.data.shape == (256, 256) and one.transform == transform


def test_read_cog_aoi_bbox_mask_and_fill_value(cog_corpus, http_server):
    """``mask_geometry="bbox"`` masks with the envelope; ``fill_value`` fills what lies
    outside it (the file's own nodata pixels inside stay as they are)."""
    name = "deflate_pred2_u16_t256.tif"
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        aoi = inner_triangle(src)
        box = shapely.box(*aoi.bounds)
        outside, transform, window = rasterio.mask.raster_geometry_mask(src, [box], crop=True)
        expected = np.where(outside, np.uint16(7), src.read(1, window=window))
    got = run(
        read_cog(
            url,
            meta,
            geom_array=pa.array([aoi.wkb]),
            geometry_crs=None,
            mask_geometry="bbox",
            fill_value=7,
        )
    )
    assert_pixels_equal(got.data, expected, name)
    assert got.transform == transform
    assert got.fill_value_used == 7
    assert (got.data == 0).any()  # nodata holes of the file inside the box


@pytest.mark.parametrize(
    ("name", "offsets"),
    [
        ("deflate_pred2_u16_t256.tif", (250.3, 200.6)),  # past the right/bottom edges
        ("be_lzw_pred2_i32.tif", (-20.2, -10.7)),  # before the top-left corner
        ("deflate_pred3_f32_t256.tif", (40.5, 30.5)),  # inside, NaN nodata
        ("southup_deflate_u16.tif", (-5.5, 100.25)),
    ],
)
def test_read_cog_window_matches_boundless_read(cog_corpus, http_server, name, offsets):
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        t = src.transform
        col, row = offsets
        x0, y0 = t * (col, row)
        x1, y1 = t * (col + 100.2, row + 80.4)
        bounds = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        c0, r0 = math.floor(col), math.floor(row)
        w, h = math.ceil(col + 100.2) - c0, math.ceil(row + 80.4) - r0
        fill = fill_of(src)
        expected = src.read(1, window=Window(c0, r0, w, h), boundless=True, fill_value=fill)
        bigger = src.read(1, window=Window(c0, r0, w + 7, h + 5), boundless=True, fill_value=fill)
    got = run(read_cog(url, meta, mode="window", bounds=bounds))
    assert_pixels_equal(got.data, expected, name)
    assert got.transform == t * Affine.translation(c0, r0)
    rows, cols = np.mgrid[r0 : r0 + h, c0 : c0 + w]
    inside = (rows >= 0) & (rows < meta.height) & (cols >= 0) & (cols < meta.width)
    np.testing.assert_array_equal(got.valid_mask, inside)
    shaped = run(read_cog(url, meta, mode="window", bounds=bounds, out_shape=(h + 5, w + 7)))
    assert_pixels_equal(shaped.data, bigger, name)


@pytest.mark.parametrize(
    ("name", "band_index"),
    [
        ("deflate_u16_small_64x48.tif", None),
        ("lzw_pred2_i64_t256.tif", None),
        ("be_bigtiff_lzw_pred2_u64.tif", None),
        ("be_deflate_pred3_f32.tif", None),
        ("be_deflate_pred2_u16_chunky3.tif", 2),
        ("planar3_zstd_pred3_f64.tif", 1),
        ("lerc_f32_t256.tif", None),
        ("packbits_i16_t256.tif", None),
    ],
)
def test_read_cog_full_matches_rasterio_read(cog_corpus, http_server, name, band_index):
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        expected = src.read((band_index or 0) + 1)
    got = run(read_cog(url, meta, band_index=band_index, mode="full"))
    assert_pixels_equal(got.data, expected, name)
    assert got.valid_mask.shape == expected.shape and got.valid_mask.all()
    assert got.mode == "full"
    # no geometry in "aoi" mode reads the whole image as well
    again = run(read_cog(url, meta, band_index=band_index))
    assert_pixels_equal(again.data, expected, name)


def test_read_cog_plain_cogmetadata_of_big_endian_file(cog_corpus, http_server):
    """A CogMetadata without the header's byte order (e.g. from a collection) still reads
    big-endian pixels correctly: the reader parses the header once per URL."""
    name = "be_lzw_pred2_i32.tif"
    url, parsed = metadata_of(http_server, name)
    bare = plain(parsed)
    assert type(bare) is CogMetadata
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        expected = src.read(1)

    async def go():
        async with COGReader(max_concurrent=8) as reader:
            counts = []
            for meta in (parsed, bare, bare):
                http_server.reset_log()
                result = await read_cog(url, meta, mode="full", reader=reader)
                assert_pixels_equal(result.data, expected, name)
                counts.append(http_server.count(name))
            return counts

    with_fields, first_bare, second_bare = run(go())
    assert first_bare > second_bare == with_fields  # the header is parsed once per reader


def test_read_cog_sparse_tiles_are_fill_and_invalid(cog_corpus, http_server):
    name = "sparse_deflate_u8_no_nodata.tif"
    url, meta = metadata_of(http_server, name)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        expected = src.read(1)
    got = run(read_cog(url, meta, mode="full", fill_value=7))
    tw, th = meta.tile_width, meta.tile_height
    across = -(-meta.width // tw)
    rows, cols = np.mgrid[0 : meta.height, 0 : meta.width]
    counts = np.asarray(meta.tile_byte_counts)
    stored = counts[(rows // th) * across + cols // tw] > 0
    assert (~stored).any() and stored.any()
    np.testing.assert_array_equal(got.valid_mask, stored)
    np.testing.assert_array_equal(got.data[stored], expected[stored])
    assert (got.data[~stored] == 7).all()


def test_read_cog_empty_results_and_errors(http_server):
    url, meta = metadata_of(http_server, "deflate_pred2_u16_t256.tif")
    far = (0.0, 0.0, 10.0, 10.0)  # nowhere near the UTM raster
    empty = run(read_cog(url, meta, bounds=far))
    assert empty.data.size == 0 and empty.transform == Affine.identity()
    assert meta.transform is not None
    assert run(read_cog(url, plain(meta, transform=None))).data.size == 0
    with pytest.raises(ValueError, match="Unknown read mode"):
        run(read_cog(url, meta, mode="tiles"))
    with pytest.raises(ValueError, match="window mode requires"):
        run(read_cog(url, meta, mode="window"))
    with pytest.raises(ValueError, match="cannot be represented"):
        run(read_cog(url, meta, mode="full", fill_value=-1))
    geoms = pa.array([shapely.box(12.3, 48.4, 12.4, 48.45).wkb])
    with pytest.raises(ValueError, match="Record CRS is missing"):
        run(read_cog(url, plain(meta, crs=None), geom_array=geoms))
    chunky_url, chunky = metadata_of(http_server, "chunky3_deflate_pred2_u16.tif")
    with pytest.raises(NotImplementedError, match="band_index"):
        run(read_cog(chunky_url, chunky, mode="full"))


# ---------------------------------------------------------------------------- tile helpers


def expected_tiles(bbox, transform, tile_size, image_size):
    """Tiles whose pixel range meets the pixel range of ``bbox`` (brute force)."""
    a, c, e, f = transform
    (tw, th), (w, h) = tile_size, image_size
    xs = sorted(((bbox[0] - c) / a, (bbox[2] - c) / a))
    ys = sorted(((bbox[1] - f) / e, (bbox[3] - f) / e))
    col0, col1 = max(0, math.floor(xs[0])), min(w - 1, math.ceil(xs[1]) - 1)
    row0, row1 = max(0, math.floor(ys[0])), min(h - 1, math.ceil(ys[1]) - 1)
    return [
        (r, c_)
        for r in range(-(-h // th))
        for c_ in range(-(-w // tw))
        if r * th <= row1 and (r + 1) * th > row0 and c_ * tw <= col1 and (c_ + 1) * tw > col0
    ]


@pytest.mark.parametrize("south_up", [False, True])
def test_compute_tile_indices_is_tile_arithmetic(south_up):
    rng = np.random.default_rng(7)
    transform = [10.0, 500000.0, 10.0 if south_up else -10.0, 4000000.0]
    tile_size, image_size = (256, 128), (1000, 700)
    for _ in range(200):
        cols = np.sort(rng.uniform(-100, 1100, 2))
        rows = np.sort(rng.uniform(-100, 800, 2))
        xs = transform[1] + cols * transform[0]
        ys = transform[3] + rows * transform[2]
        bbox = (xs[0], min(ys), xs[1], max(ys))
        got = compute_tile_indices(bbox, transform, tile_size, image_size)
        assert got == expected_tiles(bbox, transform, tile_size, image_size), bbox
    gdal_order = [10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0]
    box = (500000.0, 4000000.0 - 2000.0, 502600.0, 4000000.0)
    assert compute_tile_indices(box, gdal_order, (256, 256), (1000, 1000)) == [
        (0, 0),
        (0, 1),
    ]
    with pytest.raises(ValueError, match="zero pixel scale"):
        compute_tile_indices(box, [0.0, 500000.0, -10.0, 4000000.0], (256, 256), (10, 10))


def test_merge_tiles_matches_rasterio_windows(cog_corpus):
    with rasterio.open(cog_corpus.by_name("deflate_pred2_i16_t256.tif").path) as src:

        def tile(r, c):
            return src.read(1, window=Window(c * 256, r * 256, 256, 256), boundless=True)

        tiles = {(0, 1): tile(0, 1), (1, 0): tile(1, 0), (1, 1): tile(1, 1)}
        whole = src.read(1, window=Window(0, 0, 512, 512), boundless=True)
    merged, extent, tile_mask = merge_tiles(tiles, (256, 256), np.int16, fill_value=-5)
    assert extent == (0, 0, 1, 1) and merged.dtype == np.int16
    np.testing.assert_array_equal(merged[256:, :], whole[256:, :])
    np.testing.assert_array_equal(merged[:256, 256:], whole[:256, 256:])
    assert (merged[:256, :256] == -5).all()
    assert not tile_mask[:256, :256].any() and tile_mask[256:, :].all()
    empty, extent, mask = merge_tiles({}, (256, 256), np.uint8)
    assert empty.size == 0 and extent == (0, 0, 0, 0) and mask.shape == (0, 0)


@pytest.mark.parametrize("all_touched", [False, True])
def test_apply_mask_and_crop_matches_rasterio_mask(cog_corpus, all_touched):
    with rasterio.open(cog_corpus.by_name("deflate_pred3_f64_t256.tif").path) as src:
        data, transform = src.read(1), src.transform
        aoi = inner_triangle(src)
        expected, expected_transform = rasterio.mask.mask(
            src, [aoi], crop=True, nodata=src.nodata, all_touched=all_touched, indexes=1
        )
        outside, _, _ = rasterio.mask.raster_geometry_mask(
            src, [aoi], crop=True, all_touched=all_touched
        )
        nodata = src.nodata
    got, mask, got_transform = apply_mask_and_crop(
        data, mapping(aoi), transform, nodata, all_touched=all_touched, return_mask=True
    )
    assert_pixels_equal(got, expected)
    np.testing.assert_array_equal(mask, ~outside)
    assert tuple(got_transform) == pytest.approx(tuple(expected_transform))
    far = shapely.box(0, 0, 1, 1)
    filled, same = apply_mask_and_crop(data, mapping(far), transform, fill_value=3.5)
    assert filled.shape == data.shape and (filled == 3.5).all() and same == transform
    unfilled, _ = apply_mask_and_crop(data, aoi, transform, filled=False)
    r0, c0 = ~transform * (expected_transform.c, expected_transform.f)
    r0, c0 = round(c0), round(r0)
    np.testing.assert_array_equal(unfilled, data[r0 : r0 + got.shape[0], c0 : c0 + got.shape[1]])


# ---------------------------------------------------------------------------- COGReader


def test_merge_ranges_examples():
    meta = CogMetadata(width=1, height=1, tile_width=1, tile_height=1, dtype="uint8", crs=None)

    def req(offset, size):
        return COGTileRequest("u", offset, size, 0, 0, meta)

    reader = COGReader()
    requests = [req(5000, 10), req(0, 100), req(1124, 10), req(50, 60)]
    assert reader.merge_ranges(requests) == [(0, 1134), (5000, 5010)]
    assert reader.merge_ranges(requests, gap_threshold=0) == [(0, 110), (1124, 1134), (5000, 5010)]
    assert reader.merge_ranges([req(0, 10), req(1034, 1)]) == [(0, 1035)]
    assert reader.merge_ranges([req(0, 10), req(1035, 1)]) == [(0, 10), (1035, 1036)]
    assert reader.merge_ranges([]) == []


def tile_requests(url, meta, cells, band_index=None):
    across = -(-meta.width // meta.tile_width)
    return [
        COGTileRequest(
            url,
            meta.tile_offsets[r * across + c],
            meta.tile_byte_counts[r * across + c],
            r,
            c,
            meta,
            band_index,
        )
        for r, c in cells
    ]


@pytest.mark.parametrize(
    "name", ["deflate_pred2_u16_t256.tif", "be_deflate_pred3_f32.tif", "deflate_u8_t256x128.tif"]
)
def test_read_merged_tiles_match_rasterio_windows(cog_corpus, http_server, name):
    url, meta = metadata_of(http_server, name)
    tw, th = meta.tile_width, meta.tile_height
    cells = [(0, 0), (0, 1), (1, 1)]

    async def go():
        async with COGReader(max_concurrent=4) as reader:
            return await reader.read_merged_tiles(tile_requests(url, meta, cells))

    tiles = run(go())
    assert sorted(tiles) == sorted((r, c, None) for r, c in cells)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        for r, c in cells:
            tile = tiles[(r, c, None)]
            assert tile.shape == (th, tw) and not tile.flags.writeable
            h, w = min(th, src.height - r * th), min(tw, src.width - c * tw)
            expected = src.read(1, window=Window(c * tw, r * th, w, h))
            assert_pixels_equal(tile[:h, :w], expected, f"{name} tile {r},{c}")


def test_read_merged_tiles_chunky_bands_and_errors(cog_corpus, http_server):
    name = "chunky3_deflate_pred2_u16.tif"
    url, meta = metadata_of(http_server, name)
    requests = [r for b in range(3) for r in tile_requests(url, meta, [(0, 1)], b)]

    async def read(reqs):
        async with COGReader() as reader:
            return await reader.read_merged_tiles(reqs)

    tiles = run(read(requests))
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        w, h = src.width - 256, min(256, src.height)
        for b in range(3):
            expected = src.read(b + 1, window=Window(256, 0, w, h))
            np.testing.assert_array_equal(tiles[(0, 1, b)][:h, :w], expected)
    with pytest.raises(RuntimeError, match="Duplicate tile request key"):
        run(read(requests + requests[:1]))
    with pytest.raises(NotImplementedError, match="band_index"):
        run(read(tile_requests(url, meta, [(0, 0)])))
    with pytest.raises(ValueError, match="out of range"):
        run(read(tile_requests(url, meta, [(0, 0)], 3)))


def test_read_merged_tiles_short_body_is_an_ioerror(http_server):
    name = "deflate_pred2_u16_t256.tif"
    url, meta = metadata_of(http_server, name)
    http_server.inject(name, mode="short", times=20)

    async def go():
        async with COGReader() as reader:
            return await reader.read_merged_tiles(tile_requests(url, meta, [(0, 0)]))

    with pytest.raises(OSError) as err:
        run(go())
    assert isinstance(err.value, RemoteIOError) and url in str(err.value)


class DirectoryBackend:
    """A user ``StorageBackend``: serves the files of a local directory by the last path
    component of the URL (plain file reads)."""

    def __init__(self, root):
        self.root = root
        self.calls = 0

    async def get_range(self, url, start, length):
        self.calls += 1
        with open(self.root / url.rsplit("/", 1)[1], "rb") as f:
            f.seek(start)
            return f.read(length)

    async def get_ranges(self, url, ranges):
        return [await self.get_range(url, start, length) for start, length in ranges]


def test_user_backend_serves_headers_tiles_and_reads(cog_corpus, http_server):
    name = "be_deflate_pred2_u16.tif"
    url = http_server.url(name)
    backend = DirectoryBackend(cog_corpus.root)
    with rasterio.open(cog_corpus.by_name(name).path) as src:
        expected = src.read(1)

    async def go():
        async with AsyncCOGHeaderParser(backend=backend) as parser:
            meta = await parser.parse_cog_header(url)
        async with COGReader(backend=backend) as reader:
            tiles = await reader.read_merged_tiles(tile_requests(url, meta, [(0, 0)]))
            full = await read_cog(url, plain(meta), mode="full", reader=reader)
        return tiles, full

    http_server.reset_log()
    tiles, full = run(go())
    assert http_server.count() == 0 and backend.calls >= 3
    np.testing.assert_array_equal(tiles[(0, 0, None)], expected[:256, :256])
    assert_pixels_equal(full.data, expected, name)
