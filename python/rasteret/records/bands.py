"""Band resolution: which asset of a record holds a band code, and at which URL.

A band code (``"B04"``) is looked up in the record's ``assets`` as itself, through the data
source's band map (``BandRegistry``: ``"B04" -> "red"``) or the reverse mapping.
"""

from __future__ import annotations

from typing import Any

from rasteret.constants import BandRegistry
from rasteret.errors import BandResolutionError

__all__ = ["asset_url", "resolve_asset_key", "unresolved_band"]

_ALTERNATE_ORDER = ("s3", "aws", "https", "http", "cloudfront")


def asset_url(asset: Any) -> str | None:
    """The URL of an asset value: ``href``, else an alternate href, else the first link."""
    if asset is None:
        return None
    if not isinstance(asset, dict):
        return str(asset)
    if asset.get("href"):
        return str(asset["href"])
    alternates = asset.get("alternate") or {}
    if isinstance(alternates, dict):
        for key in (*_ALTERNATE_ORDER, *alternates):
            alt = alternates.get(key)
            if isinstance(alt, dict) and alt.get("href"):
                return str(alt["href"])
    for link in asset.get("links") or []:
        if isinstance(link, dict) and link.get("href"):
            return str(link["href"])
    return None


def unresolved_band(
    band: str, record_id: Any, assets: dict[str, Any], data_source: str | None
) -> BandResolutionError:
    """The error for a band a read cannot resolve to an asset URL and tile layout."""
    return BandResolutionError(
        f"Band {band!r} of record {record_id!r} could not be resolved: available asset keys "
        f"{sorted(assets)}; data_source={data_source!r}"
    )


def resolve_asset_key(assets: dict[str, Any], band_code: str, data_source: str) -> str | None:
    """First of: the band code, its mapped asset key, or the reverse mapping, found in assets."""
    if assets.get(band_code) is not None:
        return band_code
    band_map = BandRegistry.get(data_source) if data_source else {}
    candidates = [band_code]
    if band_code in band_map:
        candidates.append(band_map[band_code])
    candidates += [code for code, key in band_map.items() if code == band_code or key == band_code]
    for c in candidates:
        if c in assets and assets[c] is not None:
            return c
    return None
