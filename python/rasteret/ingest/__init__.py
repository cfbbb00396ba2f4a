"""Building collections: record-table normalisation, STAC ingest, header enrichment.

The builders and helpers below are imported on first use: their modules import the
``Collection`` class, whose own module must be importable first.
"""

from __future__ import annotations

from typing import Any

from rasteret.ingest.base import CollectionBuilder

__all__ = [
    "CollectionBuilder",
    "RecordTableBuilder",
    "StacCollectionBuilder",
    "add_band_metadata_columns",
    "build_collection_from_table",
    "build_url_index_from_assets",
    "enrich_table_with_cog_metadata",
]

_LAZY = {
    "RecordTableBuilder": "rasteret.ingest.parquet_record_table",
    "StacCollectionBuilder": "rasteret.ingest.stac_indexer",
    "add_band_metadata_columns": "rasteret.ingest.enrich",
    "build_collection_from_table": "rasteret.ingest.normalize",
    "build_url_index_from_assets": "rasteret.ingest.enrich",
    "enrich_table_with_cog_metadata": "rasteret.ingest.enrich",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rasteret.ingest' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
