"""A real collection over corpus COGs served by the HTTP Range server, and the rasterio
oracle for polygon reads, shared by the record-index and Hugging Face
collection tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import rasterio
import rasterio.mask
import shapely
from rasterio.warp import transform_geom
from shapely.geometry import mapping

from support.aoi_oracle import aoi_in_4326  # noqa: F401  (re-exported for tests)

__all__ = ["BAND", "aoi_in_4326", "corpus_record_table", "eligible_entries", "oracle_mask"]

BAND = "B1"


def eligible_entries(corpus: Any, n: int = 8) -> list[Any]:
    """``n`` single-band, lossless corpus files with an EPSG CRS (sorted by name)."""
    out = []
    for e in sorted(corpus.entries, key=lambda e: e.name):
        if e.count != 1 or e.lossy or "custom_crs" in e.tags or "striped" in e.tags:
            continue
        if "float16" in e.tags or not any(t.startswith("epsg") for t in e.tags):
            continue
        out.append(e)
    assert len(out) >= n, f"corpus has only {len(out)} eligible files"
    return out[:n]


def _footprint(entry: Any) -> Any:
    with rasterio.open(entry.path) as src:
        box = shapely.box(*src.bounds)
        return shapely.geometry.shape(transform_geom(src.crs, "EPSG:4326", mapping(box)))


def corpus_record_table(entries: list[Any], http_server: Any) -> pa.Table:
    """A record table (one row per file, URL column ``url``) with ``eo:cloud_cover``
    (10, 20, ...) and ``split`` (alternating train/test) columns; datetimes 2020-01-01,
    2021-01-01, ... so each record has its own year."""
    n = len(entries)
    return pa.table(
        {
            "id": [e.name for e in entries],
            "datetime": pa.array(
                [dt.datetime(2020 + i, 1, 1) for i in range(n)], pa.timestamp("us")
            ),
            "geometry": [_footprint(e).wkb for e in entries],
            "url": [http_server.url(e.path.name) for e in entries],
            "eo:cloud_cover": pa.array([10.0 * (i + 1) for i in range(n)], pa.float64()),
            "split": ["train" if i % 2 == 0 else "test" for i in range(n)],
        }
    )


def oracle_mask(entry: Any, geom_4326: Any) -> Any:
    """``rasterio.mask.mask(crop=True, filled=True)`` of band 1 under ``geom_4326``."""
    with rasterio.open(entry.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(geom_4326))
        fill = src.nodata if src.nodata is not None else 0
        data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=fill, indexes=1)
    return data
