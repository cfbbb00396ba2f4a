"""Pixel windows of AOIs on a raster grid, with rasterio's ``geometry_window`` semantics."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["geometry_window", "normalize_transform", "pixel_window", "window_transform"]


def normalize_transform(t: Sequence[float] | None) -> tuple[float, float, float, float]:
    """``(a, c, e, f)`` (pixel size x, origin x, pixel size y, origin y) of a stored transform.

    Accepts the 4-value ``[sx, tx, sy, ty]`` form and the 6-value GDAL ``[a, b, c, d, e, f]``
    form (``b`` and ``d`` must be 0).
    """
    if t is None:
        raise ValueError("Transform is missing")
    try:
        values = [float(v) for v in t]
    except TypeError as exc:
        raise TypeError(f"Transform must be a sequence of numbers, got {type(t).__name__}") from exc
    if len(values) == 4:
        return values[0], values[1], values[2], values[3]
    if len(values) == 6:
        a, b, c, d, e, f = values
        if abs(b) > 1e-12 or abs(d) > 1e-12:
            raise ValueError(
                "Rotated/sheared affine transforms are not supported (b and d must be 0)"
            )
        return a, c, e, f
    raise ValueError(f"Transform must have 4 or 6 values, got {len(values)}")


def geometry_window(
    bounds: tuple[float, float, float, float],
    transform: tuple[float, float, float, float],
    width: int,
    height: int,
) -> tuple[int, int, int, int] | None:
    """``(col_off, row_off, width, height)`` covering ``bounds`` (floor starts, ceil stops),
    clipped to the raster; None when empty. Works for north-up and south-up grids."""
    col0, row0, w, h = pixel_window(bounds, transform)
    col1, row1 = col0 + w, row0 + h
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, width), min(row1, height)
    if col1 <= col0 or row1 <= row0:
        return None
    return col0, row0, col1 - col0, row1 - row0


def pixel_window(
    bounds: tuple[float, float, float, float], transform: tuple[float, float, float, float]
) -> tuple[int, int, int, int]:
    """``(col_off, row_off, width, height)`` covering ``bounds`` (floor starts, ceil stops),
    not clipped to any raster (offsets may be negative). Works for north-up and south-up."""
    a, c, e, f = transform
    minx, miny, maxx, maxy = bounds
    cols = [(minx - c) / a, (maxx - c) / a]
    rows = [(miny - f) / e, (maxy - f) / e]
    col0, col1 = math.floor(min(cols)), math.ceil(max(cols))
    row0, row1 = math.floor(min(rows)), math.ceil(max(rows))
    return col0, row0, col1 - col0, row1 - row0


def window_transform(
    transform: tuple[float, float, float, float], col_off: int, row_off: int
) -> tuple[float, float, float, float]:
    """``(a, c, e, f)`` of a window's top-left pixel."""
    a, c, e, f = transform
    return a, c + col_off * a, e, f + row_off * e
