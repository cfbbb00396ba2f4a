"""Small helpers shared by the entry points."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["infer_data_source", "infer_data_source_from_dataset", "run_sync"]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also inside a running loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def infer_data_source(collection: Any) -> str:
    """A collection's data source: its attribute, schema metadata, or ``collection`` column."""
    source = getattr(collection, "data_source", "") or ""
    if source:
        return source
    dataset = getattr(collection, "dataset", None)
    return "" if dataset is None else infer_data_source_from_dataset(dataset)


def infer_data_source_from_dataset(dataset: Any) -> str:
    """Schema metadata ``data_source`` (unless empty/"unknown"), else the first ``collection``."""
    raw = (dataset.schema.metadata or {}).get(b"data_source", b"").decode("utf-8", "replace")
    if raw.strip() and raw.strip() != "unknown":
        return raw.strip()
    if "collection" in dataset.schema.names:
        for batch in dataset.to_batches(columns=["collection"]):
            for value in batch.column(0).to_pylist():
                if value:
                    return str(value)
    return ""
