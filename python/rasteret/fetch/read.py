""":func:`read_cog`: one band of one COG for an AOI, a window or the whole image, read in one
call into the Rust core and masked with ``rasterio.mask`` semantics."""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from affine import Affine

from rasteret.errors import UnsupportedCogError
from rasteret.fetch.layout import native_dtype
from rasteret.fetch.query import QueryRegion, query_region
from rasteret.fetch.reader import COGReader
from rasteret.fetch.tiles import compute_tile_indices
from rasteret.read.engine import WindowRead, read_into
from rasteret.read.grid import geometry_window, normalize_transform, pixel_window
from rasteret.types import CogMetadata

__all__ = ["CogReadResult", "read_cog"]

logger = logging.getLogger(__name__)

ReadMode = Literal["aoi", "window", "full"]


@dataclass(frozen=True)
class CogReadResult:
    """What :func:`read_cog` read.

    ``valid_mask`` is True where a pixel is real raster data (inside the image, in a stored
    tile) and, for AOI reads, inside the geometry. With ``filled=True`` the other pixels hold
    ``fill_value_used``; with ``filled=False`` ``fill_value_used`` is None.
    """

    data: np.ndarray
    transform: Affine
    valid_mask: np.ndarray
    fill_value_used: float | int | None
    mode: ReadMode


@dataclass(frozen=True)
class _Window:
    col_off: int
    row_off: int
    width: int
    height: int


def _empty(dtype: np.dtype, mode: ReadMode) -> CogReadResult:
    return CogReadResult(
        data=np.array([], dtype=dtype),
        transform=Affine.identity(),
        valid_mask=np.zeros((0, 0), dtype=bool),
        fill_value_used=None,
        mode=mode,
    )


def _check_tile_tables(metadata: CogMetadata, band_index: int | None, url: str) -> None:
    spp = int(metadata.samples_per_pixel or 1)
    if int(metadata.planar_configuration or 1) == 1 and spp > 1 and band_index is None:
        raise UnsupportedCogError(
            f"Chunky multi-sample TIFFs (PlanarConfiguration=1, SamplesPerPixel={spp}) require "
            f"an explicit band_index to select the requested sample: {url}"
        )
    offsets, counts = metadata.tile_offsets, metadata.tile_byte_counts
    if not offsets or not counts:
        raise ValueError(
            "Rasteret's tile reader requires a tiled GeoTIFF (TileOffsets/TileByteCounts); "
            f"{url} has no tile tables. Use rasterio for this file, or convert it to a COG."
        )
    if len(offsets) != len(counts):
        raise ValueError(
            "Invalid tile metadata: TileOffsets/TileByteCounts length mismatch "
            f"({len(offsets)} vs {len(counts)}) for {url}."
        )


def _fill(value: Any, dtype: np.dtype, from_user: bool, url: str) -> tuple[Any, Any]:
    """``(value as a dtype scalar, value reported)``; a nodata ``dtype`` cannot hold gives 0."""
    if dtype.kind == "f":
        return dtype.type(value), value
    number = float(value)
    info = np.iinfo(dtype)
    if math.isfinite(number) and number.is_integer() and info.min <= number <= info.max:
        return dtype.type(int(number)), value
    if from_user:
        raise ValueError(f"fill_value {value!r} cannot be represented as {dtype} ({url})")
    return dtype.type(0), 0


