"""Raster CRS of records: parsing CRS values and the ``proj:epsg`` / ``crs`` sidecar columns.

The sidecars (``proj:epsg`` int32, ``crs`` string) are derived per row from ``proj:code``,
``proj:epsg``, ``crs``, ``proj:wkt2`` or ``proj:projjson``: the first parseable value wins.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pyarrow as pa

__all__ = [
    "crs_code_from_epsg",
    "normalize_crs_code",
    "normalize_raster_crs_sidecars",
    "parse_epsg",
]

_CRS_SOURCES = ("proj:code", "proj:epsg", "crs", "proj:wkt2", "proj:projjson")


@functools.lru_cache(maxsize=4096)
def _pyproj_epsg(text: str) -> int | None:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(text).to_epsg()
    except CRSError:
        return None


def parse_epsg(crs_value: Any) -> int | None:
    """EPSG code of a CRS value (int, ``"EPSG:n"``, digits, WKT or PROJJSON), else None."""
    if crs_value is None or isinstance(crs_value, bool):
        return None
    if isinstance(crs_value, int):
        return crs_value if crs_value > 0 else None
    if isinstance(crs_value, float):
        return int(crs_value) if crs_value.is_integer() and crs_value > 0 else None
    if isinstance(crs_value, dict):
        return _pyproj_epsg(json.dumps(crs_value, sort_keys=True))
    if isinstance(crs_value, str):
        s = crs_value.strip()
        if not s:
            return None
        if s.upper().startswith("EPSG:") and s[5:].strip().isdigit():
            return int(s[5:].strip())
        if s.isdigit():
            return int(s)
        return _pyproj_epsg(s)
    return None


def crs_code_from_epsg(epsg: int | None) -> str | None:
    """``"EPSG:<n>"`` (None for None)."""
    return None if epsg is None else f"EPSG:{int(epsg)}"


@functools.lru_cache(maxsize=4096)
def _normalize_text(s: str) -> str | None:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    epsg = parse_epsg(s)
    if epsg is not None:
        return f"EPSG:{epsg}"
    try:
        crs = CRS.from_user_input(s)
    except CRSError:
        return s
    auth = crs.to_authority()
    if auth is not None:
        return f"{auth[0]}:{auth[1]}"
    return crs.to_string() or s


def normalize_crs_code(crs_value: Any) -> str | None:
    """A CRS value as ``"EPSG:n"``, else ``"AUTH:CODE"``, else a pyproj string, else raw."""
    if crs_value is None:
        return None
    if isinstance(crs_value, int | float) and not isinstance(crs_value, bool):
        epsg = parse_epsg(crs_value)
        return None if epsg is None else f"EPSG:{epsg}"
    if isinstance(crs_value, dict):
        return _normalize_text(json.dumps(crs_value, sort_keys=True))
    s = str(crs_value).strip()
    return _normalize_text(s) if s else None


def normalize_raster_crs_sidecars(
    table: pa.Table, *, required_columns: set[str] | None = None
) -> pa.Table:
    """Write per-row ``proj:epsg`` (int32) and ``crs`` (string) from the CRS columns present.

    ``required_columns`` limits which of the two sidecars are written (None: both).
    """
    targets = [c for c in ("proj:epsg", "crs") if required_columns is None or c in required_columns]
    present = [c for c in _CRS_SOURCES if c in table.column_names]
    if not present or not targets:
        return table
    columns = {c: table.column(c).to_pylist() for c in present}
    epsgs: list[int | None] = []
    codes: list[str | None] = []
    for i in range(table.num_rows):
        epsg, code = None, None
        for c in present:
            v = columns[c][i]
            if v is None:
                continue
            if isinstance(v, str) and v.strip().startswith("{"):
                try:
                    v = json.loads(v)
                except ValueError:
                    pass
            e = parse_epsg(v)
            n = normalize_crs_code(v)
            if e is not None or n is not None:
                epsg, code = e, (n if e is None else f"EPSG:{e}")
                break
        epsgs.append(epsg)
        codes.append(code)
    for name, values, typ in (("proj:epsg", epsgs, pa.int32()), ("crs", codes, pa.string())):
        if name not in targets:
            continue
        arr = pa.array(values, type=typ)
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table
