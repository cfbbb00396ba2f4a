"""Tile arithmetic on a raster grid: which tiles a bounding box touches, mosaicking decoded
tiles, and masking/cropping an array to a polygon with ``rasterio.mask`` semantics."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from affine import Affine

from rasteret.read.grid import geometry_window, normalize_transform

__all__ = ["apply_mask_and_crop", "compute_tile_indices", "merge_tiles"]

logger = logging.getLogger(__name__)


def compute_tile_indices(
    geometry_bbox: tuple[float, float, float, float],
    transform: Sequence[float],
    tile_size: tuple[int, int],
    image_size: tuple[int, int],
    debug: bool = False,
) -> list[tuple[int, int]]:
    """``(row, col)`` of every tile whose footprint meets ``geometry_bbox``, row-major.

    Parameters
    ----------
    geometry_bbox
        ``(minx, miny, maxx, maxy)`` in the raster CRS.
    transform
        ``[scale_x, translate_x, scale_y, translate_y]`` or a 6-value GDAL-order affine
        ``[a, b, c, d, e, f]`` without rotation; north-up and south-up grids both work.
    tile_size, image_size
        ``(width, height)`` in pixels.
    debug
        Log the pixel and tile ranges.

    The box is mapped to pixels (``floor`` of the first column/row, ``ceil - 1`` of the last),
    clamped to the image, converted to a tile range, and each tile of the range is kept when
    its map-space box and ``geometry_bbox`` intersect (closed intervals).

    Raises
    ------
    ValueError
        ``"Invalid transform: zero pixel scale"`` when a pixel size is 0.
    """
    scale_x, origin_x, scale_y, origin_y = normalize_transform(transform)
    if scale_x == 0.0 or scale_y == 0.0:
        raise ValueError("Invalid transform: zero pixel scale")
    tile_w, tile_h = (int(v) for v in tile_size)
    width, height = (int(v) for v in image_size)
    minx, miny, maxx, maxy = (float(v) for v in geometry_bbox)
    cols = ((minx - origin_x) / scale_x, (maxx - origin_x) / scale_x)
    rows = ((miny - origin_y) / scale_y, (maxy - origin_y) / scale_y)
    col_first = max(0, math.floor(min(cols)))
    col_last = min(width - 1, math.ceil(max(cols)) - 1)
    row_first = max(0, math.floor(min(rows)))
    row_last = min(height - 1, math.ceil(max(rows)) - 1)
    tiles_across, tiles_down = -(-width // tile_w), -(-height // tile_h)
    tile_cols = range(max(0, col_first // tile_w), min(tiles_across - 1, col_last // tile_w) + 1)
    tile_rows = range(max(0, row_first // tile_h), min(tiles_down - 1, row_last // tile_h) + 1)
    if debug:
        logger.info(
            "bbox %s -> pixels cols %d..%d rows %d..%d -> tiles cols %s rows %s",
            geometry_bbox,
            col_first,
            col_last,
            row_first,
            row_last,
            tile_cols,
            tile_rows,
        )
    out: list[tuple[int, int]] = []
    for row in tile_rows:
        ys = (origin_y + row * tile_h * scale_y, origin_y + (row + 1) * tile_h * scale_y)
        if min(ys) > maxy or max(ys) < miny:
            continue
        for col in tile_cols:
            xs = (origin_x + col * tile_w * scale_x, origin_x + (col + 1) * tile_w * scale_x)
            if min(xs) <= maxx and max(xs) >= minx:
                out.append((row, col))
    return out


def merge_tiles(
    tiles: Mapping[tuple[int, int], np.ndarray | None],
    tile_size: tuple[int, int],
    dtype: Any,
    *,
    fill_value: float | int = 0,
) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """Mosaic ``{(row, col): tile}`` into one array covering the tiles' bounding range.

    Returns ``(array, (min_row, min_col, max_row, max_col), tile_mask)``: the array is
    ``(rows * tile_height, cols * tile_width)`` of ``dtype`` filled with ``fill_value`` where
    no tile landed; ``tile_mask`` is True where a tile contributed pixels. Tiles larger than
    ``tile_size`` are cut, None tiles skipped. No tiles: an empty array, ``(0, 0, 0, 0)`` and
    a ``(0, 0)`` mask.
    """
    out_dtype = np.dtype(dtype)
    if not tiles:
        return np.array([], dtype=out_dtype), (0, 0, 0, 0), np.zeros((0, 0), dtype=bool)
    tile_w, tile_h = (int(v) for v in tile_size)
    rows = [key[0] for key in tiles]
    cols = [key[1] for key in tiles]
    min_row, max_row, min_col, max_col = min(rows), max(rows), min(cols), max(cols)
    shape = ((max_row - min_row + 1) * tile_h, (max_col - min_col + 1) * tile_w)
    merged = np.full(shape, out_dtype.type(fill_value), dtype=out_dtype)
    tile_mask = np.zeros(shape, dtype=bool)
    for (row, col, *_), tile in tiles.items():
        if tile is None:
            continue
        top, left = (row - min_row) * tile_h, (col - min_col) * tile_w
        h, w = min(tile.shape[0], shape[0] - top), min(tile.shape[1], shape[1] - left)
        merged[top : top + h, left : left + w] = tile[:h, :w]
        tile_mask[top : top + h, left : left + w] = True
    return merged, (min_row, min_col, max_row, max_col), tile_mask


def apply_mask_and_crop(
    data: np.ndarray,
    geojson: Any,
    transform: Affine,
    nodata: float | int | None = None,
    *,
    all_touched: bool = False,
    filled: bool = True,
    fill_value: float | int | None = None,
    return_mask: bool = False,
) -> tuple[np.ndarray, Affine] | tuple[np.ndarray, np.ndarray, Affine]:
    """Mask a 2-D array to a polygon and crop it to the polygon's window, as
    ``rasterio.mask.mask(crop=True)`` does.

    Parameters
    ----------
    data
        2-D array on the grid of ``transform``.
    geojson
        Polygon or MultiPolygon (GeoJSON mapping or Shapely geometry) in the CRS of
        ``transform``.
    transform
        ``affine.Affine`` of ``data`` (no rotation).
    nodata, fill_value
        Pixels outside the polygon become ``fill_value``, else ``nodata``, else 0 (in the
        dtype of ``data``).
    all_touched
        ``rasterio.features.geometry_mask`` rule: every pixel the polygon touches is inside.
    filled
        False leaves the pixels outside the polygon as they are.
    return_mask
        Also return the boolean mask (True inside the polygon) of the output.

    Returns
    -------
    ``(data, transform)`` or ``(data, mask, transform)``. The window covers the polygon's
    bounds (``floor`` starts, ``ceil`` stops, clipped to the array). When no pixel is inside,
    the result is the fill value in the shape of ``data`` with ``transform`` unchanged.
    """
    import shapely.geometry

    from rasteret.read.mask import geometry_mask

    geometry = geojson if hasattr(geojson, "bounds") else shapely.geometry.shape(geojson)
    inside = geometry_mask(geometry, transform, data.shape, all_touched=all_touched)
    chosen = fill_value if fill_value is not None else nodata if nodata is not None else 0
    fill = data.dtype.type(chosen)
    if not inside.any():
        empty = np.full(data.shape, fill, dtype=data.dtype)
        return (empty, inside, transform) if return_mask else (empty, transform)
    a, b, c, d, e, f = tuple(transform)[:6]
    grid = normalize_transform((a, b, c, d, e, f))
    window = geometry_window(geometry.bounds, grid, data.shape[1], data.shape[0])
    if window is None:
        cropped, mask = data[:0, :0], inside[:0, :0]
        out_transform = transform
    else:
        col, row, width, height = window
        cropped = data[row : row + height, col : col + width]
        mask = inside[row : row + height, col : col + width]
        out_transform = transform * Affine.translation(col, row)
    if filled:
        cropped = np.where(mask, cropped, fill)
    return (cropped, mask, out_transform) if return_mask else (cropped, out_transform)
