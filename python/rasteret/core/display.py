"""Small property tables for ``Collection.describe()`` / ``compare_to_catalog()``."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["DescribeResult", "build_catalog_comparison", "build_describe_result"]


class DescribeResult:
    """A titled two-column table (``Property`` / ``Value``) plus its data as a dict."""

    def __init__(self, title: str, rows: list[tuple[str, str]], data: dict[str, Any]):
        self._title = title
        self._rows = list(rows)
        self._data = dict(data)

    @property
    def data(self) -> dict[str, Any]:
        """A copy of the underlying values."""
        return dict(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __str__(self) -> str:
        if not self._rows:
            return f"{self._title}: (empty)"
        width = max(len("Property"), *(len(k) for k, _ in self._rows))
        lines = [self._title, f"{'Property':<{width}}  Value", f"{'-' * width}  -----"]
        lines += [f"{k:<{width}}  {v}" for k, v in self._rows]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        if not self._rows:
            return f"<p>{html.escape(self._title)}: (empty)</p>"
        body = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in self._rows
        )
        return (
            f"<table><caption>{html.escape(self._title)}</caption>"
            f"<thead><tr><th>Property</th><th>Value</th></tr></thead><tbody>{body}</tbody></table>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": str(self), "text/html": self._repr_html_()}


def _more(items: list[str], keep: int) -> str:
    shown = ", ".join(items[:keep])
    extra = len(items) - keep
    return f"{shown} (+{extra} more)" if extra > 0 else shown


def build_describe_result(
    name: str,
    records: int | str,
    bands: list[str],
    bounds: tuple[float, float, float, float] | None,
    epsg: list[int],
    dates: tuple[str, str] | None = None,
    source: str = "",
) -> DescribeResult:
    """The ``describe()`` table of a collection."""
    rows = [
        ("Records", str(records)),
        ("Bands", _more(bands, 5)),
        ("CRS", _more([f"EPSG:{e}" for e in epsg], 3)),
        ("Bounds", "" if bounds is None else ", ".join(f"{v:.4f}" for v in bounds)),
    ]
    data: dict[str, Any] = {
        "name": name,
        "records": records,
        "bands": list(bands),
        "bounds": bounds,
        "crs": list(epsg),
    }
    if dates is not None:
        rows.append(("Dates", f"{dates[0]} .. {dates[1]}"))
        data["dates"] = dates
    if source:
        rows.append(("Source", source))
        data["source"] = source
    return DescribeResult(f"Collection: {name}", rows, data)


def build_catalog_comparison(base: DescribeResult, descriptor: Any) -> DescribeResult:
    """``compare_to_catalog()``: the describe table checked against a catalog descriptor."""
    d = base.data
    all_bands = list((descriptor.band_map or descriptor.band_index_map or {}).keys())
    have = [b for b in all_bands if b in d["bands"]]
    missing = [b for b in all_bands if b not in d["bands"]]
    bands = f"{_more(d['bands'], 5)} ({len(have)}/{len(all_bands)})"
    if missing:
        bands += f" (missing: {', '.join(missing)})"
    rows = [
        ("Records", str(d["records"])),
        ("Bands", bands),
        ("CRS", _more([f"EPSG:{e}" for e in d["crs"]], 3)),
        ("Bounds", "" if d["bounds"] is None else ", ".join(f"{v:.4f}" for v in d["bounds"])),
    ]
    tr = descriptor.temporal_range
    if "dates" in d:
        dates = f"{d['dates'][0]} .. {d['dates'][1]}"
        if tr:
            dates += f" (source: {tr[0]} .. {tr[1]})"
        rows.append(("Dates", dates))
    rows.append(("Source", f"{d.get('source', descriptor.id)} ({descriptor.name})"))
    rows.append(("Coverage", descriptor.spatial_coverage))
    rows.append(("Auth", "required" if descriptor.requires_auth else "none"))
    if descriptor.license:
        rows.append(("License", descriptor.license))
    data = dict(d)
    data["catalog"] = {
        "name": descriptor.name,
        "all_bands": all_bands,
        "temporal_range": tr,
        "spatial_coverage": descriptor.spatial_coverage,
        "requires_auth": descriptor.requires_auth,
        "license": descriptor.license,
    }
    return DescribeResult(f"Collection: {d['name']}", rows, data)
