"""Small helpers shared by the entry points."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

from rasteret.geo.geometry import transform_bbox, transform_polygon
from rasteret.read.grid import (
    compute_dst_grid,
    compute_dst_grid_from_src,
    normalize_transform,
    reproject_array,
)
from rasteret.records.source import DatasetSource
from rasteret.records.summary import data_source_of, infer_data_source

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


def infer_data_source_from_dataset(dataset: Any) -> str:
    """Schema metadata ``data_source`` (unless empty/"unknown"), else the first ``collection``."""
    return data_source_of(DatasetSource(dataset))
