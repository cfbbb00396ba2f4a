"""Inputs of the read APIs: every accepted AOI or point form -> a GeoArrow geometry array, its
CRS and (for tables) the other columns, plus the query narrowing shared by every read.

Tabular inputs (pyarrow, Polars, DuckDB, GeoPandas...) keep their other columns so
``get_gdf`` / ``sample_points`` can join them back on ``geometry_id`` / ``point_index``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.geo.geometry import (
    Bbox,
    coerce_to_geoarrow,
    ensure_point_geoarrow,
    float_values,
    intersect_bbox,
    point_coords,
    point_xy_columns,
    points_from_table,
    require_points,
    require_polygons,
    resolve_geometry_column,
    total_bounds,
)

__all__ = [
    "AUTO_CRS",
    "GeometryInputPlan",
    "fail_on_metadata_collisions",
    "narrow_query_filters",
    "prepare_geometry_input",
    "prepare_point_coords",
    "prepare_point_input",
    "query_envelope",
    "resolve_geometry_column",
    "resolve_geometry_crs",
]

AUTO_CRS = "auto"


@dataclass(frozen=True)
class GeometryInputPlan:
    """Geometries to read (a native GeoArrow array) and their CRS (EPSG int, WKT string, or
    None for "already in the raster CRS").

    ``metadata`` holds a tabular input's other columns behind an id column (``geometry_id``
    or ``point_index``) when they were asked for; ``geometry_column`` and ``table`` are set
    for tabular inputs (``geometry_column`` is None when points came from x/y columns).
    """

    geometries: pa.Array
    geometry_crs: int | str | None
    metadata: pa.Table | None = None
    geometry_column: str | None = None
    table: pa.Table | None = None


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


def _geoarrow_metadata(field: pa.Field) -> dict[str, Any]:
    raw = (field.metadata or {}).get(b"ARROW:extension:metadata")
    if not raw and isinstance(field.type, pa.ExtensionType):
        # a registered extension type (e.g. once geoarrow.pyarrow is imported) carries its
        # metadata on the type, not on the field
        raw = field.type.__arrow_ext_serialize__()
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def resolve_geometry_crs(
    *, provided: Any, field: pa.Field | None, tabular: bool
) -> int | str | None:
    """The CRS of an input's geometries.

    ``provided`` other than ``"auto"`` wins (int -> EPSG; string/dict parsed by pyproj ->
    EPSG int, or WKT when it has no EPSG code; ``OGC:CRS84`` -> 4326; None -> no transform).
    ``"auto"``: the CRS in the GeoArrow metadata of ``field``, else 4326 for non-tabular
    inputs.

    Raises
    ------
    ValueError
        ``"auto"`` for a tabular input without GeoArrow CRS metadata, or GeoArrow ``edges``
        other than planar.
    """
    metadata = _geoarrow_metadata(field) if field is not None else {}
    edges = metadata.get("edges")
    if edges not in (None, "planar"):
        raise ValueError(f"Unsupported GeoArrow edges={edges!r}: only planar edges are supported")
    if provided != AUTO_CRS:
        return _crs_from_user(provided)
    if metadata.get("crs") is not None:
        return _crs_from_user(metadata["crs"])
    if tabular:
        raise ValueError(
            "Tabular Arrow geometry input is missing GeoArrow CRS metadata. Pass "
            "geometry_crs=... explicitly, or attach CRS metadata to the geometry field."
        )
    return 4326


def _array_field(geoms: pa.Array) -> pa.Field | None:
    """A field carrying a GeoArrow array's type (and so its CRS metadata), if it has one."""
    return pa.field("geometry", geoms.type) if isinstance(geoms.type, pa.ExtensionType) else None


def _tabular(value: Any) -> pa.Table | None:
    """``value`` as a table when it is a tabular (Arrow-exporting) input, else None."""
    import shapely

    if isinstance(value, pa.Array | pa.ChunkedArray | list | tuple | bytes | bytearray | dict):
        return None
    if isinstance(value, shapely.Geometry):
        return None
    kind = type(value).__name__
    if kind == "GeoSeries":
        value = value.to_frame(name=value.name or "geometry")
        kind = "GeoDataFrame"
    if kind == "GeoDataFrame":  # its shapely column is not Arrow: export it as GeoArrow WKB
        return pa.table(value.to_arrow(geometry_encoding="WKB", index=False))
    if kind == "DataFrame" and type(value).__module__.startswith("pandas"):
        # the index is not an input column (a non-range one would become __index_level_0__)
        return pa.Table.from_pandas(value, preserve_index=False)
    from rasteret.geo.arrow_input import as_table_or_none

    return as_table_or_none(value)


