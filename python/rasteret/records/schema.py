"""The read-ready collection schema: required columns, the ``bbox`` struct, Arrow export form
and the labels kept in the Parquet key-value metadata.

A read-ready collection has ``id``, ``datetime``, ``geometry`` (WKB footprints in OGC:CRS84),
``assets`` and a ``bbox`` struct (``xmin, ymin, xmax, ymax``), plus one ``{band}_metadata``
struct per band with the tile layout reads need.
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret.records.filters import BBOX_FIELDS, bbox_is_struct
from rasteret.records.persistence import metadata_from_schema, with_geoarrow_geometry

__all__ = [
    "LAYOUT_REQUIRED",
    "READ_READY_COLUMNS",
    "REQUIRED_COLUMNS",
    "CollectionLabels",
    "check_read_ready",
    "dataset_of",
    "ensure_bbox_struct",
    "export_schema",
    "export_table",
    "missing_collection_columns",
    "warn_if_large",
]

#: columns every record table must have before normalisation
REQUIRED_COLUMNS = ("id", "datetime", "geometry", "assets")
#: columns a read-ready collection has (the bbox struct is derived by normalisation)
READ_READY_COLUMNS = ("id", "datetime", "geometry", "assets", "bbox")
#: fields of a ``{band}_metadata`` struct that reads need
LAYOUT_REQUIRED = (
    "tile_offsets",
    "tile_byte_counts",
    "tile_width",
    "tile_height",
    "dtype",
    "transform",
)

_large_warning_done = False


def missing_collection_columns(schema: pa.Schema) -> list[str]:
    """Required columns ``schema`` lacks (``bbox`` when it is not a bbox struct)."""
    missing = sorted(c for c in REQUIRED_COLUMNS if c not in schema.names)
    if not bbox_is_struct(schema):
        missing.append("bbox")
    return missing


def check_read_ready(schema: pa.Schema, *, require_band_metadata: bool = True) -> None:
    """Check that records of ``schema`` can be read as they are (no normalisation).

    Raises
    ------
    ValueError
        Missing contract columns, no ``{band}_metadata`` column (when required), or a
        metadata column lacking layout fields.
    """
    missing = sorted(set(READ_READY_COLUMNS) - set(schema.names))
    if missing:
        raise ValueError(
            f"Table is missing required columns for as_collection: {missing}. Use "
            "build_from_table(...) to normalise a raw record table first."
        )
    if not require_band_metadata:
        return
    meta_cols = [n for n in schema.names if n.endswith("_metadata")]
    if not meta_cols:
        raise ValueError(
            "No '*_metadata' columns found: as_collection() needs enriched band metadata "
            "(build with build_from_table/build_from_stac, or pass require_band_metadata=False)."
        )
    for c in meta_cols:
        t = schema.field(c).type
        if not pa.types.is_struct(t):
            raise ValueError(f"Column '{c}' must be a struct for as_collection().")
        lacking = [f for f in LAYOUT_REQUIRED if t.get_field_index(f) < 0]
        if lacking:
            raise ValueError(f"Column '{c}' is missing required metadata fields: {lacking}")


def dataset_of(data: Any) -> tuple[ds.Dataset, pa.Table | None]:
    """Any Arrow producer as a ``pyarrow.dataset.Dataset``, and the table when one was
    materialised in memory (a ``Dataset`` input stays lazy)."""
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


def warn_if_large(table: pa.Table) -> None:
    """Warn once per process when an in-memory table is large (>= 2 GiB or 40% of RAM)."""
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
            stacklevel=4,
        )


def ensure_bbox_struct(table: pa.Table) -> pa.Table:
    """Give ``table`` a ``bbox`` struct: from a 4-number list, or from geometry envelopes."""
    if bbox_is_struct(table.schema):
        return table
    struct_type = pa.struct([(n, pa.float64()) for n in BBOX_FIELDS])
    if "bbox" in table.column_names:
        t = table.schema.field("bbox").type
        if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
            rows = table.column("bbox").to_pylist()
            values = [
                None if r is None else dict(zip(BBOX_FIELDS, map(float, r), strict=True))
                for r in rows
            ]
            idx = table.schema.get_field_index("bbox")
            return table.set_column(idx, "bbox", pa.array(values, type=struct_type))
        return table
    if "geometry" in table.column_names:
        import shapely

        geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
        bounds = shapely.bounds(geoms)
        arrays = [pa.array(bounds[:, i], pa.float64()) for i in range(4)]
        return table.append_column(
            "bbox", pa.StructArray.from_arrays(arrays, names=list(BBOX_FIELDS))
        )
    return table


def export_table(table: pa.Table) -> pa.Table:
    """``table`` as users receive it: the WKB ``geometry`` typed as GeoArrow (CRS84)."""
    return (
        table.replace_schema_metadata(None)
        .cast(with_geoarrow_geometry(table.schema))
        .replace_schema_metadata(table.schema.metadata)
    )


def export_schema(schema: pa.Schema | None) -> pa.Schema:
    """The schema of :func:`export_table` results (empty for no schema)."""
    return pa.schema([]) if schema is None else with_geoarrow_geometry(schema)


def _parse_date_range(raw: str | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    if not raw or "," not in raw:
        return None, None
    start, end = raw.split(",", 1)
    try:
        return _dt.datetime.fromisoformat(start), _dt.datetime.fromisoformat(end)
    except ValueError:
        return None, None


@dataclass(frozen=True)
class CollectionLabels:
    """The descriptive attributes of a collection (stored in its Parquet metadata)."""

    name: str = ""
    description: str = ""
    data_source: str = ""
    start_date: _dt.datetime | None = None
    end_date: _dt.datetime | None = None

    @classmethod
    def from_schema(
        cls, schema: pa.Schema | None, *, name: str = "", data_source: str = ""
    ) -> CollectionLabels:
        """Labels from schema metadata; given ``name``/``data_source`` win when non-empty."""
        meta = metadata_from_schema(schema)
        start, end = _parse_date_range(meta.get("date_range"))
        return cls(
            name=name or meta.get("name", ""),
            description=meta.get("description", ""),
            data_source=data_source or meta.get("data_source", ""),
            start_date=start,
            end_date=end,
        )

    def without_name(self) -> tuple[str, str, _dt.datetime | None, _dt.datetime | None]:
        """``(description, data_source, start_date, end_date)``."""
        return self.description, self.data_source, self.start_date, self.end_date

    def to_metadata(self) -> dict[bytes, bytes]:
        """Parquet key-value metadata of an export (``created`` is now)."""
        dates = b""
        if self.start_date is not None and self.end_date is not None:
            dates = f"{self.start_date.isoformat()},{self.end_date.isoformat()}".encode()
        return {
            b"description": self.description.encode(),
            b"created": _dt.datetime.now().isoformat().encode(),
            b"name": self.name.encode(),
            b"data_source": self.data_source.encode(),
            b"date_range": dates,
            b"rasteret_collection_version": b"1",
        }
