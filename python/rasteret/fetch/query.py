"""The query region of a :func:`~rasteret.fetch.cog.read_cog` call, in the raster CRS: from
``bounds`` or one geometry of an Arrow geometry array (reprojected vertex by vertex)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["QueryRegion", "geometry_at", "query_region"]


@dataclass(frozen=True)
class QueryRegion:
    """``bbox`` (minx, miny, maxx, maxy) and the Shapely ``geometry`` that masks pixels,
    both in the raster CRS."""

    bbox: tuple[float, float, float, float]
    geometry: Any


def geometry_at(geometries: Any, index: int) -> Any:
    """Geometry ``index`` of ``geometries`` as a Shapely geometry.

    ``geometries`` is an Arrow array (WKB ``binary``/``large_binary``, ``geoarrow.wkb`` or a
    native GeoArrow type, chunked or not) or a sequence of Shapely geometries, WKB bytes or
    GeoJSON mappings.
    """
    import shapely
    import shapely.geometry

    if isinstance(geometries, pa.ChunkedArray):
        geometries = geometries.combine_chunks()
    if isinstance(geometries, pa.Array):
        one = geometries.slice(index, 1)
        storage = one.storage if isinstance(one, pa.ExtensionArray) else one
        if pa.types.is_binary(storage.type) or pa.types.is_large_binary(storage.type):
            return shapely.from_wkb(storage[0].as_py())
        import geoarrow.pyarrow as ga

        return shapely.from_wkb(ga.as_wkb(one).storage[0].as_py())
    value = geometries[index]
    if isinstance(value, bytes | bytearray | memoryview):
        return shapely.from_wkb(bytes(value))
    if isinstance(value, dict):
        return shapely.geometry.shape(value)
    if isinstance(value, shapely.Geometry):
        return value
    raise TypeError(f"Unsupported geometry type: {type(value).__name__}")


def _crs(value: Any) -> Any:
    from pyproj import CRS

    return CRS.from_epsg(value) if isinstance(value, int) else CRS.from_user_input(value)


def _reproject(geometry: Any, src: Any, dst: Any) -> Any:
    """Every vertex of ``geometry`` moved from ``src`` to ``dst`` (no densification)."""
    import shapely
    from pyproj import Transformer

    move = Transformer.from_crs(_crs(src), _crs(dst), always_xy=True)

    def transform(xy: np.ndarray) -> np.ndarray:
        x, y = move.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, transform)


def query_region(
    url: str,
    raster_crs: Any,
    *,
    bounds: tuple[float, float, float, float] | None,
    geom_array: Any,
    geom_idx: int,
    geometry_crs: Any,
    mask_geometry: str,
) -> QueryRegion | None:
    """The region to read: ``bounds`` (raster CRS) when given, else geometry ``geom_idx`` of
    ``geom_array`` moved from ``geometry_crs`` to ``raster_crs`` (when both are known and
    differ); None without either. ``mask_geometry="bbox"`` masks with the envelope.

    Raises
    ------
    ValueError
        The raster CRS is unknown while a ``geometry_crs=4326`` geometry looks like lon/lat,
        or ``mask_geometry`` is neither ``"polygon"`` nor ``"bbox"``.
    """
    import shapely

    if mask_geometry not in ("polygon", "bbox"):
        raise ValueError(f"mask_geometry must be 'polygon' or 'bbox', got {mask_geometry!r}")
    if bounds is not None:
        bbox = tuple(float(v) for v in bounds)
        return QueryRegion(bbox, shapely.box(*bbox))  # type: ignore[arg-type]
    if geom_array is None:
        return None
    geometry = geometry_at(geom_array, geom_idx)
    minx, miny, maxx, maxy = geometry.bounds
    lonlat = -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    if geometry_crs == 4326 and raster_crs is None and lonlat:
        raise ValueError(
            f"Record CRS is missing (proj:epsg) so Rasteret cannot transform the WGS84 query "
            f"geometry into the raster CRS of {url}. Add a per-record proj:epsg, or build "
            "with enrich_cog=True so the CRS comes from the GeoTIFF header."
        )
    if geometry_crs is not None and raster_crs is not None and geometry_crs != raster_crs:
        geometry = _reproject(geometry, geometry_crs, raster_crs)
    bbox = tuple(float(v) for v in geometry.bounds)
    if mask_geometry == "bbox":
        geometry = shapely.box(*bbox)
    return QueryRegion(bbox, geometry)  # type: ignore[arg-type]
