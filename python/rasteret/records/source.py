"""Where a collection's records come from: one ``RecordSource`` protocol, three kinds.

- :class:`DatasetSource`: a ``pyarrow.dataset.Dataset`` (a saved collection, an in-memory
  table), or the path of one opened on first use;
- :class:`RecordIndexSource`: a narrow record index planning a wide collection, opened only
  when records are materialised, and then only the parts holding the selected ids;
- :class:`HFSource`: a Hugging Face dataset streamed from its Parquet files.

Every source is an immutable view: ``subset`` and ``where`` return a new source. A
``Collection`` holds one and never branches on its kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret.records.column_cache import ColumnCache
from rasteret.records.filters import SubsetCriteria, dataset_subset_expression
from rasteret.records.hf import (
    head_hf_streaming_source,
    hf_scanner,
    projected_schema,
    subset_hf_streaming_source,
)
from rasteret.records.persistence import open_parquet_dataset
from rasteret.records.record_index import RecordIndex, and_all, can_evaluate

__all__ = ["DatasetSource", "HFSource", "RecordIndexSource", "RecordSource"]


@runtime_checkable
class RecordSource(Protocol):
    """The records of a collection view: schema, scans, counts, filters."""

    @property
    def schema(self) -> pa.Schema | None:
        """The stored schema (``None`` for an empty collection)."""

    @property
    def dataset(self) -> ds.Dataset | None:
        """The records as a ``pyarrow.dataset.Dataset`` when one exists without I/O beyond
        opening it; ``None`` for streamed or deferred (record-index) sources."""

    @property
    def band_names(self) -> list[str] | None:
        """Band codes declared by the source itself (a record index's band map), else None."""

    def to_dataset(self) -> ds.Dataset | None:
        """The filtered records as a dataset, materialising a record-index view's wide
        records; ``None`` for a stream (it has no dataset to write or scan locally)."""

    def scan(self, columns: list[str] | None = None) -> pa.Table:
        """The filtered records as stored (no export casts)."""

    def batches(
        self, columns: list[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        """The filtered records, streamed."""

    def count(self) -> int | None:
        """Number of filtered records; ``None`` when only a full remote scan could tell."""

    def head(self, n: int, columns: list[str] | None = None) -> pa.Table:
        """The first ``n`` filtered records."""

    def index_table(self, column: str) -> pa.Table | None:
        """Rows of a planning index that hold ``column`` (answers without the wide data)."""

    def subset(self, criteria: SubsetCriteria) -> RecordSource:
        """A view with ``Collection.subset`` criteria applied (AND)."""

    def where(self, expr: ds.Expression) -> RecordSource:
        """A view with a raw ``pyarrow.dataset`` expression applied."""


class DatasetSource:
    """Records of a ``pyarrow.dataset.Dataset`` (or of a Parquet path opened on first use).

    A source made by ``subset`` / ``where`` keeps the expression it adds to the unfiltered
    dataset and shares that dataset's :class:`ColumnCache`: scans of small file-backed
    collections then filter columns held in memory instead of reading the files again.
    """

    def __init__(
        self,
        dataset: ds.Dataset | None = None,
        path: str | None = None,
        *,
        cache: ColumnCache | None = None,
        expression: ds.Expression | None = None,
    ) -> None:
        self._dataset = dataset
        self.path = path
        self._cache = cache
        self._expression = expression

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle for ``spawn`` workers: a path or an unfiltered Parquet dataset travels as
        itself (re-opened by the worker); an in-memory or filtered one as its records."""
        if self._expression is None and (self._dataset is None or self.path is not None):
            return (DatasetSource, (None, self.path))
        d = self.dataset
        if self._expression is None and isinstance(d, ds.FileSystemDataset):
            return (DatasetSource, (d, None))
        return (_source_of_table, (self.scan(),))

    def _column_cache(self) -> ColumnCache | None:
        """The cache of the unfiltered dataset (made here when this source is that one)."""
        if self._cache is None and self._expression is None:
            d = self.dataset
            if d is not None:
                self._cache = ColumnCache(d)
        return self._cache

    def _filtered(self, expr: ds.Expression) -> DatasetSource:
        d = self.dataset
        if d is None:
            return self
        combined = expr if self._expression is None else self._expression & expr
        return DatasetSource(d.filter(expr), cache=self._column_cache(), expression=combined)

    @property
    def dataset(self) -> ds.Dataset | None:
        if self._dataset is None and self.path is not None:
            self._dataset = open_parquet_dataset(self.path)
        return self._dataset

    @property
    def schema(self) -> pa.Schema | None:
        d = self.dataset
        return None if d is None else d.schema

    @property
    def band_names(self) -> list[str] | None:
        return None

    def to_dataset(self) -> ds.Dataset | None:
        return self.dataset

    def scan(self, columns: list[str] | None = None) -> pa.Table:
        d = self.dataset
        if d is None:
            return pa.table({})
        cache = self._column_cache()
        held = None if cache is None else cache.scan(columns, self._expression)
        return d.to_table(columns=columns) if held is None else held

    def batches(
        self, columns: list[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        d = self.dataset
        if d is not None:
            yield from d.to_batches(columns=columns, batch_size=batch_size)

    def count(self) -> int | None:
        d = self.dataset
        return 0 if d is None else d.count_rows()

    def head(self, n: int, columns: list[str] | None = None) -> pa.Table:
        d = self.dataset
        if d is None:
            return pa.table({c: pa.nulls(0) for c in columns or []})
        return d.head(n, columns=columns)

    def index_table(self, column: str) -> pa.Table | None:
        return None

    def subset(self, criteria: SubsetCriteria) -> DatasetSource:
        d = self.dataset
        if d is None:
            return self
        return self._filtered(dataset_subset_expression(d.schema, criteria))

    def where(self, expr: ds.Expression) -> DatasetSource:
        return self._filtered(expr)


def _source_of_table(table: pa.Table) -> DatasetSource:
    return DatasetSource(ds.dataset(table))


class RecordIndexSource:
    """A record index (``index_expr``) planning a wide collection (``wide_expr``).

    Listing, counting and filtering run on the index; ``scan`` materialises the wide records
    of the selected ids. :attr:`dataset` stays ``None``: nothing wide is opened until a scan.
    """

    def __init__(
        self,
        index: RecordIndex,
        index_expr: ds.Expression | None = None,
        wide_expr: ds.Expression | None = None,
    ) -> None:
        self.index = index
        self.index_expr = index_expr
        self.wide_expr = wide_expr
        self._materialised: ds.Dataset | None = None

    def _wide(self) -> ds.Dataset:
        """The wide records this view selects (materialised once per view: the view's
        filters never change)."""
        if self._materialised is None:
            self._materialised = self.index.materialise(self.index_expr, self.wide_expr)
        return self._materialised

    @property
    def dataset(self) -> ds.Dataset | None:
        return None

    @property
    def schema(self) -> pa.Schema | None:
        return self.index.wide_base().schema

    @property
    def band_names(self) -> list[str] | None:
        return list(self.index.band_index_map) if self.index.band_index_map else None

    def to_dataset(self) -> ds.Dataset | None:
        return self._wide()

    def scan(self, columns: list[str] | None = None) -> pa.Table:
        return self._wide().to_table(columns=columns)

    def batches(
        self, columns: list[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        yield from self._wide().to_batches(columns=columns, batch_size=batch_size)

    def count(self) -> int | None:
        return self.index.count(self.index_expr)

    def head(self, n: int, columns: list[str] | None = None) -> pa.Table:
        table = self.index.table(self.index_expr, n)
        if columns is None:
            return table
        if all(c in table.column_names for c in columns):
            return table.select(columns)
        return self._wide().head(n, columns=columns)

    def index_table(self, column: str) -> pa.Table | None:
        table = self.index.table(self.index_expr)
        return table if column in table.column_names else None

    def subset(self, criteria: SubsetCriteria) -> RecordSource:
        plan = self.index.plan_subset(**criteria.as_kwargs())
        if plan.fallback:
            # the index cannot express a criterion: filter the wide records directly
            return DatasetSource(self._wide()).subset(criteria)
        return RecordIndexSource(
            self.index,
            and_all(self.index_expr, plan.index_expr),
            and_all(self.wide_expr, plan.wide_expr),
        )

    def where(self, expr: ds.Expression) -> RecordIndexSource:
        if can_evaluate(self.index.dataset(), expr):
            return RecordIndexSource(self.index, and_all(self.index_expr, expr), self.wide_expr)
        if can_evaluate(self.index.wide_base(), expr):
            return RecordIndexSource(self.index, self.index_expr, and_all(self.wide_expr, expr))
        raise ValueError("where(expr) could not be applied to the collection")


class HFSource:
    """Records streamed from a Hugging Face dataset's Parquet files (no local copy).

    ``stream`` is a :class:`~rasteret.records.hf.HFStreamingSource`, scanned as one
    ``pyarrow.dataset`` under its filters; counting would need a full remote scan, so
    :meth:`count` answers ``None``.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    @property
    def dataset(self) -> ds.Dataset | None:
        return None

    @property
    def schema(self) -> pa.Schema | None:
        return self.stream.schema

    @property
    def band_names(self) -> list[str] | None:
        return None

    def to_dataset(self) -> ds.Dataset | None:
        return None

    def scan(self, columns: list[str] | None = None) -> pa.Table:
        return hf_scanner(self.stream, columns).to_table()

    def batches(
        self, columns: list[str] | None = None, batch_size: int = 1024
    ) -> Iterator[pa.RecordBatch]:
        for batch in hf_scanner(self.stream, columns, batch_size).to_batches():
            if batch.num_rows:
                yield batch

    def count(self) -> int | None:
        return None

    def head(self, n: int, columns: list[str] | None = None) -> pa.Table:
        return head_hf_streaming_source(self.stream, n=n, columns=columns)

    def index_table(self, column: str) -> pa.Table | None:
        return None

    def projected_schema(self, columns: list[str] | None) -> pa.Schema:
        """The schema of a scan of ``columns``."""
        return projected_schema(self.stream, columns)

    def subset(self, criteria: SubsetCriteria) -> HFSource:
        return HFSource(subset_hf_streaming_source(self.stream, **criteria.as_kwargs()))

    def where(self, expr: ds.Expression) -> HFSource:
        raise NotImplementedError(
            "where(expr) is not supported for HF streaming collections. Use subset(...) "
            "or load the dataset into a pyarrow Table and use rasteret.as_collection()."
        )
