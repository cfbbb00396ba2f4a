"""Output helpers of the command line: JSON, aligned tables, collection summaries and the
resolution of a collection name to its workspace directory."""

from __future__ import annotations

import glob
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from rasteret.core.collection import Collection
from rasteret.records.naming import check_collection_name

__all__ = [
    "collection_summary",
    "format_table",
    "print_json",
    "print_summary",
    "resolve_collection_path",
]

_SUFFIXES = ("_stac", "_records")


def print_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON (values JSON cannot hold are printed with ``str``)."""
    print(json.dumps(payload, indent=2, default=str))


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, underline: Sequence[str] | None = None
) -> list[str]:
    """Lines of a left-justified table: header, dashed underline, rows; 2-space gaps.

    ``underline`` gives the underline cells (default: dashes as wide as each column).
    """
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    under = underline or ["-" * w for w in widths]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    return [line(headers), line(under), *(line(r) for r in rows)]


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def collection_summary(collection: Collection, path: str | Path) -> dict[str, Any]:
    """The summary printed by ``collections info/build/import`` and ``datasets build``.

    Keys: ``name, path, scene_count, date_start, date_end, has_split_column, columns``;
    dates are ISO timestamps of the min/max non-null ``datetime`` (None when unknown).
    """
    dataset = collection._records_dataset()
    columns: list[str] = [] if dataset is None else list(dataset.schema.names)
    scene_count = 0 if dataset is None else dataset.count_rows()
    date_start = date_end = None
    if dataset is not None and "datetime" in columns and scene_count:
        col = dataset.to_table(columns=["datetime"]).column("datetime")
        lo, hi = pc.min_max(col).values()
        if lo.is_valid and hi.is_valid:
            date_start, date_end = _iso(lo.as_py()), _iso(hi.as_py())
    return {
        "name": collection.name,
        "path": str(path),
        "scene_count": scene_count,
        "date_start": date_start,
        "date_end": date_end,
        "has_split_column": "split" in columns,
        "columns": columns,
    }


def print_summary(
    summary: dict[str, Any], first_label: str, *, split: bool = True, as_json: bool = False
) -> None:
    """Print a summary as JSON or as ``<first_label>: name``, Path, Scenes, Date range
    (when known) and, with ``split``, ``Split column: yes|no``."""
    if as_json:
        print_json(summary)
        return
    print(f"{first_label}: {summary['name']}")
    print(f"Path: {summary['path']}")
    print(f"Scenes: {summary['scene_count']}")
    if summary["date_start"] and summary["date_end"]:
        print(f"Date range: {summary['date_start']} -> {summary['date_end']}")
    if split:
        print(f"Split column: {'yes' if summary['has_split_column'] else 'no'}")


def resolve_collection_path(name: str, workspace_dir: Path) -> Path:
    """Find a cached collection by name in ``workspace_dir``.

    Tries ``<ws>/NAME``, ``<ws>/NAME_stac``, ``<ws>/NAME_records``, then the globs
    ``NAME*_stac`` and ``NAME*_records``.

    Raises
    ------
    FileNotFoundError
        No match, or several glob matches (the message lists them).
    ValueError
        ``name`` holds a path separator or ``..`` (it would point outside the workspace).
    """
    check_collection_name(name)
    for candidate in (name, *(f"{name}{s}" for s in _SUFFIXES)):
        path = workspace_dir / candidate
        if path.exists():
            return path
    matches: list[Path] = []
    for suffix in _SUFFIXES:
        matches.extend(sorted(workspace_dir.glob(f"{glob.escape(name)}*{suffix}")))
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = ", ".join(m.name for m in matches)
        raise FileNotFoundError(f"Ambiguous collection name '{name}'. Matches: {listed}")
    raise FileNotFoundError(f"Collection '{name}' not found in {workspace_dir}")
