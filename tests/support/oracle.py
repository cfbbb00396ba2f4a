"""rasterio (GDAL) as the oracle: what a GeoTIFF's header says and what its pixels are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

WindowTuple = tuple[int, int, int, int]


def describe(path: str | Path) -> dict[str, Any]:
    """Header facts of ``path`` as rasterio/GDAL sees them.

    Keys: ``width``, ``height``, ``count``, ``dtypes`` (one per band), ``transform`` (GDAL
    geotransform-order 6-tuple ``(a, b, c, d, e, f)`` with ``x = a*col + b*row + c`` and
    ``y = d*col + e*row + f``, i.e. rasterio's ``Affine`` coefficients), ``crs`` (WKT or
    ``None``), ``epsg`` (``int`` or ``None``), ``nodata``, ``block_shapes`` (``(rows, cols)``
    per band), ``overviews`` (decimation factors of band 1), plus ``compression``,
    ``interleaving``, ``photometric``, ``mask_flags`` (of band 1, as names), ``scales``,
    ``offsets``, ``tags`` (dataset metadata) and ``is_tiled``.
    """
    with rasterio.open(path) as src:
        t = src.transform
        return {
            "width": src.width,
            "height": src.height,
            "count": src.count,
            "dtypes": tuple(src.dtypes),
            "transform": (t.a, t.b, t.c, t.d, t.e, t.f),
            "crs": src.crs.to_wkt() if src.crs else None,
            "epsg": src.crs.to_epsg() if src.crs else None,
            "nodata": src.nodata,
            "block_shapes": [tuple(s) for s in src.block_shapes],
            "overviews": list(src.overviews(1)),
            "compression": src.compression.name if src.compression else None,
            "interleaving": src.interleaving.name if src.interleaving else None,
            "photometric": src.photometric.name if src.photometric else None,
            "mask_flags": [f.name for f in src.mask_flag_enums[0]],
            "scales": tuple(src.scales),
            "offsets": tuple(src.offsets),
            "tags": dict(src.tags()),
            "is_tiled": bool(src.profile.get("tiled", False)),
        }


def read_window(
    path: str | Path,
    window: WindowTuple,
    indexes: Sequence[int] | int | None = None,
    overview_level: int | None = None,
) -> np.ndarray:
    """Pixels of ``window = (col_off, row_off, width, height)`` as rasterio reads them.

    ``indexes`` are 1-based band numbers (all bands when ``None``; an ``int`` gives a 2-D
    array, otherwise ``(bands, height, width)``). ``overview_level`` (0 = first overview)
    reads from that overview, with the window in the overview's pixel grid.
    """
    kwargs: dict[str, Any] = {}
    if overview_level is not None:
        kwargs["overview_level"] = overview_level
    col, row, width, height = window
    with rasterio.open(path, **kwargs) as src:
        return src.read(indexes, window=Window(col, row, width, height))


def standard_windows(width: int, height: int, tile: int) -> dict[str, WindowTuple]:
    """Windows every reader must get right, all inside a ``width`` x ``height`` image.

    ``tile`` is the block width (anything < 1 is treated as 256). Names: ``aligned_tile``
    (exactly the second tile when there is one), ``crossing_tiles`` (straddles tile
    boundaries), ``right_bottom_edge`` (ends at the image's right and bottom edges, partial
    edge tiles included), ``whole_image``, ``single_pixel``, ``one_row`` and ``one_column``.
    """
    if tile < 1:
        tile = 256

    def clip(col: int, row: int, w: int, h: int) -> WindowTuple:
        col = min(max(col, 0), width - 1)
        row = min(max(row, 0), height - 1)
        return col, row, max(1, min(w, width - col)), max(1, min(h, height - row))

    aligned_col = tile if width >= 2 * tile else 0
    edge_w = min(width, tile // 2 + 37)
    edge_h = min(height, tile // 2 + 29)
    return {
        "aligned_tile": clip(aligned_col, 0, tile, tile),
        "crossing_tiles": clip(tile // 2 + 3, tile // 2 - 5, tile + 11, tile // 2 + 13),
        "right_bottom_edge": (width - edge_w, height - edge_h, edge_w, edge_h),
        "whole_image": (0, 0, width, height),
        "single_pixel": clip(width // 3, height // 2, 1, 1),
        "one_row": clip(0, height // 2 + 1, width, 1),
        "one_column": clip(width - 1, 0, 1, height),
    }
