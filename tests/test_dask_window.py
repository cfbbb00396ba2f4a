"""``Collection.read_window(..., chunks=...)`` on a real ``distributed.LocalCluster``.

Two worker processes with one thread each compute the lazy stacks; every result must equal
the eager read bit for bit (and the eager read equals ``rasterio.merge.merge``, see
test_read_window.py). The HTTP Range server's log shows what the workers asked for: tile
ranges only, never a header.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from support.tile_ranges import request_tiles, tile_byte_ranges
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)
from test_read_window import _entry, _grid_bounds, _merge_oracle

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of 2 worker processes x 1 thread (spawned, as on a real cluster)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: 8787 may be taken
            worker_dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _read_tasks(arr) -> int:
    return sum(
        1 for task in dict(arr.__dask_graph__()).values() if "read_chunk" in repr(task)[:200]
    )


def _requests_since(server, start):
    return server.requests[start:]


def test_lazy_aligned_window_equals_eager_and_reads_no_header(
    aoi_collection,  # noqa: F811
    dask_client,
    http_server,
):
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    # 300 x 260 px starting 100 px left of and 80 px above the image: the top-left chunks
    # hold no image pixel at all
    bounds, res = _grid_bounds(entry, -100, -80, 300, 260)
    eager = coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    expected, _ = _merge_oracle([entry.path], bounds, res)
    np.testing.assert_array_equal(eager[0, 0], expected)

    lazy = coll.read_window(
        record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], chunks={"y": 64, "x": 64}
    )
    assert isinstance(lazy, da.Array)
    assert lazy.shape == eager.shape and lazy.dtype == eager.dtype
    assert lazy.chunks[2] == (64, 64, 64, 64, 4) and lazy.chunks[3] == (64,) * 4 + (44,)
    # chunks wholly left of or above the image are fills: rows 0..79 and cols 0..99 are off
    # the image, so chunk row 0 (rows 0-63) and chunk cols 0 (cols 0-63) hold no image pixel
    n_chunks = lazy.numblocks[2] * lazy.numblocks[3]
    assert _read_tasks(lazy) == n_chunks - (lazy.numblocks[2] + lazy.numblocks[3] - 1)

    start = len(http_server.requests)
    got = lazy.compute()
    np.testing.assert_array_equal(got, eager)
    log = _requests_since(http_server, start)
    assert log, "the workers read nothing over HTTP"
    assert all(r.range and not r.range.startswith("bytes=0-") for r in log), [
        r.range for r in log if not r.range or r.range.startswith("bytes=0-")
    ]


def _tiles_read(log, entry) -> list[tuple[int, int]]:
    """Every tile ``(row, col)`` a request of ``log`` for ``entry``'s file covered (a
    coalesced request covers several), one item per (request, tile)."""
    ranges = tile_byte_ranges(entry.path)
    out = []
    for r in log:
        if r.path == entry.path.name:
            out += request_tiles(r.range, ranges) or []
    return out


def test_lazy_window_reads_each_tile_once_per_chunk_it_overlaps(
    aoi_collection,  # noqa: F811
    dask_client,
    http_server,
):
    """The lazy read fetches the tiles the eager read fetches, each at most once per chunk
    that overlaps it (a tile is read again only where a chunk edge cuts it)."""
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    with rasterio.open(entry.path) as src:
        th, tw = src.block_shapes[0]
    col0, row0, width, height = 30, 20, 240, 230  # inside the image, not on tile edges
    bounds, res = _grid_bounds(entry, col0, row0, width, height)
    kwargs = dict(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    start = len(http_server.requests)
    eager = coll.read_window(**kwargs)
    eager_tiles = _tiles_read(http_server.requests[start:], entry)
    assert eager_tiles and len(eager_tiles) == len(set(eager_tiles))

    chunk = 100
    lazy = coll.read_window(**kwargs, chunks={"y": chunk, "x": chunk})
    start = len(http_server.requests)
    np.testing.assert_array_equal(lazy.compute(), eager)
    lazy_tiles = _tiles_read(http_server.requests[start:], entry)
    assert set(lazy_tiles) == set(eager_tiles)

    def spans(first: int, size: int, tile: int, index: int) -> int:
        """Chunks (of the output axis) that overlap tile ``index`` of the image axis."""
        lo, hi = max(index * tile, first), min((index + 1) * tile, first + size)
        return len({(p - first) // chunk for p in range(lo, hi)})

    bound = {t: spans(row0, height, th, t[0]) * spans(col0, width, tw, t[1]) for t in eager_tiles}
    counts = {t: lazy_tiles.count(t) for t in set(lazy_tiles)}
    assert all(counts[t] <= bound[t] for t in counts), (counts, bound)
    assert sum(bound.values()) > len(eager_tiles)  # chunk edges do cut tiles here


def test_lazy_auto_chunks_start_on_tile_edges(aoi_collection, dask_client):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    with rasterio.open(entry.path) as src:
        tile_h, tile_w = src.block_shapes[0]
    bounds, res = _grid_bounds(entry, 10, 30, 250, 240)
    lazy = coll.read_window(
        record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], chunks="auto"
    )
    # the grid starts 30 rows / 10 cols into the first tile: the first chunk ends on its edge
    assert lazy.chunks[2][0] == tile_h - 30 and lazy.chunks[3][0] == tile_w - 10
    eager = coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    np.testing.assert_array_equal(lazy.compute(), eager)


def test_lazy_group_by_and_several_records_equal_eager(aoi_collection, dask_client):  # noqa: F811
    coll, entries = aoi_collection
    a = _entry(entries, "deflate_pred2_u16_t256")
    bounds, res = _grid_bounds(a, 40, 40, 200, 150)
    ids = [e.name for e in entries if e.name.startswith(("deflate_pred2_u16", "zstd"))][:3]
    ids = list(dict.fromkeys([a.name, *ids]))
    for group_by in (None, "datetime"):
        kwargs = dict(record_ids=ids, bounds=bounds, res=res, bands=[BAND], group_by=group_by)
        try:
            eager = coll.read_window(**kwargs)
        except ValueError as exc:  # records of several CRSs
            pytest.skip(f"corpus records do not share a grid: {exc}")
        lazy = coll.read_window(**kwargs, chunks={"record": 2, "y": 100, "x": 128})
        assert lazy.shape == eager.shape
        np.testing.assert_array_equal(lazy.compute(), eager)


def test_lazy_resampled_window_keeps_whole_grid_chunks(aoi_collection, dask_client):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    bounds, (xres, yres) = _grid_bounds(entry, 13, 7, 150, 120)
    res = (xres * 1.5, yres * 1.5)  # resampled: not on the file's grid
    eager = coll.read_window(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    expected, _ = _merge_oracle([entry.path], bounds, res)
    np.testing.assert_array_equal(eager[0, 0], expected)
    lazy = coll.read_window(
        record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], chunks={"y": 32, "x": 32}
    )
    assert lazy.numblocks == (1, 1, 1, 1)
    np.testing.assert_array_equal(lazy.compute(), eager)


def test_bad_chunks_are_value_errors(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    bounds, res = _grid_bounds(entry, 0, 0, 64, 64)
    for chunks, match in (
        ({"rows": 8}, "Unknown chunks key"),
        ({"y": 0}, "positive ints"),
        ("big", "'auto', a dict"),
        ((1, 1, 8), "4 sizes"),
    ):
        with pytest.raises(ValueError, match=match):
            coll.read_window(
                record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND], chunks=chunks
            )
