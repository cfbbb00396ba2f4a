"""Geometry inputs as GeoArrow arrays: coercion, envelopes, CRS transforms, and the GeoJSON
handed to ``rasterio.features.geometry_mask``.

Every non-tabular geometry form the read APIs accept (a bbox tuple, Shapely geometries, OGC
WKB, GeoJSON dicts, Arrow arrays of WKB/WKT/GeoArrow) becomes one native GeoArrow array here;
points may also come from x/y columns of a table. Coordinates are transformed with pyproj
(``always_xy``, vertex by vertex, no densification).

This module imports only :mod:`rasteret.errors`, :mod:`rasteret.geo.arrow_input` and the
geometry libraries (numpy, pyarrow, geoarrow, shapely, pyproj).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import UnsupportedGeometryError
from rasteret.geo.xy_columns import float_values, resolve_xy_columns

__all__ = [
    "UnsupportedGeometryError",
    "bbox_array",
    "bbox_from_geojson_coords",
    "bbox_intersects",
    "bbox_single",
    "coerce_to_geoarrow",
    "ensure_point_geoarrow",
    "geojson_dicts_to_wkb",
    "intersect_bbox",
    "point_coords",
    "float_values",
    "point_xy_columns",
    "points_from_table",
    "require_points",
    "require_polygons",
    "resolve_geometry_column",
    "resolve_xy_columns",
    "to_rasterio_geojson",
    "to_shapely",
    "total_bounds",
    "transform_coords",
    "transform_bbox",
    "transform_geometry",
    "transform_polygon",
    "transform_point_coords",
    "transform_xy",
]

Bbox = tuple[float, float, float, float]

#: Column pairs tried, in order, when a point table names no coordinate columns.

_WKB_HINT = (
    "Binary geometry input must be OGC WKB. If the column comes from DuckDB GEOMETRY, use "
    "ST_AsWKB(geom) in the query (DuckDB's internal GEOMETRY blob is not WKB)."
)
# GeoArrow geometry type codes (geoarrow.pyarrow.GeometryType)
_POINT, _POLYGON, _MULTIPOLYGON = 1, 3, 6


# -- coercion ---------------------------------------------------------------------------------


def coerce_to_geoarrow(geom: Any) -> pa.Array:
    """``geom`` as a native GeoArrow array (one element per geometry).

    Parameters
    ----------
    geom
        A ``(minx, miny, maxx, maxy)`` tuple, a Shapely geometry, OGC WKB ``bytes``, a GeoJSON
        geometry dict, a list of Shapely/WKB/GeoJSON geometries, or a ``pa.Array`` /
        ``pa.ChunkedArray`` of WKB (binary, ``geoarrow.wkb``), WKT (string, ``geoarrow.wkt``)
        or native GeoArrow. Tables are not geometries: pick their column first.

    Returns
    -------
    pyarrow.Array
        A native GeoArrow extension array (``geoarrow.polygon``, ``geoarrow.point``...;
        ``geoarrow.wkb`` only when the geometry types cannot share one native type).

    Raises
    ------
    TypeError
        Unsupported object (``"Unsupported geometry type: <type>"``), or binary input that is
        not OGC WKB.
    ValueError
        An empty list (``"Empty geometry list"``).
    """
    if isinstance(geom, pa.ChunkedArray | pa.Array):
        return _native(geom)
    if isinstance(geom, list):
        if not geom:
            raise ValueError("Empty geometry list")
        return _from_shapely(np.array([_one_shapely(g) for g in geom], dtype=object))
    if isinstance(geom, tuple):
        if len(geom) == 4 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in geom
        ):
            import shapely

            return _from_shapely(np.array([shapely.box(*geom)], dtype=object))
        raise TypeError(f"Unsupported geometry type: {type(geom).__name__}")
    return _from_shapely(np.array([_one_shapely(geom)], dtype=object))


def _one_shapely(value: Any) -> Any:
    """One Shapely geometry from Shapely, WKB bytes or a GeoJSON geometry dict."""
    import shapely
    import shapely.geometry

    if isinstance(value, shapely.Geometry):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        try:
            return shapely.from_wkb(bytes(value))
        except Exception as exc:  # noqa: BLE001 - shapely raises GEOSException and others
            raise TypeError(_WKB_HINT) from exc
    if isinstance(value, dict) and "type" in value:
        try:
            return shapely.geometry.shape(value)
        except Exception as exc:  # noqa: BLE001 - malformed GeoJSON raises many kinds
            raise TypeError(f"Invalid GeoJSON geometry: {exc}") from exc
    raise TypeError(f"Unsupported geometry type: {type(value).__name__}")


def _from_shapely(geoms: np.ndarray) -> pa.Array:
    import shapely

    wkb = shapely.to_wkb(geoms)
    return _native(pa.array(list(wkb), pa.binary()))


def _extension_name(typ: pa.DataType) -> str:
    return str(getattr(typ, "extension_name", "") or "")


def _native(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A native GeoArrow array of an array of WKB, WKT or GeoArrow geometries."""
    import geoarrow.pyarrow as ga

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], arr.type)
    name = _extension_name(arr.type)
    if name.startswith("geoarrow.") and name not in ("geoarrow.wkb", "geoarrow.wkt"):
        return arr
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    if pa.types.is_binary_view(storage.type):  # Polars exports binary columns as binary_view
        arr = storage = storage.cast(pa.binary())
    elif pa.types.is_string_view(storage.type):
        arr = storage = storage.cast(pa.string())
    binary = pa.types.is_binary(storage.type) or pa.types.is_large_binary(storage.type)
    text = pa.types.is_string(storage.type) or pa.types.is_large_string(storage.type)
    if not (binary or text):
        raise TypeError(f"Unsupported geometry type: {arr.type}")
    if len(arr) == 0 or arr.null_count == len(arr):
        # nothing to infer a geometry type from: keep the serialized form
        return ga.as_wkb(arr)
    try:
        return ga.as_geoarrow(arr)
    except Exception as exc:  # noqa: BLE001 - geoarrow raises its C library's errors
        # valid geometries without one native type (e.g. only empties) stay WKB
        import shapely

        values = storage.to_numpy(zero_copy_only=False)
        try:
            shapely.from_wkb(values) if binary else shapely.from_wkt(values)
        except Exception:  # noqa: BLE001 - shapely raises GEOSException and others
            if binary:
                raise TypeError(_WKB_HINT) from exc
            raise TypeError(f"Invalid WKT geometry: {exc}") from exc
        return ga.as_wkb(arr)


