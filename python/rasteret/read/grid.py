"""Output grids, pixel windows, fill values and placement: the rules every read shares.

- AOI reads (``get_numpy``/``get_xarray``/``get_gdf``) read the window of rasterio's
  ``geometry_window`` (floor offsets, ceil stops, no tolerance): :func:`geometry_window`.
- ``read_window`` and TorchGeo chips place records on a :class:`MergeGrid` exactly like
  ``rasterio.merge.merge(bounds=, res=)``: :func:`merge_semantic_resample_single_source`, with a
  direct-copy path (no GDAL) where grids align to whole pixels within :data:`TOLERANCE`.
- Outside the data, every read fills with nodata when the dtype can hold it, else 0:
  :func:`representable_fill` / :func:`fill_value`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

__all__ = [
    "TOLERANCE",
    "MergeGrid",
    "array_bounds",
    "compute_dst_grid",
    "compute_dst_grid_from_src",
    "fill_value",
    "geometry_window",
    "merge_semantic_resample_single_source",
    "normalize_transform",
    "pixel_window",
    "rasterio_crs",
    "same_crs",
    "reproject_array",
    "representable_fill",
    "whole",
    "window_transform",
]

#: two grid coordinates closer than this (in pixels) are the same
TOLERANCE = 1e-9


def whole(v: float) -> int | None:
    """``v`` as an integer when it is one within :data:`TOLERANCE`, else None."""
    r = round(v)
    return int(r) if abs(v - r) <= TOLERANCE else None


def rasterio_crs(v: Any) -> Any:
    """A ``rasterio.crs.CRS`` of an EPSG code or any CRS text rasterio accepts."""
    from rasterio.crs import CRS

    return CRS.from_epsg(v) if isinstance(v, int) else CRS.from_user_input(v)


def same_crs(a: Any, b: Any) -> bool:
    """Whether two CRSs (EPSG codes or CRS text; None = unknown) are the same; an unknown CRS
    matches any. Equal codes or texts are compared without importing rasterio."""
    if a is None or b is None or a == b:
        return True
    return bool(rasterio_crs(a) == rasterio_crs(b))


def normalize_transform(transform: Sequence[float] | None) -> tuple[float, float, float, float]:
    """``(a, c, e, f)`` (pixel size x, origin x, pixel size y, origin y) of a stored transform.

    Accepts the 4-value ``[sx, tx, sy, ty]`` form and the 6-value affine ``[a, b, c, d, e, f]``
    form (``b`` and ``d`` must be 0).

    Raises
    ------
    ValueError
        None, a length other than 4 or 6, or a rotated/sheared transform.
    TypeError
        Not a sequence of numbers.
    """
    if transform is None:
        raise ValueError("Transform is missing")
    try:
        values = [float(v) for v in transform]
    except TypeError as exc:
        raise TypeError(
            f"Transform must be a sequence of numbers, got {type(transform).__name__}"
        ) from exc
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


def array_bounds(height: int, width: int, transform: Any) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a ``height`` x ``width`` array on ``transform``
    (an ``affine.Affine``), as ``rasterio.transform.array_bounds`` computes them: for a grid
    without rotation ``(c, f + e * height, c + a * width, f)`` (not reordered for south-up
    grids), else the extent of the four corners."""
    a, b, c, d, e, f = tuple(transform)[:6]
    if b == 0 and d == 0:
        return c, f + e * height, c + a * width, f
    corners = [(0, 0), (0, height), (width, height), (width, 0)]
    xs = [col * a + row * b + c for col, row in corners]
    ys = [col * d + row * e + f for col, row in corners]
    return min(xs), min(ys), max(xs), max(ys)


def window_transform(
    transform: tuple[float, float, float, float], col_off: int, row_off: int
) -> tuple[float, float, float, float]:
    """``(a, c, e, f)`` of a window's top-left pixel."""
    a, c, e, f = transform
    return a, c + col_off * a, e, f + row_off * e


