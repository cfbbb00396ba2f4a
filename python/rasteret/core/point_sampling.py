"""``Collection.sample_points``: point inputs, query narrowing and the record scan, then
:func:`rasteret.read.points.sample_records` (``rasterio.sample`` values, one Rust call per
dtype)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from rasteret._backends import implicit_backend
from rasteret.geo.geometry import transform_xy
from rasteret.read.inputs import (
    AUTO_CRS,
    fail_on_metadata_collisions,
    narrow_query_filters,
    prepare_point_coords,
)
from rasteret.read.points import MODES, empty_samples, point_columns, sample_records
from rasteret.records.summary import infer_data_source
from rasteret.types import POINT_SAMPLES_NEIGHBORHOOD_SCHEMA, POINT_SAMPLES_SCHEMA

__all__ = ["get_collection_point_samples", "sample_table_points"]


def get_collection_point_samples(
    *,
    collection: Any,
    points: Any,
    bands: list[str],
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    data_source: str | None = None,
    max_concurrent: int = 50,
    progress: bool = False,
    backend: Any = None,
    geometry_crs: Any = AUTO_CRS,
    match: str = "all",
    max_distance_pixels: int = 0,
    return_neighbourhood: str = "off",
    **filters: Any,
) -> pa.Table:
    """Sample every band at every point of every matching record (``POINT_SAMPLES_SCHEMA``
    rows plus the input table's columns).

    Parameters are those of ``Collection.sample_points`` with a resolved ``backend`` (None:
    the data source's cloud settings, else default routing) and ``progress``. ``**filters``
    are ``Collection.subset()`` keywords applied first; their ``bbox`` is intersected with
    the points' envelope (disjoint: an empty table, no I/O).

    Raises
    ------
    ValueError
        Bad options, unknown bands, a CRS that is not an EPSG code, input columns named like
        output columns, or every record failing.
    UnsupportedGeometryError
        Non-point geometries.
    """

    bands = list(dict.fromkeys(bands))
    available = collection.bands
    missing = [b for b in bands if b not in available]
    if available and missing:
        raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")
    if match not in ("all", "latest"):
        raise ValueError("match must be either 'all' or 'latest'")
    if max_distance_pixels < 0:
        raise ValueError("max_distance_pixels must be >= 0")
    if return_neighbourhood not in MODES:
        raise ValueError(f"return_neighbourhood must be one of {list(MODES)}")
    if return_neighbourhood != "off" and max_distance_pixels <= 0:
        raise ValueError("max_distance_pixels must be > 0 when return_neighbourhood is enabled")
    x, y, crs, meta = prepare_point_coords(
        points,
        geometry_column=geometry_column,
        x_column=x_column,
        y_column=y_column,
        geometry_crs=geometry_crs,
        preserve_metadata=True,
    )
    if crs is not None and not isinstance(crs, int):
        raise ValueError(
            "Point sampling output stores point_crs as an EPSG integer. Pass geometry_crs as "
            "an EPSG code."
        )
    schema = (
        POINT_SAMPLES_SCHEMA
        if return_neighbourhood == "off"
        else (POINT_SAMPLES_NEIGHBORHOOD_SCHEMA)
    )
    fail_on_metadata_collisions(meta, output_columns=schema.names, join_column="point_index")
    lon, lat = transform_xy(x, y, crs, 4326)
    located = np.isfinite(lon) & np.isfinite(lat)
    if not located.any():
        return empty_samples(schema, meta)
    env = (
        float(lon[located].min()),
        float(lat[located].min()),
        float(lon[located].max()),
        float(lat[located].max()),
    )
    narrowed = narrow_query_filters(filters, env)
    if narrowed is None:
        return empty_samples(schema, meta)
    view = collection.subset(**narrowed)
    source = data_source or infer_data_source(collection)
    backend = implicit_backend(backend, None, source)
    view_schema = view._schema()
    if view_schema is None:
        return empty_samples(schema, meta)
    return sample_table_points(
        view._scan_table(point_columns(view_schema.names, bands)),
        x=x,
        y=y,
        lonlat=(lon, lat),
        crs=crs,
        meta=meta,
        bands=bands,
        data_source=source,
        match=match,
        max_distance_pixels=max_distance_pixels,
        return_neighbourhood=return_neighbourhood,
        max_concurrent=max_concurrent,
        progress=progress,
        backend=backend,
    )


def sample_table_points(
    table: pa.Table,
    *,
    x: np.ndarray,
    y: np.ndarray,
    crs: int | None,
    meta: pa.Table | None,
    bands: list[str],
    data_source: str,
    match: str,
    max_distance_pixels: int,
    return_neighbourhood: str,
    max_concurrent: int,
    progress: bool,
    backend: Any,
    lonlat: tuple[np.ndarray, np.ndarray] | None = None,
) -> pa.Table:
    """Sample the records of ``table`` (columns of ``point_columns``) at points ``x``, ``y``
    (in ``crs``; ``lonlat``: the same points in EPSG:4326 when known); ``meta`` (the input's
    other columns, by ``point_index``) is appended."""
    schema = (
        POINT_SAMPLES_SCHEMA if return_neighbourhood == "off" else POINT_SAMPLES_NEIGHBORHOOD_SCHEMA
    )
    lon, lat = lonlat if lonlat is not None else transform_xy(x, y, crs, 4326)
    out = sample_records(
        table,
        x=x,
        y=y,
        lon=lon,
        lat=lat,
        crs=crs,
        bands=bands,
        data_source=data_source,
        match=match,
        max_distance_pixels=max_distance_pixels,
        return_neighbourhood=return_neighbourhood,
        max_concurrent=max_concurrent,
        progress=progress,
        backend=backend,
        schema=schema,
    )
    if meta is not None:
        idx = out.column("point_index").combine_chunks()
        for name in meta.column_names[1:]:  # after its point_index
            out = out.append_column(meta.schema.field(name), meta.column(name).take(idx))
    return out