def _metadata_table(
    table: pa.Table, *, exclude: set[str], id_column: str, id_start: int
) -> pa.Table | None:
    """The input's other columns behind a leading ``id_column`` (None when there are none).

    Raises
    ------
    ValueError
        The input already has a column named ``id_column``.
    """
    names = [n for n in table.column_names if n not in exclude]
    if id_column in names:
        raise ValueError(
            f"Input metadata column '{id_column}' collides with Rasteret's output column "
            f"'{id_column}'. Rename or omit that input column before reading."
        )
    if not names:
        return None
    ids = pa.array(np.arange(id_start, id_start + table.num_rows, dtype=np.int64))
    return table.select(names).add_column(0, id_column, ids)


def _empty_polygons() -> pa.Array:
    import geoarrow.pyarrow as ga

    polygon = ga.polygon()
    return pa.ExtensionArray.from_storage(polygon, pa.array([], polygon.storage_type))


def prepare_geometry_input(
    geometries: Any,
    *,
    geometry_column: str | None = None,
    geometry_crs: Any = AUTO_CRS,
    preserve_metadata: bool = False,
    id_column: str = "geometry_id",
    id_start: int = 1,
) -> GeometryInputPlan:
    """Polygon AOIs of any accepted form as a :class:`GeometryInputPlan`.

    Parameters
    ----------
    geometries
        A bbox tuple, Shapely (Multi)Polygons, WKB, GeoJSON, Arrow arrays, a GeoDataFrame /
        GeoSeries, or a table (pyarrow, Polars, DuckDB...) with a geometry column. An empty
        list gives an empty plan.
    geometry_column
        Geometry column of a table (found automatically when it is the only GeoArrow field).
    geometry_crs
        ``"auto"``, an EPSG int, a CRS string/dict, or None (:func:`resolve_geometry_crs`).
    preserve_metadata
        Keep a table's other columns as ``metadata``, behind ``id_column`` numbered from
        ``id_start``.

    Raises
    ------
    UnsupportedGeometryError
        Points, lines or collections (polygon reads need Polygon/MultiPolygon).
    TypeError
        Unsupported input, invalid WKB, ``geometry_column`` with a non-tabular input.
    ValueError
        Unknown geometry column, missing CRS metadata on a table, a metadata column named
        ``id_column``.
    """
    table = _tabular(geometries)
    if table is not None:
        column = resolve_geometry_column(table.schema, geometry_column)
        crs = resolve_geometry_crs(
            provided=geometry_crs, field=table.schema.field(column), tabular=True
        )
        geoms = coerce_to_geoarrow(table.column(column))
        require_polygons(geoms)
        metadata = None
        if preserve_metadata:
            metadata = _metadata_table(
                table, exclude={column}, id_column=id_column, id_start=id_start
            )
        return GeometryInputPlan(geoms, crs, metadata, column, table)
    if geometry_column is not None:
        raise TypeError(
            "geometry_column requires an Arrow-native tabular input (pyarrow Table, "
            "RecordBatchReader, an Arrow C stream producer, or an object exporting Arrow data)"
        )
    if isinstance(geometries, list) and not geometries:
        geoms = _empty_polygons()
    else:
        geoms = coerce_to_geoarrow(geometries)
    require_polygons(geoms)
    crs = resolve_geometry_crs(provided=geometry_crs, field=_array_field(geoms), tabular=False)
    return GeometryInputPlan(geoms, crs)


