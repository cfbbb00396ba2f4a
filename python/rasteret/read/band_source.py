"""A record's band as an AOI read sees it: its file, image grid and pixel type, from the
record's assets and the band's parsed TIFF layout (checked for what the tile reader needs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rasteret.read.grid import fill_value, normalize_transform
from rasteret.records.bands import asset_url, resolve_asset_key, unresolved_band

__all__ = ["BandSource", "band_layout", "band_source"]


@dataclass(frozen=True)
class BandSource:
    """What every window of one (record, band) shares: its file, grid and pixel type."""

    url: str
    band_index: int
    transform: tuple[float, float, float, float]
    width: int
    height: int
    dtype: np.dtype
    fill: Any
    has_mask: bool


def band_layout(
    i: int,
    band: str,
    rid: Any,
    assets: dict[str, Any],
    metas: dict[str, list[Any]],
    source: str,
) -> tuple[str, str, int | None, dict[str, Any]]:
    """``(metadata column, url, asset band_index or None, metadata)`` of ``band`` in record
    ``i``: the band's asset key, then the ``<band>_metadata`` column or else the
    ``<asset key>_metadata`` one.

    Raises
    ------
    BandResolutionError
        The band resolves to no asset, URL or parsed layout.
    """
    key = resolve_asset_key(assets, band, source)
    column = f"{band}_metadata"
    meta = metas[column][i] if column in metas else None
    if meta is None and key is not None and f"{key}_metadata" in metas:
        column = f"{key}_metadata"
        meta = metas[column][i]
    url = asset_url(assets.get(key)) if key is not None else None
    if key is None or meta is None or url is None:
        raise unresolved_band(band, rid, assets, source)
    asset = assets.get(key)
    band_index = asset.get("band_index") if isinstance(asset, dict) else None
    return column, url, band_index, meta


def band_source(
    i: int,
    band: str,
    rid: str,
    assets: dict[str, Any],
    metas: dict[str, list[Any]],
    source: str,
) -> BandSource | None:
    """The band's file and layout in record ``i`` (None: the file has no geotransform).

    Raises
    ------
    BandResolutionError, ValueError, NotImplementedError
        The band resolves to no asset or layout, or its TIFF layout is not readable.
    """
    _, url, band_index, meta = band_layout(i, band, rid, assets, metas, source)
    if meta.get("transform") is None:
        return None
    spp = int(meta.get("samples_per_pixel") or 1)
    planar = int(meta.get("planar_configuration") or 1)
    if planar == 1 and spp > 1 and band_index is None:
        raise NotImplementedError(
            f"Chunky multi-sample TIFFs ({spp} samples per pixel) require an explicit "
            f"band_index in the asset of band {band!r} (record {rid!r})."
        )
    offsets, counts = meta.get("tile_offsets"), meta.get("tile_byte_counts")
    if not offsets or counts is None:
        raise ValueError(
            f"Rasteret's tile reader requires a tiled GeoTIFF with tile tables (band {band!r}, "
            f"record {rid!r})."
        )
    if len(offsets) != len(counts):
        raise ValueError(
            "Invalid tile metadata: TileOffsets/TileByteCounts length mismatch "
            f"({len(offsets)} vs {len(counts)})."
        )
    w, h = int(meta["image_width"]), int(meta["image_height"])
    tw, th = int(meta["tile_width"]), int(meta["tile_height"])
    expected = -(-w // tw) * -(-h // th)
    if len(offsets) < expected:
        raise ValueError(
            "Unsupported tiled GeoTIFF layout: tile offset table is shorter than expected "
            f"({len(offsets)} < {expected})."
        )
    dtype = np.dtype(meta["dtype"])
    return BandSource(
        url=url,
        band_index=int(band_index or 0),
        transform=normalize_transform(meta["transform"]),
        width=w,
        height=h,
        dtype=dtype,
        fill=fill_value(meta, dtype),
        has_mask=meta.get("mask") is not None,
    )
