"""Top-level build entry points (``rasteret.build_from_table``; STAC builds to follow)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from rasteret.core.collection import Collection
from rasteret.core.persistence import _is_cloud_uri

__all__ = ["build_from_table", "resolve_workspace"]

_SUFFIXES = ("_stac", "_records")


def resolve_workspace(
    workspace_dir: str | os.PathLike[str] | None, name: str, suffix: str = "_records"
) -> str | Path | None:
    """Where a named build is cached (API contract §1.7 step 1, §1.13)."""
    if workspace_dir is not None:
        ws = str(workspace_dir)
        if ws.rstrip("/").endswith(_SUFFIXES):
            return ws if _is_cloud_uri(ws) else Path(ws).expanduser()
        if not name:
            return ws if _is_cloud_uri(ws) else Path(ws).expanduser()
        if _is_cloud_uri(ws):
            return f"{ws.rstrip('/')}/{name}{suffix}"
        return Path(ws).expanduser() / f"{name}{suffix}"
    if name:
        return Path.home() / "rasteret_workspace" / f"{name}{suffix}"
    return None


def build_from_table(
    path: Any,
    *,
    name: str = "",
    data_source: str = "",
    workspace_dir: str | os.PathLike[str] | None = None,
    column_map: dict[str, str] | None = None,
    href_column: str | None = None,
    band_index_map: dict[str, int] | None = None,
    url_rewrite_patterns: dict[str, str] | None = None,
    filesystem: Any | None = None,
    columns: list[str] | None = None,
    filter_expr: ds.Expression | None = None,
    enrich_cog: bool = False,
    band_codes: list[str] | None = None,
    cloud_config: Any | None = None,
    max_concurrent: int = 300,
    force: bool = False,
    backend: Any | None = None,
) -> Collection:
    """Build a Collection from a record table: a Parquet path/URI or any Arrow object.

    Parameters
    ----------
    path
        Parquet file/directory/URI, or an Arrow table, batch, reader, dataset, PyCapsule
        producer, DuckDB relation, Polars or pandas frame.
    name
        Collection name; with it the build is cached in ``<workspace>/<name>_records``.
    enrich_cog
        Parse every asset's COG header (Rust, concurrently) into ``{band}_metadata`` columns.
    cloud_config
        Accepted for compatibility; unused on this path (use ``url_rewrite_patterns``).

    Examples
    --------
    >>> coll = rasteret.build_from_table("scenes.parquet", name="fields",
    ...                                  enrich_cog=True)  # doctest: +SKIP
    """
    from rasteret.core.arrow_interop import as_table
    from rasteret.ingest.parquet_record_table import RecordTableBuilder, finish_record_table

    del cloud_config  # spec quirk: accepted, unused here
    resolved = resolve_workspace(workspace_dir, name)
    if isinstance(resolved, Path) and resolved.exists() and not force:
        return Collection._load_cached(resolved)
    if isinstance(path, str | os.PathLike):
        builder = RecordTableBuilder(
            path,
            data_source=data_source,
            column_map=column_map,
            href_column=href_column,
            band_index_map=band_index_map,
            url_rewrite_patterns=url_rewrite_patterns,
            filesystem=filesystem,
            columns=columns,
            filter_expr=filter_expr,
            name=name,
            workspace_dir=resolved,
            enrich_cog=enrich_cog,
            band_codes=band_codes,
            max_concurrent=max_concurrent,
            backend=backend,
        )
        return builder.build(name=name, workspace_dir=resolved)
    table = as_table(path, columns=columns, filter_expr=filter_expr)
    return finish_record_table(
        table,
        name=name or "record_table",
        data_source=data_source,
        workspace_dir=resolved,
        column_map=column_map,
        href_column=href_column,
        band_index_map=band_index_map,
        url_rewrite_patterns=url_rewrite_patterns,
        enrich_cog=enrich_cog,
        band_codes=band_codes,
        max_concurrent=max_concurrent,
        backend=backend,
    )
