"""Building collections: record-table normalisation, STAC ingest, header enrichment."""

from __future__ import annotations

from rasteret.ingest.normalize import build_collection_from_table

__all__ = ["build_collection_from_table"]