def prepare_point_input(
    points: Any,
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    geometry_crs: Any = AUTO_CRS,
    preserve_metadata: bool = False,
) -> GeometryInputPlan:
    """Points of any accepted form as a :class:`GeometryInputPlan` of GeoArrow points.

    Non-tabular inputs: Shapely Points, WKB, GeoJSON points, GeoArrow/WKB arrays (``"auto"``
    CRS: the array's GeoArrow CRS, else 4326). Tables: a point geometry column, or x/y
    columns (named, or ``x/y``, ``lon/lat``, ``longitude/latitude``, ``lng/lat``), which need
    an explicit ``geometry_crs``. ``preserve_metadata`` keeps every input column except a
    geometry column (x/y columns included) behind a leading ``point_index`` (0-based).
    Geometry types are not checked here (see :func:`rasteret.core.geometry.require_points`).

    Raises
    ------
    TypeError
        Column arguments with a non-tabular input, a table without point columns.
    ValueError
        Missing coordinate columns, missing CRS, a ``point_index`` input column.
    """
    table = _tabular(points)
    if table is None:
        geoms = ensure_point_geoarrow(
            points, geometry_column=geometry_column, x_column=x_column, y_column=y_column
        )
        crs = resolve_geometry_crs(provided=geometry_crs, field=_array_field(geoms), tabular=False)
        return GeometryInputPlan(geoms, crs)
    geoms, column = points_from_table(
        table, geometry_column=geometry_column, x_column=x_column, y_column=y_column
    )
    field = table.schema.field(column) if column is not None else None
    crs = resolve_geometry_crs(provided=geometry_crs, field=field, tabular=True)
    metadata = None
    if preserve_metadata:
        exclude = {column} if column is not None else set()
        metadata = _metadata_table(table, exclude=exclude, id_column="point_index", id_start=0)
    return GeometryInputPlan(geoms, crs, metadata, column, table)


def prepare_point_coords(
    points: Any,
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    geometry_crs: Any = AUTO_CRS,
    preserve_metadata: bool = False,
) -> tuple[np.ndarray, np.ndarray, int | str | None, pa.Table | None]:
    """``(x, y, crs, metadata)`` of a point input, as :func:`prepare_point_input` would give
    them. x/y columns are read as they are (no geometry array is built); other inputs go
    through :func:`prepare_point_input` and must hold only Points.

    Raises
    ------
    TypeError, ValueError
        As :func:`prepare_point_input`.
    UnsupportedGeometryError
        A geometry that is not a Point.
    """
    table = _tabular(points)
    xy = None
    if table is not None:
        xy = point_xy_columns(
            table, geometry_column=geometry_column, x_column=x_column, y_column=y_column
        )
    if xy is None:
        plan = prepare_point_input(
            points,
            geometry_column=geometry_column,
            x_column=x_column,
            y_column=y_column,
            geometry_crs=geometry_crs,
            preserve_metadata=preserve_metadata,
        )
        require_points(plan.geometries)
        x, y = point_coords(plan.geometries)
        return x, y, plan.geometry_crs, plan.metadata
    assert table is not None  # xy comes from a table
    crs = resolve_geometry_crs(provided=geometry_crs, field=None, tabular=True)
    metadata = None
    if preserve_metadata:
        metadata = _metadata_table(table, exclude=set(), id_column="point_index", id_start=0)
    x, y = float_values(table.column(xy[0])), float_values(table.column(xy[1]))
    return x, y, crs, metadata


def fail_on_metadata_collisions(
    metadata: pa.Table | None, *, output_columns: Iterable[str], join_column: str
) -> None:
    """Raise when an input metadata column (other than ``join_column``) has the name of an
    output column, so joining them back cannot shadow rasteret's own columns.

    Raises
    ------
    ValueError
        ``"Input metadata columns collide with Rasteret output columns: ..."``.
    """
    if metadata is None:
        return
    clash = sorted((set(metadata.column_names) - {join_column}) & set(output_columns))
    if clash:
        raise ValueError(
            f"Input metadata columns collide with Rasteret output columns: {', '.join(clash)}. "
            "Rename those input columns or select fewer columns."
        )


def query_envelope(plan: GeometryInputPlan) -> Bbox | None:
    """The envelope of all of a plan's geometries in EPSG:4326 (None when there are none).

    Geometries in another CRS are converted with pyproj ``transform_bounds``; a plan without
    CRS (``geometry_crs=None``) keeps its raw coordinates.
    """
    from rasteret.geo.geometry import transform_bbox

    if len(plan.geometries) == 0:
        return None
    envelope = total_bounds(plan.geometries)
    if envelope is None or plan.geometry_crs in (None, 4326):
        return envelope
    return transform_bbox(envelope, plan.geometry_crs, 4326)


def narrow_query_filters(filters: dict[str, Any], envelope: Bbox | None) -> dict[str, Any] | None:
    """``subset()`` keywords whose ``bbox`` is narrowed to ``envelope`` (intersected with the
    caller's own ``bbox``); None when the two are disjoint, i.e. nothing can match."""
    from rasteret.records.filters import check_bbox

    narrowed = dict(filters)
    if envelope is None:
        return narrowed
    user_bbox = narrowed.get("bbox")
    merged = intersect_bbox(check_bbox(user_bbox) if user_bbox is not None else None, envelope)
    if merged is None:
        return None
    narrowed["bbox"] = merged
    return narrowed
