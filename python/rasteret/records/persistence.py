"""Collections on disk: opening Parquet datasets (cached), GeoParquet metadata, export.

Layout and rules are the schema contract's: Hive ``year=/month=`` partitions,
zstd(3), ``geo`` metadata with a bbox covering, CRS84 footprints.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret._locking import exclusive_lock, lock_path_for
from rasteret.records.filters import BBOX_FIELDS, bbox_is_struct

logger = logging.getLogger(__name__)

PARQUET_DATASET_CACHE: dict[tuple[str, bool], tuple[Any, ds.Dataset]] = {}
_WKB_TYPES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def is_cloud_uri(path: str | os.PathLike[str]) -> bool:
    """True for ``scheme://`` URIs other than ``file://``."""
    s = str(path)
    return "://" in s and not s.startswith("file://")


def _local(path: str | os.PathLike[str]) -> Path:
    s = str(path)
    return Path(s[len("file://") :] if s.startswith("file://") else s).expanduser()


def _fingerprint(path: Path) -> Any:
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        meta = path / "_metadata"
        extra = (meta.stat().st_mtime_ns, meta.stat().st_size) if meta.exists() else None
        return ("dir", st.st_mtime_ns, extra)
    return ("file", st.st_mtime_ns, st.st_size)


def _open_metadata_sidecar(directory: Path) -> ds.Dataset | None:
    """The dataset a ``_metadata`` sidecar lists, or None when it names no part files.

    ``pyarrow.parquet.write_metadata`` writes the schema alone, or row groups without file
    paths unless each collected footer got ``set_file_path``: such a sidecar cannot locate
    the parts, so the caller scans the directory instead.
    """
    try:
        dataset = ds.parquet_dataset(
            str(directory / "_metadata"), partitioning="hive", partition_base_dir=str(directory)
        )
    except (OSError, pa.ArrowInvalid) as exc:
        logger.debug("ignoring the _metadata sidecar of %s: %s", directory, exc)
        return None
    return dataset if dataset.files else None


def open_parquet_dataset(path: str | os.PathLike[str], *, try_hive: bool = True) -> ds.Dataset:
    """Open a Parquet file or (Hive-partitioned) directory, cached per process."""
    key = (str(path), try_hive)
    cloud = is_cloud_uri(path)
    fingerprint = None if cloud else _fingerprint(_local(path))
    hit = PARQUET_DATASET_CACHE.get(key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    source: Any = str(path) if cloud else str(_local(path))
    local = None if cloud else _local(path)
    dataset = None
    if local is not None and local.is_dir() and (local / "_metadata").exists():
        dataset = _open_metadata_sidecar(local)
    if dataset is None:
        if try_hive:
            try:
                dataset = ds.dataset(
                    source, format="parquet", partitioning="hive", exclude_invalid_files=True
                )
            except pa.ArrowInvalid:
                dataset = None
        if dataset is None:
            dataset = ds.dataset(source, format="parquet", exclude_invalid_files=True)
    PARQUET_DATASET_CACHE[key] = (fingerprint, dataset)
    return dataset


@functools.lru_cache(maxsize=1)
def crs84_projjson() -> str:
    """Compact PROJJSON of OGC:CRS84 (the footprint CRS of every collection)."""
    from pyproj import CRS

    return json.dumps(CRS("OGC:CRS84").to_json_dict(), separators=(",", ":"))


@functools.lru_cache(maxsize=1)
def _register_geoarrow_types() -> None:
    """Register the GeoArrow extension types with pyarrow (once per process).

    pyarrow then imports a column tagged ``geoarrow.wkb`` (ours, through the Arrow C stream
    interface) as a GeoArrow type, even when the caller never imported ``geoarrow.pyarrow``.
    """
    import geoarrow.pyarrow  # noqa: F401  (importing it registers the types)


def with_geoarrow_geometry(schema: pa.Schema) -> pa.Schema:
    """Tag a plain WKB ``geometry`` column as ``geoarrow.wkb`` in CRS84 (other fields kept).

    Every Arrow export goes through here, so the GeoArrow types are registered first.
    """
    _register_geoarrow_types()
    idx = schema.get_field_index("geometry")
    if idx < 0:
        return schema
    f = schema.field(idx)
    meta = dict(f.metadata or {})
    if not (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)):
        return schema
    if any(k == b"ARROW:extension:name" and v.startswith(b"geoarrow.") for k, v in meta.items()):
        return schema
    meta[b"ARROW:extension:name"] = b"geoarrow.wkb"
    meta[b"ARROW:extension:metadata"] = json.dumps(
        {"crs": json.loads(crs84_projjson())}, separators=(",", ":")
    ).encode()
    return schema.set(idx, f.with_metadata(meta))


