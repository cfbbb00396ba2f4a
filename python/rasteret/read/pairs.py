"""(record, geometry) pairs: a tabular AOI input whose column names, per geometry, the one
record to read it from (label polygons of a training set, chips from a sampler), so that
all pairs are read in one call instead of one call per record."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

__all__ = ["check_pairs", "record_pairs"]


def record_pairs(plan: Any, column: str) -> list[str | None]:
    """The record id of every geometry of ``plan`` (an AOI input plan), from ``column`` of
    its table (ids as strings; null pairs a geometry with no record).

    Raises
    ------
    TypeError
        The geometries did not come as a table.
    ValueError
        The table has no such column.
    """
    table = plan.table
    if table is None:
        raise TypeError(
            f"record_id_column={column!r} needs a tabular geometries input (a pyarrow Table, "
            "GeoDataFrame.to_arrow(), DuckDB, Polars...) holding that column"
        )
    if column not in table.column_names:
        raise ValueError(
            f"record_id_column {column!r} is not a column of the geometries table "
            f"(columns: {table.column_names})"
        )
    ids = table.column(column)
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        ids = ids.cast(pa.string())
    return ids.to_pylist()


def check_pairs(pairs: list[str | None], records: pa.Table, column: str) -> None:
    """Raise ``ValueError`` naming the ids of ``pairs`` that ``records`` does not hold."""
    held = set(records.column("id").cast(pa.string()).to_pylist())
    unknown = sorted({p for p in pairs if p is not None} - held)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise ValueError(
            f"record_id_column {column!r} names record id(s) not in the collection (after "
            f"its filters): {shown}{more}"
        )
