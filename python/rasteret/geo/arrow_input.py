"""Turn any Arrow-producing object (pyarrow, Polars, DuckDB, GeoPandas...) into pyarrow."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

__all__ = ["as_dataset", "as_reader", "as_table", "as_table_or_none"]

_NOT_ARROW = (
    "Expected a pyarrow Table, RecordBatch, RecordBatchReader, Dataset, an Arrow PyCapsule "
    "producer, or an object exporting Arrow data."
)
_EXPORTERS = ("to_arrow_table", "fetch_arrow_table", "arrow", "to_arrow")


def _native(value: Any) -> pa.Table | None:
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if isinstance(value, pa.RecordBatchReader):
        return value.read_all()
    if isinstance(value, ds.Dataset):
        return value.to_table()
    if hasattr(value, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(value).read_all()
    return None


def _convert(value: Any, depth: int = 0) -> pa.Table:
    table = _native(value)
    if table is not None:
        return table
    if depth < 3:
        for name in _EXPORTERS:
            method = getattr(value, name, None)
            if callable(method):
                try:
                    return _convert(method(), depth + 1)
                except TypeError:
                    continue
    try:
        return pa.table(value)
    except (TypeError, ValueError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TypeError(_NOT_ARROW) from exc


def as_table(
    value: Any, *, columns: list[str] | None = None, filter_expr: ds.Expression | None = None
) -> pa.Table:
    """``value`` as a ``pa.Table``, optionally projected to ``columns`` and filtered."""
    if columns is None and filter_expr is None:
        return _convert(value)
    dataset = value if isinstance(value, ds.Dataset) else ds.dataset(_convert(value))
    return dataset.to_table(columns=columns, filter=filter_expr)


def as_dataset(value: Any) -> tuple[ds.Dataset, pa.Table | None]:
    """``(dataset, materialised table or None)``; a Dataset stays lazy."""
    if isinstance(value, ds.Dataset):
        return value, None
    table = _convert(value)
    return ds.dataset(table), (value if isinstance(value, pa.Table) else None)


def as_reader(value: Any) -> pa.RecordBatchReader:
    """A ``RecordBatchReader`` over ``value`` (streams Datasets and PyCapsule producers)."""
    if isinstance(value, pa.RecordBatchReader):
        return value
    if isinstance(value, ds.Dataset):
        return value.scanner().to_reader()
    if hasattr(value, "__arrow_c_stream__") and not isinstance(value, pa.Table):
        return pa.RecordBatchReader.from_stream(value)
    return _convert(value).to_reader()


def as_table_or_none(value: Any) -> pa.Table | None:
    """``as_table(value)``, or None for geometry-like inputs and non-Arrow objects."""
    if isinstance(value, bytes | bytearray | list | tuple | dict):
        return None
    try:
        return as_table(value)
    except TypeError:
        return None
