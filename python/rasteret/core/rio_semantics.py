"""Place a source array on a query grid exactly like ``rasterio.merge.merge`` (API.md §9.2).

:func:`merge_semantic_resample_single_source` equals ``rasterio.merge.merge([src],
bounds=grid.bounds, res=grid.res, indexes=[1], resampling=...)`` on an in-memory GTiff of the
crop. Aligned grids (same resolution, whole-pixel offsets, nearest) take a direct-copy fast
path that produces the same array without GDAL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["MergeGrid", "merge_semantic_resample_single_source"]

_TOL = 1e-9


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
    lo_c = max(0, math.ceil(-col0 - _TOL))
    lo_r = max(0, math.ceil(-row0 - _TOL))
    hi_c = min(w, math.floor(full_w - col0 + _TOL))
    hi_r = min(h, math.floor(full_h - row0 + _TOL))
    if hi_c <= lo_c or hi_r <= lo_r:
        return None
    t = Affine(crop_t.a, 0.0, crop_t.c + lo_c * crop_t.a, 0.0, crop_t.e, crop_t.f + lo_r * crop_t.e)
    return data[lo_r:hi_r, lo_c:hi_c], t


def _whole(v: float) -> int | None:
    r = round(v)
    return int(r) if abs(v - r) <= _TOL else None


def _fast_copy(data: np.ndarray, t: Any, grid: MergeGrid, fill: Any) -> np.ndarray | None:
    """Direct copy when the crop sits on the grid at whole-pixel offsets (else None)."""
    gt = grid.transform
    if abs(t.a - gt.a) > _TOL or abs(t.e - gt.e) > _TOL:
        return None
    dc, dr = _whole((t.c - gt.c) / gt.a), _whole((t.f - gt.f) / gt.e)
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
            _whole((crop_t.c - full_t.c) / full_t.a),
            _whole((crop_t.f - full_t.f) / full_t.e),
        )
        if None not in full_offsets and abs(full_t.a - crop_t.a) <= _TOL:
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
