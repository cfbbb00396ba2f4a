"""Point coordinates held in two columns: which columns, and their values as float64."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["XY_COLUMN_PAIRS", "float_values", "resolve_xy_columns"]

#: coordinate column pairs recognised without ``x_column``/``y_column``, in this order
XY_COLUMN_PAIRS = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"))


def resolve_xy_columns(
    names: Sequence[str], x_column: str | None, y_column: str | None
) -> tuple[str, str] | None:
    """The ``(x, y)`` coordinate columns of a point table, or None when there are none.

    Named columns must both exist; otherwise the first pair of ``(x, y)``, ``(lon, lat)``,
    ``(longitude, latitude)``, ``(lng, lat)`` present in ``names`` is used.

    Raises
    ------
    ValueError
        A named coordinate column is missing (``"Missing point coordinate columns: [...]"``).
    """
    if x_column is not None or y_column is not None:
        missing = [c for c in (x_column, y_column) if c is None or c not in names]
        if missing:
            raise ValueError(f"Missing point coordinate columns: {missing}")
        return x_column, y_column  # type: ignore[return-value]
    present = set(names)
    return next(((x, y) for x, y in XY_COLUMN_PAIRS if x in present and y in present), None)


def float_values(values: Any) -> np.ndarray:
    """A numeric column (Arrow or array-like) as float64 NumPy (nulls as NaN)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)
