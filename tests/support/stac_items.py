"""A synthetic Sentinel-2 L2A-like STAC archive over real GDAL-written COGs.

:data:`SCENES` describes 12 scenes: 3 MGRS-like tiles (two in UTM 33N, one in UTM 32N)
times 4 acquisition dates, each with its own ``eo:cloud_cover``. :func:`write_scene_cogs`
writes 4 single-band uint16 COGs per scene (STAC asset keys ``red``, ``green``, ``blue``,
``nir``, Earth Search style) on the scene's 10 m UTM grid; :func:`build_items` turns the
scenes into STAC Item dicts whose assets point at those files through an HTTP server, with
``bbox``/``geometry`` being the real footprint of the COGs in EPSG:4326 and the projection
fields (``proj:epsg`` in the properties, ``proj:shape``/``proj:transform`` per asset) taken
from the files. :func:`write_static_catalog` writes the same items as a self-contained
static catalog (relative link hrefs, absolute asset hrefs).

Pixel values are deterministic (see :func:`scene_pixels`), so a reader can be checked
against ``rasterio`` reading the local file or against the formula.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine, array_bounds
from rasterio.warp import transform as warp_transform

from support.range_server import RangeServer

COLLECTION_ID = "test-s2"
STAC_VERSION = "1.0.0"
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

#: STAC asset key -> (Sentinel-2 band name, centre wavelength in µm, common name).
BANDS: dict[str, tuple[str, float, str]] = {
    "red": ("B04", 0.665, "red"),
    "green": ("B03", 0.56, "green"),
    "blue": ("B02", 0.49, "blue"),
    "nir": ("B08", 0.842, "nir"),
}
ASSET_KEYS = tuple(BANDS)

WIDTH = 300  #: pixels; not a multiple of the 256 block size, so edge tiles are partial
HEIGHT = 260
PIXEL_SIZE = 10.0  #: metres
BLOCK = 256
NODATA = 0

#: tile id -> (EPSG code, upper-left x, upper-left y) of the scene grid in that UTM zone.
TILES: dict[str, tuple[int, float, float]] = {
    "33TUN": (32633, 300_000.0, 5_000_040.0),  # ~12.45°E 45.1°N
    "33TWN": (32633, 500_000.0, 5_000_040.0),  # ~15.0°E 45.1°N
    "32TQR": (32632, 700_000.0, 4_900_020.0),  # ~11.6°E 44.2°N
}
_DATES = ("2024-01-05", "2024-02-14", "2024-03-25", "2024-05-04")
_CLOUDS = (3.2, 45.0, 12.5, 88.1, 0.4, 67.3, 21.7, 9.9, 55.5, 30.0, 1.8, 99.0)


@dataclass(frozen=True)
class Scene:
    """One acquisition: item id, tile, UTM grid and metadata."""

    index: int
    id: str
    tile: str
    epsg: int
    datetime: str  # RFC 3339, UTC
    cloud_cover: float
    platform: str
    transform: Affine

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of every asset."""
        return HEIGHT, WIDTH


def _scenes() -> tuple[Scene, ...]:
    out = []
    for d, date in enumerate(_DATES):
        for t, (tile, (epsg, x0, y0)) in enumerate(TILES.items()):
            i = d * len(TILES) + t
            platform = "sentinel-2a" if i % 2 == 0 else "sentinel-2b"
            sat = "S2A" if i % 2 == 0 else "S2B"
            out.append(
                Scene(
                    index=i,
                    id=f"{sat}_{tile}_{date.replace('-', '')}_0_L2A",
                    tile=tile,
                    epsg=epsg,
                    datetime=f"{date}T10:{10 + 7 * t:02d}:{13 + d:02d}.{250 + i:03d}000Z",
                    cloud_cover=_CLOUDS[i],
                    platform=platform,
                    transform=Affine(PIXEL_SIZE, 0.0, x0, 0.0, -PIXEL_SIZE, y0),
                )
            )
    return tuple(out)


#: The 12 scenes, ordered by date then tile.
SCENES: tuple[Scene, ...] = _scenes()


def scene_pixels(scene: Scene, asset: str) -> np.ndarray:
    """The ``(HEIGHT, WIDTH)`` uint16 pixels of ``asset`` of ``scene``.

    ``1000 * (band + 1) + 37 * scene.index + x + 2 * y`` with a nodata (0) notch in the
    top-left 8x8 corner, so every value identifies its band, scene and position.
    """
    band = ASSET_KEYS.index(asset)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    data = (1000 * (band + 1) + 37 * scene.index + xx + 2 * yy).astype(np.uint16)
    data[:8, :8] = NODATA
    return data


def asset_relpath(scene: Scene, asset: str) -> str:
    """Where the COG of ``asset`` lives, relative to the archive root."""
    return f"{scene.tile}/{scene.id}/{asset}.tif"


