"""Small helpers shared by the entry points."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "compute_dst_grid",
    "compute_dst_grid_from_src",
    "infer_data_source",
    "infer_data_source_from_dataset",
    "normalize_transform",
    "reproject_array",
    "run_sync",
    "transform_bbox",
    "transform_polygon",
]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also inside a running loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def infer_data_source(collection: Any) -> str:
    """A collection's data source: its attribute, schema metadata, or ``collection`` column."""
    source = getattr(collection, "data_source", "") or ""
    if source:
        return source
    hf = getattr(collection, "_hf", None)
    if hf is not None:  # a streaming collection: schema metadata, else head(1)'s collection
        raw = (hf.schema.metadata or {}).get(b"data_source", b"").decode("utf-8", "replace")
        if raw.strip() and raw.strip() != "unknown":
            return raw.strip()
        if "collection" not in hf.schema.names:
            return ""
        values = collection.head(1, columns=["collection"]).column("collection").to_pylist()
        return str(values[0]) if values and values[0] else ""
    dataset = getattr(collection, "dataset", None)
    return "" if dataset is None else infer_data_source_from_dataset(dataset)


def infer_data_source_from_dataset(dataset: Any) -> str:
    """Schema metadata ``data_source`` (unless empty/"unknown"), else the first ``collection``."""
    raw = (dataset.schema.metadata or {}).get(b"data_source", b"").decode("utf-8", "replace")
    if raw.strip() and raw.strip() != "unknown":
        return raw.strip()
    if "collection" in dataset.schema.names:
        for batch in dataset.to_batches(columns=["collection"]):
            for value in batch.column(0).to_pylist():
                if value:
                    return str(value)
    return ""


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


def _rasterio_crs(value: Any) -> Any:
    from rasterio.crs import CRS

    return CRS.from_epsg(value) if isinstance(value, int) else CRS.from_user_input(value)


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

    dtype = src_array.dtype if src_array.dtype.kind == "f" else np.dtype("float32")
    out = np.full(tuple(dst_shape), np.nan, dtype=dtype)
    reproject(
        source=src_array.astype(dtype, copy=False),
        destination=out,
        src_transform=src_transform,
        src_crs=_rasterio_crs(src_crs),
        dst_transform=dst_transform,
        dst_crs=_rasterio_crs(dst_crs),
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
        _rasterio_crs(src_crs),
        _rasterio_crs(dst_crs),
        width,
        height,
        left=left,
        bottom=bottom,
        right=right,
        top=top,
    )
    return transform, (int(dst_height), int(dst_width))


def transform_polygon(geom: Any, src_crs: Any, dst_crs: Any) -> Any:
    """A Shapely (Multi)Polygon with every vertex transformed from ``src_crs`` to ``dst_crs``
    by pyproj (``always_xy``, no densification)."""
    from rasteret.core.geometry import transform_geometry

    return transform_geometry(geom, src_crs, dst_crs)


def transform_bbox(
    bbox: tuple[float, float, float, float], src_crs: Any, dst_crs: Any
) -> tuple[float, float, float, float]:
    """``bbox`` from ``src_crs`` to ``dst_crs`` with pyproj ``transform_bounds`` (always_xy)."""
    from pyproj import CRS, Transformer

    def crs(v: Any) -> CRS:
        return CRS.from_epsg(v) if isinstance(v, int) else CRS.from_user_input(v)

    if src_crs == dst_crs:
        return tuple(float(v) for v in bbox)  # type: ignore[return-value]
    tf = Transformer.from_crs(crs(src_crs), crs(dst_crs), always_xy=True)
    out = tf.transform_bounds(*bbox, densify_pts=21)
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])
