"""A small synthetic Sentinel-2 L2A-like archive: GDAL-written COGs and a static STAC catalog.

:func:`write_archive` writes, under ``root``::

    catalog.json
    sentinel-2-l2a/collection.json
    sentinel-2-l2a/<item id>/<item id>.json
    sentinel-2-l2a/<item id>/{blue,green,red,nir}.tif

Every link and asset ``href`` is relative, so the tree can be served from any URL (the demo
serves it on ``127.0.0.1``) or read from disk. The rasters are uint16 surface reflectance
(scale 1/10000, nodata 0) in EPSG:32633 at 10 m, DEFLATE + predictor 2 with 512-px tiles,
written by rasterio's COG driver. Content is deterministic and looks like farmland: a
patchwork of fields whose crops green up and are harvested across the season, a meandering
river, a forest, a village, and clouds on one of the dates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ASSETS", "COLLECTION_ID", "EPSG", "SCENES", "Archive", "Scene", "write_archive"]

#: Collection id of the archive (a child of the root catalog).
COLLECTION_ID = "sentinel-2-l2a"
#: Raster CRS of every scene (UTM zone 33N).
EPSG = 32633
#: Upper-left corner of the tile in EPSG:32633 (Brandenburg, Germany).
ORIGIN = (399960.0, 5800020.0)
#: Pixel size in metres.
PIXEL = 10.0
#: Band code -> STAC asset key (the Earth Search naming, as in ``SENTINEL2_BANDS``).
ASSETS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir"}


@dataclass(frozen=True)
class Scene:
    """One acquisition: date, platform, cloud cover in percent and crop growth stage (0..1)."""

    date: str
    platform: str
    cloud_cover: float
    season: float

    @property
    def id(self) -> str:
        """The item id, e.g. ``S2B_33UUP_20240614_0_L2A``."""
        sat = "S2A" if self.platform.endswith("a") else "S2B"
        return f"{sat}_33UUP_{self.date.replace('-', '')}_0_L2A"


#: The acquisitions, oldest first. The June scene is the cloudy one.
SCENES = (
    Scene("2024-04-18", "sentinel-2a", 6.0, 0.15),
    Scene("2024-05-23", "sentinel-2b", 11.0, 0.55),
    Scene("2024-06-14", "sentinel-2b", 47.0, 0.85),
    Scene("2024-07-09", "sentinel-2a", 3.0, 1.0),
    Scene("2024-08-21", "sentinel-2b", 14.0, 0.45),
    Scene("2024-09-30", "sentinel-2a", 9.0, 0.2),
)


@dataclass(frozen=True)
class Archive:
    """What :func:`write_archive` wrote: the root catalog and every COG path."""

    root: Path
    catalog: Path
    scenes: tuple[Scene, ...]
    cogs: tuple[Path, ...]
    size: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Extent of every scene in EPSG:32633 ``(left, bottom, right, top)``."""
        left, top = ORIGIN
        return (left, top - self.size * PIXEL, left + self.size * PIXEL, top)


# --------------------------------------------------------------------------- land cover

WATER, FOREST, VILLAGE, FIELD = 0, 1, 2, 3
# surface reflectance x 10000 of the pure covers, order B02 B03 B04 B08
_SOIL = np.array([820.0, 1080.0, 1300.0, 2200.0])
_GREEN = np.array([280.0, 650.0, 300.0, 4300.0])
_COVER = {
    WATER: np.array([640.0, 560.0, 330.0, 120.0]),
    FOREST: np.array([230.0, 430.0, 240.0, 3100.0]),
    VILLAGE: np.array([1350.0, 1380.0, 1450.0, 1900.0]),
}


