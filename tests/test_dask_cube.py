"""``Collection.get_xarray(..., chunks=...)`` on a real ``distributed.LocalCluster``.

Every lazy cube must be identical to the eager one (values, dtypes, coordinates, attributes,
``spatial_ref``), and the eager cube equals ``rasterio.mask.mask`` (test_read_outputs.py). The
Range server's log shows that the workers read tiles only, never a header.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import rasterio.mask
import shapely
import xarray as xr
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)
from test_dask_window import (
    _tiles_read,
    dask_client,  # noqa: F401  (module fixture)
)
from test_read_outputs import _inner_aoi, _mask, _pair, _pair_collection

da = pytest.importorskip("dask.array")


def _clear_chunk_cache() -> None:
    from rasteret.read.tile_cache import chunk_tile_cache

    chunk_tile_cache().clear()


@pytest.fixture(autouse=True)
def _empty_worker_tile_caches(dask_client):  # noqa: F811
    """Each test starts with empty tile caches on the workers, so its request log shows
    every tile its reads need (a worker keeps decoded tiles between tasks)."""
    dask_client.run(_clear_chunk_cache)


def _box_aoi(entry, c0, r0, c1, r1):
    """A pixel-grid box (column/row fractions allowed) of ``entry``, in EPSG:4326."""
    with rasterio.open(entry.path) as src:
        t, crs = src.transform, src.crs
    box = shapely.box(t.c + c0 * t.a, t.f + r1 * t.e, t.c + c1 * t.a, t.f + r0 * t.e)
    return shapely.geometry.shape(transform_geom(crs, "EPSG:4326", mapping(box)))


def _io_tasks(ds) -> int:
    graph = dict(ds[next(iter(ds.data_vars))].data.__dask_graph__())
    return sum(1 for k in graph if isinstance(k, tuple) and "cube-read" in k[0])


@pytest.mark.parametrize("same_datetime", [False, True])
def test_lazy_cube_is_identical_to_the_eager_cube(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
    same_datetime,
):
    coll, entries = aoi_collection
    first, second = _pair(entries)
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=same_datetime)
    aoi = _inner_aoi(first)
    eager = pair.get_xarray(aoi, [BAND])
    if not same_datetime:  # the eager cube equals rasterio's masked reads
        a = _mask(first, aoi)
        assert eager[BAND].shape == (2, 1, *a.shape)

    start = len(http_server.requests)
    lazy = pair.get_xarray(aoi, [BAND], chunks={"y": 64, "x": 96})
    assert len(http_server.requests) == start, "building the graph made requests"
    assert isinstance(lazy[BAND].data, da.Array)
    assert lazy[BAND].data.chunksize[2:] == (64, 96)
    got = lazy.compute()
    xr.testing.assert_identical(got, eager)
    assert got[BAND].attrs == eager[BAND].attrs
    assert got["spatial_ref"].attrs == eager["spatial_ref"].attrs
    log = http_server.requests[start:]
    assert log and all(r.range and not r.range.startswith("bytes=0-") for r in log)


def test_lazy_cube_skips_chunks_no_window_overlaps(aoi_collection, dask_client):  # noqa: F811
    coll, entries = aoi_collection
    first, _ = _pair(entries)
    one = _pair_collection(coll, [first.name], same_datetime=False)
    # two boxes far apart: the cube spans both, the chunks between them hold no window
    aois = [_box_aoi(first, 2, 3, 40, 35), _box_aoi(first, 200, 210, 250, 250)]
    eager = one.get_xarray(aois, [BAND])
    lazy = one.get_xarray(aois, [BAND], chunks={"y": 32, "x": 32})
    arr = lazy[BAND].data
    assert arr.numblocks[:2] == (1, 2)
    # each box lies in its own geometry slot, the other slot's chunks there are fill
    n_y, n_x = arr.numblocks[2:]
    assert n_y * n_x >= 4
    assert 0 < _io_tasks(lazy) < n_y * n_x
    xr.testing.assert_identical(lazy.compute(), eager)


def test_lazy_cube_auto_chunks_and_unsupported_reads(aoi_collection, dask_client):  # noqa: F811
    coll, entries = aoi_collection
    first, second = _pair(entries)
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=False)
    aoi = _inner_aoi(first)
    lazy = pair.get_xarray(aoi, [BAND], chunks="auto")
    assert lazy[BAND].data.chunksize[:2] == (1, 1)
    xr.testing.assert_identical(lazy.compute(), pair.get_xarray(aoi, [BAND]))
    with pytest.raises(NotImplementedError, match="combine_first"):
        pair.get_xarray(aoi, [BAND], xr_combine="merge", chunks="auto")
    with pytest.raises(ValueError, match="Unknown chunks key"):
        pair.get_xarray(aoi, [BAND], chunks={"band": 1})


def _nan_masked(entry, aoi):
    with rasterio.open(entry.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(aoi))
        data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=np.nan, indexes=1)
    return data


@pytest.mark.parametrize("same_datetime", [False, True])
def test_float_bands_with_nan_fill_lazy_and_eager_equal_rasterio(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    same_datetime,
):
    """Float bands whose nodata is NaN: records combine where the earlier one is NaN (what
    xarray's ``combine_first`` does), the cube keeps the band's float dtype, and the lazy cube
    is identical to the eager one."""
    coll, entries = aoi_collection
    names = {e.name: e for e in entries}
    first, second = names["deflate_pred3_f32_t256.tif"], names["sparse_zstd_f32_nodata_nan.tif"]
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=same_datetime)
    aoi = _inner_aoi(first)
    eager = pair.get_xarray(aoi, [BAND])
    a, b = _nan_masked(first, aoi), _nan_masked(second, aoi)
    assert a.shape == b.shape and np.isnan(a).any() and not np.isnan(b).all()
    got = eager[BAND].values
    assert eager[BAND].dtype == np.float32
    if same_datetime:
        assert got.shape == (1, 1, *a.shape)
        np.testing.assert_array_equal(got[0, 0], np.where(np.isnan(a), b, a))
    else:
        assert got.shape == (2, 1, *a.shape)
        np.testing.assert_array_equal(got[0, 0], a)
        np.testing.assert_array_equal(got[1, 0], b)
    lazy = pair.get_xarray(aoi, [BAND], chunks={"y": 64, "x": 64})
    assert isinstance(lazy[BAND].data, da.Array)
    xr.testing.assert_identical(lazy.compute(), eager)


def test_lazy_cube_reads_each_tile_once_per_chunk_it_overlaps(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
):
    """The lazy cube fetches the tiles the eager cube fetches and no header; a tile is
    fetched at most once per chunk that overlaps it and once per worker process (the
    workers' tile caches), and a second compute is served from those caches."""
    coll, entries = aoi_collection
    first, _ = _pair(entries)
    one = _pair_collection(coll, [first.name], same_datetime=False)
    aoi = _box_aoi(first, 25, 15, 270, 250)
    start = len(http_server.requests)
    eager = one.get_xarray(aoi, [BAND])
    eager_tiles = _tiles_read(http_server.requests[start:], first)
    assert eager_tiles and len(eager_tiles) == len(set(eager_tiles))

    chunk = 90
    lazy = one.get_xarray(aoi, [BAND], chunks={"y": chunk, "x": chunk})
    start = len(http_server.requests)
    xr.testing.assert_identical(lazy.compute(), eager)
    log = http_server.requests[start:]
    assert all(r.range and not r.range.startswith("bytes=0-") for r in log)
    lazy_tiles = _tiles_read(log, first)
    assert set(lazy_tiles) == set(eager_tiles)

    with rasterio.open(first.path) as src:
        t, (th, tw) = src.transform, src.block_shapes[0]
    col0 = round((float(eager.x[0]) - t.c) / t.a - 0.5)
    row0 = round((float(eager.y[0]) - t.f) / t.e - 0.5)
    height, width = eager[BAND].shape[2:]

    def spans(first_px: int, size: int, tile: int, index: int) -> int:
        lo, hi = max(index * tile, first_px), min((index + 1) * tile, first_px + size)
        return len({(p - first_px) // chunk for p in range(lo, hi)})

    bound = {
        tile: spans(row0, height, th, tile[0]) * spans(col0, width, tw, tile[1])
        for tile in eager_tiles
    }
    workers = len(dask_client.scheduler_info()["workers"])
    counts = {tile: lazy_tiles.count(tile) for tile in set(lazy_tiles)}
    assert all(counts[tile] <= min(bound[tile], workers) for tile in counts), (counts, bound)
    assert max(bound.values()) > workers  # some tile lies in more chunks than there are workers

    start = len(http_server.requests)
    xr.testing.assert_identical(lazy.compute(), eager)
    assert _tiles_read(http_server.requests[start:], first) == []


@pytest.mark.parametrize("same_datetime", [False, True])
def test_float_bands_with_numeric_or_no_nodata_lazy_eager_and_xarray_agree(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    same_datetime,
):
    """Float bands whose nodata is a number (-9999) or unset: xarray's ``combine_first``
    pads and merges with NaN (masked pixels keep the nodata value, which counts as data), so
    the cube equals xarray's own ``combine_first`` of the records' single-record cubes, its
    values equal rasterio's masked reads, and the lazy cube is identical to the eager one."""
    coll, entries = aoi_collection
    names = {e.name: e for e in entries}
    first, second = names["lzw_pred3_f32_t256.tif"], names["lzma_f32_t256.tif"]
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=same_datetime)
    aoi = _box_aoi(first, 20.5, 10.5, 250.5, 200.5)
    eager = pair.get_xarray(aoi, [BAND])
    assert eager[BAND].dtype == np.float32
    assert eager[BAND].attrs["_FillValue"] == -9999.0

    ids = [str(v) for v in pair.to_table(columns=["id"]).column("id").to_pylist()]
    order = [ids.index(first.name), ids.index(second.name)]
    singles = [
        _pair_collection(pair, [ids[k]], same_datetime=same_datetime).get_xarray(aoi, [BAND])
        for k in order
    ]
    expected = singles[0].combine_first(singles[1]).sortby("time")
    xr.testing.assert_identical(eager, expected)

    with rasterio.open(first.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(aoi))
        a, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, indexes=1)
    with rasterio.open(second.path) as src:
        b, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=0, indexes=1)
    assert (a == -9999).any() and (b == 0).any()
    got = eager[BAND].values
    if same_datetime:  # the first record holds no NaN: it wins everywhere
        np.testing.assert_array_equal(got[0, 0], a)
    else:
        np.testing.assert_array_equal(got[0, 0], a)
        np.testing.assert_array_equal(got[1, 0], b)

    lazy = pair.get_xarray(aoi, [BAND], chunks={"y": 64, "x": 64})
    assert isinstance(lazy[BAND].data, da.Array)
    xr.testing.assert_identical(lazy.compute(), eager)


def test_reads_of_a_small_cube_run_on_every_worker(aoi_collection, dask_client):  # noqa: F811
    """A cube of few records (one shard of record rows) still spreads its read tasks over
    the workers: Dask runs a task where its inputs are, and the shard is given under one key
    per run of neighbouring chunks, not one key that would pin every read to one worker."""
    from distributed import get_task_stream

    coll, entries = aoi_collection
    first, second = _pair(entries)
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=False)
    aoi = _inner_aoi(first)
    eager = pair.get_xarray(aoi, [BAND])
    half = [-(-n // 2) for n in eager[BAND].shape[2:]]
    # four reads: too few for Dask to treat them as root tasks and spread them by itself
    lazy = pair.get_xarray(aoi, [BAND], chunks={"time": -1, "y": half[0], "x": half[1]})
    assert _io_tasks(lazy) == 4
    with get_task_stream(dask_client) as stream:
        xr.testing.assert_identical(lazy.compute(), eager)
    workers = {t["worker"] for t in stream.data if "cube-read" in str(t["key"])}
    assert len(workers) == len(dask_client.scheduler_info()["workers"]) == 2


@pytest.mark.parametrize("case", ["both-warped", "one-warped"])
def test_lazy_cube_warps_records_in_another_crs_like_the_eager_cube(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    case,
):
    """Records in another CRS than the cube's are warped onto the grid the eager read
    computes for them; each chunk task warps the pair's whole window and keeps its part, so
    the lazy cube is identical to the eager one (values, NaN fill, coordinates, CRS)."""
    coll, entries = aoi_collection
    names = {e.name: e for e in entries}
    geo = names["deflate_pred3_f64_t256.tif"]  # EPSG:4326, float64, nodata -9999
    if case == "both-warped":
        other = names["none_f64_t256.tif"]  # EPSG:4326, float64, nodata NaN
        kwargs = {"target_crs": 32633}
        aois = [_inner_aoi(geo)]
    else:  # the cube's CRS is picked from the records (a tie: the first record's)
        other = names["deflate_pred3_f32_t256.tif"]  # EPSG:32633, float32, NaN
        kwargs = {}
        aois = [_inner_aoi(geo), _inner_aoi(other)]
    pair = _pair_collection(coll, [geo.name, other.name], same_datetime=False)
    eager = pair.get_xarray(aois, [BAND], **kwargs)
    assert eager[BAND].dtype.kind == "f" and np.isfinite(eager[BAND].values).any()
    if case == "both-warped":
        assert eager.attrs["crs"] == 32633
    lazy = pair.get_xarray(aois, [BAND], chunks={"y": 40, "x": 40}, **kwargs)
    assert isinstance(lazy[BAND].data, da.Array)
    assert _io_tasks(lazy) > 2
    xr.testing.assert_identical(lazy.compute(), eager)