def _present(
    metadata: CogMetadata, band_index: int, cols: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """Whether pixel (rows[i], cols[j]) lies in a stored tile (byte count > 0)."""
    tw, th = int(metadata.tile_width), int(metadata.tile_height)
    across = -(-int(metadata.width) // tw)
    per_plane = across * -(-int(metadata.height) // th)
    counts = np.asarray(metadata.tile_byte_counts, dtype=np.int64)
    plane = band_index if metadata.planar_configuration == 2 and len(counts) > per_plane else 0
    index = plane * per_plane + (rows // th)[:, None] * across + (cols // tw)[None, :]
    return counts[index] > 0


async def _read_window(
    reader: COGReader,
    url: str,
    metadata: CogMetadata,
    band_index: int,
    target: _Window,
    canvas: _Window,
    fill: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """``(data, covered)`` of ``target``: pixels inside the image, the tile ``canvas`` and a
    stored tile are read (one Rust call), the rest hold ``fill``."""
    dtype = native_dtype(metadata)
    data = np.full((target.height, target.width), fill, dtype=dtype)
    covered = np.zeros(data.shape, dtype=bool)
    x0 = max(target.col_off, canvas.col_off, 0)
    y0 = max(target.row_off, canvas.row_off, 0)
    x1 = min(target.col_off + target.width, canvas.col_off + canvas.width, int(metadata.width))
    y1 = min(target.row_off + target.height, canvas.row_off + canvas.height, int(metadata.height))
    if x1 <= x0 or y1 <= y0:
        return data, covered
    part = np.full((1, y1 - y0, x1 - x0), fill, dtype=dtype)
    layout = await reader.layout(url, metadata)
    read = WindowRead(url, layout, x0, y0, x1 - x0, y1 - y0, band_index=band_index)
    await asyncio.to_thread(read_into, [read], part, options=reader.core_options())
    present = _present(metadata, band_index, np.arange(x0, x1), np.arange(y0, y1))
    part[0][~present] = fill
    rows = slice(y0 - target.row_off, y1 - target.row_off)
    cols = slice(x0 - target.col_off, x1 - target.col_off)
    data[rows, cols] = part[0]
    covered[rows, cols] = present
    return data, covered


def _target(
    mode: ReadMode,
    region: QueryRegion | None,
    grid: tuple[float, float, float, float],
    canvas: _Window,
    metadata: CogMetadata,
    crop: bool,
    out_shape: tuple[int, int] | None,
) -> _Window | None:
    """The output window in image pixels (None: the AOI window is empty)."""
    width, height = int(metadata.width), int(metadata.height)
    if mode == "full" or region is None:
        return _Window(
            canvas.col_off,
            canvas.row_off,
            min(canvas.width, width - canvas.col_off),
            min(canvas.height, height - canvas.row_off),
        )
    if mode == "window":
        col, row, w, h = pixel_window(region.bbox, grid)
        if out_shape is not None:
            h, w = (int(v) for v in out_shape)
        return _Window(col, row, max(w, 0), max(h, 0))
    if not crop:
        return canvas
    window = geometry_window(region.bbox, grid, width, height)
    if window is None:
        return None
    col, row, w, h = window
    x0, y0 = max(col, canvas.col_off), max(row, canvas.row_off)
    x1 = min(col + w, canvas.col_off + canvas.width)
    y1 = min(row + h, canvas.row_off + canvas.height)
    if x1 <= x0 or y1 <= y0:
        return None
    return _Window(x0, y0, x1 - x0, y1 - y0)


async def read_cog(
    url: str,
    metadata: CogMetadata,
    *,
    band_index: int | None = None,
    geom_array: Any = None,
    geom_idx: int = 0,
    geometry_crs: int | str | None = 4326,
    max_concurrent: int = 150,
    debug: bool = False,
    reader: COGReader | None = None,
    all_touched: bool = False,
    filled: bool = True,
    fill_value: float | int | None = None,
    crop: bool = True,
    mode: ReadMode = "aoi",
    bounds: tuple[float, float, float, float] | None = None,
    out_shape: tuple[int, int] | None = None,
    mask_geometry: Literal["polygon", "bbox"] = "polygon",
) -> CogReadResult:
    """Read one band of one COG, rasterio-aligned (native dtype, fill = nodata or 0).

    Parameters
    ----------
    url, metadata
        The file and its :class:`~rasteret.types.CogMetadata` (from
        :class:`~rasteret.fetch.header_parser.AsyncCOGHeaderParser` or a collection's
        ``{band}_metadata``).
    band_index
        Sample to read: required for chunky multi-sample files; for band-separate files it
        picks the plane when the tile tables hold every plane.
    geom_array, geom_idx, geometry_crs
        The AOI: geometry ``geom_idx`` of an Arrow geometry array (WKB or GeoArrow) in
        ``geometry_crs`` (moved to the raster CRS vertex by vertex; None: already there).
    bounds
        ``(xmin, ymin, xmax, ymax)`` in the raster CRS, used instead of ``geom_array``.
    mode
        ``"aoi"``: the geometry's window (``crop=True``: rasterio ``geometry_window``,
        clipped to the raster; ``crop=False``: the whole tile-aligned canvas of the tiles it
        touches), pixels outside the geometry (``mask_geometry="bbox"``: its envelope)
        masked with ``geometry_mask(all_touched=...)``; without a geometry, the whole image.
        ``"window"``: the pixel window of the query box, not clipped to the raster
        (``out_shape=(height, width)`` overrides its size), pixels off the raster filled.
        ``"full"``: the whole image.
    filled, fill_value
        Masked and uncovered pixels hold ``fill_value``, else the nodata, else 0.
        ``filled=False`` leaves pixels outside the geometry as read.
    max_concurrent, reader
        Requests in flight, or a :class:`~rasteret.fetch.cog.COGReader` whose backend and
        concurrency are used (and reused across calls).
    debug
        Log the planned windows.

    Returns
    -------
    CogReadResult
        ``data`` (2-D, native dtype), ``transform`` (of ``data``'s top-left pixel),
        ``valid_mask``, ``fill_value_used``, ``mode``. No transform in ``metadata`` or no
        tile touched: an empty array and the identity transform.

    Unlike a pure-Python decoder, JPEG tiles decode and big-endian files are byte-swapped
    correctly; tiles of 0 bytes (sparse) read as fill with ``valid_mask`` False. Internal
    (GDAL) transparency masks are not applied.
    """
    if mode not in ("aoi", "window", "full"):
        raise ValueError(f"Unknown read mode: {mode}")
    dtype = native_dtype(metadata)
    if metadata.transform is None:
        return _empty(dtype, mode)
    _check_tile_tables(metadata, band_index, url)
    grid = normalize_transform(metadata.transform)
    region = query_region(
        url,
        metadata.crs,
        bounds=bounds,
        geom_array=geom_array,
        geom_idx=geom_idx,
        geometry_crs=geometry_crs,
        mask_geometry=mask_geometry,
    )
    if mode == "window" and region is None:
        raise ValueError("window mode requires bounds or geom_array")
    width, height = int(metadata.width), int(metadata.height)
    tw, th = int(metadata.tile_width), int(metadata.tile_height)
    if mode == "full" or region is None:
        tiles = [(r, c) for r in range(-(-height // th)) for c in range(-(-width // tw))]
    else:
        tiles = compute_tile_indices(region.bbox, grid, (tw, th), (width, height), debug)
    if not tiles:
        return _empty(dtype, mode)
    expected = -(-width // tw) * -(-height // th)
    if len(metadata.tile_offsets or []) < expected:
        raise ValueError(
            "Unsupported tiled GeoTIFF layout: tile offset table is shorter than expected "
            f"({len(metadata.tile_offsets or [])} < {expected}) for {url}."
        )
    rows, cols = [t[0] for t in tiles], [t[1] for t in tiles]
    canvas = _Window(
        min(cols) * tw,
        min(rows) * th,
        (max(cols) - min(cols) + 1) * tw,
        (max(rows) - min(rows) + 1) * th,
    )
    user_fill = fill_value is not None
    chosen = fill_value if user_fill else metadata.nodata if metadata.nodata is not None else 0
    fill, fill_used = _fill(chosen, dtype, user_fill, url)
    target = _target(mode, region, grid, canvas, metadata, crop, out_shape)
    if target is None:
        return CogReadResult(
            data=np.zeros((0, 0), dtype=dtype),
            transform=Affine.identity(),
            valid_mask=np.zeros((0, 0), dtype=bool),
            fill_value_used=fill_used if filled else None,
            mode=mode,
        )
    if debug:
        logger.info("%s: %s read of %s (tiles canvas %s)", url, mode, target, canvas)
    if reader is None:
        reader = COGReader(max_concurrent=max_concurrent)
    data, valid = await _read_window(
        reader, url, metadata, int(band_index or 0), target, canvas, fill
    )
    a, c, e, f = grid
    transform = Affine(a, 0.0, c + target.col_off * a, 0.0, e, f + target.row_off * e)
    if mode == "aoi" and region is not None:
        from rasteret.read.mask import geometry_mask

        valid &= geometry_mask(region.geometry, transform, data.shape, all_touched=all_touched)
        if filled:
            data[~valid] = fill
    return CogReadResult(
        data=data,
        transform=transform,
        valid_mask=valid,
        fill_value_used=fill_used if filled else None,
        mode=mode,
    )
