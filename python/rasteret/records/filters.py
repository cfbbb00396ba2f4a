"""``Collection.subset`` criteria: their validation and their compilation to filters.

The argument checks and their error messages live here once, for every record source.
:func:`dataset_subset_expression` compiles criteria into one ``pyarrow.dataset`` expression
over a read-ready schema, and :func:`bbox_overlaps` is the one bbox-overlap predicate (closed
intervals: touching counts) used by it and by the record index planner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

__all__ = [
    "BBOX_FIELDS",
    "BBOX_REQUIRED",
    "SubsetCriteria",
    "bbox_is_struct",
    "bbox_overlaps",
    "dataset_subset_expression",
    "check_bbox",
    "check_cloud_cover",
    "check_date_range",
    "check_split",
    "geometry_envelopes",
    "timestamp_bounds",
]

BBOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")

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
    from rasteret.geo.geometry import bbox_array

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


@dataclass(frozen=True)
class SubsetCriteria:
    """The keyword arguments of ``Collection.subset`` (``None``: criterion not given)."""

    cloud_cover_lt: float | None = None
    date_range: tuple[str, str] | None = None
    bbox: tuple[float, float, float, float] | None = None
    geometries: Any = None
    split: str | Sequence[str] | None = None
    split_column: str = "split"

    def is_empty(self) -> bool:
        """Whether no criterion is given."""
        return all(
            v is None
            for v in (self.cloud_cover_lt, self.date_range, self.bbox, self.geometries, self.split)
        )

    def as_kwargs(self) -> dict[str, Any]:
        """The criteria as ``subset`` keyword arguments."""
        return {k: v for k, v in asdict(self).items() if k != "geometries"} | {
            "geometries": self.geometries
        }


def bbox_is_struct(schema: pa.Schema, column: str = "bbox") -> bool:
    """Whether ``column`` is a struct with the four bbox fields."""
    if column not in schema.names:
        return False
    t = schema.field(column).type
    return pa.types.is_struct(t) and all(t.get_field_index(n) >= 0 for n in BBOX_FIELDS)


def bbox_overlaps(column: str, minx: float, miny: float, maxx: float, maxy: float) -> ds.Expression:
    """Rows whose bbox struct ``column`` overlaps ``(minx, miny, maxx, maxy)`` (touching
    counts)."""
    f = ds.field
    return (
        (f(column, "xmax") >= minx)
        & (f(column, "xmin") <= maxx)
        & (f(column, "ymax") >= miny)
        & (f(column, "ymin") <= maxy)
    )


def _date_expression(schema: pa.Schema, date_range: tuple[str, str]) -> ds.Expression:
    if "datetime" not in schema.names:
        raise ValueError("Collection has no datetime data")
    lo, hi = check_date_range(date_range)
    t = schema.field("datetime").type
    if not pa.types.is_timestamp(t):
        raise ValueError("Collection datetime column is not a timestamp")
    slo, shi = timestamp_bounds(lo, hi, t)
    return (ds.field("datetime") >= slo) & (ds.field("datetime") <= shi)


def dataset_subset_expression(schema: pa.Schema, criteria: SubsetCriteria) -> ds.Expression:
    """One filter expression of every given criterion (AND) over a read-ready ``schema``.

    Raises
    ------
    ValueError
        No criterion, an invalid value, or a column the criterion needs is missing.
    """
    if criteria.is_empty():
        raise ValueError("No filters provided")
    exprs: list[ds.Expression] = []
    if criteria.cloud_cover_lt is not None:
        if "eo:cloud_cover" not in schema.names:
            raise ValueError("Collection has no cloud cover data")
        exprs.append(ds.field("eo:cloud_cover") < check_cloud_cover(criteria.cloud_cover_lt))
    if criteria.date_range is not None:
        exprs.append(_date_expression(schema, criteria.date_range))
    if criteria.bbox is not None or criteria.geometries is not None:
        if not bbox_is_struct(schema):
            raise ValueError(BBOX_REQUIRED)
    if criteria.bbox is not None:
        exprs.append(bbox_overlaps("bbox", *check_bbox(criteria.bbox)))
    if criteria.geometries is not None:
        terms = [bbox_overlaps("bbox", *env) for env in geometry_envelopes(criteria.geometries)]
        any_geometry = terms[0]
        for t in terms[1:]:
            any_geometry = any_geometry | t
        exprs.append(any_geometry)
    if criteria.split is not None:
        if criteria.split_column not in schema.names:
            raise ValueError(f"Collection has no split column: '{criteria.split_column}'")
        names = check_split(criteria.split)
        column = ds.field(criteria.split_column)
        exprs.append(
            column == criteria.split if isinstance(criteria.split, str) else column.isin(names)
        )
    expr = exprs[0]
    for e in exprs[1:]:
        expr = expr & e
    return expr
