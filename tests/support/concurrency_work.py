"""Read jobs run on one Collection from threads, forked and spawned processes, and their
rasterio oracle: the four public reads (``get_numpy``, ``get_xarray``, ``sample_points``,
``read_window``), each described by a picklable tuple.

A job is ``(kind, record_id, args)``: ``("numpy" | "xarray", id, aoi_wkb)``,
``("points", id, (lons, lats))`` or ``("window", id, (bounds, res))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import rasterio
import shapely
from rasterio.warp import transform as warp_transform
from rasterio.windows import Window

from support.aoi_oracle import BAND, aoi_in_4326, oracle

Job = tuple[str, str, Any]

#: The Collection a forked worker reads (set by the parent before it forks).
FORK_COLLECTION: Any = None


def jobs_for(entries: Sequence[Any]) -> list[Job]:
    """Four jobs per entry (AOI as numpy and xarray, 50 points, a native-grid window)."""
    jobs: list[Job] = []
    for k, entry in enumerate(entries):
        aoi = aoi_in_4326(entry).wkb
        jobs.append(("numpy", entry.name, aoi))
        jobs.append(("xarray", entry.name, aoi))
        rng = np.random.default_rng(k)
        with rasterio.open(entry.path) as src:
            left, bottom, right, top = src.bounds
            xs, ys = rng.uniform(left, right, 50), rng.uniform(bottom, top, 50)
            lon, lat = warp_transform(src.crs, "EPSG:4326", xs, ys)
            t = src.transform
            col, row, width, height = 7, 11, min(70, src.width - 7), min(60, src.height - 11)
            window_bounds = (
                t.c + col * t.a,
                t.f + (row + height) * t.e,
                t.c + (col + width) * t.a,
                t.f + row * t.e,
            )
            jobs.append(("points", entry.name, (list(lon), list(lat))))
            jobs.append(("window", entry.name, (window_bounds, (t.a, -t.e))))
    return jobs


def run(coll: Any, job: Job) -> np.ndarray:
    """The pixels (or sampled values, in point order) ``job`` reads from ``coll``."""
    kind, record_id, args = job
    one = coll.where(ds.field("id") == record_id)
    if kind == "numpy":
        return np.asarray(one.get_numpy(shapely.from_wkb(args), [BAND])[0])
    if kind == "xarray":
        return np.asarray(one.get_xarray(shapely.from_wkb(args), [BAND])[BAND].values[0, 0])
    if kind == "points":
        lons, lats = args
        pts = [shapely.Point(x, y) for x, y in zip(lons, lats, strict=True)]
        out = one.sample_points(pts, [BAND])
        order = np.argsort(out.column("point_index").to_numpy(), kind="stable")
        return np.stack(
            [
                out.column("point_index").to_numpy()[order].astype(np.float64),
                out.column("value").to_numpy()[order],
            ]
        )
    if kind == "window":
        bounds, res = args
        arr = coll.read_window(record_ids=[record_id], bounds=bounds, res=res, bands=[BAND])
        return np.asarray(arr[0, 0])
    raise ValueError(f"unknown job kind {kind!r}")


def expected(entry: Any, job: Job) -> np.ndarray:
    """What rasterio (GDAL) reads for ``job`` from ``entry``'s file."""
    kind, _, args = job
    if kind in ("numpy", "xarray"):
        return oracle(entry, shapely.from_wkb(args))
    with rasterio.open(entry.path) as src:
        if kind == "points":
            lons, lats = args
            xs, ys = warp_transform("EPSG:4326", src.crs, lons, lats)
            values = np.array([v[0] for v in src.sample(zip(xs, ys, strict=True), indexes=1)])
            inside = [
                i
                for i, (x, y) in enumerate(zip(xs, ys, strict=True))
                if 0 <= (~src.transform * (x, y))[0] < src.width
                and 0 <= (~src.transform * (x, y))[1] < src.height
            ]
            return np.stack([np.array(inside, np.float64), values[inside].astype(np.float64)])
        bounds, _ = args
        window = rasterio.windows.from_bounds(*bounds, transform=src.transform)
        col, row = round(window.col_off), round(window.row_off)
        width, height = round(window.width), round(window.height)
        return src.read(1, window=Window(col, row, width, height))


def run_all(coll: Any, jobs: Sequence[Job]) -> list[np.ndarray]:
    """``run`` of every job, in order."""
    return [run(coll, job) for job in jobs]


def run_forked(jobs: Sequence[Job]) -> list[np.ndarray]:
    """``run_all`` on :data:`FORK_COLLECTION` (inherited by a forked worker)."""
    return run_all(FORK_COLLECTION, jobs)


def run_loaded(path: str, jobs: Sequence[Job]) -> list[np.ndarray]:
    """``run_all`` on the collection saved at ``path``, opened by this (spawned) worker."""
    import rasteret

    return run_all(rasteret.load(path), jobs)
