"""Small helpers shared by the entry points."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from rasteret.read.grid import (
    compute_dst_grid,
    compute_dst_grid_from_src,
    normalize_transform,
    reproject_array,
)
from rasteret.records.source import DatasetSource
from rasteret.records.summary import data_source_of

T = TypeVar("T")

__all__ = [
    "compute_dst_grid",
    "compute_dst_grid_from_src",
    "infer_data_source",
    "infer_data_source_from_dataset",
    "normalize_transform",
    "reproject_array",
    "run_sync",
    "transform_bbox",
    "transform_polygon",
]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also inside a running loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def infer_data_source(collection: Any) -> str:
    """A collection's data source: its attribute, else its records' schema metadata
    ``data_source``, else the first non-empty ``collection`` value."""
    source = getattr(collection, "data_source", "") or ""
    if source:
        return source
    records = getattr(collection, "_source", None)
    return "" if records is None else data_source_of(records)


def infer_data_source_from_dataset(dataset: Any) -> str:
    """Schema metadata ``data_source`` (unless empty/"unknown"), else the first ``collection``."""
    return data_source_of(DatasetSource(dataset))


def transform_polygon(geom: Any, src_crs: Any, dst_crs: Any) -> Any:
    """A Shapely (Multi)Polygon with every vertex transformed from ``src_crs`` to ``dst_crs``
    by pyproj (``always_xy``, no densification)."""
    from rasteret.geo.geometry import transform_geometry

    return transform_geometry(geom, src_crs, dst_crs)


def transform_bbox(
    bbox: tuple[float, float, float, float], src_crs: Any, dst_crs: Any
) -> tuple[float, float, float, float]:
    """``bbox`` from ``src_crs`` to ``dst_crs`` with pyproj ``transform_bounds`` (always_xy)."""
    from pyproj import CRS, Transformer

    def crs(v: Any) -> CRS:
        return CRS.from_epsg(v) if isinstance(v, int) else CRS.from_user_input(v)

    if src_crs == dst_crs:
        return tuple(float(v) for v in bbox)  # type: ignore[return-value]
    tf = Transformer.from_crs(crs(src_crs), crs(dst_crs), always_xy=True)
    out = tf.transform_bounds(*bbox, densify_pts=21)
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])