def wkb_geometry_types(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """Sorted distinct OGC geometry type names of a WKB column (nulls/short values skipped)."""
    seen: set[str] = set()
    for value in column.to_pylist() if len(column) < 1_000_000 else column.unique().to_pylist():
        if not value or len(value) < 5:
            continue
        order = "<" if value[0] == 1 else ">"
        (code,) = struct.unpack(order + "I", value[1:5])
        name = _WKB_TYPES.get((code & 0x0FFFFFFF) % 1000)
        if name:
            seen.add(name)
    return sorted(seen)


def geoparquet_metadata(table: pa.Table) -> bytes:
    """The ``geo`` key (GeoParquet 1.1, WKB, bbox covering) for ``table``."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
    if "geometry" in table.column_names:
        column["geometry_types"] = wkb_geometry_types(table.column("geometry"))
    if bbox_is_struct(table.schema):
        column["covering"] = {"bbox": {n: ["bbox", n] for n in BBOX_FIELDS}}
    geo = {"columns": {"geometry": column}, "primary_column": "geometry", "version": "1.1.0"}
    return json.dumps(geo, sort_keys=True, separators=(",", ":")).encode()


def metadata_from_schema(schema: pa.Schema | None) -> dict[str, str]:
    """``name``, ``data_source``, ``description``, ``date_range`` from schema metadata."""
    meta = (schema.metadata or {}) if schema is not None else {}
    out = {}
    for key in ("name", "data_source", "description", "date_range"):
        raw = meta.get(key.encode())
        if raw is not None:
            out[key] = raw.decode("utf-8", "replace")
    return out


@contextlib.contextmanager
def collection_lock(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Hold the write lock of the local collection at ``path`` (``.<name>.lock`` beside it).

    Another process (or thread) writing the same collection waits until this block ends; the
    lock is released when its holder exits or dies. None and cloud URIs are not locked.
    """
    if path is None or is_cloud_uri(path):
        yield
        return
    target = _local(path)
    with exclusive_lock(lock_path_for(target), f"the collection {target}"):
        yield


def write_collection(
    table: pa.Table,
    path: str | os.PathLike[str],
    partition_by: tuple[str, ...] | list[str],
) -> None:
    """Write ``table`` as a Hive-partitioned Parquet dataset (zstd 3, ``part-{i}.parquet``).

    Dictionary encoding and statistics are kept for the record columns and left out for the
    ``*_metadata`` tile tables: their values hardly repeat and no filter reads their
    statistics, and encoding them cost a third of a 12-record write and made the file 35%
    larger.

    Local targets are written to a temporary sibling directory first and renamed into place
    (an existing collection at ``path`` is replaced), so a failed write leaves nothing
    half-written behind. The rename holds the collection's lock file (``.<name>.lock`` beside
    it), so two processes publishing the same path take turns and the last one wins whole.
    """
    import shutil
    import tempfile

    import pyarrow.parquet as pq

    light = [
        path
        for f in table.schema
        if not f.name.endswith("_metadata")
        for path in _parquet_paths(f.name, f.type)
    ]
    kwargs: dict[str, Any] = {
        "partition_cols": list(partition_by),
        "compression": "zstd",
        "compression_level": 3,
        "row_group_size": 50_000,
        "write_statistics": light,
        "use_dictionary": light,
        "write_batch_size": 10_000,
        "basename_template": "part-{i}.parquet",
    }
    if is_cloud_uri(path):
        pq.write_to_dataset(table, root_path=str(path), **kwargs)
        return
    target = _local(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        if not _write_small(table, tmp, list(partition_by), kwargs):
            pq.write_to_dataset(table, root_path=str(tmp), **kwargs)
        with collection_lock(target):
            if target.exists():
                # Replace, never merge: move the old collection aside, swap the new one in.
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                target.replace(old)
                tmp.replace(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    PARQUET_DATASET_CACHE.pop((str(path), True), None)
    PARQUET_DATASET_CACHE.pop((str(path), False), None)


def _parquet_paths(name: str, type_: pa.DataType) -> list[str]:
    """The Parquet leaf column paths of a field (``bbox.xmin``, ``tags.list.element``): what
    per-column write options are keyed by."""
    if pa.types.is_struct(type_):
        return [p for child in type_ for p in _parquet_paths(f"{name}.{child.name}", child.type)]
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _parquet_paths(f"{name}.list.element", type_.value_type)
    if pa.types.is_map(type_):
        return [
            *_parquet_paths(f"{name}.key_value.key", type_.key_type),
            *_parquet_paths(f"{name}.key_value.value", type_.item_type),
        ]
    return [name]


def _write_small(table: pa.Table, root: Path, partition_cols: list[str], options: dict) -> bool:
    """Write a table of at most one row group with integer partition columns (the usual
    ``year``/``month``) as :func:`pyarrow.parquet.write_to_dataset` would, one
    ``col=value/.../part-0.parquet`` file per partition, without the dataset writer's fixed
    cost (tens of milliseconds, most of a small build). False (nothing written) otherwise."""
    import pyarrow.parquet as pq

    columns = [table.column(c) for c in partition_cols if c in table.column_names]
    if (
        table.num_rows == 0
        or table.num_rows > options["row_group_size"]
        or len(columns) != len(partition_cols)
        or any(not pa.types.is_integer(c.type) or c.null_count for c in columns)
    ):
        return False
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, key in enumerate(zip(*(c.to_pylist() for c in columns), strict=True)):
        groups.setdefault(key, []).append(row)
    data = table.drop_columns(partition_cols)
    file_options = {
        k: options[k]
        for k in ("compression", "compression_level", "row_group_size", "write_statistics")
    }
    for key, rows in groups.items():
        folder = root.joinpath(*(f"{c}={v}" for c, v in zip(partition_cols, key, strict=True)))
        folder.mkdir(parents=True, exist_ok=True)
        part = data.take(pa.array(rows, pa.int64())) if len(groups) > 1 else data
        pq.write_table(
            part,
            folder / options["basename_template"].format(i=0),
            use_dictionary=options["use_dictionary"],
            write_batch_size=options["write_batch_size"],
            **file_options,
        )
    return True