def to_shapely(geom_col: Any) -> np.ndarray:
    """Shapely geometries (object array; None for nulls) of any geometry input of
    :func:`coerce_to_geoarrow`."""
    import geoarrow.pyarrow as ga
    import shapely

    wkb = ga.as_wkb(coerce_to_geoarrow(geom_col))
    return shapely.from_wkb(wkb.storage.to_numpy(zero_copy_only=False))


def _geometry_types(geom_col: pa.Array) -> set[int]:
    """GeoArrow geometry type codes present in a native array (nulls/empties not counted)."""
    import geoarrow.pyarrow as ga

    declared = getattr(geom_col.type, "geometry_type", ga.GeometryType.GEOMETRY)
    if declared != ga.GeometryType.GEOMETRY:
        return {int(declared.value)}
    found = ga.unique_geometry_types(geom_col).field("geometry_type").to_pylist()
    return {int(t) for t in found} - {0}


def require_polygons(geom_col: pa.Array) -> None:
    """Raise :class:`UnsupportedGeometryError` unless every geometry is a (Multi)Polygon."""
    kinds = _geometry_types(geom_col)
    if kinds & {_POINT, 4}:
        raise UnsupportedGeometryError(
            "Polygon reads need Polygon or MultiPolygon AOIs. Use sample_points() for Point "
            "geometries."
        )
    if kinds - {_POLYGON, _MULTIPOLYGON}:
        raise UnsupportedGeometryError(
            "Only Polygon and MultiPolygon AOIs are supported (got LineString or "
            "GeometryCollection geometries)."
        )


def require_points(geom_col: pa.Array) -> None:
    """Raise :class:`UnsupportedGeometryError` unless every geometry is a Point."""
    if _geometry_types(geom_col) - {_POINT}:
        raise UnsupportedGeometryError(
            "Point sampling requires Point geometries. Use get_xarray/get_numpy/get_gdf for "
            "Polygon/MultiPolygon AOIs."
        )


