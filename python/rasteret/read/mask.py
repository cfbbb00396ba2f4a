"""Polygon masks of pixel windows, pixel-identical to
``rasterio.features.geometry_mask(geometries, out_shape, transform, all_touched, invert=True)``.

The Rust core reimplements GDAL's rasterizer (the pixel-centre scanline fill, and with
``all_touched`` every pixel an edge passes through), so masking a read needs no GDAL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["geometry_mask", "geometry_masks", "window_masks"]


def geometry_masks(
    geometries: Sequence[Any],
    transforms: Sequence[Sequence[float]],
    shapes: Sequence[tuple[int, int]],
    *,
    all_touched: bool = False,
    windows: Sequence[tuple[int, int, int, int]] | None = None,
) -> list[np.ndarray]:
    """One boolean ``(height, width)`` mask per geometry, ``True`` on the pixels the geometry
    covers (by pixel centre, or every pixel it touches with ``all_touched``).

    Parameters
    ----------
    geometries
        Shapely Polygons or MultiPolygons, in the coordinates of their grid.
    transforms
        ``affine.Affine`` (or its first six values ``a, b, c, d, e, f``) of each grid;
        north-up, south-up and rotated grids.
    shapes
        ``(height, width)`` of each mask.
    all_touched
        Burn every pixel a geometry touches, not only those whose centre it covers.
    windows
        ``(row_off, col_off, height, width)`` per geometry: only that part of its grid is
        masked, pixel for pixel what the whole grid's mask holds there (the masks of a
        window's chunks put together equal the window's mask).

    Raises
    ------
    ValueError
        A geometry that is not a (Multi)Polygon, a non-finite coordinate, or a transform that
        cannot be inverted (the message names the geometry's index).

    Examples
    --------
    >>> import shapely
    >>> from affine import Affine
    >>> [m] = geometry_masks([shapely.box(1, 1, 3, 2)], [Affine(1, 0, 0, 0, -1, 3)], [(3, 4)])
    >>> m.astype(int)
    array([[0, 0, 0, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]])
    """
    if len(geometries) == 0:
        return []
    import shapely

    from rasteret.read import engine

    shapes_in = np.empty(len(geometries), dtype=object)
    shapes_in[:] = list(geometries)
    wkb = shapely.to_wkb(shapes_in, output_dimension=2)
    return engine.rasterize_polygons(
        wkb.tolist(),
        [tuple(float(v) for v in tuple(t)[:6]) for t in transforms],
        [(int(h), int(w)) for h, w in shapes],
        all_touched=all_touched,
        windows=None if windows is None else [tuple(int(v) for v in w) for w in windows],
    )


def window_masks(
    geometries: Sequence[Any],
    transforms: Sequence[Sequence[float]],
    shapes: Sequence[tuple[int, int]],
    *,
    all_touched: bool = False,
    windows: Sequence[tuple[int, int, int, int]] | None = None,
) -> list[np.ndarray | None]:
    """:func:`geometry_masks`, with None for each mask that covers its whole window (a read
    of that window needs no masking).

    A geometry whose interior holds every pixel centre of its window (the window's centre
    grid lies strictly inside it, e.g. an AOI box that encloses the window) is known to cover
    it whole, with or without ``all_touched``, and is not rasterized at all. With
    ``windows`` (parts of the grids, as for :func:`geometry_masks`) that test is made on the
    whole grid, as a read of the whole grid makes it, so the parts' masks agree with it."""
    if len(geometries) == 0:
        return []
    import shapely

    geoms = np.empty(len(geometries), dtype=object)
    geoms[:] = list(geometries)
    whole = shapely.contains_properly(geoms, _centre_grids(transforms, shapes))
    rest = np.flatnonzero(~whole)
    masks = geometry_masks(
        list(geoms[rest]),
        [transforms[i] for i in rest],
        [shapes[i] for i in rest],
        all_touched=all_touched,
        windows=None if windows is None else [windows[i] for i in rest],
    )
    out: list[np.ndarray | None] = [None] * len(geometries)
    for i, m in zip(rest.tolist(), masks, strict=True):
        out[i] = None if m.all() else m
    return out


def _centre_grids(
    transforms: Sequence[Sequence[float]], shapes: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Per window, the convex hull of its four corner pixel centres (that of all its pixel
    centres: a polygon, or a line or point for a window one pixel wide or high), in the
    grid's coordinates."""
    import shapely

    a, b, c, d, e, f = np.array([tuple(t)[:6] for t in transforms], dtype=np.float64).T
    h, w = np.array(shapes, dtype=np.float64).reshape(-1, 2).T
    cols = np.stack([np.full_like(w, 0.5), w - 0.5, w - 0.5, np.full_like(w, 0.5)], axis=1)
    rows = np.stack([np.full_like(h, 0.5), np.full_like(h, 0.5), h - 0.5, h - 0.5], axis=1)
    x = a[:, None] * cols + b[:, None] * rows + c[:, None]
    y = d[:, None] * cols + e[:, None] * rows + f[:, None]
    return shapely.convex_hull(shapely.multipoints(np.stack([x, y], axis=2)))


def geometry_mask(
    geometry: Any, transform: Sequence[float], shape: tuple[int, int], *, all_touched: bool = False
) -> np.ndarray:
    """The mask of one geometry of any type: (Multi)Polygons by the Rust core, other types
    (points, lines) by ``rasterio.features.geometry_mask`` itself."""
    import shapely

    if shapely.get_type_id(geometry) in (3, 6):  # Polygon, MultiPolygon
        return geometry_masks([geometry], [transform], [shape], all_touched=all_touched)[0]
    from rasterio.features import geometry_mask as rasterio_geometry_mask

    return rasterio_geometry_mask(
        [geometry], out_shape=shape, transform=transform, all_touched=all_touched, invert=True
    )
