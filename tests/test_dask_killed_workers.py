"""A worker killed in the middle of a lazy window, cube, point or zonal read on a real
``distributed.LocalCluster``: the scheduler hands its task to another worker (the nanny
starts a new process), and the result equals the eager read exactly.

The kill is made to land mid-compute: the HTTP server answers every request after a long
delay, the test waits until the scheduler has given one of the read's tasks to a worker,
kills that worker's process by its pid, and checks that the compute had not finished and
that the scheduler saw the task's worker die (its ``suspicious`` count).
"""

from __future__ import annotations

import os
import signal
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import rasterio
import xarray as xr
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)
from test_dask_window import dask_client  # noqa: F401  (module fixture)
from test_point_sampling import _random_points
from test_read_outputs import _inner_aoi, _pair, _pair_collection
from test_read_window import _entry, _grid_bounds
from test_zonal_stats import _query, _shapes, zonal_collection  # noqa: F401

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

#: Per-request delay of the HTTP server while a lazy read runs: every task waits for it at
#: least once, so a task stays on its worker long after the scheduler has assigned it.
LATENCY_MS = 300.0


def _suspicious(client, prefix: str) -> int:
    """How many times the scheduler saw a worker die while running a task of ``prefix``
    (also under a fused task's name: Dask may fuse a read with the selections that follow
    it, e.g. ``rasteret-cube-read-rasteret-cube-B1``)."""

    def count(dask_scheduler) -> int:
        return sum(
            found.suspicious
            for name, found in dask_scheduler.task_prefixes.items()
            if name.startswith(prefix)
        )

    return client.run_on_scheduler(count)


def _compute_killing_a_busy_worker(client, http_server, lazy, prefix: str) -> pd.DataFrame:
    """Compute ``lazy``; once a worker holds one of its ``prefix`` tasks, SIGKILL that
    worker's process. Returns the result after checking the kill hit the running compute."""
    pids = client.run(os.getpid)
    before = _suspicious(client, prefix)
    http_server.latency_ms = LATENCY_MS
    try:
        future = client.compute(lazy)
        deadline = time.monotonic() + 30
        busy = []
        while not busy and time.monotonic() < deadline:
            busy = [
                address
                for address, keys in client.processing().items()
                if any(prefix in str(key) for key in keys)
            ]
            time.sleep(0.01)
        assert busy, f"no {prefix} task reached a worker within 30 s"
        time.sleep(0.05)  # into the task: its first request waits LATENCY_MS
        os.kill(pids[busy[0]], signal.SIGKILL)
        assert not future.done(), "the compute finished before the kill"
        got = future.result(timeout=120)
    finally:
        http_server.latency_ms = 0.0
    assert _suspicious(client, prefix) > before, "the killed worker held no task of the read"
    client.wait_for_workers(len(pids), timeout=60)  # the nanny started a new process
    assert pids[busy[0]] not in client.run(os.getpid).values()
    return got


def test_a_worker_killed_during_lazy_points_is_replaced_and_the_result_is_identical(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
):
    coll, entries = aoi_collection
    picked = [e for e in entries if e.name.startswith(("deflate_pred2_u16", "lzw_pred2_u16"))]
    two = coll.where(ds.field("id").isin([e.name for e in picked[:2]]))
    lon, lat, _ = _random_points(picked[0], 400, 23)
    frame = pd.DataFrame({"lon": lon, "lat": lat})
    eager = two.sample_points(frame, [BAND], geometry_crs=4326).to_pandas()
    assert len(eager) >= 400

    lazy = two.sample_points(dd.from_pandas(frame, npartitions=8), [BAND], geometry_crs=4326)
    got = _compute_killing_a_busy_worker(dask_client, http_server, lazy, "sample_partition")

    key = ["point_index", "record_id", "band"]
    pd.testing.assert_frame_equal(
        got.sort_values(key).reset_index(drop=True), eager.sort_values(key).reset_index(drop=True)
    )


def test_a_worker_killed_during_lazy_zonal_stats_is_replaced_and_the_result_is_identical(
    zonal_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
):
    coll, entries = zonal_collection
    entry = next(e for name, e in entries.items() if name.startswith("deflate_pred2_u16"))
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src, outside=src.nodata is not None) * 4
        epsg = src.crs.to_epsg()
    frame = gpd.GeoDataFrame(geometry=shapes, crs=epsg)
    eager = _query(coll, entry, shapes).to_pandas()
    assert eager["geometry_index"].nunique() >= len(shapes) - 4 and eager["count"].sum() > 0

    one = coll.where(ds.field("id") == entry.name)
    lazy = one.zonal_stats(dd.from_pandas(frame, npartitions=8), [BAND])
    got = _compute_killing_a_busy_worker(dask_client, http_server, lazy, "zonal_partition")

    pd.testing.assert_frame_equal(got.sort_values(["geometry_index"]).reset_index(drop=True), eager)


def test_a_worker_killed_during_a_lazy_window_is_replaced_and_the_result_is_identical(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
):
    coll, entries = aoi_collection
    entry = _entry(entries, "deflate_pred2_u16_t256")
    bounds, res = _grid_bounds(entry, 0, 0, 256, 256)
    kwargs = dict(record_ids=[entry.name], bounds=bounds, res=res, bands=[BAND])
    eager = coll.read_window(**kwargs)
    lazy = coll.read_window(**kwargs, chunks={"y": 64, "x": 64})
    got = _compute_killing_a_busy_worker(dask_client, http_server, lazy, "rasteret-read-window")
    np.testing.assert_array_equal(got, eager)


def test_a_worker_killed_during_a_lazy_cube_is_replaced_and_the_result_is_identical(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
):
    coll, entries = aoi_collection
    first, second = _pair(entries)
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=False)
    aoi = _inner_aoi(first)
    eager = pair.get_xarray(aoi, [BAND])
    lazy = pair.get_xarray(aoi, [BAND], chunks={"y": 64, "x": 64})
    got = _compute_killing_a_busy_worker(dask_client, http_server, lazy, "rasteret-cube-read")
    xr.testing.assert_identical(got, eager)