# -- envelopes --------------------------------------------------------------------------------


def bbox_array(geom_col: Any) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """``(xmin, ymin, xmax, ymax)`` Arrow arrays: the envelope of every geometry."""
    import geoarrow.pyarrow as ga

    boxes = ga.box(coerce_to_geoarrow(geom_col)).storage
    return boxes.field("xmin"), boxes.field("ymin"), boxes.field("xmax"), boxes.field("ymax")


def bbox_single(geom_col: Any, idx: int) -> Bbox:
    """The envelope of geometry ``idx`` of a geometry array."""
    native = coerce_to_geoarrow(geom_col)
    xmin, ymin, xmax, ymax = bbox_array(native.slice(idx, 1))
    return (
        float(xmin[0].as_py()),
        float(ymin[0].as_py()),
        float(xmax[0].as_py()),
        float(ymax[0].as_py()),
    )


def total_bounds(geom_col: Any) -> Bbox | None:
    """The envelope of all geometries together (None when there are none)."""
    import pyarrow.compute as pc

    xmin, ymin, xmax, ymax = bbox_array(geom_col)
    values = (
        pc.min(xmin).as_py(),
        pc.min(ymin).as_py(),
        pc.max(xmax).as_py(),
        pc.max(ymax).as_py(),
    )
    if any(v is None or not np.isfinite(v) for v in values):
        return None
    return float(values[0]), float(values[1]), float(values[2]), float(values[3])