@dataclass(frozen=True)
class MergeGrid:
    """The output grid of a merge: ``bounds = (left, bottom, right, top)``, ``res = (x, y)``.

    Examples
    --------
    >>> g = MergeGrid(bounds=(0.0, 0.0, 20.0, 10.0), res=(10.0, 10.0))
    >>> g.shape
    (1, 2)
    """

    bounds: tuple[float, float, float, float]
    res: tuple[float, float]

    @classmethod
    def parse(cls, bounds: Any, res: Any) -> MergeGrid:
        """A grid of user ``bounds`` and ``res`` (``xres`` or ``(xres, yres)``).

        Raises
        ------
        ValueError
            Malformed or inverted bounds, non-positive res, or an empty grid.
        """
        try:
            left, bottom, right, top = (float(v) for v in bounds)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bounds must be (left, bottom, right, top), got {bounds!r}") from exc
        if not (left < right and bottom < top):
            raise ValueError(f"bounds must satisfy left < right and bottom < top, got {bounds!r}")
        if isinstance(res, int | float):
            xres = yres = float(res)
        else:
            try:
                xres, yres = (float(v) for v in res)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"res must be a number or (xres, yres), got {res!r}") from exc
        if not (xres > 0 and yres > 0 and math.isfinite(xres) and math.isfinite(yres)):
            raise ValueError(f"res must be positive, got {res!r}")
        grid = cls((left, bottom, right, top), (xres, yres))
        if min(grid.shape) <= 0:
            raise ValueError(f"bounds {bounds!r} at res {res!r} give an empty grid {grid.shape}")
        return grid

    @property
    def transform(self) -> Any:
        """``Affine(xres, 0, left, 0, -yres, top)``."""
        from affine import Affine

        left, _, _, top = self.bounds
        return Affine(self.res[0], 0.0, left, 0.0, -self.res[1], top)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` = ``(round((top - bottom) / yres), round((right - left) / xres))``."""
        left, bottom, right, top = self.bounds
        return round((top - bottom) / self.res[1]), round((right - left) / self.res[0])


def fill_value(layout: pa.StructScalar | dict[str, Any], dtype: np.dtype) -> Any:
    """The fill of a read of ``layout`` in ``dtype``: its nodata when representable, else 0."""
    if isinstance(layout, dict):
        nodata = layout.get("nodata")
    else:
        names = {layout.type.field(i).name for i in range(layout.type.num_fields)}
        nodata = layout["nodata"] if "nodata" in names else None
    if isinstance(nodata, pa.Scalar):
        nodata = nodata.as_py()
    return representable_fill(None if nodata is None else float(nodata), dtype)[0]


def representable_fill(nodata: float | None, dtype: np.dtype) -> tuple[Any, bool]:
    """``(fill, representable)``: nodata cast to ``dtype`` when it fits, else ``(0, False)``."""
    if nodata is None:
        return dtype.type(0), True
    if dtype.kind == "f":
        return dtype.type(nodata), True
    if math.isnan(nodata) or not float(nodata).is_integer():
        return dtype.type(0), False
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    if info is not None and not info.min <= nodata <= info.max:
        return dtype.type(0), False
    return dtype.type(int(nodata)), True


def _north_up(data: np.ndarray, transform: Any) -> tuple[np.ndarray, Any]:
    """Flip a south-up (``e > 0``) array and transform to north-up (no resampling)."""
    from affine import Affine

    if transform.e <= 0:
        return data, transform
    h = data.shape[-2]
    flipped = np.ascontiguousarray(data[..., ::-1, :])
    t = Affine(transform.a, 0.0, transform.c, 0.0, -transform.e, transform.f + h * transform.e)
    return flipped, t


def _clip_to_extent(
    data: np.ndarray, crop_t: Any, full_t: Any, full_w: int, full_h: int
) -> tuple[np.ndarray, Any] | None:
    """Cut a boundless crop down to the pixels inside the raster's physical extent."""
    from affine import Affine

    col0 = (crop_t.c - full_t.c) / full_t.a
    row0 = (crop_t.f - full_t.f) / full_t.e
    h, w = data.shape
    lo_c = max(0, math.ceil(-col0 - TOLERANCE))
    lo_r = max(0, math.ceil(-row0 - TOLERANCE))
    hi_c = min(w, math.floor(full_w - col0 + TOLERANCE))
    hi_r = min(h, math.floor(full_h - row0 + TOLERANCE))
    if hi_c <= lo_c or hi_r <= lo_r:
        return None
    t = Affine(crop_t.a, 0.0, crop_t.c + lo_c * crop_t.a, 0.0, crop_t.e, crop_t.f + lo_r * crop_t.e)
    return data[lo_r:hi_r, lo_c:hi_c], t


def _fast_copy(data: np.ndarray, t: Any, grid: MergeGrid, fill: Any) -> np.ndarray | None:
    """Direct copy when the crop sits on the grid at whole-pixel offsets (else None)."""
    gt = grid.transform
    if abs(t.a - gt.a) > TOLERANCE or abs(t.e - gt.e) > TOLERANCE:
        return None
    dc, dr = whole((t.c - gt.c) / gt.a), whole((t.f - gt.f) / gt.e)
    if dc is None or dr is None:
        return None
    rows, cols = grid.shape
    out = np.full((rows, cols), fill, dtype=data.dtype)
    h, w = data.shape
    r0, c0 = max(dr, 0), max(dc, 0)
    r1, c1 = min(dr + h, rows), min(dc + w, cols)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = data[r0 - dr : r1 - dr, c0 - dc : c1 - dc]
    return out


def merge_semantic_resample_single_source(
    src_crop: np.ndarray,
    *,
    src_crop_transform: Any,
    src_full_transform: Any,
    src_full_width: int,
    src_full_height: int,
    src_crs: Any,
    grid: MergeGrid,
    resampling: Literal["nearest", "bilinear"],
    src_nodata: float | None,
) -> np.ndarray:
    """``src_crop`` placed on ``grid`` as ``rasterio.merge.merge`` would place its source.

    Parameters
    ----------
    src_crop
        2-D window of the source (may extend past the raster: boundless).
    src_crop_transform, src_full_transform
        ``affine.Affine`` of the crop and of the whole raster.
    src_full_width, src_full_height
        Size of the whole raster in pixels.
    src_crs
        CRS of the source (anything ``rasterio.crs.CRS.from_user_input`` accepts).
    grid
        The output grid.
    resampling
        ``"nearest"`` or ``"bilinear"``.
    src_nodata
        The source's nodata (NaN is ignored for integer dtypes).

    Returns
    -------
    numpy.ndarray
        ``grid.shape`` array of the source dtype; uncovered pixels hold nodata (or 0).
    """
    from affine import Affine

    if src_crop.ndim != 2:
        raise ValueError(f"src_crop must be 2-D, got shape {src_crop.shape}")
    dtype = src_crop.dtype
    nodata = src_nodata
    if nodata is not None and dtype.kind != "f" and math.isnan(float(nodata)):
        nodata = None
    crop_t = Affine(*tuple(src_crop_transform)[:6])
    full_t = Affine(*tuple(src_full_transform)[:6])
    data, crop_t = _north_up(src_crop, crop_t)
    if full_t.e > 0:
        full_t = Affine(
            full_t.a, 0.0, full_t.c, 0.0, -full_t.e, full_t.f + src_full_height * full_t.e
        )
    fill, representable = representable_fill(nodata, dtype)
    clipped = _clip_to_extent(data, crop_t, full_t, src_full_width, src_full_height)
    if clipped is None:
        return np.full(grid.shape, fill, dtype=dtype)
    data, crop_t = clipped
    if resampling == "nearest" and representable:
        full_offsets = (
            whole((crop_t.c - full_t.c) / full_t.a),
            whole((crop_t.f - full_t.f) / full_t.e),
        )
        if None not in full_offsets and abs(full_t.a - crop_t.a) <= TOLERANCE:
            out = _fast_copy(data, crop_t, grid, fill)
            if out is not None:
                return out
    return _rasterio_merge(data, crop_t, src_crs, grid, resampling, nodata)


def _rasterio_merge(
    data: np.ndarray, t: Any, crs: Any, grid: MergeGrid, resampling: str, nodata: float | None
) -> np.ndarray:
    import rasterio
    import rasterio.merge
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile

    h, w = data.shape
    crs_obj = CRS.from_epsg(crs) if isinstance(crs, int) else CRS.from_user_input(crs)
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": 1,
        "dtype": data.dtype.name,
        "crs": crs_obj,
        "transform": t,
        "nodata": nodata,
    }
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        with mem.open() as src:
            out, _ = rasterio.merge.merge(
                [src],
                bounds=grid.bounds,
                res=grid.res,
                indexes=[1],
                resampling=Resampling[resampling],
            )
    rows, cols = grid.shape
    return np.ascontiguousarray(out[0, :rows, :cols])


def warped_dtype(dtype: Any) -> Any:
    """The dtype :func:`reproject_array` returns for input of ``dtype`` (float stays, other
    types become float32, so NaN can mark pixels nothing maps to)."""
    import numpy as np

    dtype = np.dtype(dtype)
    return dtype if dtype.kind == "f" else np.dtype("float32")


def reproject_array(
    src_array: Any,
    src_transform: Any,
    src_crs: Any,
    dst_crs: Any,
    dst_transform: Any,
    dst_shape: tuple[int, int],
    resampling: str = "bilinear",
) -> Any:
    """A 2-D array warped onto the grid ``dst_transform`` / ``dst_shape`` in ``dst_crs``
    (``rasterio.warp.reproject``).

    Parameters
    ----------
    src_array
        2-D array; a masked array's masked pixels are treated as nodata.
    src_transform, dst_transform
        ``affine.Affine`` of the source and destination grids.
    src_crs, dst_crs
        EPSG ints or any rasterio CRS input.
    dst_shape
        ``(height, width)`` of the output.
    resampling
        A ``rasterio.enums.Resampling`` name.

    Returns
    -------
    numpy.ndarray
        Float output (float32 for non-float input), NaN where nothing maps.
    """
    import numpy as np
    from rasterio.warp import Resampling, reproject

    dtype = warped_dtype(src_array.dtype)
    out = np.full(tuple(dst_shape), np.nan, dtype=dtype)
    reproject(
        source=src_array.astype(dtype, copy=False),
        destination=out,
        src_transform=src_transform,
        src_crs=rasterio_crs(src_crs),
        dst_transform=dst_transform,
        dst_crs=rasterio_crs(dst_crs),
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
    )
    return out


def compute_dst_grid(
    bounds: tuple[float, float, float, float], res: float | tuple[float, float]
) -> tuple[Any, tuple[int, int]]:
    """``(transform, (height, width))`` of a north-up grid covering ``bounds``.

    ``res`` (``xres`` or ``(xres, yres)``) is in the units of the grid's CRS; the grid starts
    at the top-left corner and covers the bounds fully (``ceil(extent / res)`` pixels).
    """
    import math

    from affine import Affine

    rx, ry = (res, res) if isinstance(res, int | float) else (res[0], res[1])
    xmin, ymin, xmax, ymax = bounds
    width = int(math.ceil((xmax - xmin) / rx))
    height = int(math.ceil((ymax - ymin) / ry))
    return Affine(rx, 0.0, xmin, 0.0, -ry, ymax), (height, width)


def compute_dst_grid_from_src(
    src_crs: Any,
    dst_crs: Any,
    width: int,
    height: int,
    src_bounds: tuple[float, float, float, float],
) -> tuple[Any, tuple[int, int]]:
    """``(transform, (height, width))`` of the grid GDAL suggests for warping a
    ``width`` x ``height`` raster covering ``src_bounds`` (``left, bottom, right, top`` in
    ``src_crs``) into ``dst_crs`` (``rasterio.warp.calculate_default_transform``). Use it
    instead of :func:`compute_dst_grid` when the two CRSs have different units."""
    from rasterio.warp import calculate_default_transform

    left, bottom, right, top = src_bounds
    transform, dst_width, dst_height = calculate_default_transform(
        rasterio_crs(src_crs),
        rasterio_crs(dst_crs),
        width,
        height,
        left=left,
        bottom=bottom,
        right=right,
        top=top,
    )
    return transform, (int(dst_height), int(dst_width))
