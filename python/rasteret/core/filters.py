"""Validation of ``Collection.subset`` criteria, shared by every collection backend.

Each backend (dataset, record index, Hugging Face stream) checks its own schema
preconditions and compiles the validated values into its own filter form; the argument
checks and their error messages live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

__all__ = [
    "BBOX_REQUIRED",
    "check_bbox",
    "check_cloud_cover",
    "check_date_range",
    "check_split",
    "geometry_envelopes",
    "timestamp_bounds",
]

BBOX_REQUIRED = (
    "bbox filtering requires a root-level 'bbox' struct column with fields xmin, ymin, xmax, ymax"
)


def check_cloud_cover(value: Any) -> float:
    """``cloud_cover_lt`` as a number in ``[0, 100]``.

    Raises
    ------
    ValueError
        Not a number, or outside ``[0, 100]``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ValueError(f"Invalid cloud_cover_lt={value!r}: must be between 0 and 100.")
    return value


def check_date_range(date_range: tuple[str, str]) -> tuple[Any, Any]:
    """``(start, end)`` as ``pandas.Timestamp`` values with ``start <= end``.

    Raises
    ------
    ValueError
        An empty bound or ``start > end`` (``"Invalid date range"``).
    """
    import pandas as pd

    start, end = date_range
    if not start or not end or pd.Timestamp(start) > pd.Timestamp(end):
        raise ValueError("Invalid date range")
    return pd.Timestamp(start), pd.Timestamp(end)


def timestamp_bounds(lo: Any, hi: Any, t: pa.DataType) -> tuple[pa.Scalar, pa.Scalar]:
    """``lo``/``hi`` timestamps as scalars of the timestamp type ``t`` (time zones aligned)."""
    if t.tz is not None:
        lo = lo.tz_localize(t.tz) if lo.tzinfo is None else lo
        hi = hi.tz_localize(t.tz) if hi.tzinfo is None else hi
    elif lo.tzinfo is not None:
        lo, hi = lo.tz_convert(None), hi.tz_convert(None)
    return pa.scalar(lo.to_pydatetime(), t), pa.scalar(hi.to_pydatetime(), t)


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` as floats with ``min <= max``.

    Raises
    ------
    ValueError
        Not 4 values (``"Invalid bbox format"``) or inverted (``"Invalid bbox coordinates"``).
    """
    if len(bbox) != 4:
        raise ValueError("Invalid bbox format")
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if minx > maxx or miny > maxy:
        raise ValueError("Invalid bbox coordinates")
    return minx, miny, maxx, maxy


def geometry_envelopes(geometries: Any) -> list[tuple[float, float, float, float]]:
    """The envelope of every input geometry (any non-tabular geometry input: a bbox tuple,
    Shapely, WKB, GeoJSON, or lists and Arrow arrays of them); null geometries are skipped.

    Raises
    ------
    ValueError
        No geometries (``"geometries is empty"``).
    """
    from rasteret.core.geometry import bbox_array

    if isinstance(geometries, list | tuple) and len(geometries) == 0:
        raise ValueError("geometries is empty")
    columns = [c.to_pylist() for c in bbox_array(geometries)]
    out = [
        (float(x0), float(y0), float(x1), float(y1))
        for x0, y0, x1, y1 in zip(*columns, strict=True)
        if None not in (x0, y0, x1, y1)
    ]
    if not out:
        raise ValueError("geometries is empty")
    return out


def check_split(split: str | Sequence[str]) -> list[str]:
    """One or more split names as a list.

    Raises
    ------
    ValueError
        Not a string or a non-empty sequence of strings.
    """
    if isinstance(split, str):
        return [split]
    if isinstance(split, Sequence) and len(split) > 0 and all(isinstance(s, str) for s in split):
        return list(split)
    raise ValueError("Invalid split filter. Use a split name or sequence of split names.")
