"""Collection names: ``{custom}_{dates}_{source}`` (``Collection.create_name`` / ``parse_name``)."""

from __future__ import annotations

import re

_SOURCE_ALIASES = {"sentinel-2-l2a": "sentinel", "landsat-c2-l2": "landsat"}


def _slug(text: str, empty: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", text)
    s = re.sub(r"-{2,}", "-", s).strip("-")
    return s or empty


def check_collection_name(name: str) -> str:
    """``name`` itself, when it is safe as a directory name inside a workspace.

    Raises
    ------
    ValueError
        ``name`` holds a path separator (``/`` or ``\\``), ``..``, a NUL byte, or is ``.``:
        joined to the workspace it would point outside it (or at the workspace itself).
    """
    text = str(name)
    if any(sep in text for sep in ("/", "\\", "\0")) or ".." in text or text.strip() == ".":
        raise ValueError(
            f"Invalid collection name {text!r}: a name becomes a directory inside the "
            "workspace, so it may not contain '/', '\\', '..' or NUL (pass workspace_dir to "
            "choose where collections are stored)"
        )
    return text


def create_name(custom_name: str, date_range: tuple[str, str], data_source: str) -> str:
    """``"{custom}_{YYYYMM-MM or YYYYMM-YYYYMM}_{source}"``, e.g. ``demo_202401-06_sentinel``."""
    import pandas as pd

    custom = _slug(custom_name.lower().replace(" ", "-").replace("_", "-"), "collection")
    start, end = pd.Timestamp(date_range[0]), pd.Timestamp(date_range[1])
    if start.year == end.year:
        dates = f"{start.year:04d}{start.month:02d}-{end.month:02d}"
    else:
        dates = f"{start.year:04d}{start.month:02d}-{end.year:04d}{end.month:02d}"
    source = data_source.lower().strip()
    if source in _SOURCE_ALIASES:
        source = _SOURCE_ALIASES[source]
    else:
        source = _slug(source.replace("/", "-").replace(" ", "-"), "source")
    return f"{custom}_{dates}_{source}"


def parse_name(name: str) -> dict[str, str | None]:
    """Split a :func:`create_name` name back into its parts (best effort)."""
    cleaned = name.replace("_stac", "")
    parts = cleaned.split("_")
    if len(parts) == 3 and len(parts[1].split("-")) == 2:
        return {"custom_name": parts[0], "data_source": parts[2], "name": cleaned}
    return {"name": name, "custom_name": name, "data_source": None}
