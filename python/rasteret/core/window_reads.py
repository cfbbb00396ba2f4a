"""``Collection.read_window``: records resampled onto one grid (``rasterio.merge`` rules).

The entry point selects the records by id (only the columns the read needs) and hands that
table to :func:`rasteret.read.window.read_records_window`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rasteret._backends import implicit_backend
from rasteret.core.utils import infer_data_source
from rasteret.read.progress import resolve_progress
from rasteret.read.window import read_records_window, window_columns
from rasteret.read.window_chunks import lazy_records_window

__all__ = ["read_collection_window"]


def read_collection_window(
    collection: Any,
    *,
    record_ids: str | Sequence[str],
    bounds: tuple[float, float, float, float],
    res: float | tuple[float, float],
    bands: list[str],
    target_crs: int | None = None,
    max_concurrent: int = 50,
    backend: Any = None,
    group_by: str | None = None,
    chunks: Any = None,
) -> Any:
    """``collection.read_window(...)`` (see there): ``[N, C, H, W]`` of ``record_ids``, a
    NumPy array, or a Dask array when ``chunks`` is given.

    Raises
    ------
    ValueError
        No bands or record ids, unknown bands, or an empty collection.
    """
    bands = list(bands)
    if not bands:
        raise ValueError("bands must name at least one band")
    collection._check_bands(bands)
    ids = [record_ids] if isinstance(record_ids, str) else [str(r) for r in record_ids]
    if not ids:
        raise ValueError("record_ids must name at least one record")
    ids = list(dict.fromkeys(ids))
    schema = collection._schema()
    if schema is None:
        raise ValueError("Collection has no records")
    table = collection._records_by_id(ids, window_columns(schema.names, bands, group_by))
    common = dict(
        record_ids=ids,
        bounds=bounds,
        res=res,
        bands=bands,
        data_source=infer_data_source(collection),
        target_crs=target_crs,
        max_concurrent=max_concurrent,
        group_by=group_by,
        backend=implicit_backend(backend, None, collection.data_source or ""),
    )
    if chunks is not None:
        return lazy_records_window(table, chunks=chunks, **common)
    return read_records_window(table, progress=resolve_progress(None), **common)
