"""``RecordView``: the table side of a collection (filters, summaries, Arrow export).

A view holds one :class:`~rasteret.records.source.RecordSource` and the collection's labels
(name, description, data source, dates). Every filter returns a new view of the same class
over a new source; nothing is read or copied until the records are scanned. The pixel reads
are added by :class:`rasteret.core.collection.Collection`, which is a ``RecordView``.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret.records import naming, summary
from rasteret.records.filters import SubsetCriteria
from rasteret.records.persistence import geoparquet_metadata, write_collection
from rasteret.records.schema import (
    CollectionLabels,
    ensure_bbox_struct,
    export_schema,
    export_table,
)
from rasteret.records.source import DatasetSource, HFSource, RecordSource
from rasteret.records.workspace import list_workspace_collections

__all__ = ["RecordView"]

_EXPORT_UNSUPPORTED = "Rasteret Collection cannot fulfill the requested Arrow schema export."


class RecordView:
    """Filtered records of COG scenes with their labels (see ``Collection``)."""

    _source: RecordSource
    name: str
    description: str
    data_source: str
    start_date: _dt.datetime | None
    end_date: _dt.datetime | None

    @staticmethod
    def list_collections(workspace_dir: Path | None = None) -> list[dict[str, Any]]:
        """Collections (``*_stac`` / ``*_records`` directories) found in a workspace."""
        return list_workspace_collections(workspace_dir)

    @staticmethod
    def create_name(custom_name: str, date_range: tuple[str, str], data_source: str) -> str:
        """Workspace name ``{custom}_{YYYYMM-YYMM}_{source}`` (source aliased: sentinel...)."""
        return naming.create_name(custom_name, date_range, data_source)

    @staticmethod
    def parse_name(name: str) -> dict[str, str | None]:
        """Split a :meth:`create_name` name into ``custom_name``, ``data_source``, ``name``."""
        return naming.parse_name(name)

    def _check_bands(self, bands: list[str]) -> None:
        available = self.bands
        missing = [b for b in bands if b not in available]
        if available and missing:
            raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")

    def _schema(self) -> pa.Schema | None:
        return self._source.schema

    def _scan_table(self, columns: list[str] | None = None) -> pa.Table:
        return self._source.scan(columns)

    def _records_dataset(self) -> ds.Dataset | None:
        """The filtered records as a dataset (a record-index view's wide records are
        materialised here; ``None`` for a stream)."""
        return self._source.to_dataset()

    def _records_by_id(self, ids: list[str], columns: list[str]) -> pa.Table:
        """``columns`` of the records whose ``id`` is in ``ids``."""
        return self._source.where(ds.field("id").isin(ids)).scan(columns)

    @property
    def dataset(self) -> ds.Dataset | None:
        """The (filtered) records as a ``pyarrow.dataset.Dataset``; a deferred collection
        opens its Parquet here. ``None`` for a Hugging Face stream and for a record-index
        collection (its wide records are opened only by reads and exports)."""
        return self._source.dataset

    @dataset.setter
    def dataset(self, value: ds.Dataset | None) -> None:
        self._source = DatasetSource(value)

    def _labels(self) -> CollectionLabels:
        return CollectionLabels(
            self.name, self.description, self.data_source, self.start_date, self.end_date
        )

    @classmethod
    def _of(cls, source: RecordSource, labels: CollectionLabels) -> Self:
        """A view of this class over ``source`` with ``labels``."""
        view = cls.__new__(cls)
        view._source = source
        view._assign(labels)
        return view

    def _assign(self, labels: CollectionLabels) -> None:
        self.name = labels.name
        self.description = labels.description
        self.data_source = labels.data_source
        self.start_date = labels.start_date
        self.end_date = labels.end_date

    def _view(self, source: RecordSource) -> Self:
        return self._of(source, self._labels())

    # -- filtering ---------------------------------------------------------------------------

    def subset(
        self,
        *,
        cloud_cover_lt: float | None = None,
        date_range: tuple[str, str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        geometries: Any = None,
        split: str | Sequence[str] | None = None,
        split_column: str = "split",
    ) -> Self:
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
        criteria = SubsetCriteria(cloud_cover_lt, date_range, bbox, geometries, split, split_column)
        if criteria.is_empty():
            raise ValueError("No filters provided")
        return self._view(self._source.subset(criteria))

    def select_split(self, split: str | Sequence[str], *, split_column: str = "split") -> Self:
        """Records of one or more splits (``subset(split=..., split_column=...)``)."""
        return self.subset(split=split, split_column=split_column)

    def where(self, expr: ds.Expression) -> Self:
        """Records matching a raw ``pyarrow.dataset`` expression, as a new view.

        Raises
        ------
        NotImplementedError
            On a Hugging Face streaming collection.
        ValueError
            On a record-index collection, when neither surface can evaluate ``expr``.
        """
        return self._view(self._source.where(expr))

    def head(self, n: int = 5, columns: list[str] | None = None) -> pa.Table:
        """The first ``n`` records (optionally only ``columns``)."""
        if n < 0:
            raise ValueError("head() requires n >= 0")
        return export_table(self._source.head(n, columns))

    # -- properties --------------------------------------------------------------------------

    @property
    def bands(self) -> list[str]:
        """Band names: the ``{band}_metadata`` columns, in schema order (for a record-index
        collection with a ``band_index_map``, its keys)."""
        return summary.band_names(self._source)

    @property
    def bounds(self) -> tuple[float, float, float, float] | None:
        """Union of the records' bounding boxes ``(xmin, ymin, xmax, ymax)``."""
        return summary.bounds_of(self._source)

    @property
    def epsg(self) -> list[int]:
        """Sorted distinct ``proj:epsg`` codes of the records."""
        return summary.epsg_codes(self._source)

    @property
    def crs(self) -> list[str]:
        """Sorted distinct raster CRS codes (``"EPSG:32633"``...) of the records."""
        return summary.crs_codes(self._source)

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
        return summary.native_resolution(self._source, self._band_or_first(band))

    def __len__(self) -> int:
        count = self._source.count()
        if count is None:
            raise TypeError(
                "len() is not available for HF streaming collections. Count rows by "
                "iterating (sum(b.num_rows for b in collection)) or use head()."
            )
        return count

    def _date_strings(self) -> tuple[str, str] | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.start_date.date().isoformat(), self.end_date.date().isoformat())

    # -- Arrow interop -----------------------------------------------------------------------

    def to_table(self, columns: list[str] | None = None) -> pa.Table:
        """The (filtered) records as one table."""
        return export_table(self._source.scan(columns))

    def to_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the (filtered) records batch by batch."""
        yield from self.to_reader(columns)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self.to_batches()

    def to_reader(
        self, columns: list[str] | None = None, requested_schema: pa.Schema | None = None
    ) -> pa.RecordBatchReader:
        """A ``RecordBatchReader`` over the (filtered) records."""
        source = self._source
        dataset = source.dataset
        if dataset is not None:
            scanner = dataset.scanner(columns=columns)
            schema = export_schema(scanner.projected_schema)
            batches: Iterator[pa.RecordBatch] = scanner.to_batches()
        elif isinstance(source, HFSource):
            schema = export_schema(source.projected_schema(columns))
            batches = source.batches(columns)
        elif source.schema is None:
            return pa.RecordBatchReader.from_batches(pa.schema([]), [])
        else:
            table = source.scan(columns)
            schema, batches = export_schema(table.schema), iter(table.to_batches())
        reader = pa.RecordBatchReader.from_batches(
            schema, (pa.RecordBatch.from_arrays(b.columns, schema=schema) for b in batches)
        )
        return reader if requested_schema is None else reader.cast(requested_schema)

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        reader = self.to_reader()
        if requested_schema is not None:
            try:
                reader = reader.cast(pa.Schema._import_from_c_capsule(requested_schema))
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
        return export_schema(self._source.schema).__arrow_c_schema__()

    # -- persistence -------------------------------------------------------------------------

    def export(
        self, path: str | os.PathLike[str], partition_by: Sequence[str] = ("year", "month")
    ) -> None:
        """Write the collection as a Hive-partitioned GeoParquet dataset at ``path``.

        Local writes go to a temporary directory renamed into place. Metadata already in the
        records' schema (``name``, ``created``...) is kept over this collection's labels.
        """
        dataset = self._source.to_dataset()
        if dataset is None:
            raise ValueError("No Pyarrow dataset provided")
        table = ensure_bbox_struct(dataset.to_table())
        new_meta = self._labels().to_metadata()
        existing = dict(table.schema.metadata or {})
        if b"geo" not in existing:
            new_meta[b"geo"] = geoparquet_metadata(table)
        table = table.replace_schema_metadata({**new_meta, **existing})
        write_collection(table, path, tuple(partition_by))

    def footprints(self, *, crs: Any = None, band: str | None = None) -> Any:
        """Record footprints as a GeoDataFrame (``id``, ``datetime``, ``geometry``).

        Without ``band`` the stored (CRS84) footprint geometry is used; with ``band`` the
        footprint is that band's raster extent from its tile-layout transform. ``crs``
        reprojects the result (default: EPSG:4326).
        """
        from rasteret.records.footprints import footprints_frame

        return footprints_frame(
            self._source, band=None if band is None else self._band_or_first(band), crs=crs
        )

    def __repr__(self) -> str:
        parts = [repr(self.name)]
        if self.data_source:
            parts.append(f"source={self.data_source!r}")
        parts.append(f"bands={len(self.bands)}")
        count = self._source.count()
        parts.append(f"records={'?' if count is None else count}")
        epsg = self.epsg
        if epsg:
            parts.append(f"crs={epsg[0] if len(epsg) == 1 else epsg}")
        dates = self._date_strings()
        if dates:
            parts.append(f"{dates[0]}..{dates[1]}")
        return f"{type(self).__name__}({', '.join(parts)})"
