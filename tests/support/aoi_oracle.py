"""Polygon-AOI oracle shared by backend tests: an AOI inside a corpus file and what
``rasterio.mask`` returns for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import rasterio
import rasterio.mask
import shapely
from rasterio.warp import transform_geom
from shapely.geometry import mapping

BAND = "B1"


def eligible(cog_corpus: Any, n: int) -> list[Any]:
    """``n`` lossless, single-band, EPSG-georeferenced tiled corpus files."""
    out = [
        e
        for e in cog_corpus.entries
        if e.count == 1
        and not e.lossy
        and "striped" not in e.tags
        and "custom_crs" not in e.tags
        and "overviews" not in e.tags
        and any(t.startswith("epsg") for t in e.tags)
    ]
    assert len(out) >= n
    return out[:n]


def aoi_in_4326(entry: Any, shrink: float = 0.2) -> Any:
    """A triangle inside the raster, in EPSG:4326 (so masking matters)."""
    with rasterio.open(entry.path) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
        res_x, res_y = src.res
    dx = (right - left) * shrink + 0.37 * res_x
    dy = (top - bottom) * shrink + 0.41 * res_y
    tri = shapely.Polygon(
        [(left + dx, bottom + dy), (right - dx, bottom + 2 * dy), (left + 2 * dx, top - dy)]
    )
    return shapely.geometry.shape(transform_geom(crs, "EPSG:4326", mapping(tri)))


def oracle(entry: Any, geom_4326: Any) -> np.ndarray:
    """``rasterio.mask.mask(..., crop=True, filled=True)`` of band 1."""
    with rasterio.open(entry.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(geom_4326))
        fill = src.nodata if src.nodata is not None else 0
        data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=fill, indexes=1)
    return data


def record_table(entries: Sequence[Any], urls: Sequence[str]) -> pa.Table:
    """A record table (id, datetime, footprint, url) of ``entries`` at ``urls``."""
    footprints = []
    for e in entries:
        with rasterio.open(e.path) as src:
            footprints.append(
                shapely.geometry.shape(
                    transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
                )
            )
    return pa.table(
        {
            "id": [e.name for e in entries],
            "datetime": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(entries))],
                pa.timestamp("us"),
            ),
            "geometry": [f.wkb for f in footprints],
            "url": list(urls),
        }
    )


def assert_reads_match(coll: Any, entries: Sequence[Any], **read_kw: Any) -> None:
    """``get_numpy`` of an AOI of every entry equals rasterio's masked read."""
    for entry in entries:
        aoi = aoi_in_4326(entry)
        one = coll.where(ds.field("id") == entry.name)
        got = one.get_numpy(aoi, [BAND], **read_kw)
        expected = oracle(entry, aoi)
        assert got.shape == (1, *expected.shape), entry.name
        np.testing.assert_array_equal(got[0], expected, err_msg=entry.name)
