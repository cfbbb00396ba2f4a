"""Helpers shared by the reads that take a Dask (or dask-geopandas) frame of inputs and return
a lazy Dask DataFrame, one task per input partition (``sample_points``, ``zonal_stats``)."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["check_integer_index", "is_dask_frame", "relabel", "shared_records"]


def is_dask_frame(obj: Any) -> bool:
    """Whether ``obj`` is a Dask (or dask-geopandas) DataFrame."""
    module = type(obj).__module__
    return module.startswith(("dask", "dask_geopandas")) and hasattr(obj, "map_partitions")


def check_integer_index(frame: Any, column: str) -> None:
    """Raise unless the Dask ``frame`` has an integer index (its labels become ``column``).

    Raises
    ------
    ValueError
        The index is not of an integer dtype.
    """
    from pandas.api.types import is_integer_dtype

    if not is_integer_dtype(frame._meta.index.dtype):
        raise ValueError(
            f"A Dask frame input needs an integer index (its labels become {column}); call "
            ".reset_index() first"
        )


def relabel(table: pa.Table, column: str, frame: Any) -> pa.Table:
    """``table`` with ``column`` (positions in the pandas ``frame``) replaced by the frame's
    index labels at those positions."""
    labels = np.asarray(frame.index).astype(np.int64)
    positions = table.column(column).to_numpy()
    at = table.schema.get_field_index(column)
    return table.set_column(at, table.schema.field(at), pa.array(labels[positions], pa.int64()))


def shared_records(table: pa.Table) -> Any:
    """``table`` as one Dask graph key (a ``Delayed``) that every partition's task depends
    on: scheduled once per worker, not copied into each task."""
    import dask

    return dask.delayed(table, name=f"rasteret-records-{uuid.uuid4().hex}")
