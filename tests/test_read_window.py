"""Collection.read_window against rasterio.merge.merge / rasterio.warp.reproject.

Oracle: ``rasterio.merge.merge([src], bounds=bounds, res=res, indexes=[1], resampling=...)``
on the GDAL-written file itself (a ``WarpedVRT`` for south-up files), nearest for integer
bands and bilinear for float bands; across CRSs, ``rasterio.warp.reproject`` of the whole band.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import rasteret
import rasterio
from rasterio.enums import Resampling
from rasterio.merge import merge
from rasterio.vrt import WarpedVRT
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)


def _entry(entries, prefix):
    return next(e for e in entries if e.name.startswith(prefix))


def _merge_oracle(paths, bounds, res, south_up=False):
    with rasterio.Env():
        srcs = [rasterio.open(p) for p in paths]
        try:
            dtype = np.dtype(srcs[0].dtypes[0])
            resampling = Resampling.bilinear if dtype.kind == "f" else Resampling.nearest
            inputs = [WarpedVRT(s) if south_up else s for s in srcs]
            out, transform = merge(
                inputs, bounds=bounds, res=res, indexes=[1], resampling=resampling
            )
        finally:
            for s in srcs:
                s.close()
    return out[0], transform


def _grid_bounds(entry, dx_px, dy_px, w_px, h_px):
    """Bounds of a (w_px x h_px) window offset by (dx_px, dy_px) native pixels from the
    top-left corner of the image (north-up files)."""
    with rasterio.open(entry.path) as src:
        t = src.transform
    left = t.c + dx_px * t.a
    top = t.f + dy_px * t.e
    return (left, top + h_px * t.e, left + w_px * t.a, top), (t.a, -t.e)


def test_aligned_window_is_a_copy_and_matches_merge(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    # crosses the right and bottom edges: pixels outside the image are nodata
    bounds, res = _grid_bounds(entry, 250, 200, 120, 100)
    got = coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    expected, transform = _merge_oracle([entry.path], bounds, res)
    assert got.shape == (1, 1, *expected.shape)
    assert got.dtype == expected.dtype == np.uint16
    np.testing.assert_array_equal(got[0, 0], expected)
    assert (got[0, 0, -5:, -5:] == 0).all()  # outside the 333x277 image
    assert transform.c == pytest.approx(bounds[0]) and transform.f == pytest.approx(bounds[3])


@pytest.mark.parametrize(
    ("prefix", "res_factor", "offset"),
    [
        ("deflate_pred2_u16_t256", 2.5, 0.37),  # nearest, coarser, off-grid
        ("deflate_pred2_i16_t256", 0.5, 0.2),  # nearest, finer, nodata -9999
        ("deflate_pred3_f32_t256", 1.7, 0.41),  # bilinear (float), NaN nodata
        ("zstd_pred3_f64_t256", 3.0, 0.0),  # bilinear (float64)
    ],
)
def test_resampled_window_matches_merge(aoi_collection, prefix, res_factor, offset):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, prefix)
    (left, bottom, right, top), (ax, ay) = _grid_bounds(entry, 20 + offset, 30 + offset, 150, 120)
    res = (ax * res_factor, ay * res_factor)
    bounds = (left, top - 40 * res[1], left + 50 * res[0], top)
    got = coll.read_window(record_ids=entry.name, bounds=bounds, res=res, bands=[BAND])
    expected, _ = _merge_oracle([entry.path], bounds, res)
    assert got.shape == (1, 1, *expected.shape), entry.name
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got[0, 0], expected, err_msg=entry.name)


def test_south_up_window_matches_warped_vrt_merge(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = next(e for e in entries if "south_up" in e.tags)
    with rasterio.open(entry.path) as src:
        left, bottom, right, top = rasterio.vrt.WarpedVRT(src).bounds
        ax, ay = abs(src.transform.a), abs(src.transform.e)
    bounds = (left + 10.3 * ax, bottom + 12.6 * ay, left + 70.3 * ax, bottom + 52.6 * ay)
    got = coll.read_window(record_ids=[entry.name], bounds=bounds, res=(ax, ay), bands=[BAND])
    expected, _ = _merge_oracle([entry.path], bounds, (ax, ay), south_up=True)
    assert got.shape == (1, 1, *expected.shape)
    np.testing.assert_array_equal(got[0, 0], expected)


def test_group_by_mosaics_first_record_wins(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    first = _entry(entries, "deflate_pred2_u16_t256")  # 333x277, nodata 0 with holes
    second = _entry(entries, "lzw_pred2_u16_t256")  # 300x260, same origin, nodata 0
    table = coll.to_table()
    grouped = rasteret.as_collection(
        table.append_column("tile", pa.array(["T33"] * table.num_rows)), name="grouped"
    )
    bounds, res = _grid_bounds(first, -10, -10, 360, 300)
    ids = [first.name, second.name]
    got = grouped.read_window(
        record_ids=ids, bounds=bounds, res=res, bands=[BAND, BAND], group_by="tile"
    )
    expected, _ = _merge_oracle([first.path, second.path], bounds, res)
    assert got.shape == (1, 2, *expected.shape)
    np.testing.assert_array_equal(got[0, 0], expected)
    np.testing.assert_array_equal(got[0, 1], expected)
    # the second record really fills holes of the first
    alone = grouped.read_window(record_ids=[first.name], bounds=bounds, res=res, bands=[BAND])
    assert (alone[0, 0] != got[0, 0]).any()
    per_record = grouped.read_window(record_ids=ids, bounds=bounds, res=res, bands=[BAND])
    assert per_record.shape == (2, 1, *expected.shape)
    np.testing.assert_array_equal(per_record[0, 0], alone[0, 0])


def test_cross_crs_window_matches_reproject(aoi_collection):  # noqa: F811
    from rasterio.warp import reproject, transform_bounds

    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    with rasterio.open(entry.path) as src:
        lb = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        data = src.read(1)
        src_transform, src_crs, nodata = src.transform, src.crs, src.nodata
    w, h = lb[2] - lb[0], lb[3] - lb[1]
    bounds = (lb[0] + 0.2 * w, lb[1] + 0.2 * h, lb[0] + 0.7 * w, lb[1] + 0.8 * h)
    res = (w / 200, h / 150)
    got = coll.read_window(
        record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], target_crs=4326
    )
    shape = (round((bounds[3] - bounds[1]) / res[1]), round((bounds[2] - bounds[0]) / res[0]))
    expected = np.zeros(shape, np.uint16)
    reproject(
        data,
        expected,
        src_transform=src_transform,
        src_crs=src_crs,
        src_nodata=nodata,
        dst_transform=rasterio.transform.from_origin(bounds[0], bounds[3], res[0], res[1]),
        dst_crs="EPSG:4326",
        dst_nodata=0,
        resampling=Resampling.nearest,
    )
    assert got.shape == (1, 1, *shape)
    np.testing.assert_array_equal(got[0, 0], expected)
    assert (expected != 0).mean() > 0.5


def test_read_window_errors(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    bounds, res = _grid_bounds(entry, 0, 0, 10, 10)
    with pytest.raises(ValueError, match="Record id\\(s\\) not found.*nope"):
        coll.read_window(record_ids=["nope"], bounds=bounds, res=res, bands=[BAND])
    with pytest.raises(ValueError, match="Band\\(s\\) not found"):
        coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=["X"])
    with pytest.raises(ValueError, match="left < right"):
        coll.read_window(record_ids=[entry.name], bounds=(1, 0, 0, 1), res=1, bands=[BAND])
    with pytest.raises(ValueError, match="res must be positive"):
        coll.read_window(record_ids=[entry.name], bounds=bounds, res=0, bands=[BAND])
    with pytest.raises(ValueError, match="group_by column 'nope'"):
        coll.read_window(
            record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], group_by="nope"
        )
    geographic = next(e for e in entries if "epsg4326" in e.tags)
    with pytest.raises(ValueError, match="several CRS"):
        coll.read_window(
            record_ids=[entry.name, geographic.name], bounds=bounds, res=res, bands=[BAND]
        )
    # an explicit backend reads the same pixels
    plain = coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    routed = coll.read_window(
        record_ids=[entry.name],
        bounds=bounds,
        res=res,
        bands=[BAND],
        backend=rasteret.create_backend(),
    )
    np.testing.assert_array_equal(plain, routed)
