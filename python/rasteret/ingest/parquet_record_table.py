"""Record tables (one row per scene, asset URLs in columns) -> Collections."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret.core.collection import Collection
from rasteret.ingest.base import CollectionBuilder, workspace_location
from rasteret.ingest.enrich import enrich_record_table
from rasteret.ingest.normalize import build_collection_from_table
from rasteret.ingest.sharded import enrich_in_shards
from rasteret.records.record_table import apply_column_aliases, prepare_record_table

logger = logging.getLogger(__name__)

__all__ = ["RecordTableBuilder", "prepare_record_table"]

#: the name upstream's tests know :func:`apply_column_aliases` by
_apply_column_map_aliases = apply_column_aliases


class RecordTableBuilder(CollectionBuilder):
    """Build a Collection from a Parquet/GeoParquet record table (file, directory or URI)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        data_source: str = "",
        column_map: dict[str, str] | None = None,
        href_column: str | None = None,
        band_index_map: dict[str, int] | None = None,
        url_rewrite_patterns: dict[str, str] | None = None,
        filesystem: Any | None = None,
        columns: list[str] | None = None,
        filter_expr: ds.Expression | None = None,
        name: str = "",
        workspace_dir: str | os.PathLike[str] | None = None,
        enrich_cog: bool = False,
        band_codes: list[str] | None = None,
        max_concurrent: int = 300,
        backend: Any | None = None,
        shards: int | None = None,
    ) -> None:
        super().__init__(name=name, data_source=data_source, workspace_dir=workspace_dir)
        self.shards = shards
        self.path = path
        self.column_map = column_map
        self.href_column = href_column
        self.band_index_map = band_index_map
        self.url_rewrite_patterns = url_rewrite_patterns
        self.filesystem = filesystem
        self.columns = columns
        self.filter_expr = filter_expr
        self.enrich_cog = enrich_cog
        self.band_codes = band_codes
        self.max_concurrent = max_concurrent
        self.backend = backend

    def _read(self) -> pa.Table:
        path = str(self.path)
        if path.startswith("hf://"):
            from rasteret.records.hf import load_hf_parquet_table

            return load_hf_parquet_table(path, columns=self.columns, filter_expr=self.filter_expr)
        if self.filesystem is not None:
            dataset = ds.dataset(path, filesystem=self.filesystem, format="parquet")
        else:
            dataset = ds.dataset(path, format="parquet")
        return dataset.to_table(columns=self.columns, filter=self.filter_expr)

    def build(self, **kwargs: Any) -> Collection:
        """Read -> alias columns -> prepare -> (enrich) -> normalise (+ export).

        ``name`` and ``workspace_dir`` keywords override the constructor's.
        """
        name = kwargs.get("name", self.name)
        workspace = workspace_location(kwargs.get("workspace_dir", self.workspace_dir))
        table = self._read()
        return finish_record_table(
            table,
            name=name or Path(str(self.path).rstrip("/")).stem or "record_table",
            data_source=self.data_source,
            workspace_dir=workspace,
            column_map=self.column_map,
            href_column=self.href_column,
            band_index_map=self.band_index_map,
            url_rewrite_patterns=self.url_rewrite_patterns,
            enrich_cog=self.enrich_cog,
            band_codes=self.band_codes,
            max_concurrent=self.max_concurrent,
            backend=self.backend,
            shards=self.shards,
        )


def finish_record_table(
    table: pa.Table,
    *,
    name: str,
    data_source: str,
    workspace_dir: str | os.PathLike[str] | None,
    column_map: dict[str, str] | None,
    href_column: str | None,
    band_index_map: dict[str, int] | None,
    url_rewrite_patterns: dict[str, str] | None,
    enrich_cog: bool,
    band_codes: list[str] | None,
    max_concurrent: int,
    backend: Any,
    shards: int | None = None,
) -> Collection:
    """The shared tail of every record-table build (``shards``: enrich in that many Dask
    tasks, see :mod:`rasteret.ingest.sharded`)."""
    table = apply_column_aliases(table, column_map)
    table = prepare_record_table(
        table,
        href_column=href_column,
        band_index_map=band_index_map,
        url_rewrite_patterns=url_rewrite_patterns,
    )
    if enrich_cog and shards is not None:
        table = enrich_in_shards(
            table,
            shards,
            workspace_dir=workspace_dir,
            band_codes=band_codes,
            max_concurrent=max_concurrent,
            backend=backend,
        )
    elif enrich_cog:
        table = enrich_record_table(
            table, band_codes=band_codes, max_concurrent=max_concurrent, backend=backend
        )
    return build_collection_from_table(
        table, name=name, data_source=data_source, workspace_dir=workspace_dir
    )