def bbox_intersects(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two ``(minx, miny, maxx, maxy)`` boxes overlap (closed: touching counts)."""
    return not (a[2] < b[0] or a[0] > b[2] or a[3] < b[1] or a[1] > b[3])


def intersect_bbox(left: Sequence[float] | None, right: Sequence[float] | None) -> Bbox | None:
    """The intersection of two boxes; None when they are disjoint. A None operand returns the
    other box."""
    if left is None:
        return None if right is None else _bbox(right)
    if right is None:
        return _bbox(left)
    minx, miny = max(left[0], right[0]), max(left[1], right[1])
    maxx, maxy = min(left[2], right[2]), min(left[3], right[3])
    if minx > maxx or miny > maxy:
        return None
    return float(minx), float(miny), float(maxx), float(maxy)


def _bbox(values: Sequence[float]) -> Bbox:
    return float(values[0]), float(values[1]), float(values[2]), float(values[3])


def bbox_from_geojson_coords(geojson: dict[str, Any]) -> Bbox:
    """The envelope of a GeoJSON geometry dict's ``coordinates``.

    Raises
    ------
    ValueError
        No coordinates (``"Empty geometry coordinates"``).
    """

    def positions(node: Any) -> Iterator[Sequence[float]]:
        if isinstance(node, list | tuple) and node:
            if isinstance(node[0], int | float):
                yield node
                return
            for child in node:
                yield from positions(child)

    found = list(positions(geojson.get("coordinates", [])))
    if not found:
        raise ValueError("Empty geometry coordinates")
    xs = [float(p[0]) for p in found]
    ys = [float(p[1]) for p in found]
    return min(xs), min(ys), max(xs), max(ys)


def geojson_dicts_to_wkb(geojsons: Sequence[dict[str, Any]]) -> pa.Array:
    """OGC WKB (a ``pa.binary()`` array) of GeoJSON geometry dicts."""
    import shapely

    geoms = shapely.from_geojson([json.dumps(g) for g in geojsons])
    return pa.array(list(shapely.to_wkb(geoms)), pa.binary())


# -- CRS transforms ---------------------------------------------------------------------------


def _pyproj_crs(value: Any) -> Any:
    from pyproj import CRS

    if isinstance(value, int) and not isinstance(value, bool):
        return CRS.from_epsg(value)
    return CRS.from_user_input(json.dumps(value) if isinstance(value, dict) else value)


@functools.lru_cache(maxsize=64)
def _cached_transformer(src_crs: Any, dst_crs: Any) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(_pyproj_crs(src_crs), _pyproj_crs(dst_crs), always_xy=True)


def _transformer(src_crs: Any, dst_crs: Any) -> Any:
    try:
        return _cached_transformer(src_crs, dst_crs)
    except TypeError:  # an unhashable CRS (a PROJJSON dict): build it uncached
        return _cached_transformer.__wrapped__(src_crs, dst_crs)


def _same_crs(src_crs: Any, dst_crs: Any) -> bool:
    return src_crs is None or dst_crs is None or src_crs == dst_crs


def transform_xy(x: Any, y: Any, src_crs: Any, dst_crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``x``, ``y`` (arrays) from ``src_crs`` to ``dst_crs`` (EPSG int or any
    pyproj CRS input; None on either side: unchanged)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if _same_crs(src_crs, dst_crs):
        return x, y
    tx, ty = _transformer(src_crs, dst_crs).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def transform_geometry(geom: Any, src_crs: Any, dst_crs: Any) -> Any:
    """A Shapely geometry (or array of them) with every vertex transformed from ``src_crs`` to
    ``dst_crs`` (no densification; None on either side: unchanged)."""
    import shapely

    if _same_crs(src_crs, dst_crs):
        return geom

    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transform_xy(xy[:, 0], xy[:, 1], src_crs, dst_crs))

    return shapely.transform(geom, move)


def _polygon_at(geom_col: Any, idx: int) -> Any:
    """Geometry ``idx`` as Shapely, checked to be a non-empty Polygon/MultiPolygon."""
    native = coerce_to_geoarrow(geom_col)
    if not -len(native) <= idx < len(native):
        raise IndexError(f"geometry index {idx} out of range for {len(native)} geometries")
    geom = to_shapely(native.slice(idx % len(native), 1))[0]
    if geom is None or geom.is_empty:
        raise ValueError("Empty geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise UnsupportedGeometryError(
            f"Unsupported geometry type for masking: {geom.geom_type}. Polygon reads support "
            "Polygon and MultiPolygon geometries; use sample_points() for Point geometries."
        )
    return geom


def to_rasterio_geojson(geom_col: Any, idx: int) -> dict[str, Any]:
    """Polygon/MultiPolygon ``idx`` of a geometry array as a GeoJSON dict (the form
    ``rasterio.features.geometry_mask`` takes).

    Raises
    ------
    UnsupportedGeometryError
        The geometry is not a Polygon or MultiPolygon.
    ValueError
        The geometry is null or empty (``"Empty geometry"``).
    """
    import shapely.geometry

    return dict(shapely.geometry.mapping(_polygon_at(geom_col, idx)))


def transform_coords(geom_col: Any, idx: int, src_crs: Any, dst_crs: Any) -> dict[str, Any]:
    """:func:`to_rasterio_geojson` of geometry ``idx`` after moving every vertex from
    ``src_crs`` to ``dst_crs`` with pyproj (``always_xy``)."""
    import shapely.geometry

    geom = transform_geometry(_polygon_at(geom_col, idx), src_crs, dst_crs)
    return dict(shapely.geometry.mapping(geom))


# -- tables and points ------------------------------------------------------------------------


def _is_geoarrow_field(field: pa.Field) -> bool:
    name = (field.metadata or {}).get(b"ARROW:extension:name", b"")
    return name.startswith(b"geoarrow.") or _extension_name(field.type).startswith("geoarrow.")


def resolve_geometry_column(schema: pa.Schema, geometry_column: str | None) -> str:
    """The geometry column of a table: ``geometry_column``, else its single GeoArrow field.

    Raises
    ------
    ValueError
        ``geometry_column`` is not a column, or several GeoArrow fields exist.
    TypeError
        No ``geometry_column`` and no GeoArrow field.
    """
    if geometry_column is not None:
        if geometry_column not in schema.names:
            raise ValueError(
                f"geometry_column={geometry_column!r} not found in table columns. "
                f"Available columns: {schema.names}"
            )
        return geometry_column
    found = [f.name for f in schema if _is_geoarrow_field(f)]
    if len(found) > 1:
        raise ValueError(
            f"Multiple GeoArrow geometry columns found ({found}). Pass geometry_column=..."
        )
    if not found:
        raise TypeError(
            "Tabular geometry input needs geometry_column=... (no GeoArrow-typed column found; "
            f"columns: {schema.names})"
        )
    return found[0]


def _make_points(x: Any, y: Any) -> pa.Array:
    import geoarrow.pyarrow as ga

    return ga.make_point(
        pa.array(float_values(x), pa.float64()), pa.array(float_values(y), pa.float64())
    )


def points_from_table(
    table: pa.Table,
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
) -> tuple[pa.Array, str | None]:
    """The points of a table and the geometry column they came from (None for x/y columns).

    A geometry column is used when ``geometry_column`` is given, or when no coordinate column
    is named and the table has a GeoArrow field; otherwise x/y columns
    (:func:`resolve_xy_columns`) become points, their values cast to float64.

    Raises
    ------
    TypeError
        Neither a geometry column nor coordinate columns.
    """
    xy = point_xy_columns(
        table, geometry_column=geometry_column, x_column=x_column, y_column=y_column
    )
    if xy is None:
        column = resolve_geometry_column(table.schema, geometry_column)
        return coerce_to_geoarrow(table.column(column)), column
    return _make_points(table.column(xy[0]), table.column(xy[1])), None


def point_xy_columns(
    table: pa.Table,
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
) -> tuple[str, str] | None:
    """The ``(x, y)`` columns a table's points come from, or None when they come from its
    geometry column (``geometry_column`` given, or no coordinate column named and the table
    has a GeoArrow field); see :func:`points_from_table`.

    Raises
    ------
    TypeError
        Neither a geometry column nor coordinate columns.
    ValueError
        A named coordinate column is missing.
    """
    if geometry_column is not None or (
        x_column is None and y_column is None and any(_is_geoarrow_field(f) for f in table.schema)
    ):
        return None
    xy = resolve_xy_columns(table.schema.names, x_column, y_column)
    if xy is None:
        raise TypeError(
            "Unsupported table input for point sampling. Provide geometry_column (a "
            "GeoArrow/WKB point column) or x_column/y_column."
        )
    return xy


def ensure_point_geoarrow(
    points: Any,
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
) -> pa.Array:
    """Any point input as a GeoArrow point array (coordinates taken as EPSG:4326).

    ``points`` may be anything :func:`coerce_to_geoarrow` takes (an empty list gives an empty
    array), or a table (pyarrow, Polars, DuckDB, pandas...) with a point geometry column or
    x/y columns (:func:`points_from_table`).

    Raises
    ------
    TypeError
        Column arguments with a non-tabular input, or a table without point columns.
    """
    from rasteret.geo.arrow_input import as_table_or_none

    table = None
    if not isinstance(points, pa.Array | pa.ChunkedArray):
        table = as_table_or_none(points)
    if table is not None:
        geoms, _ = points_from_table(
            table, geometry_column=geometry_column, x_column=x_column, y_column=y_column
        )
        return geoms
    if geometry_column is not None or x_column is not None or y_column is not None:
        raise TypeError("geometry_column / x_column / y_column need a tabular (Arrow-native) input")
    if isinstance(points, list | tuple) and len(points) == 0:
        return _make_points([], [])
    if isinstance(points, tuple):  # a tuple of points, not a bbox
        points = list(points)
    return coerce_to_geoarrow(points)


def point_coords(points: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` float64 arrays of a point array (NaN for null or empty points)."""
    import geoarrow.pyarrow as ga

    native = coerce_to_geoarrow(points)
    if len(native) == 0:
        return np.empty(0), np.empty(0)
    x, y = ga.point_coords(native)
    return (
        np.asarray(x.to_numpy(zero_copy_only=False), dtype=np.float64),
        np.asarray(y.to_numpy(zero_copy_only=False), dtype=np.float64),
    )


def transform_point_coords(
    points: Any, *, geometry_crs: Any, target_crs: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` arrays of a point array, transformed from ``geometry_crs`` to
    ``target_crs`` (None or equal CRSs: unchanged)."""
    x, y = point_coords(points)
    return transform_xy(x, y, geometry_crs, target_crs)


def transform_polygon(geom: Any, src_crs: Any, dst_crs: Any) -> Any:
    """A Shapely (Multi)Polygon with every vertex transformed from ``src_crs`` to ``dst_crs``
    by pyproj (``always_xy``, no densification)."""
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
