"""Pixel windows of AOIs on a raster grid, with rasterio's ``geometry_window`` semantics."""

from __future__ import annotations

import math

__all__ = ["geometry_window", "window_transform"]


def geometry_window(
    bounds: tuple[float, float, float, float],
    transform: tuple[float, float, float, float],
    width: int,
    height: int,
) -> tuple[int, int, int, int] | None:
    """``(col_off, row_off, width, height)`` covering ``bounds`` (floor starts, ceil stops),
    clipped to the raster; None when empty. Works for north-up and south-up grids."""
    a, c, e, f = transform
    minx, miny, maxx, maxy = bounds
    cols = [(minx - c) / a, (maxx - c) / a]
    rows = [(miny - f) / e, (maxy - f) / e]
    col0, col1 = math.floor(min(cols)), math.ceil(max(cols))
    row0, row1 = math.floor(min(rows)), math.ceil(max(rows))
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, width), min(row1, height)
    if col1 <= col0 or row1 <= row0:
        return None
    return col0, row0, col1 - col0, row1 - row0


def window_transform(
    transform: tuple[float, float, float, float], col_off: int, row_off: int
) -> tuple[float, float, float, float]:
    """``(a, c, e, f)`` of a window's top-left pixel."""
    a, c, e, f = transform
    return a, c + col_off * a, e, f + row_off * e
