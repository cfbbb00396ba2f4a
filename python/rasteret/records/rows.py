"""Selecting rows of Arrow data without copying when the rows are a contiguous run.

A collection's ``{band}_metadata`` columns are deep structs (tile tables, overviews, masks:
dozens of child arrays), and every ``take`` on them costs about a millisecond however few rows
it selects. Reads select a contiguous run of rows most of the time (a date range of a sorted
collection, every record, one scene); a slice of that run is free.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pyarrow as pa

__all__ = ["take_rows"]

Rows = TypeVar("Rows", pa.Table, pa.Array, pa.ChunkedArray)


def take_rows(data: Rows, rows: np.ndarray) -> Rows:
    """``data.take(rows)``, as a zero-copy slice when ``rows`` are consecutive ascending."""
    rows = np.asarray(rows, dtype=np.int64)
    n = len(rows)
    if n == 0:
        return data.slice(0, 0)
    start = int(rows[0])
    if start >= 0 and int(rows[-1]) - start + 1 == n and (n < 3 or (np.diff(rows) == 1).all()):
        return data.slice(start, n)
    return data.take(pa.array(rows))
