"""Record-table normalisation into the collection schema.

CRS sidecars (``proj:epsg`` int32, ``crs`` string) are derived per row from ``proj:code``,
``proj:epsg``, ``crs``, ``proj:wkt2`` or ``proj:projjson``, first parseable value wins.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import warnings
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.core.collection import Collection
from rasteret.records.crs import (
    crs_code_from_epsg,
    normalize_crs_code,
    normalize_raster_crs_sidecars,
    parse_epsg,
)
from rasteret.records.schema import ensure_bbox_struct

__all__ = [
    "REQUIRED_COLUMNS",
    "as_collection",
    "build_collection_from_table",
    "crs_code_from_epsg",
    "normalize_crs_code",
    "normalize_raster_crs_sidecars",
    "parse_epsg",
]

REQUIRED_COLUMNS = {"id", "datetime", "geometry", "assets"}


def _is_geoarrow_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.ExtensionType) and t.extension_name.startswith("geoarrow.")


def _geoarrow_crs(field: pa.Field) -> Any:
    """The CRS a GeoArrow ``geometry`` field declares, else None.

    It is read from the registered extension type (once ``geoarrow.pyarrow`` is imported,
    Arrow turns the field into one) or, unregistered, from the field's extension metadata.
    """
    if _is_geoarrow_type(field.type):
        raw = field.type.__arrow_ext_serialize__()
    elif isinstance(field.type, pa.ExtensionType):
        return None
    else:
        raw = (field.metadata or {}).get(b"ARROW:extension:metadata")
    if not raw:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    return meta.get("crs") if isinstance(meta, dict) else None


def _wkb_values(column: pa.ChunkedArray) -> Any:
    """The WKB bytes (numpy object array) of a plain binary or GeoArrow geometry column."""
    if isinstance(column.type, pa.ExtensionType):
        import geoarrow.pyarrow as ga

        wkb = ga.as_wkb(column)
        chunks = wkb.chunks if isinstance(wkb, pa.ChunkedArray) else [wkb]
        column = pa.chunked_array([c.storage for c in chunks], type=wkb.type.storage_type)
    return column.to_numpy(zero_copy_only=False)


def _reproject_footprints(table: pa.Table) -> pa.Table:
    """GeoArrow geometries become plain WKB, reprojected to CRS84 when their CRS is another
    one (the ``bbox`` column is then dropped so it is recomputed)."""
    field = table.schema.field("geometry")
    crs = _geoarrow_crs(field)
    src = None
    if crs is not None:
        from pyproj import CRS

        src = CRS.from_user_input(crs if not isinstance(crs, dict) else json.dumps(crs))
        if src.equals(CRS("OGC:CRS84")) or src.to_epsg() == 4326:
            src = None
    if src is None and not _is_geoarrow_type(field.type):
        return table
    values = _wkb_values(table.column("geometry"))
    if src is not None:
        import numpy as np
        import shapely
        from pyproj import Transformer

        tf = Transformer.from_crs(src, "OGC:CRS84", always_xy=True)

        def to_crs84(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(tf.transform(xy[:, 0], xy[:, 1]))

        values = shapely.to_wkb(shapely.transform(shapely.from_wkb(values), to_crs84))
        if "bbox" in table.column_names:
            table = table.drop_columns(["bbox"])
    idx = table.schema.get_field_index("geometry")
    return table.set_column(idx, pa.field("geometry", pa.binary()), pa.array(values, pa.binary()))


def _add_year_month(table: pa.Table) -> pa.Table:
    dt = table.column("datetime")
    if pa.types.is_null(dt.type):
        year = month = pa.nulls(table.num_rows, pa.int64())
    else:
        if not pa.types.is_timestamp(dt.type):
            dt = pc.cast(dt, pa.timestamp("us"))
        year, month = pc.year(dt), pc.month(dt)
    if "year" not in table.column_names:
        table = table.append_column("year", year)
    if "month" not in table.column_names:
        table = table.append_column("month", month)
    return table


def build_collection_from_table(
    table: pa.Table,
    *,
    name: str = "",
    description: str = "",
    data_source: str = "",
    date_range: tuple[str, str] | None = None,
    workspace_dir: str | os.PathLike[str] | None = None,
    partition_cols: tuple[str, ...] = ("year", "month"),
) -> Collection:
    """Normalise a record table into a Collection (and export it when ``workspace_dir``)."""
    missing = REQUIRED_COLUMNS - set(table.column_names)
    if missing:
        raise ValueError(f"Table is missing required columns: {missing}")
    table = _reproject_footprints(table)
    table = normalize_raster_crs_sidecars(table)
    if "bbox" not in table.column_names:
        try:
            table = ensure_bbox_struct(table)
        except Exception as exc:  # noqa: BLE001 - shapely raises many kinds on bad WKB
            warnings.warn(f"could not derive bbox from geometry: {exc}", UserWarning, stacklevel=2)
            struct_type = pa.struct([(n, pa.float64()) for n in ("xmin", "ymin", "xmax", "ymax")])
            table = table.append_column("bbox", pa.nulls(table.num_rows, struct_type))
    table = _add_year_month(table)
    start = end = None
    if date_range is not None:
        start = _dt.datetime.fromisoformat(str(date_range[0])[:10])
        end = _dt.datetime.fromisoformat(str(date_range[1])[:10])
    collection = Collection(
        dataset=ds.dataset(table),
        name=name,
        description=description,
        data_source=data_source,
        start_date=start,
        end_date=end,
    )
    if workspace_dir:
        collection.export(workspace_dir, partition_by=partition_cols)
    return collection


def as_collection(
    table: Any,
    *,
    name: str = "",
    data_source: str = "",
    description: str = "",
    start_date: _dt.datetime | None = None,
    end_date: _dt.datetime | None = None,
    require_band_metadata: bool = True,
) -> Collection:
    """Wrap an Arrow table/dataset/stream that already follows the collection schema.

    Nothing is normalised, enriched or written: the input must already carry the contract
    columns (``id, datetime, geometry, assets, bbox``) and, unless
    ``require_band_metadata=False``, at least one ``{band}_metadata`` struct.

    Parameters
    ----------
    table
        A ``pyarrow.Table``, ``RecordBatch``, ``RecordBatchReader``, ``pyarrow.dataset.Dataset``
        (stays lazy), an Arrow PyCapsule producer, or an object exporting Arrow (DuckDB).
    name, data_source, description, start_date, end_date
        Collection attributes (``data_source`` is inferred from the table when empty).
    require_band_metadata
        Check for ``{band}_metadata`` columns with the fields reads need.

    Returns
    -------
    Collection

    Raises
    ------
    ValueError
        Missing contract columns or band metadata fields.
    TypeError
        ``start_date``/``end_date`` are not ``datetime`` objects.

    Examples
    --------
    >>> summer = duckdb.sql("SELECT * FROM scenes WHERE month BETWEEN 6 AND 8")  # doctest: +SKIP
    >>> view = rasteret.as_collection(summer.arrow(), name="summer")  # doctest: +SKIP
    """
    return Collection.from_arrow(
        table,
        name=name,
        data_source=data_source,
        description=description,
        start_date=start_date,
        end_date=end_date,
        require_band_metadata=require_band_metadata,
    )
