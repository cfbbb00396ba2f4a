"""The local workspace of cached collections (``~/rasteret_workspace``): what it holds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rasteret.records.persistence import metadata_from_schema, open_parquet_dataset

__all__ = ["DEFAULT_WORKSPACE", "list_workspace_collections"]

logger = logging.getLogger(__name__)

DEFAULT_WORKSPACE = Path.home() / "rasteret_workspace"


def list_workspace_collections(workspace_dir: Path | None = None) -> list[dict[str, Any]]:
    """Collections (``*_stac`` / ``*_records`` directories) found in a workspace: name, kind,
    data source, date range, size and creation time; unreadable directories are skipped."""
    root = Path(workspace_dir or DEFAULT_WORKSPACE).expanduser()
    found: list[dict[str, Any]] = []
    if not root.is_dir():
        return found
    for kind, suffix in (("stac", "_stac"), ("records", "_records")):
        for d in sorted(root.glob(f"*{suffix}")):
            if not d.is_dir():
                continue
            try:
                dataset = open_parquet_dataset(d)
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
