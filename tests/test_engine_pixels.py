"""The Rust engine against rasterio on the GDAL-written corpus: headers and pixels.

For every corpus file: parsed header fields equal rasterio's, and every standard window
(aligned, crossing tiles, right/bottom edge, whole image, single pixel, one row) and every
overview level read pixel-identical to rasterio — from a local path, over HTTP and from S3.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import rasterio
from rasteret.read import engine as _read
from support.corpus import CorpusEntry
from support.oracle import describe, standard_windows
from support.oracle import read_window as rio_read

# JPEG is lossy and decoders legitimately differ: rasterio's GDAL links IJG libjpeg 9, whose
# DCT-domain chroma upsampling differs from libjpeg-turbo's (and zune-jpeg's) by up to 8 on
# 4:2:0 YCbCr tiles (measured with imagecodecs/turbo vs GDAL on the same tiles). Grey and RGB
# (no subsampling) differ only by IDCT rounding. Bounds: max |ours - GDAL| and mean.
JPEG_MAX_DIFF = {"ycbcr": 12, "other": 1}
JPEG_MEAN_DIFF = {"ycbcr": 1.0, "other": 0.1}


def _assert_pixels(entry: CorpusEntry, ours: np.ndarray, theirs: np.ndarray, what: str) -> None:
    assert ours.shape == theirs.shape, f"{entry.name} {what}: shape {ours.shape} != {theirs.shape}"
    if ours.dtype == np.float16 or theirs.dtype == np.float16:
        ours, theirs = ours.astype(np.float32), theirs.astype(np.float32)
    assert ours.dtype == theirs.dtype, f"{entry.name} {what}: dtype {ours.dtype} != {theirs.dtype}"
    if "jpeg" in entry.tags:
        diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
        kind = "ycbcr" if "ycbcr" in entry.tags else "other"
        bound = JPEG_MAX_DIFF[kind]
        assert diff.max() <= bound, f"{entry.name} {what}: JPEG max diff {diff.max()} > {bound}"
        if diff.size >= 1024:
            assert diff.mean() <= JPEG_MEAN_DIFF[kind], (
                f"{entry.name} {what}: mean diff {diff.mean()}"
            )
    elif ours.dtype.kind == "f":
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{entry.name} {what}")
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{entry.name} {what}")


def _check_header(entry: CorpusEntry, meta) -> None:
    expected = describe(entry.path)
    m = meta.as_py()
    assert m["image_width"] == expected["width"]
    assert m["image_height"] == expected["height"]
    assert m["samples_per_pixel"] == expected["count"]
    rio_dtype = np.dtype(expected["dtypes"][0])
    ours_dtype = np.dtype(m["dtype"])
    if ours_dtype == np.float16:
        assert rio_dtype in (np.dtype("float16"), np.dtype("float32"))
    else:
        assert ours_dtype == rio_dtype, entry.name
    np.testing.assert_allclose(m["geo_transform"], expected["transform"], rtol=0, atol=1e-9)
    if expected.get("epsg") is not None:
        assert m["crs_epsg"] == expected["epsg"], entry.name
    nodata = expected["nodata"]
    if nodata is None:
        assert m["nodata"] is None
    elif np.isnan(nodata):
        assert m["nodata"] is not None and np.isnan(m["nodata"])
    else:
        assert m["nodata"] == nodata
    if "striped" not in entry.tags:
        block_h, block_w = expected["block_shapes"][0]
        assert (m["tile_height"], m["tile_width"]) == (block_h, block_w), entry.name
    assert len(m["overviews"]) == len(expected["overviews"]), entry.name
    for ov, factor in zip(m["overviews"], expected["overviews"], strict=True):
        assert (
            ov["image_width"] == -(-expected["width"] // factor)
            or abs(ov["image_width"] - expected["width"] / factor) <= 1
        )


def _read_all_windows(entry: CorpusEntry, url: str, meta, options=None) -> None:
    for name, window in standard_windows(
        meta["image_width"].as_py(), meta["image_height"].as_py(), meta["tile_width"].as_py()
    ).items():
        ours = _read.read_window(url, meta, window, options=options)
        theirs = rio_read(entry.path, window)
        _assert_pixels(entry, ours, theirs, f"window {name} {window}")


def test_corpus_is_broad(cog_corpus):
    tags = set().union(*(e.tags for e in cog_corpus.entries))
    for needed in ("bigtiff", "big_endian", "striped", "overviews", "sparse", "south_up"):
        assert needed in tags, f"corpus lacks {needed}"


def test_local_headers_and_windows_match_rasterio(cog_corpus):
    for entry in cog_corpus.entries:
        meta = _read.read_header(str(entry.path))
        _check_header(entry, meta)
        _read_all_windows(entry, str(entry.path), meta)


def test_http_headers_and_windows_match_rasterio(cog_corpus, http_server):
    urls = [http_server.url(e.path.name) for e in cog_corpus.entries]
    batch = _read.parse_headers(urls)
    for i, entry in enumerate(cog_corpus.entries):
        assert _read.header_error(batch, i) is None, entry.name
        meta = batch.column("metadata")[i]
        _check_header(entry, meta)
        _read_all_windows(entry, urls[i], meta)


def test_s3_headers_and_windows_match_rasterio(cog_corpus, s3_server):
    entries = cog_corpus.entries[::3]
    urls = [s3_server.url(e.path.name) for e in entries]
    batch = _read.parse_headers(urls, options=s3_server.options)
    for i, entry in enumerate(entries):
        assert _read.header_error(batch, i) is None, (entry.name, batch.column("error")[i])
        meta = batch.column("metadata")[i]
        _check_header(entry, meta)
        _read_all_windows(entry, urls[i], meta, options=s3_server.options)


def test_overview_levels_match_rasterio(cog_corpus):
    checked = 0
    for entry in cog_corpus.entries:
        if "overviews" not in entry.tags:
            continue
        meta = _read.read_header(str(entry.path))
        for level in range(len(meta["overviews"])):
            ov = meta["overviews"][level]
            w, h = ov["image_width"].as_py(), ov["image_height"].as_py()
            ours = _read.read_window(str(entry.path), meta, (0, 0, w, h), overview_level=level)
            theirs = rio_read(entry.path, (0, 0, w, h), overview_level=level)
            _assert_pixels(entry, ours, theirs, f"overview {level}")
            checked += 1
    assert checked > 0


def test_boundless_window_is_filled_like_rasterio(cog_corpus):
    entry = next(e for e in cog_corpus.entries if "nodata" in e.tags and not e.lossy)
    meta = _read.read_header(str(entry.path))
    w, h = meta["image_width"].as_py(), meta["image_height"].as_py()
    window = (w - 10, h - 7, 32, 32)
    ours = _read.read_window(str(entry.path), meta, window)
    with rasterio.open(entry.path) as src:
        theirs = src.read(
            window=rasterio.windows.Window(*window), boundless=True, fill_value=src.nodata
        )
    _assert_pixels(entry, ours, theirs, "boundless")


def test_many_windows_of_many_files_in_one_call(cog_corpus, http_server):
    entries = [e for e in cog_corpus.entries if e.path.name.startswith("deflate")][:4]
    assert entries
    urls = [http_server.url(e.path.name) for e in entries]
    batch = _read.parse_headers(urls)
    metas = [batch.column("metadata")[i] for i in range(len(urls))]
    dtypes = {_read.dtype_of(m) for m in metas}
    entries = [e for e, m in zip(entries, metas, strict=True) if _read.dtype_of(m) == min(dtypes)]
    metas = [m for m in metas if _read.dtype_of(m) == min(dtypes)]
    reads, expected = [], []
    for i, (entry, meta) in enumerate(zip(entries, metas, strict=True)):
        window = (3 * i, 5 * i, 40, 30)
        reads.append(_read.WindowRead(urls[i], meta, *window, index=i))
        expected.append(rio_read(entry.path, window, indexes=[1])[0])
    out = np.zeros((len(reads), 30, 40), dtype=min(dtypes))
    _read.read_into(reads, out)
    np.testing.assert_array_equal(out, np.stack(expected))


def test_reads_sharing_an_output_slot(cog_corpus, http_server):
    """Windows whose outputs overlap take the serial placement path: the same window twice
    equals rasterio, and with two files in one slot every pixel comes from one of them."""
    entries = [
        e
        for e in cog_corpus.entries
        if e.dtype == "uint16"
        and e.count == 1
        and e.width >= 310
        and e.height >= 220
        and "jpeg" not in e.tags
    ][:2]
    assert len(entries) == 2
    urls = [http_server.url(e.path.name) for e in entries]
    batch = _read.parse_headers(urls)
    metas = [batch.column("metadata")[i] for i in range(len(urls))]
    window = (10, 20, 300, 200)
    expected = [rio_read(e.path, window, indexes=[1])[0] for e in entries]
    assert (expected[0] != expected[1]).mean() > 0.5  # the two sources are distinguishable

    twice = [_read.WindowRead(urls[0], metas[0], *window, index=0) for _ in range(2)]
    out = np.zeros((1, 200, 300), dtype=_read.dtype_of(metas[0]))
    _read.read_into(twice, out)
    np.testing.assert_array_equal(out[0], expected[0])

    both = [_read.WindowRead(u, m, *window, index=0) for u, m in zip(urls, metas, strict=True)]
    out = np.zeros((1, 200, 300), dtype=_read.dtype_of(metas[0]))
    _read.read_into(both, out)
    from_first = out[0] == expected[0]
    from_second = out[0] == expected[1]
    assert (from_first | from_second).all()


def test_read_column_into_takes_layouts_straight_from_the_header_batch(cog_corpus, http_server):
    entries = [
        e
        for e in cog_corpus.entries
        if e.dtype == "uint16" and e.count == 1 and e.width >= 200 and "jpeg" not in e.tags
    ][:3]
    assert len(entries) == 3
    urls = [http_server.url(e.path.name) for e in entries]
    meta = _read.parse_headers(urls).column("metadata")
    # six windows over three files, through a dictionary column, into shuffled slots
    files = np.array([0, 1, 2, 2, 1, 0], dtype=np.int32)
    windows = np.array([(5 * i, 7 * i, 60, 40) for i in range(6)], dtype=np.int64)
    slots = np.array([3, 0, 5, 1, 4, 2])
    layouts = pa.DictionaryArray.from_arrays(pa.array(files), meta)
    out = np.zeros((6, 40, 60), dtype=np.uint16)
    _read.read_column_into(pa.array(urls).take(pa.array(files)), layouts, windows, out, slots=slots)
    for i in range(6):
        expected = rio_read(entries[files[i]].path, tuple(windows[i]), indexes=[1])[0]
        np.testing.assert_array_equal(out[slots[i]], expected, err_msg=f"window {i}")
    with pytest.raises(ValueError, match="dtype uint16"):
        _read.read_column_into(urls, meta, windows[:3], np.zeros((3, 40, 60), np.float32))