def _land_cover(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel cover class and, for fields, the crop type (0..3)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    # fields: a jittered grid of parcels, each with a crop type
    cuts_x = np.sort(rng.choice(np.arange(20, size - 20), size // 32, replace=False))
    cuts_y = np.sort(rng.choice(np.arange(20, size - 20), size // 26, replace=False))
    px = np.searchsorted(cuts_x, xx + 12 * np.sin(yy / 97.0))
    py = np.searchsorted(cuts_y, yy + 9 * np.sin(xx / 83.0))
    parcel = px * (len(cuts_y) + 1) + py
    crop_of_parcel = rng.integers(0, 4, parcel.max() + 1)
    crop = crop_of_parcel[parcel]
    cover = np.full((size, size), FIELD, dtype=np.uint8)
    # a forest in the north-east, with a ragged edge
    fx, fy = 0.72 * size, 0.28 * size
    edge = 0.2 * size + 14 * np.sin(np.arctan2(yy - fy, xx - fx) * 7) + 6 * np.sin(xx / 13.0)
    cover[np.hypot(xx - fx, yy - fy) < edge] = FOREST
    # a village in the south-west
    village = (np.abs(xx - 0.3 * size) < 0.07 * size) & (np.abs(yy - 0.62 * size) < 0.05 * size)
    cover[village] = VILLAGE
    # a meandering river from north to south
    centre = 0.42 * size + 0.09 * size * np.sin(yy / (0.16 * size)) + 14 * np.sin(yy / 37.0)
    cover[np.abs(xx - centre) < 9 + 3 * np.sin(yy / 55.0)] = WATER
    return cover, crop


def _growth(crop: np.ndarray, season: float) -> np.ndarray:
    """Green fraction per pixel of each crop type at ``season`` (0 = spring, 1 = peak)."""
    # winter cereal (early, harvested in July), maize (late), grassland (always green), fallow
    peak = np.array([0.35, 0.85, 0.5, 0.5])[crop]
    width = np.array([0.35, 0.3, 2.0, 0.25])[crop]
    level = np.array([0.95, 0.9, 0.7, 0.15])[crop]
    return level * np.exp(-(((season - peak) / width) ** 2))


def scene_bands(
    cover: np.ndarray, crop: np.ndarray, scene: Scene, index: int, size: int
) -> np.ndarray:
    """Reflectance ``[4, size, size]`` (uint16, >= 1) of one scene."""
    rng = np.random.default_rng(1000 + index)
    g = _growth(crop, scene.season)[None]
    out = _SOIL[:, None, None] * (1 - g) + _GREEN[:, None, None] * g
    for cls, refl in _COVER.items():
        out[:, cover == cls] = refl[:, None]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    out *= 1 + 0.06 * np.sin(xx / 211.0 + index) * np.cos(yy / 173.0)
    out += rng.normal(0, 18, out.shape)
    if scene.cloud_cover > 30:  # puffy clouds over part of the tile
        alpha = np.zeros((size, size), dtype=np.float32)
        for _ in range(9):
            cx, cy, r = rng.uniform(0, size), rng.uniform(0, size * 0.6), rng.uniform(40, 130)
            alpha = np.maximum(alpha, np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))))
        out = out * (1 - alpha) + 7800 * alpha
    return np.clip(out, 1, 10000).astype(np.uint16)


# --------------------------------------------------------------------------- files


def _write_cog(path: Path, data: np.ndarray) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": f"EPSG:{EPSG}",
        "transform": from_origin(ORIGIN[0], ORIGIN[1], PIXEL, PIXEL),
        "nodata": 0,
        "compress": "DEFLATE",
        "predictor": 2,
        "blocksize": 512,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _footprint(size: int) -> tuple[list[float], dict[str, Any]]:
    from pyproj import Transformer

    left, top = ORIGIN
    right, bottom = left + size * PIXEL, top - size * PIXEL
    to_lonlat = Transformer.from_crs(EPSG, 4326, always_xy=True)
    corners = [(left, top), (left, bottom), (right, bottom), (right, top), (left, top)]
    ring = [list(to_lonlat.transform(x, y)) for x, y in corners]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)], {"type": "Polygon", "coordinates": [ring]}


def _item(scene: Scene, size: int) -> dict[str, Any]:
    bbox, geometry = _footprint(size)
    transform = [PIXEL, 0.0, ORIGIN[0], 0.0, -PIXEL, ORIGIN[1]]
    assets = {
        key: {
            "href": f"./{key}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data", "reflectance"],
            "eo:bands": [{"name": band}],
            "proj:shape": [size, size],
            "proj:transform": transform,
        }
        for band, key in ASSETS.items()
    }
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
        ],
        "id": scene.id,
        "collection": COLLECTION_ID,
        "bbox": bbox,
        "geometry": geometry,
        "properties": {
            "datetime": f"{scene.date}T10:20:31Z",
            "platform": scene.platform,
            "constellation": "sentinel-2",
            "eo:cloud_cover": scene.cloud_cover,
            "proj:epsg": EPSG,
        },
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
        ],
        "assets": assets,
    }


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))


def write_archive(root: Path, *, scenes: int = 4, size: int = 1024) -> Archive:
    """Write the first ``scenes`` of :data:`SCENES` (4 COGs each) and their static catalog.

    Parameters
    ----------
    root
        Directory to write into (created if missing).
    scenes
        How many acquisitions to write, 1 to ``len(SCENES)``.
    size
        Width and height of every raster in pixels.

    Returns
    -------
    Archive
        The catalog path and the COG paths (scene-major, band order of :data:`ASSETS`).
    """
    if not 1 <= scenes <= len(SCENES):
        raise ValueError(f"scenes must be between 1 and {len(SCENES)}, got {scenes}")
    if size < 256:
        raise ValueError(f"size must be at least 256 pixels, got {size}")
    chosen = SCENES[:scenes]
    cover, crop = _land_cover(size, np.random.default_rng(20240614))
    coll_dir = root / COLLECTION_ID
    cogs: list[Path] = []
    items = []
    for i, scene in enumerate(chosen):
        data = scene_bands(cover, crop, scene, i, size)
        item_dir = coll_dir / scene.id
        item_dir.mkdir(parents=True, exist_ok=True)
        for b, key in enumerate(ASSETS.values()):
            path = item_dir / f"{key}.tif"
            _write_cog(path, data[b])
            cogs.append(path)
        item = _item(scene, size)
        _write_json(item_dir / f"{scene.id}.json", item)
        items.append(item)
    bbox = items[0]["bbox"]
    _write_json(
        coll_dir / "collection.json",
        {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": COLLECTION_ID,
            "title": "Synthetic Sentinel-2 L2A (rasteret demo)",
            "description": "Sentinel-2-like scenes written by `rasteret demo`.",
            "license": "CC0-1.0",
            "extent": {
                "spatial": {"bbox": [bbox]},
                "temporal": {
                    "interval": [
                        [items[0]["properties"]["datetime"], items[-1]["properties"]["datetime"]]
                    ]
                },
            },
            "links": [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
            ]
            + [
                {"rel": "item", "href": f"./{s.id}/{s.id}.json", "type": "application/json"}
                for s in chosen
            ],
        },
    )
    catalog = root / "catalog.json"
    _write_json(
        catalog,
        {
            "type": "Catalog",
            "stac_version": "1.0.0",
            "id": "rasteret-demo",
            "description": "Static catalog of the rasteret demo archive.",
            "links": [
                {"rel": "root", "href": "./catalog.json", "type": "application/json"},
                {
                    "rel": "child",
                    "href": f"./{COLLECTION_ID}/collection.json",
                    "type": "application/json",
                },
            ],
        },
    )
    return Archive(root, catalog, chosen, tuple(cogs), size)
