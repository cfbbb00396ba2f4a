"""B7: the AOI of B2 read as an xarray cube of 12 dates x 4 bands.

The B2 scenes lie side by side; a time series needs scenes that share a footprint. The cube set
is a copy of the DEFLATE scenes whose GeoTIFF tie point is rewritten in place (same pixels, same
tiles, same header size: still a COG), so every scene covers the first scene's footprint on its
own date. Every tool reads the same 1024x1024 pixel-aligned window of the 48 files:

- ``rasteret-api``: ``Collection.get_xarray(box, bands)`` (the public API);
- ``rasteret-window``: ``Collection.read_window(record_ids, bounds, res, bands)``;
- ``rasteret-indexed``: the engine alone, one ``read_column_into`` (the floor);
- ``odc-stac``: ``odc.stac.load(items, geobox=..., pool=16)``;
- ``stackstac``: ``stackstac.stack(items, bounds=..., resolution=10).compute()`` on 16 threads.

STAC items are built in memory (``proj`` extension: EPSG, shape, transform), as a STAC API would
return them, so no tool pays a catalog request. Every adapter returns ``[time * band, y, x]``
uint16 in (date, band) order; the harness compares hashes against odc-stac's.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import workloads as wl

CODEC = "deflate"
MODEL_TIEPOINT_TAG = 33922


def _retie(src: Path, dst: Path, x_origin: float) -> None:
    """Copy ``src`` to ``dst`` with the x of its GeoTIFF tie point set to ``x_origin``."""
    import tifffile

    with tifffile.TiffFile(src) as tif:
        tag = tif.pages[0].tags[MODEL_TIEPOINT_TAG]
        offset, byteorder = tag.valueoffset, tif.byteorder
    tmp = dst.with_suffix(".tmp.tif")
    shutil.copyfile(src, tmp)
    with tmp.open("r+b") as f:  # tie point = (I, J, K, X, Y, Z) as doubles; X is the 4th
        f.seek(offset + 3 * 8)
        f.write(struct.pack(byteorder + "d", x_origin))
    tmp.replace(dst)


def ensure_cube(n_scenes: int, log: Callable[[str], object] = print) -> None:
    """Write (once) the cube set of the first ``n_scenes`` scenes."""
    wl.ensure_data(n_scenes, log=log)
    (wl.DATA_DIR / "cube").mkdir(exist_ok=True)
    for s in range(n_scenes):
        for b in range(wl.N_BANDS):
            dst = wl.DATA_DIR / wl.cube_name(s, b)
            if not dst.exists():
                _retie(wl.DATA_DIR / wl.cog_name(CODEC, s, b), dst, float(wl.SCENE_ORIGIN_X))
    log(f"  cube: {n_scenes} scenes x {wl.N_BANDS} bands sharing scene 0's footprint")


def scene_date(scene: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1 + scene)


def aoi_bounds(plan: dict[str, Any]) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the plan's window in EPSG:32633 (on the pixel grid)."""
    col, row, w, h = plan["window"]
    left = wl.SCENE_ORIGIN_X + col * wl.PIXEL
    top = wl.SCENE_TOP - row * wl.PIXEL
    return left, top - h * wl.PIXEL, left + w * wl.PIXEL, top


