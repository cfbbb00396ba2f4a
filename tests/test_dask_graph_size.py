"""Graph size of the lazy reads over a large index (10,000 records), built without I/O.

One GDAL-written COG is indexed once and its record repeated under 10,000 ids, one date
each: a synthetic index with a real tile table. Building the graphs must make no request,
and the graph must hold one read task per non-empty chunk (plus one key per record shard),
whatever the number of records. (How long it takes is measured by
``benches/dask_graph.py``, not asserted here.)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
import rasteret
import rasterio
import shapely
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)
from test_read_window import _entry

da = pytest.importorskip("dask.array")

N_RECORDS = 10_000


def _synthetic(coll, entry, n: int):
    """``coll``'s record of ``entry`` repeated ``n`` times, one day apart."""
    table = coll.to_table()
    row = table.column("id").to_pylist().index(entry.name)
    table = table.take(np.full(n, row, dtype=np.int64))
    table = table.set_column(
        table.schema.get_field_index("id"), "id", pa.array([f"r{i}" for i in range(n)])
    )
    at = table.schema.get_field_index("datetime")
    when = [dt.datetime(2000, 1, 1) + dt.timedelta(days=i) for i in range(n)]
    table = table.set_column(at, table.schema.field(at), pa.array(when, table.column(at).type))
    return rasteret.as_collection(table, name="synthetic")


def _keys(arr, marker: str) -> list:
    return [k for k in dict(arr.__dask_graph__()) if isinstance(k, tuple) and marker in k[0]]


def test_graphs_of_ten_thousand_records_hold_one_read_per_non_empty_chunk(
    aoi_collection,  # noqa: F811
    http_server,
):
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    big = _synthetic(coll, entry, N_RECORDS)
    with rasterio.open(entry.path) as src:
        t, crs = src.transform, src.crs
    # a 100 x 80 px box inside the image, on the pixel grid
    bounds = (t.c + 20 * t.a, t.f + 100 * t.e, t.c + 120 * t.a, t.f + 20 * t.e)
    start = len(http_server.requests)

    per_chunk = N_RECORDS // 1000
    stack = big.read_window(
        record_ids=[f"r{i}" for i in range(N_RECORDS)],
        bounds=bounds,
        res=t.a,
        bands=[BAND],
        chunks={"record": per_chunk},
    )
    assert stack.numblocks == (1000, 1, 1, 1)
    assert len(_keys(stack, "read-window")) == 1000

    aoi = shapely.geometry.shape(transform_geom(crs, "EPSG:4326", mapping(shapely.box(*bounds))))
    cube = big.get_xarray(aoi, [BAND], chunks={"time": per_chunk, "y": 64, "x": 64})
    arr = cube[BAND].data
    assert arr.shape[0] == N_RECORDS and arr.numblocks[:2] == (1000, 1)
    n_spatial = arr.numblocks[2] * arr.numblocks[3]
    # every record covers the whole AOI window: every chunk is non-empty, one read each
    assert len(_keys(arr, "cube-read")) == 1000 * n_spatial
    shard_keys = [k for k in dict(arr.__dask_graph__()) if "records" in str(k)[:40]]
    assert len(shard_keys) <= -(-N_RECORDS // 4096) + 1
    assert len(http_server.requests) == start, "building the graphs made requests"

    # one chunk computes to the eager read of its records
    eager = big.read_window(
        record_ids=[f"r{i}" for i in range(per_chunk)], bounds=bounds, res=t.a, bands=[BAND]
    )
    np.testing.assert_array_equal(stack[:per_chunk].compute(scheduler="sync"), eager)
