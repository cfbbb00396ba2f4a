"""Record tables (one row per scene, asset URLs in columns) -> Collections."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.core.collection import Collection
from rasteret.ingest.base import CollectionBuilder, workspace_location
from rasteret.ingest.normalize import build_collection_from_table, normalize_raster_crs_sidecars

logger = logging.getLogger(__name__)

__all__ = ["RecordTableBuilder", "prepare_record_table"]


def _apply_column_map_aliases(table: pa.Table, column_map: dict[str, str] | None) -> pa.Table:
    """For each ``source -> dest`` with ``source`` present and ``dest`` absent, add ``dest``."""
    for source, dest in (column_map or {}).items():
        if source in table.column_names and dest not in table.column_names:
            table = table.append_column(dest, table.column(source))
    return table


def _rewrite(url: str | None, patterns: dict[str, str] | None) -> str | None:
    if url is None or not patterns:
        return url
    for source, target in patterns.items():
        if url.startswith(source):
            return target + url[len(source) :]
    return url


def prepare_record_table(
    table: pa.Table,
    *,
    href_column: str | None = None,
    band_index_map: dict[str, int] | None = None,
    url_rewrite_patterns: dict[str, str] | None = None,
    required_columns: set[str] | None = None,
) -> pa.Table:
    """Coerce ids to strings and year integers to timestamps, build ``assets`` from an href
    column + ``band_index_map``, and normalise CRS sidecars."""
    steps = required_columns
    if "id" in table.column_names and (steps is None or "id" in steps):
        if pa.types.is_integer(table.schema.field("id").type):
            idx = table.schema.get_field_index("id")
            table = table.set_column(idx, "id", pc.cast(table.column("id"), pa.string()))
    if "datetime" in table.column_names and (steps is None or "datetime" in steps):
        t = table.schema.field("datetime").type
        if pa.types.is_integer(t):
            years = table.column("datetime").to_pylist()
            values = [None if y is None else _dt.datetime(int(y), 1, 1) for y in years]
            idx = table.schema.get_field_index("datetime")
            table = table.set_column(idx, "datetime", pa.array(values, pa.timestamp("us")))
    if (
        "assets" not in table.column_names
        and href_column
        and band_index_map
        and (steps is None or "assets" in steps)
    ):
        if href_column not in table.column_names:
            raise ValueError(
                f"href_column '{href_column}' not found in table. Available: {table.column_names}"
            )
        rows = []
        for url in table.column(href_column).to_pylist():
            url = _rewrite(url, url_rewrite_patterns)
            rows.append(
                {}
                if url is None
                else {b: {"href": url, "band_index": int(i)} for b, i in band_index_map.items()}
            )
        asset_type = pa.struct(
            [
                (b, pa.struct([("href", pa.string()), ("band_index", pa.int64())]))
                for b in band_index_map
            ]
        )
        table = table.append_column("assets", pa.array([r or None for r in rows], type=asset_type))
    if steps is None or steps & {"proj:epsg", "crs"}:
        table = normalize_raster_crs_sidecars(table)
    return table


def _asset_bands(table: pa.Table) -> list[str]:
    t = table.schema.field("assets").type
    if pa.types.is_struct(t):
        return sorted(t.field(i).name for i in range(t.num_fields))
    keys: set[str] = set()
    for row in table.column("assets").to_pylist():
        if row:
            keys.update(k for k, _ in (row.items() if isinstance(row, dict) else row))
    return sorted(keys)


def enrich_record_table(
    table: pa.Table,
    *,
    band_codes: list[str] | None,
    max_concurrent: int,
    backend: Any,
) -> pa.Table:
    """Add ``{band}_metadata`` columns by parsing every asset header (see ``ingest.enrich``)."""
    from rasteret.core.utils import run_sync
    from rasteret.ingest.enrich import build_url_index_from_assets, enrich_table_with_cog_metadata

    if "assets" not in table.column_names:
        logger.warning("no assets column: skipping COG enrichment")
        return table
    bands = list(band_codes) if band_codes else _asset_bands(table)
    url_index = build_url_index_from_assets(table, bands)
    if not url_index:
        logger.warning("no asset URLs found: skipping COG enrichment")
        return table
    return run_sync(
        enrich_table_with_cog_metadata(
            table, url_index, bands, max_concurrent=max_concurrent, backend=backend
        )
    )


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
    ) -> None:
        super().__init__(name=name, data_source=data_source, workspace_dir=workspace_dir)
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
            from rasteret.integrations.huggingface import load_hf_parquet_table

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
) -> Collection:
    """The shared tail of every record-table build."""
    table = _apply_column_map_aliases(table, column_map)
    table = prepare_record_table(
        table,
        href_column=href_column,
        band_index_map=band_index_map,
        url_rewrite_patterns=url_rewrite_patterns,
    )
    if enrich_cog:
        table = enrich_record_table(
            table, band_codes=band_codes, max_concurrent=max_concurrent, backend=backend
        )
    return build_collection_from_table(
        table, name=name, data_source=data_source, workspace_dir=workspace_dir
    )
