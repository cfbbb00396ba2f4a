"""``Collection``: a filtered view over a GeoParquet table of COG records and tile layouts.

Filters return new views (the underlying ``pyarrow.dataset`` is filtered lazily, with
predicate pushdown); nothing is mutated. Pixel reads are added by the read modules.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.core import filters as _f
from rasteret.core import naming
from rasteret.core.collection_reads import CollectionReads
from rasteret.core.display import DescribeResult, build_catalog_comparison, build_describe_result
from rasteret.core.persistence import (
    _PARQUET_DATASET_CACHE,
    BBOX_FIELDS,
    _is_cloud_uri,
    _open_parquet_dataset,
    bbox_is_struct,
    geoparquet_metadata,
    metadata_from_schema,
    with_geoarrow_geometry,
    write_collection,
)
from rasteret.core.record_index import RecordIndex, and_all, can_evaluate

__all__ = ["Collection"]

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "datetime", "geometry", "assets")
_EXPORT_UNSUPPORTED = "Rasteret Collection cannot fulfill the requested Arrow schema export."

# Re-exported for tests that patch/inspect them (§0).
__internal__ = (_PARQUET_DATASET_CACHE, _is_cloud_uri, _open_parquet_dataset)


def _parse_date_range(raw: str | None) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    if not raw or "," not in raw:
        return None, None
    start, end = raw.split(",", 1)
    try:
        return _dt.datetime.fromisoformat(start), _dt.datetime.fromisoformat(end)
    except ValueError:
        return None, None


class Collection(CollectionReads):
    """Records of COG assets with their tile layouts, filterable as a table.

    Parameters
    ----------
    dataset
        The records as a ``pyarrow.dataset.Dataset``.
    hf_streaming
        A :class:`~rasteret.integrations.huggingface.HFStreamingSource` to stream records
        from instead (``load("hf://datasets/...")``).
    collection_path
        Path of the (wide) collection Parquet, opened on first use when ``dataset`` is None.
    record_index_path, record_index_field_roles, record_index_column_map, \
    record_index_href_column, record_index_band_index_map, \
    record_index_url_rewrite_patterns, record_index_filesystem
        A narrow record index planning this collection (API contract §2.14): its location,
        ``field_roles``/``column_map`` to canonical names, ``href_column`` +
        ``band_index_map`` + URL rewrites to rebuild ``assets``, and a pyarrow filesystem.
    surface_fields, filter_capabilities
        What each surface (``index``, ``collection``) holds and can filter on.
    record_index_filter_expr, wide_filter_expr
        Filters of this view over the index and over the wide collection.
    name, description, data_source
        Labels; ``data_source`` selects band maps and cloud configs (e.g. ``sentinel-2-l2a``).
    start_date, end_date
        The build's date range, when known.

    Examples
    --------
    >>> coll = rasteret.load("~/rasteret_workspace/s2_202401-06_sentinel_stac")  # doctest: +SKIP
    >>> coll.subset(cloud_cover_lt=20, bbox=(11.0, 46.0, 11.5, 46.5))  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: ds.Dataset | None = None,
        hf_streaming: Any | None = None,
        collection_path: str | None = None,
        record_index_path: str | None = None,
        record_index_field_roles: dict[str, str] | None = None,
        record_index_column_map: dict[str, str] | None = None,
        record_index_href_column: str | None = None,
        record_index_band_index_map: dict[str, int] | None = None,
        record_index_url_rewrite_patterns: dict[str, str] | None = None,
        record_index_filesystem: Any | None = None,
        surface_fields: dict[str, list[str]] | None = None,
        filter_capabilities: dict[str, list[str]] | None = None,
        record_index_filter_expr: ds.Expression | None = None,
        wide_filter_expr: ds.Expression | None = None,
        name: str = "",
        description: str = "",
        data_source: str = "",
        start_date: _dt.datetime | None = None,
        end_date: _dt.datetime | None = None,
    ) -> None:
        if dataset is not None and hf_streaming is not None:
            raise ValueError("Collection cannot use both Dataset and HF streaming backends")
        if dataset is not None and not isinstance(dataset, ds.Dataset):
            raise TypeError("Expected pyarrow.dataset.Dataset")
        self._dataset = dataset
        self._hf = hf_streaming
        self._collection_path = collection_path
        self._ri: RecordIndex | None = None
        self._wide: ds.Dataset | None = None  # materialised wide records of a record index
        if record_index_path is not None:
            self._ri = RecordIndex(
                path=str(record_index_path),
                collection_path=collection_path,
                field_roles=record_index_field_roles,
                column_map=record_index_column_map,
                href_column=record_index_href_column,
                band_index_map=record_index_band_index_map,
                url_rewrite_patterns=record_index_url_rewrite_patterns,
                filesystem=record_index_filesystem,
                surface_fields=surface_fields,
                filter_capabilities=filter_capabilities,
            )
            if dataset is not None:
                self._ri._cache["wide"] = dataset
                self._dataset = None
        self._ri_expr = record_index_filter_expr
        self._wide_expr = wide_filter_expr
        self._surface_fields = surface_fields
        self._filter_capabilities = filter_capabilities
        self.name = name
        self.description = description
        self.data_source = data_source
        self.start_date = start_date
        self.end_date = end_date

    # -- dataset access ----------------------------------------------------------------------

    @property
    def dataset(self) -> ds.Dataset | None:
        """The (filtered) records; a deferred collection opens its Parquet on first use.

        ``None`` for a record-index collection (its wide records stay unopened: listing,
        counting and filtering use the index, reads open only the parts they need) and for a
        Hugging Face streaming collection.
        """
        if (
            self._dataset is None
            and self._ri is None
            and self._collection_path is not None
            and self._hf is None
        ):
            self._dataset = _open_parquet_dataset(self._collection_path)
        return self._dataset

    @dataset.setter
    def dataset(self, value: ds.Dataset | None) -> None:
        self._dataset = value

    def _records_dataset(self) -> ds.Dataset | None:
        """The (filtered) records to scan: a record-index collection materialises its wide
        records here (only the parts holding the ids its index selects), once per view."""
        if self._ri is not None and self._dataset is None:
            if self._wide is None:
                self._wide = self._ri.materialise(self._ri_expr, self._wide_expr)
            return self._wide
        return self.dataset

    def _labels(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "data_source": self.data_source,
            "start_date": self.start_date,
            "end_date": self.end_date,
        }

    def _view(self, dataset: ds.Dataset) -> Collection:
        return Collection(dataset=dataset, **self._labels())

    def _hf_view(self, source: Any) -> Collection:
        return Collection(hf_streaming=source, **self._labels())

    def _ri_view(
        self, index_expr: ds.Expression | None, wide_expr: ds.Expression | None
    ) -> Collection:
        assert self._ri is not None
        view = Collection(**self._labels())
        view._ri = self._ri
        view._collection_path = self._collection_path
        view._surface_fields = self._surface_fields
        view._filter_capabilities = self._filter_capabilities
        view._ri_expr = index_expr
        view._wide_expr = wide_expr
        return view

    def __dir__(self) -> list[str]:
        return sorted(
            n
            for n in {*super().__dir__(), "dataset"}
            if not n.startswith("_") or (n.startswith("__") and n.endswith("__"))
        )

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_parquet(
        cls,
        path: str | os.PathLike[str],
        name: str = "",
        *,
        data_source: str = "",
        defer_dataset_open: bool = False,
        record_index_path: str | None = None,
        record_index_field_roles: dict[str, str] | None = None,
        record_index_column_map: dict[str, str] | None = None,
        record_index_href_column: str | None = None,
        record_index_band_index_map: dict[str, int] | None = None,
        record_index_url_rewrite_patterns: dict[str, str] | None = None,
        record_index_filesystem: Any | None = None,
        surface_fields: dict[str, list[str]] | None = None,
        filter_capabilities: dict[str, list[str]] | None = None,
    ) -> Collection:
        """Open a collection written by :meth:`export` (or any conforming GeoParquet).

        Raises
        ------
        FileNotFoundError
            The path does not exist or cannot be opened as Parquet.
        ValueError
            Required columns (``id, datetime, geometry, assets``, ``bbox`` struct) are missing.
        """
        spath = str(path)
        stem = Path(spath.rstrip("/")).stem
        if spath.startswith("hf://"):
            if record_index_path is not None:
                raise NotImplementedError(
                    f"A separate record index ({record_index_path}) for the Hugging Face "
                    f"collection {spath} is not supported; load the collection URI alone."
                )
            return cls._from_hf(spath, name=name or stem, data_source=data_source)
        if not _is_cloud_uri(spath) and not Path(spath).expanduser().exists():
            raise FileNotFoundError(f"Parquet not found at {spath}")
        index_kwargs: dict[str, Any] = {}
        if record_index_path is not None:
            index_kwargs = {
                "record_index_path": record_index_path,
                "record_index_field_roles": record_index_field_roles,
                "record_index_column_map": record_index_column_map,
                "record_index_href_column": record_index_href_column,
                "record_index_band_index_map": record_index_band_index_map,
                "record_index_url_rewrite_patterns": record_index_url_rewrite_patterns,
                "record_index_filesystem": record_index_filesystem,
            }
        if defer_dataset_open:
            return cls(
                collection_path=spath,
                name=name or stem,
                data_source=data_source,
                surface_fields=surface_fields,
                filter_capabilities=filter_capabilities,
                **index_kwargs,
            )
        try:
            dataset = _open_parquet_dataset(spath)
        except (OSError, pa.ArrowInvalid) as exc:
            raise FileNotFoundError(f"Cannot open Parquet at {spath}: {exc}") from exc
        schema = dataset.schema
        missing = sorted(c for c in REQUIRED_COLUMNS if c not in schema.names)
        if not bbox_is_struct(schema):
            missing.append("bbox")
        if missing:
            raise ValueError(
                f"Parquet is missing required columns: {set(missing)}. A collection needs "
                "id, datetime, geometry, assets and a bbox struct (xmin, ymin, xmax, ymax)."
            )
        meta = metadata_from_schema(schema)
        start, end = _parse_date_range(meta.get("date_range"))
        return cls(
            dataset=dataset,
            collection_path=spath,
            name=name or meta.get("name") or stem,
            description=meta.get("description", ""),
            data_source=data_source or meta.get("data_source", ""),
            start_date=start,
            end_date=end,
            surface_fields=surface_fields,
            filter_capabilities=filter_capabilities,
            **index_kwargs,
        )

    @classmethod
    def _from_hf(cls, path: str, *, name: str, data_source: str) -> Collection:
        from rasteret.integrations.huggingface import open_hf_streaming_source

        source = open_hf_streaming_source(path)
        schema = source.schema
        missing = sorted(c for c in REQUIRED_COLUMNS if c not in schema.names)
        if not bbox_is_struct(schema):
            missing.append("bbox")
        if missing:
            raise ValueError(
                f"Hugging Face dataset {path} is missing required columns: {set(missing)}. "
                "A collection needs id, datetime, geometry, assets and a bbox struct "
                "(xmin, ymin, xmax, ymax)."
            )
        meta = metadata_from_schema(schema)
        start, end = _parse_date_range(meta.get("date_range"))
        return cls(
            hf_streaming=source,
            name=name,
            description=meta.get("description", ""),
            data_source=data_source or meta.get("data_source", ""),
            start_date=start,
            end_date=end,
        )

    @classmethod
    def _load_cached(cls, path: str | os.PathLike[str]) -> Collection:
        """Open a workspace collection without contract validation (cache hits, CLI)."""
        spath = str(path)
        if not _is_cloud_uri(spath) and not Path(spath).expanduser().exists():
            raise FileNotFoundError(f"Dataset not found at {spath}")
        dataset = _open_parquet_dataset(spath)
        meta = metadata_from_schema(dataset.schema)
        stem = Path(spath.rstrip("/")).name
        for suffix in ("_stac", "_records"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
        start, end = _parse_date_range(meta.get("date_range"))
        return cls(
            dataset=dataset,
            name=meta.get("name") or stem,
            description=meta.get("description", ""),
            data_source=meta.get("data_source", ""),
            start_date=start,
            end_date=end,
        )

    @classmethod
    def from_arrow(cls, data: Any, **kwargs: Any) -> Collection:
        """Alias of :func:`rasteret.as_collection`."""
        from rasteret.ingest.normalize import as_collection

        return as_collection(data, **kwargs)

    @staticmethod
    def list_collections(workspace_dir: Path | None = None) -> list[dict[str, Any]]:
        """Collections (``*_stac`` / ``*_records`` directories) found in a workspace."""
        root = Path(workspace_dir or Path.home() / "rasteret_workspace").expanduser()
        found: list[dict[str, Any]] = []
        if not root.is_dir():
            return found
        for kind, suffix in (("stac", "_stac"), ("records", "_records")):
            for d in sorted(root.glob(f"*{suffix}")):
                if not d.is_dir():
                    continue
                try:
                    dataset = _open_parquet_dataset(d)
                    table = dataset.to_table(
                        columns=[c for c in ("datetime",) if c in dataset.schema.names]
                    )
                except (pa.ArrowInvalid, OSError) as exc:
                    logger.debug("skipping unreadable collection %s: %s", d, exc)
                    continue
                name = d.name[: -len(suffix)]
                source = (metadata_from_schema(dataset.schema).get("data_source") or "").strip()
                if not source:
                    source = name.rsplit("_", 1)[-1] if "_" in name else "unknown"
                date_range = None
                if "datetime" in table.column_names and table.num_rows:
                    lo, hi = pc.min_max(table.column("datetime")).values()
                    if lo.is_valid and hi.is_valid:
                        date_range = (lo.as_py().date().isoformat(), hi.as_py().date().isoformat())
                found.append(
                    {
                        "name": name,
                        "kind": kind,
                        "data_source": source,
                        "date_range": date_range,
                        "size": table.num_rows,
                        "created": d.stat().st_ctime,
                    }
                )
        return found

    @staticmethod
    def create_name(custom_name: str, date_range: tuple[str, str], data_source: str) -> str:
        """Workspace name ``{custom}_{dates}_{source}`` (see the API contract §2.2.5)."""
        return naming.create_name(custom_name, date_range, data_source)

    @staticmethod
    def parse_name(name: str) -> dict[str, str | None]:
        """Split a :meth:`create_name` name into ``custom_name``, ``data_source``, ``name``."""
        return naming.parse_name(name)

    # -- filtering ---------------------------------------------------------------------------

    def _schema(self) -> pa.Schema | None:
        if self._hf is not None:
            return self._hf.schema
        d = self._records_dataset()
        return None if d is None else d.schema

    def _scan_table(self, columns: list[str] | None = None) -> pa.Table:
        """The (filtered) records as stored (no export casts), from any backend."""
        if self._hf is not None:
            from rasteret.integrations.huggingface import read_hf_table

            return read_hf_table(self._hf, columns)
        dataset = self._records_dataset()
        if dataset is None:
            return pa.table({})
        return dataset.to_table(columns=columns)

    def _scan_batches(
        self, columns: list[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        """Stream the (filtered) records as stored, from any backend."""
        if self._hf is not None:
            from rasteret.integrations.huggingface import iter_hf_arrow_tables

            for table in iter_hf_arrow_tables(self._hf, columns=columns, batch_size=batch_size):
                yield from table.to_batches()
            return
        dataset = self._records_dataset()
        if dataset is not None:
            yield from dataset.to_batches(columns=columns, batch_size=batch_size)

    def _bbox_expr(self, minx: float, miny: float, maxx: float, maxy: float) -> ds.Expression:
        f = ds.field
        return (
            (f("bbox", "xmax") >= minx)
            & (f("bbox", "xmin") <= maxx)
            & (f("bbox", "ymax") >= miny)
            & (f("bbox", "ymin") <= maxy)
        )

    def _require_bbox_struct(self, schema: pa.Schema) -> None:
        if not bbox_is_struct(schema):
            raise ValueError(_f.BBOX_REQUIRED)

    def subset(
        self,
        *,
        cloud_cover_lt: float | None = None,
        date_range: tuple[str, str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        geometries: Any = None,
        split: str | Sequence[str] | None = None,
        split_column: str = "split",
    ) -> Collection:
        """Records matching every given criterion (AND), as a new view.

        The filters are pushed down into the Parquet scan; nothing is read or copied here.

        Parameters
        ----------
        cloud_cover_lt
            Keep records with ``eo:cloud_cover`` strictly below this percentage (0-100).
        date_range
            ``(start, end)`` ISO dates or datetimes, inclusive (a date-only end means
            midnight of that day).
        bbox
            ``(minx, miny, maxx, maxy)`` in lon/lat; records whose ``bbox`` overlaps it
            (touching counts).
        geometries
            Any geometry input of the read APIs; records overlapping any geometry's envelope.
        split
            A split name or a sequence of names matched against ``split_column``.
        split_column
            Column holding the split labels.

        Returns
        -------
        Collection
            A filtered view with the same name, description, data source and dates.

        Raises
        ------
        ValueError
            No criterion given, or a criterion is invalid for this collection.

        Examples
        --------
        >>> clear = coll.subset(cloud_cover_lt=20, date_range=("2024-06-01", "2024-08-31"))
        >>> len(clear) <= len(coll)
        True
        """
        if all(v is None for v in (cloud_cover_lt, date_range, bbox, geometries, split)):
            raise ValueError("No filters provided")
        criteria = {
            "cloud_cover_lt": cloud_cover_lt,
            "date_range": date_range,
            "bbox": bbox,
            "geometries": geometries,
            "split": split,
            "split_column": split_column,
        }
        if self._hf is not None:
            from rasteret.integrations.huggingface import subset_hf_streaming_source

            return self._hf_view(subset_hf_streaming_source(self._hf, **criteria))
        if self._ri is not None:
            plan = self._ri.plan_subset(**criteria)
            if plan.fallback:
                # the index cannot express a criterion: filter the wide records directly
                return self._view(self._records_dataset()).subset(**criteria)
            return self._ri_view(
                and_all(self._ri_expr, plan.index_expr), and_all(self._wide_expr, plan.wide_expr)
            )
        dataset = self._records_dataset()
        if dataset is None:
            return self
        schema = dataset.schema
        exprs: list[ds.Expression] = []
        if cloud_cover_lt is not None:
            if "eo:cloud_cover" not in schema.names:
                raise ValueError("Collection has no cloud cover data")
            exprs.append(ds.field("eo:cloud_cover") < _f.check_cloud_cover(cloud_cover_lt))
        if date_range is not None:
            exprs.append(self._date_expr(schema, date_range))
        if bbox is not None:
            self._require_bbox_struct(schema)
            exprs.append(self._bbox_expr(*_f.check_bbox(bbox)))
        if geometries is not None:
            self._require_bbox_struct(schema)
            exprs.append(self._geometries_expr(geometries))
        if split is not None:
            if split_column not in schema.names:
                raise ValueError(f"Collection has no split column: '{split_column}'")
            names = _f.check_split(split)
            if isinstance(split, str):
                exprs.append(ds.field(split_column) == split)
            else:
                exprs.append(ds.field(split_column).isin(names))
        expr = exprs[0]
        for e in exprs[1:]:
            expr = expr & e
        return self._view(dataset.filter(expr))

    def _date_expr(self, schema: pa.Schema, date_range: tuple[str, str]) -> ds.Expression:
        if "datetime" not in schema.names:
            raise ValueError("Collection has no datetime data")
        lo, hi = _f.check_date_range(date_range)
        t = schema.field("datetime").type
        if not pa.types.is_timestamp(t):
            raise ValueError("Collection datetime column is not a timestamp")
        slo, shi = _f.timestamp_bounds(lo, hi, t)
        field = ds.field("datetime")
        return (field >= slo) & (field <= shi)

    def _geometries_expr(self, geometries: Any) -> ds.Expression:
        exprs = [self._bbox_expr(*env) for env in _f.geometry_envelopes(geometries)]
        out = exprs[0]
        for e in exprs[1:]:
            out = out | e
        return out

    def select_split(
        self, split: str | Sequence[str], *, split_column: str = "split"
    ) -> Collection:
        """Records of one or more splits (``subset(split=..., split_column=...)``)."""
        return self.subset(split=split, split_column=split_column)

    def where(self, expr: ds.Expression) -> Collection:
        """Records matching a raw ``pyarrow.dataset`` expression, as a new view.

        Raises
        ------
        NotImplementedError
            On a Hugging Face streaming collection.
        ValueError
            On a record-index collection, when neither surface can evaluate ``expr``.
        """
        if self._hf is not None:
            raise NotImplementedError(
                "where(expr) is not supported for HF streaming collections. Use subset(...) "
                "or load the dataset into a pyarrow Table and use rasteret.as_collection()."
            )
        if self._ri is not None:
            if can_evaluate(self._ri.dataset(), expr):
                return self._ri_view(and_all(self._ri_expr, expr), self._wide_expr)
            if can_evaluate(self._ri.wide_base(), expr):
                return self._ri_view(self._ri_expr, and_all(self._wide_expr, expr))
            raise ValueError("where(expr) could not be applied to the collection")
        dataset = self._records_dataset()
        if dataset is None:
            return self
        return self._view(dataset.filter(expr))

    def head(self, n: int = 5, columns: list[str] | None = None) -> pa.Table:
        """The first ``n`` records (optionally only ``columns``)."""
        if n < 0:
            raise ValueError("head() requires n >= 0")
        if self._hf is not None:
            from rasteret.integrations.huggingface import head_hf_streaming_source

            return self._export_table(head_hf_streaming_source(self._hf, n=n, columns=columns))
        if self._ri is not None:
            table = self._ri.table(self._ri_expr, n)
            if columns is None:
                return self._export_table(table)
            if all(c in table.column_names for c in columns):
                return self._export_table(table.select(columns))
        dataset = self._records_dataset()
        if dataset is None:
            if columns:
                return pa.table({c: pa.nulls(0) for c in columns})
            return pa.table({})
        return self._export_table(dataset.head(n, columns=columns))

    # -- properties --------------------------------------------------------------------------

    @property
    def bands(self) -> list[str]:
        """Band names: the ``{band}_metadata`` columns, in schema order (for a record-index
        collection with a ``band_index_map``, its keys)."""
        if self._ri is not None and self._ri.band_index_map:
            return list(self._ri.band_index_map)
        schema = self._schema()
        if schema is None:
            return []
        return [n[: -len("_metadata")] for n in schema.names if n.endswith("_metadata")]

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Union of the records' bounding boxes ``(xmin, ymin, xmax, ymax)``."""
        index = self._index_table_with("bbox")
        if index is not None:
            if not bbox_is_struct(index.schema):
                return None
            bbox = index.column("bbox")
            table = pa.table({n: pc.struct_field(bbox, n) for n in BBOX_FIELDS})
        else:
            schema = self._schema()
            if schema is None or not bbox_is_struct(schema):
                return None
            bbox = self._scan_table(["bbox"]).column("bbox")
            table = pa.table({n: pc.struct_field(bbox, n) for n in BBOX_FIELDS})
        if table.num_rows == 0:
            return None
        values = []
        for n, agg in zip(BBOX_FIELDS, (pc.min, pc.min, pc.max, pc.max), strict=True):
            v = agg(table.column(n)).as_py()
            if v is None:
                return None
            values.append(float(v))
        return (values[0], values[1], values[2], values[3])

    @property
    def epsg(self) -> list[int]:
        """Sorted distinct ``proj:epsg`` codes of the records."""
        index = self._index_table_with("proj:epsg")
        if index is not None:
            col = index.column("proj:epsg")
        else:
            schema = self._schema()
            if schema is None or "proj:epsg" not in schema.names:
                return []
            col = self._scan_table(["proj:epsg"]).column("proj:epsg")
        return sorted(int(v) for v in pc.unique(col.drop_null()).to_pylist())

    @property
    def crs(self) -> list[str]:
        """Sorted distinct raster CRS codes (``"EPSG:32633"``...) of the records."""
        index = self._index_table_with("crs")
        schema = index.schema if index is not None else self._schema()
        if schema is None:
            return []
        if "crs" in schema.names:
            table = index if index is not None else self._scan_table(["crs"])
            col = table.column("crs").drop_null()
            from rasteret.ingest.normalize import normalize_crs_code

            codes = {normalize_crs_code(v) for v in pc.unique(col).to_pylist()}
            return sorted(c for c in codes if c)
        return [f"EPSG:{e}" for e in self.epsg]

    def _index_table_with(self, column: str) -> pa.Table | None:
        """The normalised index rows of a record-index collection, if they hold ``column``."""
        if self._ri is None:
            return None
        table = self._ri.table(self._ri_expr)
        return table if column in table.column_names else None

    def _band_or_first(self, band: str | None) -> str:
        bands = self.bands
        if band is None:
            if not bands:
                raise ValueError("Collection has no '*_metadata' band columns")
            return bands[0]
        if band not in bands:
            raise ValueError(f"Band(s) not found: [{band!r}]. Available bands: {bands}")
        return band

    def native_res(self, band: str | None = None) -> tuple[float, float]:
        """Pixel size ``(xres, yres)`` of ``band`` (default: the first band) in its CRS units.

        When records differ, the most common resolution is returned.
        """
        from collections import Counter

        name = f"{self._band_or_first(band)}_metadata"
        dataset = None if self._hf is not None else self._records_dataset()
        if dataset is not None:  # project the one nested field
            table = dataset.to_table(columns={"t": ds.field(name, "transform")})
        else:
            column = self._scan_table([name]).column(name)
            table = pa.table({"t": pc.struct_field(column, "transform")})
        counts: Counter[tuple[float, float]] = Counter()
        for t in table.column("t").to_pylist():
            if not t:
                continue
            xres, yres = (t[0], t[2]) if len(t) == 4 else (t[0], t[4])
            counts[(abs(float(xres)), abs(float(yres)))] += 1
        if not counts:
            raise ValueError(f"No transform stored for band {name[: -len('_metadata')]!r}")
        return counts.most_common(1)[0][0]

    def footprints(self, *, crs: Any = None, band: str | None = None) -> Any:
        """Record footprints as a GeoDataFrame (``id``, ``datetime``, ``geometry``).

        Without ``band`` the stored (CRS84) footprint geometry is used; with ``band`` the
        footprint is that band's raster extent from its tile-layout transform. ``crs``
        reprojects the result (default: EPSG:4326).
        """
        import geopandas as gpd
        import shapely

        schema = self._schema()
        if schema is None:
            return gpd.GeoDataFrame({"id": [], "datetime": []}, geometry=[], crs="EPSG:4326")
        cols = [c for c in ("id", "datetime") if c in schema.names]
        if band is None:
            table = self._scan_table([*cols, "geometry"])
            geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
            gdf = gpd.GeoDataFrame(
                table.select(cols).to_pandas(), geometry=geoms, crs="OGC:CRS84"
            ).to_crs("EPSG:4326")
        else:
            name = f"{self._band_or_first(band)}_metadata"
            table = self._scan_table([*cols, name, "proj:epsg"])
            frames = []
            for row in table.to_pylist():
                m, epsg = row[name], row["proj:epsg"]
                if not m or not m.get("transform") or epsg is None:
                    continue
                t = m["transform"]
                a, c, e, f = (t[0], t[1], t[2], t[3]) if len(t) == 4 else (t[0], t[2], t[4], t[5])
                x0, x1 = c, c + a * m["image_width"]
                y0, y1 = f, f + e * m["image_height"]
                box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
                frames.append(
                    gpd.GeoDataFrame(
                        {k: [row[k]] for k in cols}, geometry=[box], crs=f"EPSG:{epsg}"
                    ).to_crs("EPSG:4326")
                )
            if not frames:
                return gpd.GeoDataFrame({k: [] for k in cols}, geometry=[], crs="EPSG:4326")
            import pandas as pd

            gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
        return gdf if crs is None else gdf.to_crs(crs)

    def __len__(self) -> int:
        if self._hf is not None:
            raise TypeError(
                "len() is not available for HF streaming collections. Count rows by "
                "iterating (sum(b.num_rows for b in collection)) or use head()."
            )
        if self._ri is not None:
            return self._ri.count(self._ri_expr)
        dataset = self._records_dataset()
        return 0 if dataset is None else dataset.count_rows()

    def _date_strings(self) -> tuple[str, str] | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.start_date.date().isoformat(), self.end_date.date().isoformat())

    def __repr__(self) -> str:
        parts = [repr(self.name)]
        if self.data_source:
            parts.append(f"source={self.data_source!r}")
        parts.append(f"bands={len(self.bands)}")
        countable = self._hf is None and (self._ri is not None or self.dataset is not None)
        parts.append(f"records={len(self) if countable else '?'}")
        epsg = self.epsg
        if epsg:
            parts.append(f"crs={epsg[0] if len(epsg) == 1 else epsg}")
        dates = self._date_strings()
        if dates:
            parts.append(f"{dates[0]}..{dates[1]}")
        return f"Collection({', '.join(parts)})"

    def describe(self) -> DescribeResult:
        """A summary table: records, bands, CRS, bounds, dates, source.

        A Hugging Face streaming collection has no row count without reading every file, so
        its records are ``"?"`` (as in its ``repr``).
        """
        records: int | str = "?" if self._hf is not None else len(self)
        return build_describe_result(
            self.name,
            records,
            self.bands,
            self.bounds,
            self.epsg,
            self._date_strings(),
            self.data_source,
        )

    def compare_to_catalog(self) -> DescribeResult:
        """:meth:`describe` checked against this collection's catalog descriptor."""
        from rasteret.catalog import DatasetRegistry

        descriptor = DatasetRegistry.get(self.data_source) or next(
            (d for d in DatasetRegistry.list() if d.stac_collection == self.data_source), None
        )
        if descriptor is None:
            raise ValueError(f"No catalog entry found for data_source={self.data_source!r}")
        return build_catalog_comparison(self.describe(), descriptor)

    # -- Arrow interop -----------------------------------------------------------------------

    @staticmethod
    def _export_table(table: pa.Table) -> pa.Table:
        return (
            table.replace_schema_metadata(None)
            .cast(with_geoarrow_geometry(table.schema))
            .replace_schema_metadata(table.schema.metadata)
        )

    def _export_schema(self) -> pa.Schema:
        schema = self._schema()
        return pa.schema([]) if schema is None else with_geoarrow_geometry(schema)

    def to_table(self, columns: list[str] | None = None) -> pa.Table:
        """The (filtered) records as one table."""
        if self._hf is not None:
            return self._export_table(self._scan_table(columns))
        dataset = self._records_dataset()
        if dataset is None:
            return pa.table({})
        return self._export_table(dataset.to_table(columns=columns))

    def to_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the (filtered) records batch by batch."""
        reader = self.to_reader(columns)
        yield from reader

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.to_batches()

    def to_reader(
        self, columns: list[str] | None = None, requested_schema: pa.Schema | None = None
    ) -> pa.RecordBatchReader:
        """A ``RecordBatchReader`` over the (filtered) records."""
        dataset = self._records_dataset()
        if self._hf is not None:
            from rasteret.integrations.huggingface import projected_schema

            schema = with_geoarrow_geometry(projected_schema(self._hf, columns))
            reader = pa.RecordBatchReader.from_batches(
                schema,
                (
                    pa.RecordBatch.from_arrays(b.columns, schema=schema)
                    for b in self._scan_batches(columns)
                ),
            )
        elif dataset is None:
            reader = pa.RecordBatchReader.from_batches(pa.schema([]), [])
        else:
            scanner = dataset.scanner(columns=columns)
            schema = with_geoarrow_geometry(scanner.projected_schema)
            reader = pa.RecordBatchReader.from_batches(
                schema,
                (
                    pa.RecordBatch.from_arrays(b.columns, schema=schema)
                    for b in scanner.to_batches()
                ),
            )
        if requested_schema is not None:
            return reader.cast(requested_schema)
        return reader

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        reader = self.to_reader()
        if requested_schema is not None:
            try:
                target = pa.Schema._import_from_c_capsule(requested_schema)
                reader = reader.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
                raise NotImplementedError(_EXPORT_UNSUPPORTED) from e
        return reader.__arrow_c_stream__()

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        table = self.to_table()
        batch = (
            table.combine_chunks().to_batches()[0]
            if table.num_rows
            else pa.RecordBatch.from_pylist([], schema=table.schema)
        )
        if requested_schema is not None:
            try:
                batch = batch.cast(pa.Schema._import_from_c_capsule(requested_schema))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
                raise NotImplementedError(_EXPORT_UNSUPPORTED) from e
        return batch.__arrow_c_array__()

    def __arrow_c_schema__(self) -> Any:
        return self._export_schema().__arrow_c_schema__()

    # -- persistence -------------------------------------------------------------------------

    def export(
        self, path: str | os.PathLike[str], partition_by: Sequence[str] = ("year", "month")
    ) -> None:
        """Write the collection as a Hive-partitioned GeoParquet dataset at ``path``.

        Local writes go to a temporary directory renamed into place.
        """
        dataset = self._records_dataset()
        if dataset is None:
            raise ValueError("No Pyarrow dataset provided")
        table = dataset.to_table()
        table = _ensure_bbox_struct(table)
        new_meta = {
            b"description": self.description.encode(),
            b"created": _dt.datetime.now().isoformat().encode(),
            b"name": self.name.encode(),
            b"data_source": self.data_source.encode(),
            b"date_range": (
                f"{self.start_date.isoformat()},{self.end_date.isoformat()}".encode()
                if self.start_date is not None and self.end_date is not None
                else b""
            ),
            b"rasteret_collection_version": b"1",
        }
        existing = dict(table.schema.metadata or {})
        if b"geo" not in existing:
            new_meta[b"geo"] = geoparquet_metadata(table)
        table = table.replace_schema_metadata({**new_meta, **existing})
        write_collection(table, path, tuple(partition_by))


def _ensure_bbox_struct(table: pa.Table) -> pa.Table:
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