def write_scene_cogs(root: Path) -> dict[str, dict[str, Path]]:
    """Write 4 single-band uint16 DEFLATE COGs per scene under ``root``.

    Returns ``{item_id: {asset_key: path}}``. Files are written with GDAL's COG driver
    (256x256 blocks, horizontal predictor, one internal overview, nodata 0).
    """
    paths: dict[str, dict[str, Path]] = {}
    for scene in SCENES:
        paths[scene.id] = {}
        for asset in ASSET_KEYS:
            path = root / asset_relpath(scene, asset)
            path.parent.mkdir(parents=True, exist_ok=True)
            profile = {
                "driver": "COG",
                "width": WIDTH,
                "height": HEIGHT,
                "count": 1,
                "dtype": "uint16",
                "crs": CRS.from_epsg(scene.epsg),
                "transform": scene.transform,
                "nodata": NODATA,
                "compress": "DEFLATE",
                "predictor": 2,
                "blocksize": BLOCK,
                "overviews": "AUTO",
            }
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(scene_pixels(scene, asset), 1)
            paths[scene.id][asset] = path
    return paths


def footprint(scene: Scene) -> tuple[list[float], dict[str, Any]]:
    """``(bbox, geometry)`` in EPSG:4326 of the scene's pixel footprint.

    The geometry is the polygon of the 4 corners (counter-clockwise); the bbox is their
    min/max rounded outwards to 7 decimals, so it contains the polygon.
    """
    west, south, east, north = array_bounds(HEIGHT, WIDTH, scene.transform)
    xs = [west, east, east, west]
    ys = [south, south, north, north]
    lons, lats = warp_transform(CRS.from_epsg(scene.epsg), CRS.from_epsg(4326), xs, ys)
    ring = [[round(x, 9), round(y, 9)] for x, y in zip(lons, lats, strict=True)]
    ring.append(ring[0])
    scale = 10**7
    bbox = [
        float(np.floor(min(lons) * scale) / scale),
        float(np.floor(min(lats) * scale) / scale),
        float(np.ceil(max(lons) * scale) / scale),
        float(np.ceil(max(lats) * scale) / scale),
    ]
    return bbox, {"type": "Polygon", "coordinates": [ring]}


def build_item(scene: Scene, href: Callable[[str], str]) -> dict[str, Any]:
    """The STAC Item dict of ``scene``; ``href(relpath)`` gives each asset's URL."""
    bbox, geometry = footprint(scene)
    t = scene.transform
    assets: dict[str, Any] = {}
    for asset, (band_name, wavelength, common) in BANDS.items():
        assets[asset] = {
            "href": href(asset_relpath(scene, asset)),
            "type": COG_MEDIA_TYPE,
            "title": f"{common.capitalize()} ({band_name}) - 10m",
            "roles": ["data", "reflectance"],
            "gsd": PIXEL_SIZE,
            "eo:bands": [
                {"name": band_name, "common_name": common, "center_wavelength": wavelength}
            ],
            "proj:shape": [HEIGHT, WIDTH],
            "proj:transform": [t.a, t.b, t.c, t.d, t.e, t.f],
            "raster:bands": [
                {"nodata": NODATA, "data_type": "uint16", "spatial_resolution": PIXEL_SIZE}
            ],
        }
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": list(EXTENSIONS),
        "id": scene.id,
        "collection": COLLECTION_ID,
        "bbox": bbox,
        "geometry": geometry,
        "properties": {
            "datetime": scene.datetime,
            "platform": scene.platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "eo:cloud_cover": scene.cloud_cover,
            "proj:epsg": scene.epsg,
            "mgrs:utm_zone": int(scene.tile[:2]),
            "mgrs:latitude_band": scene.tile[2],
            "mgrs:grid_square": scene.tile[3:],
            "grid:code": f"MGRS-{scene.tile}",
            "s2:processing_baseline": "05.10",
        },
        "links": [],
        "assets": assets,
    }


def build_items(href: Callable[[str], str]) -> list[dict[str, Any]]:
    """The 12 Item dicts (order of :data:`SCENES`)."""
    return [build_item(scene, href) for scene in SCENES]


