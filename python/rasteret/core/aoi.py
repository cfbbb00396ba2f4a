"""AOI inputs of the read APIs: every accepted geometry form -> Shapely geometries + CRS
(API contract §2.8.1, §2.8.2).

Tabular inputs (pyarrow, Polars, DuckDB, GeoPandas...) keep their other columns so
``get_gdf`` / ``sample_points`` can join them back on ``geometry_id`` / ``point_index``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import UnsupportedGeometryError

__all__ = [
    "AUTO_CRS",
    "GeometryInputPlan",
    "prepare_geometry_input",
    "resolve_geometry_crs",
    "resolve_geometry_column",
]

AUTO_CRS = "auto"
_WKB_HINT = (
    "Binary geometry input must be OGC WKB. If the column comes from DuckDB GEOMETRY, use "
    "ST_AsWKB(geom) in the query (DuckDB's internal GEOMETRY blob is not WKB)."
)


@dataclass
class GeometryInputPlan:
    """Geometries to read (Shapely array), their CRS, and the input's other columns."""

    geometries: np.ndarray
    crs: int | str | None
    metadata: pa.Table | None = None
    tabular: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _crs_from_user(value: Any) -> int | str | None:
    """EPSG int (4326 for OGC:CRS84) or WKT string for a CRS given as int/str/dict."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    from pyproj import CRS

    crs = CRS.from_user_input(json.dumps(value) if isinstance(value, dict) else value)
    if crs.equals(CRS("OGC:CRS84")):
        return 4326
    epsg = crs.to_epsg()
    return epsg if epsg is not None else crs.to_wkt()


def _field_crs(f: pa.Field) -> int | str | None:
    meta = f.metadata or {}
    raw = meta.get(b"ARROW:extension:metadata")
    if not raw:
        return None
    try:
        ext = json.loads(raw)
    except ValueError:
        return None
    edges = ext.get("edges")
    if edges not in (None, "planar"):
        raise ValueError(f"Unsupported GeoArrow edges={edges!r}: only planar edges are supported")
    crs = ext.get("crs")
    return None if crs is None else _crs_from_user(crs)


def _is_geoarrow(f: pa.Field) -> bool:
    name = (f.metadata or {}).get(b"ARROW:extension:name", b"")
    return name.startswith(b"geoarrow.") or str(getattr(f.type, "extension_name", "")).startswith(
        "geoarrow."
    )


def resolve_geometry_column(table: pa.Table, geometry_column: str | None) -> str:
    """The geometry column of a tabular input (explicit, or the single GeoArrow field)."""
    if geometry_column is not None:
        if geometry_column not in table.column_names:
            raise ValueError(
                f"geometry_column={geometry_column!r} not found in table columns. "
                f"Available columns: {table.column_names}"
            )
        return geometry_column
    geo = [f.name for f in table.schema if _is_geoarrow(f)]
    if len(geo) > 1:
        raise ValueError(
            f"Multiple GeoArrow geometry columns found ({geo}). Pass geometry_column=..."
        )
    if not geo:
        raise TypeError(
            "Tabular geometry input needs geometry_column=... (no GeoArrow-typed column found; "
            f"columns: {table.column_names})"
        )
    return geo[0]


def _from_wkb(values: Any) -> np.ndarray:
    import shapely

    try:
        return shapely.from_wkb(np.asarray(values, dtype=object))
    except Exception as exc:  # noqa: BLE001 - shapely raises GEOSException and others
        raise TypeError(_WKB_HINT) from exc


def _arrow_geometries(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    import shapely

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    t = storage.type
    if pa.types.is_binary_view(t):  # Polars exports binary columns as binary_view
        storage, t = storage.cast(pa.binary()), pa.binary()
    elif pa.types.is_string_view(t):
        storage, t = storage.cast(pa.string()), pa.string()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return _from_wkb(storage.to_numpy(zero_copy_only=False))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return shapely.from_wkt(storage.to_numpy(zero_copy_only=False))
    try:
        import geoarrow.pyarrow as ga

        return _from_wkb(ga.as_wkb(arr).storage.to_pylist())
    except Exception as exc:  # noqa: BLE001
        raise TypeError(f"Unsupported geometry type: {arr.type}") from exc


def _single(g: Any) -> Any:
    import shapely
    import shapely.geometry

    if isinstance(g, bytes | bytearray | memoryview):
        return _from_wkb([bytes(g)])[0]
    if isinstance(g, dict) and "type" in g:
        return shapely.geometry.shape(g)
    if isinstance(g, shapely.Geometry):
        return g
    raise TypeError(f"Unsupported geometry type: {type(g).__name__}")


def _check_polygons(geoms: np.ndarray) -> None:
    import shapely

    kinds = set(shapely.get_type_id(geoms).tolist()) - {-1}
    if kinds & {0, 4}:
        raise UnsupportedGeometryError(
            "Polygon reads need Polygon or MultiPolygon AOIs. Use sample_points() for Point "
            "geometries."
        )
    if kinds - {3, 6}:
        raise UnsupportedGeometryError(
            "Only Polygon and MultiPolygon AOIs are supported (got LineString or "
            "GeometryCollection geometries)."
        )


def prepare_geometry_input(
    geometries: Any,
    *,
    geometry_column: str | None = None,
    geometry_crs: int | str | dict[str, Any] | None = AUTO_CRS,
    require_polygons: bool = True,
) -> GeometryInputPlan:
    """Coerce any accepted AOI input into a :class:`GeometryInputPlan`."""
    import shapely

    from rasteret.core.arrow_interop import as_table_or_none

    metadata = None
    tabular = False
    field_crs: int | str | None = None
    if type(geometries).__name__ in ("GeoDataFrame", "GeoSeries"):
        gdf = geometries
        field_crs = None if gdf.crs is None else _crs_from_user(gdf.crs.to_json_dict())
        if type(gdf).__name__ == "GeoSeries":
            geoms = np.asarray(gdf.values, dtype=object)
        else:
            col = geometry_column or gdf.geometry.name
            geoms = np.asarray(gdf[col].values, dtype=object)
            metadata = pa.Table.from_pandas(gdf.drop(columns=[col]), preserve_index=False)
            tabular = True
    elif (
        isinstance(geometries, tuple)
        and len(geometries) == 4
        and all(isinstance(v, int | float) for v in geometries)
    ):
        geoms = np.array([shapely.box(*geometries)], dtype=object)
    elif isinstance(geometries, pa.Array | pa.ChunkedArray):
        geoms = _arrow_geometries(geometries)
        if isinstance(geometries, pa.ExtensionArray):
            field_crs = _field_crs(pa.field("g", geometries.type))
    elif isinstance(geometries, list):
        if geometry_column is not None:
            raise TypeError("geometry_column requires an Arrow-native tabular input")
        geoms = np.array([_single(g) for g in geometries], dtype=object)
    elif isinstance(geometries, bytes | bytearray | dict) or isinstance(
        geometries, shapely.Geometry
    ):
        if geometry_column is not None:
            raise TypeError("geometry_column requires an Arrow-native tabular input")
        geoms = np.array([_single(geometries)], dtype=object)
    else:
        table = as_table_or_none(geometries)
        if table is None:
            raise TypeError(f"Unsupported geometry type: {type(geometries).__name__}")
        col = resolve_geometry_column(table, geometry_column)
        field_crs = _field_crs(table.schema.field(col))
        geoms = _arrow_geometries(table.column(col))
        metadata = table.drop_columns([col])
        tabular = True
        if geometry_crs == AUTO_CRS and field_crs is None:
            raise ValueError(
                "Tabular Arrow geometry input is missing GeoArrow CRS metadata. Pass "
                "geometry_crs=... explicitly, or attach CRS metadata to the geometry field."
            )
    if require_polygons and len(geoms):
        _check_polygons(geoms)
    crs = resolve_geometry_crs(geometry_crs, field_crs, tabular or field_crs is not None)
    return GeometryInputPlan(geometries=geoms, crs=crs, metadata=metadata, tabular=tabular)


def resolve_geometry_crs(
    geometry_crs: Any, field_crs: int | str | None, has_field_crs: bool
) -> int | str | None:
    """``auto`` -> the input's CRS metadata (tabular) or 4326; else the explicit CRS."""
    if geometry_crs == AUTO_CRS:
        if has_field_crs and field_crs is not None:
            return field_crs
        return 4326
    return _crs_from_user(geometry_crs)
