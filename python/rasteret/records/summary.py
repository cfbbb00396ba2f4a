"""Summaries of a record source: bands, bounds, CRS codes, resolution, data source.

Each reads only the columns it needs; a record-index source answers from its index when the
index holds the column, without opening the wide collection.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.records.crs import normalize_crs_code
from rasteret.records.filters import BBOX_FIELDS, bbox_is_struct
from rasteret.records.source import RecordSource

__all__ = [
    "band_names",
    "infer_data_source",
    "bounds_of",
    "crs_codes",
    "data_source_of",
    "epsg_codes",
    "native_resolution",
]


def band_names(source: RecordSource) -> list[str]:
    """Band codes: the source's own (a record index's band map), else the ``{band}_metadata``
    columns in schema order."""
    declared = source.band_names
    if declared:
        return declared
    schema = source.schema
    if schema is None:
        return []
    return [n[: -len("_metadata")] for n in schema.names if n.endswith("_metadata")]


def _column(source: RecordSource, name: str) -> pa.ChunkedArray | None:
    """The column ``name`` of the filtered records (from the index when it has it)."""
    index = source.index_table(name)
    if index is not None:
        return index.column(name)
    schema = source.schema
    if schema is None or name not in schema.names:
        return None
    return source.scan([name]).column(name)


def bounds_of(source: RecordSource) -> tuple[float, float, float, float] | None:
    """Union of the records' bbox structs ``(xmin, ymin, xmax, ymax)`` (None when unknown)."""
    index = source.index_table("bbox")
    if index is not None:
        if not bbox_is_struct(index.schema):
            return None
        bbox = index.column("bbox")
    else:
        schema = source.schema
        if schema is None or not bbox_is_struct(schema):
            return None
        bbox = source.scan(["bbox"]).column("bbox")
    if len(bbox) == 0:
        return None
    values = []
    for n, agg in zip(BBOX_FIELDS, (pc.min, pc.min, pc.max, pc.max), strict=True):
        v = agg(pc.struct_field(bbox, n)).as_py()
        if v is None:
            return None
        values.append(float(v))
    return (values[0], values[1], values[2], values[3])


def epsg_codes(source: RecordSource) -> list[int]:
    """Sorted distinct ``proj:epsg`` codes."""
    col = _column(source, "proj:epsg")
    if col is None:
        return []
    return sorted(int(v) for v in pc.unique(col.drop_null()).to_pylist())


def crs_codes(source: RecordSource) -> list[str]:
    """Sorted distinct raster CRS codes (``"EPSG:32633"``...), from ``crs`` or ``proj:epsg``."""
    col = _column(source, "crs")
    if col is None:
        return [f"EPSG:{e}" for e in epsg_codes(source)]
    codes = {normalize_crs_code(v) for v in pc.unique(col.drop_null()).to_pylist()}
    return sorted(c for c in codes if c)


def native_resolution(source: RecordSource, band: str) -> tuple[float, float]:
    """The most common ``(xres, yres)`` of ``band``'s transforms.

    Raises
    ------
    ValueError
        No record stores a transform for ``band``.
    """
    name = f"{band}_metadata"
    dataset = source.dataset
    if dataset is not None:  # project the one nested field
        transforms = dataset.to_table(columns={"t": ds.field(name, "transform")}).column("t")
    else:
        transforms = pc.struct_field(source.scan([name]).column(name), "transform")
    counts: Counter[tuple[float, float]] = Counter()
    for t in transforms.to_pylist():
        if not t:
            continue
        xres, yres = (t[0], t[2]) if len(t) == 4 else (t[0], t[4])
        counts[(abs(float(xres)), abs(float(yres)))] += 1
    if not counts:
        raise ValueError(f"No transform stored for band {band!r}")
    return counts.most_common(1)[0][0]


def data_source_of(source: RecordSource) -> str:
    """Schema metadata ``data_source`` (unless empty or ``"unknown"``), else the first
    non-empty ``collection`` value."""
    schema = source.schema
    if schema is None:
        return ""
    raw = (schema.metadata or {}).get(b"data_source", b"").decode("utf-8", "replace").strip()
    if raw and raw != "unknown":
        return raw
    if "collection" not in schema.names:
        return ""
    if source.dataset is None:  # streamed: look at the first record only
        values = source.head(1, ["collection"]).column("collection").to_pylist()
        return str(values[0]) if values and values[0] else ""
    for batch in source.batches(["collection"]):
        for value in batch.column(0).to_pylist():
            if value:
                return str(value)
    return ""


def infer_data_source(collection: Any) -> str:
    """A collection's data source: its ``data_source`` label, else :func:`data_source_of` its
    records (``collection`` is a :class:`~rasteret.records.view.RecordView`)."""
    label = getattr(collection, "data_source", "") or ""
    if label:
        return label
    source = getattr(collection, "_source", None)
    return "" if source is None else data_source_of(source)
