"""Spatially sorted partitioned reads on a real ``distributed.LocalCluster``.

Two GDAL-written COGs (640 x 512 px, 64 x 64 tiles, one grid) are served by their own Range
server; its request log is mapped onto the files' tile byte ranges (GDAL's
``BLOCK_OFFSET_*`` / ``BLOCK_SIZE_*``) to count how often each tile was fetched. Points and
AOIs spread at random over many tiles and several partitions: unsorted, a tile is fetched by
every partition holding a row in it; sorted (the default), each needed tile is fetched once
and no other tile is. Values equal the eager read row for row once aligned on the input's
index labels, and equal ``rasterio`` on the same files.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import rasteret
import rasterio
import shapely
from rasteret.core.spatial_sort import (
    NO_TILE,
    TileGrid,
    balanced_divisions,
    hilbert_distance,
    tile_grid,
    tile_keys,
)
from rasterio.transform import from_origin
from rasterio.warp import transform_geom
from rasterio.windows import Window
from shapely.geometry import mapping
from support.range_server import RangeServer
from support.tile_ranges import request_tiles, tile_byte_ranges
from test_dask_window import dask_client  # noqa: F401  (module fixture)

dd = pytest.importorskip("dask.dataframe")

BAND = "B1"
TILE, WIDTH, HEIGHT = 64, 640, 512
ORIGIN = (399960.0, 5800020.0)  # EPSG:32633, 10 m pixels
NAMES = ("grid_a.tif", "grid_b.tif")
SAMPLE_KEY = ["point_index", "record_id", "band"]


@pytest.fixture(scope="module")
def tiled(tmp_path_factory):
    """``(collection, server, {name: path}, {name: {(col, row): (start, end)}})``."""
    root = tmp_path_factory.mktemp("sorted_cogs")
    paths, tiles = {}, {}
    rng = np.random.default_rng(7)
    for name in NAMES:
        path = root / name
        with rasterio.open(
            path,
            "w",
            driver="COG",
            width=WIDTH,
            height=HEIGHT,
            count=1,
            dtype="uint16",
            crs="EPSG:32633",
            transform=from_origin(*ORIGIN, 10, 10),
            blocksize=TILE,
            compress="deflate",
            overviews="NONE",
        ) as dst:
            dst.write(rng.integers(1, 60000, (1, HEIGHT, WIDTH), dtype=np.uint16))
        paths[name], tiles[name] = path, _tile_ranges(path)
    with RangeServer(root) as server:
        table = pa.table(
            {
                "id": list(NAMES),
                "datetime": pa.array(
                    [dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)], pa.timestamp("us")
                ),
                "geometry": [_footprint(paths[n]).wkb for n in NAMES],
                "url": [server.url(n) for n in NAMES],
            }
        )
        coll = rasteret.build_from_table(
            table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
        )
        yield coll, server, paths, tiles


def _footprint(path):
    with rasterio.open(path) as src:
        box = mapping(shapely.box(*src.bounds))
        return shapely.geometry.shape(transform_geom(src.crs, "EPSG:4326", box))


def _tile_ranges(path) -> dict[tuple[int, int], tuple[int, int]]:
    """The byte range ``[start, end]`` of every tile ``(col, row)`` of band 1 (from GDAL)."""
    return {(col, row): span for (row, col), span in tile_byte_ranges(path).items()}


def _tile_fetches(log, tiles) -> Counter:
    """How many requests of ``log`` fetched bytes of each ``(file, col, row)`` tile; every
    request must be a tile range (no header read)."""
    fetched: Counter = Counter()
    for request in log:
        hit = request_tiles(request.range, tiles[request.path])
        assert hit is not None, f"not a bounded Range request: {request}"
        assert hit, f"request outside every tile (a header read?): {request}"
        fetched.update((request.path, col, row) for col, row in hit)
    return fetched


def _tile_of(x, y) -> list[tuple[int, int]]:
    cols = np.floor((np.asarray(x) - ORIGIN[0]) / (10 * TILE)).astype(int)
    rows = np.floor((ORIGIN[1] - np.asarray(y)) / (10 * TILE)).astype(int)
    return list(zip(cols.tolist(), rows.tolist(), strict=True))


def _labels(n, rng) -> np.ndarray:
    """Unique integer labels in random order (not 0..n-1: they must travel, not be implied)."""
    return 7000 + rng.permutation(n) * 3


def test_sorted_points_read_each_tile_once_and_equal_eager(tiled, dask_client, tmp_path):  # noqa: F811
    coll, server, paths, tiles = tiled
    rng = np.random.default_rng(11)
    n = 600
    # points over the left 7 x 6 tiles: the other tiles are not needed and must not be read
    x = ORIGIN[0] + rng.uniform(0, 7 * TILE * 10, n)
    y = ORIGIN[1] - rng.uniform(0, 6 * TILE * 10, n)
    frame = pd.DataFrame(
        {"x": x, "y": y, "site": [f"s{i}" for i in range(n)]}, index=_labels(n, rng)
    )
    kwargs = dict(x_column="x", y_column="y", geometry_crs=32633)
    eager = coll.sample_points(frame.reset_index(drop=True), [BAND], **kwargs).to_pandas()
    assert len(eager) == 2 * n
    # eager point_index is the row position: as labels, it is the lazy point_index
    eager["point_index"] = frame.index.to_numpy()[eager["point_index"].to_numpy()]
    eager = eager.sort_values(SAMPLE_KEY).reset_index(drop=True)

    # rasterio's sample on the same files, at the same points
    for name in NAMES:
        with rasterio.open(paths[name]) as src:
            expected = np.array([v[0] for v in src.sample(zip(x, y, strict=True))], float)
        mine = eager[eager["record_id"] == name]
        position = pd.Index(frame.index).get_indexer(mine["point_index"])
        np.testing.assert_array_equal(mine["value"].to_numpy(), expected[position])

    points = dd.from_pandas(frame, npartitions=4, sort=False)
    needed = {(name, *tile) for name in NAMES for tile in _tile_of(x, y)}
    assert len(needed) == 2 * 42

    start = len(server.requests)
    unsorted = coll.sample_points(points, [BAND], spatial_sort=False, **kwargs)
    got = unsorted.compute()
    unsorted_fetches = _tile_fetches(server.requests[start:], tiles)
    assert set(unsorted_fetches) == needed
    assert max(unsorted_fetches.values()) > 1, "random partitions should share tiles"
    pd.testing.assert_frame_equal(got.sort_values(SAMPLE_KEY).reset_index(drop=True), eager)

    start = len(server.requests)
    lazy = coll.sample_points(points, [BAND], **kwargs)
    assert len(server.requests) == start, "building the sorted graph made requests"
    assert lazy.npartitions == 4 and list(lazy.columns) == list(eager.columns)
    got = lazy.compute()
    fetches = _tile_fetches(server.requests[start:], tiles)
    assert set(fetches) == needed and max(fetches.values()) == 1, fetches.most_common(3)
    assert sum(fetches.values()) < sum(unsorted_fetches.values())
    pd.testing.assert_frame_equal(got.sort_values(SAMPLE_KEY).reset_index(drop=True), eager)

    # each output partition holds whole tiles: no tile has points in two partitions
    owner: dict[tuple[int, int], int] = {}
    for i in range(lazy.npartitions):
        part = lazy.partitions[i].compute()
        assert len(part) > 0
        for tile in set(_tile_of(part["point_x"], part["point_y"])):
            assert owner.setdefault(tile, i) == i, f"tile {tile} in partitions {owner[tile]}, {i}"

    # straight to partitioned Parquet: one file per partition, read back equal to eager
    lazy.to_parquet(tmp_path / "samples")
    assert len(list((tmp_path / "samples").glob("*.parquet"))) == lazy.npartitions
    back = pd.read_parquet(tmp_path / "samples")
    pd.testing.assert_frame_equal(back.sort_values(SAMPLE_KEY).reset_index(drop=True), eager)


def test_sorted_aois_read_each_tile_once_and_equal_eager(tiled, dask_client):  # noqa: F811
    import geopandas as gpd

    coll, server, paths, tiles = tiled
    rng = np.random.default_rng(5)
    n = 160
    # pixel-aligned 5 x 4 px boxes, each inside one tile of the left 8 x 6 tiles
    cols = rng.integers(0, 8, n) * TILE + rng.integers(0, TILE - 5, n)
    rows = rng.integers(0, 6, n) * TILE + rng.integers(0, TILE - 4, n)
    boxes = [
        shapely.box(
            ORIGIN[0] + c * 10,
            ORIGIN[1] - (r + 4) * 10,
            ORIGIN[0] + (c + 5) * 10,
            ORIGIN[1] - r * 10,
        )
        for c, r in zip(cols.tolist(), rows.tolist(), strict=True)
    ]
    labels = _labels(n, rng)
    frame = gpd.GeoDataFrame(
        {"name": [f"aoi{i}" for i in range(n)]}, geometry=boxes, crs=32633, index=labels
    )
    eager = coll.get_gdf(frame.reset_index(drop=True), [BAND])
    assert len(eager) == 2 * n
    eager["geometry_id"] = labels[eager["geometry_id"].to_numpy() - 1] + 1
    eager = eager.sort_values(["geometry_id", "record_id"]).reset_index(drop=True)
    # rasterio: each AOI's array is the window of its box
    position = {label: i for i, label in enumerate(labels)}
    for name in NAMES:
        with rasterio.open(paths[name]) as src:
            for _, row in eager[eager["record_id"] == name].iterrows():
                i = position[row["geometry_id"] - 1]
                window = Window(int(cols[i]), int(rows[i]), 5, 4)
                np.testing.assert_array_equal(row["data"], src.read(1, window=window))

    aois = dd.from_pandas(frame, npartitions=4, sort=False)
    needed = {
        (name, int(c) // TILE, int(r) // TILE)
        for name in NAMES
        for c, r in zip(cols, rows, strict=True)
    }
    runs = {}
    for spatial_sort in (False, True):
        start = len(server.requests)
        lazy = coll.get_gdf(aois, [BAND], spatial_sort=spatial_sort)
        assert len(server.requests) == start, "building the graph made requests"
        got = lazy.compute()
        assert lazy.dtypes.to_dict() == got.dtypes.to_dict()
        runs[spatial_sort] = _tile_fetches(server.requests[start:], tiles)
        assert set(runs[spatial_sort]) == needed
        assert isinstance(got, gpd.GeoDataFrame) and got.crs == eager.crs
        got = got.sort_values(["geometry_id", "record_id"]).reset_index(drop=True)
        assert got["geometry_id"].tolist() == eager["geometry_id"].tolist()
        assert got["name"].tolist() == eager["name"].tolist()
        assert got.geometry.equals(eager.geometry)
        assert got["transform"].tolist() == eager["transform"].tolist()
        for a, e in zip(got["data"], eager["data"], strict=True):
            np.testing.assert_array_equal(a, e)
    assert max(runs[False].values()) > 1, "random partitions should share tiles"
    assert max(runs[True].values()) == 1, runs[True].most_common(3)


def test_sorted_zonal_stats_read_each_tile_once_and_equal_eager(tiled, dask_client):  # noqa: F811
    import geopandas as gpd

    coll, server, paths, tiles = tiled
    rng = np.random.default_rng(9)
    n = 120
    cols = rng.integers(0, 8, n) * TILE + rng.integers(0, TILE - 6, n)
    rows = rng.integers(0, 6, n) * TILE + rng.integers(0, TILE - 6, n)
    boxes = [
        shapely.box(x0, y0 - 60, x0 + 60, y0)
        for x0, y0 in zip(ORIGIN[0] + cols * 10.0, ORIGIN[1] - rows * 10.0, strict=True)
    ]
    labels = _labels(n, rng)
    frame = gpd.GeoDataFrame({"field": labels * 2}, geometry=boxes, crs=32633, index=labels)
    key = ["geometry_index", "record_id", "band"]
    stats = ["count", "mean", "min", "max"]
    eager = coll.zonal_stats(frame.reset_index(drop=True), [BAND], stats=stats, id_column="field")
    eager = eager.to_pandas()
    eager["geometry_index"] = labels[eager["geometry_index"].to_numpy()]
    eager = eager.sort_values(key).reset_index(drop=True)
    # rasterio: each 6 x 6 px box covers exactly its window's pixels
    with rasterio.open(paths[NAMES[0]]) as src:
        first = eager[eager["record_id"] == NAMES[0]]
        for label, mean in zip(first["geometry_index"], first["mean"], strict=True):
            i = int(np.flatnonzero(labels == label)[0])
            window = src.read(1, window=Window(int(cols[i]), int(rows[i]), 6, 6))
            assert mean == pytest.approx(window.mean(), rel=1e-12)

    polygons = dd.from_pandas(frame, npartitions=4, sort=False)
    runs = {}
    for spatial_sort in (False, True):
        start = len(server.requests)
        lazy = coll.zonal_stats(
            polygons, [BAND], stats=stats, id_column="field", spatial_sort=spatial_sort
        )
        got = lazy.compute().sort_values(key).reset_index(drop=True)
        runs[spatial_sort] = _tile_fetches(server.requests[start:], tiles)
        pd.testing.assert_frame_equal(got, eager)
    assert max(runs[False].values()) > 1, "random partitions should share tiles"
    assert max(runs[True].values()) == 1, runs[True].most_common(3)
    assert set(runs[True]) == set(runs[False])


def test_sort_keeps_labels_columns_and_single_partitions(tiled, dask_client):  # noqa: F811
    coll, server, _, _ = tiled
    rng = np.random.default_rng(3)
    x = ORIGIN[0] + rng.uniform(0, WIDTH * 10, 50)
    y = ORIGIN[1] - rng.uniform(0, HEIGHT * 10, 50)
    frame = pd.DataFrame({"x": x, "y": y}, index=pd.Index(_labels(50, rng), name="plot"))
    kwargs = dict(x_column="x", y_column="y", geometry_crs=32633)
    # the index is not an input column (pandas would export it as __index_level_0__)
    eager = coll.sample_points(frame, [BAND], **kwargs)
    assert eager.column_names[-2:] == ["x", "y"]
    # one partition: nothing to regroup (and no pass over the points)
    one = coll.sample_points(dd.from_pandas(frame, npartitions=1), [BAND], **kwargs)
    assert one.npartitions == 1
    # all points in one tile: one partition (a tile is never split between partitions)
    inside = frame.assign(x=ORIGIN[0] + 5 + frame["x"] % 600, y=ORIGIN[1] - 5 - frame["y"] % 600)
    lazy = coll.sample_points(dd.from_pandas(inside, npartitions=3), [BAND], **kwargs)
    assert lazy.npartitions == 1
    got = lazy.compute()
    assert sorted(got["point_index"].unique()) == sorted(frame.index)
    with pytest.raises(ValueError, match="integer index"):
        coll.sample_points(
            dd.from_pandas(frame.set_index(frame.index.astype(str)), npartitions=2),
            [BAND],
            **kwargs,
        )


def test_hilbert_distance_walks_neighbouring_cells():
    for order in (1, 2, 4, 6):
        side = 1 << order
        col, row = (a.ravel() for a in np.meshgrid(np.arange(side), np.arange(side)))
        distance = hilbert_distance(col, row, order)
        assert sorted(distance.tolist()) == list(range(side * side))
        walk = np.argsort(distance)
        steps = np.abs(np.diff(col[walk])) + np.abs(np.diff(row[walk]))
        assert (steps == 1).all()


def test_balanced_divisions_cut_at_keys_only():
    keys = np.array([2, 5, 9, 10, 40])
    assert balanced_divisions(keys, np.array([1, 1, 1, 1, 1]), 2) == [2, 10, 40]
    assert balanced_divisions(keys, np.array([1, 1, 1, 1, 1]), 5) == [2, 5, 9, 10, 40, 40]
    # a heavy key is never split: its partition is big and there are fewer partitions
    assert balanced_divisions(keys, np.array([1, 100, 1, 1, 1]), 3) == [2, 9, 40]
    assert balanced_divisions(np.array([4]), np.array([9]), 4) == [4, 4]


def test_tile_grid_is_the_records_most_common_grid_and_keys_group_tiles():
    def meta(x0, tile):
        return {"transform": [10.0, 0.0, x0, 0.0, -10.0, 5800020.0], "tile_width": tile,
                "tile_height": tile, "tile_offsets": [1, 2]}  # fmt: skip

    records = pa.table(
        {
            "proj:epsg": [32633, 32633, 32633, 32632],
            "B1_metadata": [meta(399960.0, 64), None, meta(399960.0 + 6400, 64), meta(0.0, 256)],
            "B2_metadata": [None] * 4,
        }
    )
    assert tile_grid(records, ["B2"]) is None
    grid = tile_grid(records, ["B2", "B1"])
    assert grid == TileGrid(32633, 399960.0, 5800020.0, 640.0, 640.0)
    # same tile: same key; the next tile: another key; NaN: after every tile
    x = np.array([399961.0, 400599.0, 400601.0, np.nan])
    y = np.array([5800019.0, 5799381.0, 5800019.0, 5800000.0])
    keys = tile_keys(x, y, 32633, grid)
    assert keys[0] == keys[1] != keys[2] and keys[3] == NO_TILE
    # the same points in lon/lat get the same keys
    lon, lat = rasterio.warp.transform("EPSG:32633", "EPSG:4326", x[:3], y[:3])
    np.testing.assert_array_equal(tile_keys(np.array(lon), np.array(lat), 4326, grid), keys[:3])
