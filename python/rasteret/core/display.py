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


def _rows(
    records: Any, bands: str, crs: list[int], bounds: tuple[float, ...] | None
) -> list[tuple[str, str]]:
    return [
        ("Records", str(records)),
        ("Bands", bands),
        ("CRS", _more([f"EPSG:{e}" for e in crs], 3)),
        ("Bounds", "" if bounds is None else ", ".join(f"{v:.4f}" for v in bounds)),
    ]


def _data(
    name: str, records: int | str, bands: list[str], bounds: Any, crs: list[int]
) -> dict[str, Any]:
    """The ``.data`` entries every summary table has."""
    return {
        "name": name,
        "records": records,
        "bands": list(bands),
        "bounds": bounds,
        "crs": list(crs),
    }


def build_describe_result(
    *,
    name: str,
    records: int | str,
    bands: list[str],
    bounds: tuple[float, float, float, float] | None,
    crs: list[int],
    dates: tuple[str, str] | None,
    source: str | None,
) -> DescribeResult:
    """The ``describe()`` table of a collection: records, bands (first 5), CRS codes (first
    3), bounds, and the dates and source when known."""
    rows = _rows(records, _more(list(bands), 5), list(crs), bounds)
    data = _data(name, records, bands, bounds, crs)
    if dates is not None:
        rows.append(("Dates", f"{dates[0]} .. {dates[1]}"))
        data["dates"] = dates
    if source:
        rows.append(("Source", source))
        data["source"] = source
    return DescribeResult(f"Collection: {name}", rows, data)


def build_catalog_comparison(
    *,
    name: str,
    records: int | str,
    bands: list[str],
    bounds: tuple[float, float, float, float] | None,
    crs: list[int],
    dates: tuple[str, str] | None,
    source: str | None,
    catalog_name: str,
    catalog_bands: list[str],
    catalog_temporal: tuple[str, str] | None,
    catalog_coverage: str,
    catalog_auth: bool,
    catalog_license: str | None,
) -> DescribeResult:
    """``compare_to_catalog()``: the describe table checked against a catalog entry (which
    of its bands the collection has, its date range, coverage, auth and license)."""
    have = [b for b in catalog_bands if b in bands]
    missing = [b for b in catalog_bands if b not in bands]
    band_text = f"{_more(list(bands), 5)} ({len(have)}/{len(catalog_bands)})"
    if missing:
        band_text += f" (missing: {', '.join(missing)})"
    rows = _rows(records, band_text, list(crs), bounds)
    data = _data(name, records, bands, bounds, crs)
    if dates is not None:
        text = f"{dates[0]} .. {dates[1]}"
        if catalog_temporal:
            text += f" (source: {catalog_temporal[0]} .. {catalog_temporal[1]})"
        rows.append(("Dates", text))
        data["dates"] = dates
    if source:
        data["source"] = source
    rows.append(("Source", f"{source or ''} ({catalog_name})"))
    rows.append(("Coverage", catalog_coverage))
    rows.append(("Auth", "required" if catalog_auth else "none"))
    if catalog_license:
        rows.append(("License", catalog_license))
    data["catalog"] = {
        "name": catalog_name,
        "all_bands": list(catalog_bands),
        "temporal_range": catalog_temporal,
        "spatial_coverage": catalog_coverage,
        "requires_auth": catalog_auth,
        "license": catalog_license,
    }
    return DescribeResult(f"Collection: {name}", rows, data)