def stac_items(plan: dict[str, Any]) -> list[Any]:
    """One pystac Item per scene: date, footprint, ``proj`` fields and the 4 band assets."""
    import pystac
    import shapely
    from pyproj import Transformer

    left, top = wl.SCENE_ORIGIN_X, wl.SCENE_TOP
    extent = wl.SIZE * wl.PIXEL
    lonlat = Transformer.from_crs(32633, 4326, always_xy=True)
    bbox = list(lonlat.transform_bounds(left, top - extent, left + extent, top))
    geometry = shapely.geometry.mapping(shapely.box(*bbox))
    proj = {
        "proj:epsg": 32633,
        "proj:shape": [wl.SIZE, wl.SIZE],
        "proj:transform": [wl.PIXEL, 0.0, left, 0.0, -wl.PIXEL, top],
    }
    items = []
    urls = plan["urls"]
    for s in range(plan["n_scenes"]):
        item = pystac.Item(
            id=f"S{s:02d}",
            geometry=geometry,
            bbox=bbox,
            datetime=scene_date(s),
            properties=dict(proj),
            stac_extensions=["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        )
        for b, band in enumerate(wl.BANDS):
            item.add_asset(
                band,
                pystac.Asset(
                    href=urls[s * wl.N_BANDS + b],
                    media_type=pystac.MediaType.COG,
                    roles=["data"],
                    extra_fields=dict(proj),
                ),
            )
        items.append(item)
    return items


def _stack_bands(ds: Any, h: int, w: int) -> np.ndarray:
    """``[time * band, h, w]`` from a Dataset with one variable per band (time first)."""
    return np.stack([np.asarray(ds[b].values) for b in wl.BANDS], axis=1).reshape(-1, h, w)


def _xarray_ready() -> None:
    """Import xarray and let it load the duck-array modules it looks up on first use (dask,
    when installed: about 1 s), as odc-stac and stackstac do when they are imported."""
    import xarray as xr

    xr.Variable(("x",), np.zeros(1))


def rasteret_api_cube(plan: dict[str, Any], timer: Any) -> np.ndarray:
    import shapely

    coll = wl._bench_collection(plan)
    _xarray_ready()
    _, _, w, h = plan["window"]
    box = shapely.box(*aoi_bounds(plan))
    with timer:
        ds = coll.get_xarray(box, list(wl.BANDS), geometry_crs=32633)
    return _stack_bands(ds, h, w)


def rasteret_window_cube(plan: dict[str, Any], timer: Any) -> np.ndarray:
    """``read_window`` of every record onto the AOI's grid: ``[records, bands, y, x]``."""
    coll = wl._bench_collection(plan)
    _, _, w, h = plan["window"]
    ids = [f"S{s:02d}" for s in range(plan["n_scenes"])]
    with timer:
        stack = coll.read_window(
            record_ids=ids, bounds=aoi_bounds(plan), res=wl.PIXEL, bands=list(wl.BANDS)
        )
    return np.ascontiguousarray(stack).reshape(-1, h, w)


def odc_stac_cube(plan: dict[str, Any], timer: Any) -> np.ndarray:
    wl._rio_env()
    import odc.stac
    import rasterio  # noqa: F401 - GDAL loads here, before the timed region
    from odc.geo.geobox import GeoBox

    items = stac_items(plan)
    _, _, w, h = plan["window"]
    geobox = GeoBox.from_bbox(aoi_bounds(plan), crs="EPSG:32633", resolution=wl.PIXEL)
    with timer:
        ds = odc.stac.load(
            items, bands=list(wl.BANDS), geobox=geobox, dtype="uint16", pool=wl.RIO_THREADS
        )
    return _stack_bands(ds, h, w)


def stackstac_cube(plan: dict[str, Any], timer: Any) -> np.ndarray:
    wl._rio_env()
    import dask
    import rasterio  # noqa: F401
    import stackstac

    items = stac_items(plan)
    _, _, w, h = plan["window"]
    with timer:
        cube = stackstac.stack(
            items,
            assets=list(wl.BANDS),
            epsg=32633,
            resolution=wl.PIXEL,
            bounds=aoi_bounds(plan),
            dtype="uint16",
            fill_value=np.uint16(0),
            rescale=False,
            chunksize=h,
        )
        with dask.config.set(scheduler="threads", num_workers=wl.RIO_THREADS):
            values = cube.values  # (time, band, y, x)
    return np.ascontiguousarray(values).reshape(-1, h, w)


ADAPTERS: dict[str, Callable[[dict[str, Any], Any], Any]] = {
    "rasteret-api": rasteret_api_cube,
    "rasteret-window": rasteret_window_cube,
    "rasteret-indexed": wl.rasteret_indexed,
    "odc-stac": odc_stac_cube,
    "stackstac": stackstac_cube,
}