def build_collection(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The Collection dict covering ``items`` (spatial and temporal extent from them)."""
    bboxes = np.array([item["bbox"] for item in items])
    times = sorted(item["properties"]["datetime"] for item in items)
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [
            "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json",
        ],
        "id": COLLECTION_ID,
        "title": "Synthetic Sentinel-2 L2A (test)",
        "description": "12 synthetic Sentinel-2 L2A-like scenes over GDAL-written COGs.",
        "license": "proprietary",
        "extent": {
            "spatial": {
                "bbox": [
                    [
                        float(bboxes[:, 0].min()),
                        float(bboxes[:, 1].min()),
                        float(bboxes[:, 2].max()),
                        float(bboxes[:, 3].max()),
                    ]
                ]
            },
            "temporal": {"interval": [[times[0], times[-1]]]},
        },
        "summaries": {
            "platform": ["sentinel-2a", "sentinel-2b"],
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "proj:epsg": sorted({item["properties"]["proj:epsg"] for item in items}),
        },
        "item_assets": {
            asset: {
                "type": COG_MEDIA_TYPE,
                "roles": ["data", "reflectance"],
                "title": f"{common.capitalize()} ({band_name}) - 10m",
                "eo:bands": [
                    {"name": band_name, "common_name": common, "center_wavelength": wavelength}
                ],
            }
            for asset, (band_name, wavelength, common) in BANDS.items()
        },
        "links": [],
    }


def write_static_catalog(
    root: Path, collection: dict[str, Any], items: list[dict[str, Any]]
) -> Path:
    """Write a self-contained static catalog under ``root``; returns ``catalog.json``.

    Layout: ``catalog.json``, ``<collection>/collection.json`` and
    ``<collection>/<item>/<item>.json``. Every link href is relative; asset hrefs are kept
    as given (absolute URLs).
    """
    cid = collection["id"]
    coll_dir = root / cid
    coll_dir.mkdir(parents=True, exist_ok=True)
    catalog = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "test-root",
        "description": "Static catalog of the synthetic test archive.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            {"rel": "child", "href": f"./{cid}/collection.json", "type": "application/json"},
        ],
    }
    coll = dict(collection)
    coll["links"] = [
        {"rel": "root", "href": "../catalog.json", "type": "application/json"},
        {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
    ] + [
        {"rel": "item", "href": f"./{item['id']}/{item['id']}.json", "type": "application/json"}
        for item in items
    ]
    for item in items:
        doc = dict(item)
        doc["links"] = [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
        ]
        item_dir = coll_dir / item["id"]
        item_dir.mkdir(exist_ok=True)
        (item_dir / f"{item['id']}.json").write_text(json.dumps(doc, indent=1))
    (coll_dir / "collection.json").write_text(json.dumps(coll, indent=1))
    path = root / "catalog.json"
    path.write_text(json.dumps(catalog, indent=1))
    return path


# ------------------------------------------------------------------------ running archive


@dataclass
class StacArchive:
    """The written COGs served over HTTP, and the STAC documents that point at them.

    Attributes:
        root: Directory holding the COGs (``<tile>/<item id>/<asset>.tif``).
        cog_server: The :class:`RangeServer` serving ``root`` (asset hrefs point at it).
        paths: ``{item_id: {asset_key: local path}}``.
        collection: The Collection dict.
        items: The Item dicts (order of :data:`SCENES`).
    """

    root: Path
    cog_server: RangeServer
    paths: dict[str, dict[str, Path]]
    collection: dict[str, Any]
    items: list[dict[str, Any]]
    _writer: Any = field(default=None, repr=False)

    @property
    def collection_id(self) -> str:
        return str(self.collection["id"])

    def wait(self) -> StacArchive:
        """Block until the COGs are written (see ``start_archive(background=True)``)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join()
            if writer.error is not None:
                raise RuntimeError("writing the STAC archive COGs failed") from writer.error
        return self

    def scene(self, item_id: str) -> Scene:
        """The :class:`Scene` of ``item_id``."""
        return next(s for s in SCENES if s.id == item_id)

    def item(self, item_id: str) -> dict[str, Any]:
        """The Item dict of ``item_id``."""
        return next(i for i in self.items if i["id"] == item_id)


@contextmanager
def start_archive(root: Path, *, background: bool = False) -> Iterator[StacArchive]:
    """Serve ``root``, build the STAC documents and write the COGs under ``root``.

    The documents only need the server's URL and :data:`SCENES`, so with
    ``background=True`` the COGs are written in a thread and the archive is yielded at
    once (overlapping with, e.g., the STAC API start-up); call :meth:`StacArchive.wait`
    before touching the files.
    """
    with RangeServer(root) as server:
        items = build_items(server.url)
        paths = {s.id: {a: root / asset_relpath(s, a) for a in ASSET_KEYS} for s in SCENES}
        archive = StacArchive(root, server, paths, build_collection(items), items)
        if background:
            archive._writer = _Writer(root)
            archive._writer.start()
        else:
            write_scene_cogs(root)
        try:
            yield archive
        finally:
            archive.wait()


class _Writer(threading.Thread):
    """Writes the COGs; keeps the exception for :meth:`StacArchive.wait`."""

    def __init__(self, root: Path) -> None:
        super().__init__(name="stac-archive-writer", daemon=True)
        self.root = root
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            write_scene_cogs(self.root)
        except BaseException as exc:  # re-raised by StacArchive.wait
            self.error = exc


@dataclass
class StaticCatalog:
    """A static STAC catalog on disk, also served over HTTP.

    Attributes:
        path: The local root ``catalog.json``.
        url: ``http://127.0.0.1:PORT/catalog.json``.
        server: The :class:`RangeServer` serving the catalog directory.
        collection_id / items: What the catalog holds (same dicts as the API).
    """

    path: Path
    url: str
    server: RangeServer
    collection_id: str
    items: list[dict[str, Any]]

    @property
    def root(self) -> Path:
        return self.path.parent


@contextmanager
def start_static_catalog(root: Path, archive: StacArchive) -> Iterator[StaticCatalog]:
    """Write ``archive``'s documents as a static catalog under ``root`` and serve it."""
    path = write_static_catalog(root, archive.collection, archive.items)
    with RangeServer(root) as server:
        yield StaticCatalog(
            path, server.url("catalog.json"), server, archive.collection_id, archive.items
        )
