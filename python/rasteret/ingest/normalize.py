"""Record-table normalisation into the collection schema (API contract §4.1, §4.3, §1.8).

CRS sidecars (``proj:epsg`` int32, ``crs`` string) are derived per row from ``proj:code``,
``proj:epsg``, ``crs``, ``proj:wkt2`` or ``proj:projjson``, first parseable value wins.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import warnings
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.core.collection import Collection, _ensure_bbox_struct

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
_CRS_SOURCES = ("proj:code", "proj:epsg", "crs", "proj:wkt2", "proj:projjson")
_AS_COLLECTION_REQUIRED = {"id", "datetime", "geometry", "assets", "bbox"}
_LAYOUT_REQUIRED = (
    "tile_offsets",
    "tile_byte_counts",
    "tile_width",
    "tile_height",
    "dtype",
    "transform",
)
_large_warning_done = False


@functools.lru_cache(maxsize=4096)
def _pyproj_epsg(text: str) -> int | None:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(text).to_epsg()
    except CRSError:
        return None


def parse_epsg(value: Any) -> int | None:
    """EPSG code of a CRS value (int, ``"EPSG:n"``, digits, WKT or PROJJSON), else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value > 0 else None
    if isinstance(value, dict):
        return _pyproj_epsg(json.dumps(value, sort_keys=True))
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s.upper().startswith("EPSG:") and s[5:].strip().isdigit():
            return int(s[5:].strip())
        if s.isdigit():
            return int(s)
        return _pyproj_epsg(s)
    return None


def crs_code_from_epsg(epsg: int | None) -> str | None:
    """``"EPSG:<n>"`` (None for None)."""
    return None if epsg is None else f"EPSG:{int(epsg)}"


@functools.lru_cache(maxsize=4096)
def _normalize_text(s: str) -> str | None:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    epsg = parse_epsg(s)
    if epsg is not None:
        return f"EPSG:{epsg}"
    try:
        crs = CRS.from_user_input(s)
    except CRSError:
        return s
    auth = crs.to_authority()
    if auth is not None:
        return f"{auth[0]}:{auth[1]}"
    return crs.to_string() or s


def normalize_crs_code(value: Any) -> str | None:
    """A CRS value as ``"EPSG:n"``, else ``"AUTH:CODE"``, else a pyproj string, else raw."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        epsg = parse_epsg(value)
        return None if epsg is None else f"EPSG:{epsg}"
    if isinstance(value, dict):
        return _normalize_text(json.dumps(value, sort_keys=True))
    s = str(value).strip()
    return _normalize_text(s) if s else None


def normalize_raster_crs_sidecars(table: pa.Table) -> pa.Table:
    """Write per-row ``proj:epsg`` (int32) and ``crs`` (string) from the CRS columns present."""
    present = [c for c in _CRS_SOURCES if c in table.column_names]
    if not present:
        return table
    columns = {c: table.column(c).to_pylist() for c in present}
    epsgs: list[int | None] = []
    codes: list[str | None] = []
    for i in range(table.num_rows):
        epsg, code = None, None
        for c in present:
            v = columns[c][i]
            if v is None:
                continue
            if isinstance(v, str) and v.strip().startswith("{"):
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            e = parse_epsg(v)
            n = normalize_crs_code(v)
            if e is not None or n is not None:
                epsg, code = e, (n if e is None else f"EPSG:{e}")
                break
        epsgs.append(epsg)
        codes.append(code)
    for name, values, typ in (("proj:epsg", epsgs, pa.int32()), ("crs", codes, pa.string())):
        arr = pa.array(values, type=typ)
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table


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
            table = _ensure_bbox_struct(table)
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


def _infer_data_source(dataset: ds.Dataset) -> str:
    from rasteret.core.utils import infer_data_source_from_dataset

    return infer_data_source_from_dataset(dataset)


def _to_dataset(data: Any) -> tuple[ds.Dataset, pa.Table | None]:
    if isinstance(data, ds.Dataset):
        return data, None
    if isinstance(data, pa.Table):
        return ds.dataset(data), data
    if isinstance(data, pa.RecordBatch):
        return ds.dataset(pa.Table.from_batches([data])), None
    if isinstance(data, pa.RecordBatchReader):
        return ds.dataset(data.read_all()), None
    if hasattr(data, "__arrow_c_stream__"):
        return ds.dataset(pa.RecordBatchReader.from_stream(data).read_all()), None
    return ds.dataset(pa.table(data)), None


def _warn_if_large(table: pa.Table) -> None:
    global _large_warning_done
    if _large_warning_done:
        return
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 0
    if table.nbytes >= 2 * 1024**3 or (ram and table.nbytes >= 0.4 * ram):
        _large_warning_done = True
        warnings.warn(
            "as_collection() received a large in-memory pyarrow.Table "
            f"({table.nbytes / 1024**3:.1f} GiB); prefer a lazy pyarrow.dataset.Dataset or "
            "persist to Parquet and use rasteret.load(...)",
            UserWarning,
            stacklevel=3,
        )


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
    dataset, materialised = _to_dataset(table)
    if materialised is not None:
        _warn_if_large(materialised)
    schema = dataset.schema
    missing = sorted(_AS_COLLECTION_REQUIRED - set(schema.names))
    if missing:
        raise ValueError(
            f"Table is missing required columns for as_collection: {missing}. Use "
            "build_from_table(...) to normalise a raw record table first."
        )
    if require_band_metadata:
        meta_cols = [n for n in schema.names if n.endswith("_metadata")]
        if not meta_cols:
            raise ValueError(
                "No '*_metadata' columns found: as_collection() needs enriched band metadata "
                "(build with build_from_table/build_from_stac, or pass "
                "require_band_metadata=False)."
            )
        for c in meta_cols:
            t = schema.field(c).type
            if not pa.types.is_struct(t):
                raise ValueError(f"Column '{c}' must be a struct for as_collection().")
            lacking = [f for f in _LAYOUT_REQUIRED if t.get_field_index(f) < 0]
            if lacking:
                raise ValueError(f"Column '{c}' is missing required metadata fields: {lacking}")
    for label, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and not isinstance(value, _dt.datetime):
            raise TypeError(f"{label} must be a datetime, got {type(value).__name__}")
    return Collection(
        dataset=dataset,
        name=name,
        description=description,
        data_source=data_source or _infer_data_source(dataset),
        start_date=start_date,
        end_date=end_date,
    )
