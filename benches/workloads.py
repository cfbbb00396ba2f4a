"""rasteret's benchmark workloads, defined once, with one adapter per tool.

Run by ``benches/run.py``: every repetition is a fresh ``python benches/workloads.py run PLAN
VARIANT`` process that prints ONE JSON line ``{"seconds", "peak_rss_mib", "sha256", ...}``.
Timing covers the work only (after imports); headers/opens are included unless the variant
says otherwise (``rasteret-indexed``: headers come from the collection, read only).

Other commands::

    python benches/workloads.py generate [--quick]   # build the cached COGs in benches/.data/
    python benches/workloads.py probe                # versions of every tool, as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

# ---------------------------------------------------------------------------------------------
# Data set: 12 scenes x 4 bands of 5490x5490 uint16 COGs (Sentinel-2 10 m tile size), 512-px
# tiles, predictor 2, one DEFLATE set and one ZSTD set with identical pixels. Bump
# DATA_VERSION whenever the content or the creation options change.
# ---------------------------------------------------------------------------------------------
DATA_VERSION = "v1-s2like-5490-sigma4"
DATA_DIR = BENCH_DIR / ".data" / DATA_VERSION
N_SCENES = 12
N_BANDS = 4
SIZE = 5490
TILE = 512
QUICK_SCENES = 3
NOISE_SIGMA = 4.0  # gives DEFLATE+predictor ratios of about 2.3x: realistic, not trivial
COG_OPTIONS: dict[str, dict[str, Any]] = {
    "deflate": {"compress": "DEFLATE", "predictor": "YES"},
    "zstd": {"compress": "ZSTD", "predictor": "YES"},  # GDAL's default ZSTD level (9)
}

# Windows: the same for every tool.
AOI = (1000 + 137, 2000 + 61, 1024, 1024)  # col_off, row_off, width, height; not tile-aligned
CHIP = 64
N_CHIPS = 500
QUICK_CHIPS = 100
CHIP_SEED = 20261130
N_POINTS = 100_000
QUICK_POINTS = 10_000
POINT_SEED = 20261201
SCENE_ORIGIN_X = 300_000  # scene s: left = SCENE_ORIGIN_X + SCENE_STEP_X * s
SCENE_STEP_X = 109_800
SCENE_TOP = 5_000_040
PIXEL = 10
B4_PASSES = 3
QUICK_B4_TILES = 16

# Tuned rasterio/GDAL: GDAL's recommended settings for COGs over HTTP.
RIO_THREADS = 16
GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "VSI_CACHE": "TRUE",
    "GDAL_INGESTED_BYTES_AT_OPEN": "65536",
}


@dataclass(frozen=True)
class Variant:
    """One way of running a workload: ``tool`` is what ``--tools`` selects."""

    name: str
    tool: str
    label: str


@dataclass(frozen=True)
class Workload:
    """A workload: ``kind`` picks the adapters, ``codec`` the data set."""

    name: str
    kind: str  # headers | aoi | chips | decode | points
    codec: str
    baseline: str  # variant the "vs baseline" ratio divides by
    variants: tuple[Variant, ...]
    description: str

    @property
    def uses_server(self) -> bool:
        return self.kind != "decode"


_RASTERET = Variant("rasteret", "rasteret", "rasteret (parse headers + read)")
_RASTERET_IDX = Variant("rasteret-indexed", "rasteret", "rasteret (headers from the index)")
_RIO = Variant("rasterio", "rasterio", f"rasterio/GDAL tuned, {RIO_THREADS} threads")
_AGT = Variant("async_geotiff", "async_geotiff", "async-geotiff (asyncio.gather)")
_API = Variant("rasteret-api", "rasteret", "rasteret Collection.get_numpy (the public API)")
_GDF = Variant("rasteret-api-gdf", "rasteret", "rasteret Collection.get_gdf")
_PAIRS = Variant("rasteret-api-pairs", "rasteret", "rasteret get_numpy(record_id_column=)")
_READ_VARIANTS = (_RASTERET, _API, _RASTERET_IDX, _RIO, _AGT)

WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "B1",
            "headers",
            "deflate",
            "rasterio",
            (
                Variant("rasteret", "rasteret", "rasteret parse_headers"),
                Variant("rasteret-api", "rasteret", "rasteret build_from_table (12 rows)"),
                Variant("rasterio", "rasterio", f"rasterio.open x{RIO_THREADS} threads"),
                Variant("async_geotiff", "async_geotiff", "async-geotiff GeoTIFF.open gather"),
            ),
            "parse the headers of every COG over HTTP",
        ),
        Workload(
            "B2",
            "aoi",
            "deflate",
            "rasterio",
            (*_READ_VARIANTS[:2], _GDF, *_READ_VARIANTS[2:]),
            "1024x1024 window (col 1137, row 2061) of every COG (DEFLATE+pred 2) -> [N,H,W]",
        ),
        Workload(
            "B2z",
            "aoi",
            "zstd",
            "rasterio",
            _READ_VARIANTS,
            "B2 on the ZSTD+pred 2 set",
        ),
        Workload(
            "B3",
            "chips",
            "deflate",
            "rasterio",
            (*_READ_VARIANTS[:2], _PAIRS, *_READ_VARIANTS[2:]),
            "500 random 64x64 chips x 4 bands across the scenes (seeded)",
        ),
        Workload(
            "B6",
            "points",
            "deflate",
            "rasterio",
            (
                Variant("rasteret", "rasteret", "rasteret Collection.sample_points"),
                Variant("rasterio", "rasterio", f"rasterio sample x{RIO_THREADS} threads"),
                Variant("async_geotiff", "async_geotiff", "async-geotiff tile reads + NumPy"),
            ),
            "100,000 random points x 4 bands across the scenes (seeded), values as float64",
        ),
        Workload(
            "B7",
            "cube",
            "deflate",
            "odc-stac",
            (
                Variant("rasteret-api", "rasteret", "rasteret Collection.get_xarray"),
                Variant("rasteret-window", "rasteret", "rasteret Collection.read_window"),
                _RASTERET_IDX,
                Variant("odc-stac", "odc_stac", f"odc.stac.load(pool={RIO_THREADS})"),
                Variant("stackstac", "stackstac", f"stackstac.stack, {RIO_THREADS} threads"),
            ),
            "B2's window in 12 dates x 4 bands sharing one footprint -> xarray cube",
        ),
        Workload(
            "B4",
            "decode",
            "deflate",
            "imagecodecs-zlib",
            (
                Variant("rasteret", "rasteret", "rasteret _core.decode_tile"),
                Variant("imagecodecs-zlib", "imagecodecs", "imagecodecs zlib_decode+delta"),
                Variant("imagecodecs-deflate", "imagecodecs", "imagecodecs deflate_decode+delta"),
            ),
            "single-thread decode of the 512x512 uint16 DEFLATE+pred 2 tiles of one COG",
        ),
        Workload(
            "B4z",
            "decode",
            "zstd",
            "imagecodecs-zstd",
            (
                Variant("rasteret", "rasteret", "rasteret _core.decode_tile"),
                Variant("imagecodecs-zstd", "imagecodecs", "imagecodecs zstd_decode+delta"),
            ),
            "single-thread decode of the 512x512 uint16 ZSTD+pred 2 tiles of one COG",
        ),
    )
}

TOOLS = ("rasteret", "rasterio", "async_geotiff", "imagecodecs", "odc_stac", "stackstac")


# ---------------------------------------------------------------------------------------------
# Data generation (rasterio, deterministic, cached under DATA_DIR)
# ---------------------------------------------------------------------------------------------
def cog_name(codec: str, scene: int, band: int) -> str:
    """Path of one COG relative to DATA_DIR (also its URL path on the bench server)."""
    return f"{codec}/S{scene:02d}_B{band + 1}.tif"


def cube_name(scene: int, band: int) -> str:
    """Path of one COG of B7's cube set (``benches/cube.py``): scene re-tied onto scene 0."""
    return f"cube/S{scene:02d}_B{band + 1}.tif"


def synth_band(scene: int, band: int, size: int = SIZE) -> np.ndarray:
    """Deterministic, realistic-looking uint16 band: smooth fields + parcels + sensor noise."""
    rng = np.random.default_rng(1_000 * scene + band)
    y = np.arange(size, dtype=np.float32)[:, None]
    x = np.arange(size, dtype=np.float32)[None, :]
    f = np.full((size, size), 1500.0 + 400.0 * band, dtype=np.float32)
    for _ in range(6):
        fx, fy = rng.uniform(0.001, 0.02, 2)
        amp = np.float32(rng.uniform(100, 500))
        sx = np.sin(fx * x + rng.uniform(0, 6.3)).astype(np.float32)
        cy = np.cos(fy * y + rng.uniform(0, 6.3)).astype(np.float32)
        f += amp * sx * cy
    k = 64  # "parcels": piecewise-constant offsets on a 64-px grid
    low = rng.uniform(-300, 300, (size // k + 1, size // k + 1)).astype(np.float32)
    f += np.repeat(np.repeat(low, k, axis=0), k, axis=1)[:size, :size]
    f += rng.normal(0.0, NOISE_SIGMA, (size, size)).astype(np.float32)
    return np.clip(f, 1, 65535).astype(np.uint16)


def _write_cog(path: Path, data: np.ndarray, codec: str, scene: int) -> None:
    import rasterio
    from rasterio.transform import from_origin

    tmp = path.with_suffix(".tmp.tif")
    profile = {
        "driver": "COG",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(SCENE_ORIGIN_X + SCENE_STEP_X * scene, SCENE_TOP, PIXEL, PIXEL),
        "nodata": 0,
        "blocksize": TILE,
        "num_threads": "ALL_CPUS",
        **COG_OPTIONS[codec],
    }
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    os.replace(tmp, path)


def ensure_data(n_scenes: int = N_SCENES, log: Callable[[str], object] = print) -> Path:
    """Generate (once) the COGs of the first ``n_scenes`` scenes; return DATA_DIR."""
    for codec in COG_OPTIONS:
        (DATA_DIR / codec).mkdir(parents=True, exist_ok=True)
    todo = [
        (s, b)
        for s in range(n_scenes)
        for b in range(N_BANDS)
        if not all((DATA_DIR / cog_name(c, s, b)).exists() for c in COG_OPTIONS)
    ]
    for i, (s, b) in enumerate(todo):
        t0 = time.perf_counter()
        data = synth_band(s, b)
        for codec in COG_OPTIONS:
            path = DATA_DIR / cog_name(codec, s, b)
            if not path.exists():
                _write_cog(path, data, codec, s)
        log(f"  data: scene {s} band {b + 1} ({i + 1}/{len(todo)}) {time.perf_counter() - t0:.1f}s")
    return DATA_DIR


def data_stats(n_scenes: int) -> dict[str, Any]:
    """Bytes on disk of each set and the compression ratio of its full-resolution tiles."""
    import tifffile

    out: dict[str, Any] = {}
    for codec in COG_OPTIONS:
        paths = [DATA_DIR / cog_name(codec, s, b) for s in range(n_scenes) for b in range(N_BANDS)]
        with tifffile.TiffFile(paths[0]) as tif:
            page = tif.pages[0]
            tiles = len(page.databytecounts)
            ratio = tiles * TILE * TILE * 2 / sum(page.databytecounts)
        out[codec] = {
            "files": len(paths),
            "bytes": sum(p.stat().st_size for p in paths),
            "tiles_per_file": tiles,
            "tile_ratio": round(ratio, 2),
        }
    return out


# ---------------------------------------------------------------------------------------------
# Plans: what every tool reads, written once by run.py so every tool gets the same list
# ---------------------------------------------------------------------------------------------
def chip_list(n_scenes: int, n_chips: int) -> list[tuple[int, int, int]]:
    """Seeded (scene, col_off, row_off) of each chip."""
    rng = np.random.default_rng(CHIP_SEED)
    scenes = rng.integers(0, n_scenes, n_chips)
    cols = rng.integers(0, SIZE - CHIP + 1, n_chips)
    rows = rng.integers(0, SIZE - CHIP + 1, n_chips)
    return [(int(s), int(c), int(r)) for s, c, r in zip(scenes, cols, rows, strict=True)]


def point_list(n_scenes: int, n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded ``(scene, x, y)`` of each point, in EPSG:32633, at least half a pixel inside."""
    rng = np.random.default_rng(POINT_SEED)
    scenes = rng.integers(0, n_scenes, n_points)
    extent = SIZE * PIXEL
    x = SCENE_ORIGIN_X + SCENE_STEP_X * scenes + rng.uniform(5, extent - 5, n_points)
    y = SCENE_TOP - rng.uniform(5, extent - 5, n_points)
    return scenes, x, y


def make_plan(
    workload: Workload,
    url_of: Callable[[str], str],
    n_scenes: int,
    quick: bool,
    headers_path: str | None = None,
) -> dict[str, Any]:
    """Everything a child needs: URLs (scene-major, band-minor), windows, tile source."""
    name_of = cube_name if workload.kind == "cube" else partial(cog_name, workload.codec)
    names = [name_of(s, b) for s in range(n_scenes) for b in range(N_BANDS)]
    plan: dict[str, Any] = {
        "workload": workload.name,
        "kind": workload.kind,
        "codec": workload.codec,
        "n_scenes": n_scenes,
        "urls": [url_of(n) for n in names] if workload.uses_server else [],
        "headers_path": headers_path,
    }
    if workload.kind in ("aoi", "cube"):
        plan["window"] = list(AOI)
    elif workload.kind == "chips":
        plan["chip"] = CHIP
        plan["chips"] = chip_list(n_scenes, QUICK_CHIPS if quick else N_CHIPS)
    elif workload.kind == "points":
        plan["n_points"] = QUICK_POINTS if quick else N_POINTS
    elif workload.kind == "decode":
        plan["tile_source"] = str(DATA_DIR / cog_name(workload.codec, 0, 0))
        plan["n_tiles"] = QUICK_B4_TILES if quick else None  # None: every full-res tile
        plan["passes"] = B4_PASSES
    return plan


def chip_reads(plan: dict[str, Any]) -> list[tuple[int, int, int, int]]:
    """(output slot, url index, col_off, row_off) for every chip band, slot = chip*4 + band."""
    return [
        (i * N_BANDS + b, s * N_BANDS + b, c, r)
        for i, (s, c, r) in enumerate(plan["chips"])
        for b in range(N_BANDS)
    ]


# ---------------------------------------------------------------------------------------------
# Adapters. Each returns (output, extra) where output is an ndarray or a header summary list.
# ---------------------------------------------------------------------------------------------
def _summary_row(w: int, h: int, tw: int, th: int, dtype: Any, nodata: Any) -> list[Any]:
    return [int(w), int(h), int(tw), int(th), str(np.dtype(dtype)), nodata]


def _layout_summary(m: dict[str, Any]) -> list[Any]:
    """:func:`_summary_row` of one parsed header (a rasteret layout struct)."""
    return _summary_row(
        m["image_width"], m["image_height"], m["tile_width"], m["tile_height"], m["dtype"],
        m["nodata"],
    )  # fmt: skip


# ---- rasteret -------------------------------------------------------------------------------
def _rasteret_headers(urls: list[str]):
    from rasteret.read import engine as _read

    batch = _read.parse_headers(urls)
    for i in range(batch.num_rows):
        err = _read.header_error(batch, i)
        if err is not None:
            raise err
    return batch


def _rasteret_load_headers(plan: dict[str, Any]):
    import pyarrow as pa

    with pa.OSFile(plan["headers_path"], "rb") as f:
        return pa.ipc.open_file(f).read_all().combine_chunks().to_batches()[0]


def _rasteret_read(plan: dict[str, Any], batch) -> np.ndarray:
    """One ``read_column_into`` call with the header batch's layout column (what a collection
    hands the core: no per-row conversion); chips index it through a dictionary array."""
    import pyarrow as pa
    from rasteret.read import engine as _read

    meta = batch.column("metadata")
    urls = plan["urls"]
    if plan["kind"] in ("aoi", "cube"):
        col, row, w, h = plan["window"]
        out = np.zeros((len(urls), h, w), np.uint16)
        windows = np.tile(np.array([col, row, w, h], dtype=np.int64), (len(urls), 1))
        return _read.read_column_into(urls, meta, windows, out)
    n = plan["chip"]
    reads = chip_reads(plan)  # (slot, file, col, row)
    files = np.array([k for _, k, _, _ in reads], dtype=np.int32)
    windows = np.array([(c, r, n, n) for _, _, c, r in reads], dtype=np.int64)
    out = np.zeros((len(reads), n, n), np.uint16)
    layouts = pa.DictionaryArray.from_arrays(pa.array(files), meta)
    return _read.read_column_into(
        pa.array(urls).take(pa.array(files)),
        layouts,
        windows,
        out,
        slots=np.array([s for s, _, _, _ in reads], dtype=np.int64),
    )


def rasteret_headers(plan: dict[str, Any], timer: _Timer) -> list[Any]:
    _rasteret_import()
    with timer:
        batch = _rasteret_headers(plan["urls"])
    return [_layout_summary(m) for m in batch.column("metadata").to_pylist()]


def _rasteret_import() -> None:
    """Import outside the timed region, as the rasterio side imports rasterio first.

    pyarrow imports pandas the first time ``pa.array`` runs in a process (its pandas shim;
    0.15-0.3 s here). Any rasteret session has paid that before its first read (``load``,
    ``build_*`` and the collection table all go through it), so it is paid here too rather
    than inside the timed read.
    """
    import pyarrow as pa
    from rasteret.read import engine as _read  # noqa: F401

    pa.array([0])


def rasteret_cold(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    _rasteret_import()
    with timer:
        return _rasteret_read(plan, _rasteret_headers(plan["urls"]))


def rasteret_indexed(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    _rasteret_import()
    batch = _rasteret_load_headers(plan)
    with timer:
        return _rasteret_read(plan, batch)


def prepare_headers(plan: dict[str, Any], out_path: str) -> None:
    """Parse the headers once and store them like a collection would (Arrow IPC)."""
    import pyarrow as pa

    batch = _rasteret_headers(plan["urls"])
    with pa.OSFile(out_path, "wb") as f, pa.ipc.new_file(f, batch.schema) as w:
        w.write_batch(batch)


# ---- rasterio -------------------------------------------------------------------------------
def _rio_env() -> None:
    os.environ.update(GDAL_ENV)  # before GDAL starts, so every thread sees them


class _ThreadDatasets:
    """rasterio datasets opened per thread (handles are not thread-safe), closed together."""

    def __init__(self, urls: list[str]) -> None:
        self._urls = urls
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def get(self, k: int) -> Any:
        import rasterio

        cache = getattr(self._local, "cache", None)
        if cache is None:
            cache = self._local.cache = {}
        ds = cache.get(k)
        if ds is None:
            ds = cache[k] = rasterio.open(self._urls[k])
            with self._lock:
                self._opened.append(ds)
        return ds

    def close(self) -> None:
        for ds in self._opened:
            ds.close()


def rasterio_headers(plan: dict[str, Any], timer: _Timer) -> list[Any]:
    _rio_env()
    import rasterio

    def one(url: str) -> list[Any]:
        with rasterio.open(url) as ds:
            th, tw = ds.block_shapes[0]
            return _summary_row(ds.width, ds.height, tw, th, ds.dtypes[0], ds.nodata)

    with timer, ThreadPoolExecutor(RIO_THREADS) as pool:
        return list(pool.map(one, plan["urls"]))


def rasterio_read(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    _rio_env()
    import rasterio
    from rasterio.windows import Window

    urls = plan["urls"]
    if plan["kind"] in ("aoi", "cube"):
        col, row, w, h = plan["window"]
        out = np.zeros((len(urls), h, w), np.uint16)

        def one(i: int) -> None:
            with rasterio.open(urls[i]) as ds:
                ds.read(1, window=Window(col, row, w, h), out=out[i])

        with timer, ThreadPoolExecutor(RIO_THREADS) as pool:
            list(pool.map(one, range(len(urls))))
        return out

    # chips: one task per chip (4 band reads); each thread keeps its own open datasets
    n = plan["chip"]
    reads = chip_reads(plan)
    out = np.zeros((len(reads), n, n), np.uint16)
    datasets = _ThreadDatasets(urls)

    def chip(i: int) -> None:
        for slot, k, c, r in reads[i * N_BANDS : (i + 1) * N_BANDS]:
            datasets.get(k).read(1, window=Window(c, r, n, n), out=out[slot])

    with timer:
        with ThreadPoolExecutor(RIO_THREADS) as pool:
            list(pool.map(chip, range(len(plan["chips"]))))
        datasets.close()
    return out


# ---- async-geotiff ----------------------------------------------------------------------------
def _agt_store(urls: list[str]):
    from obstore.store import HTTPStore

    parts = urlsplit(urls[0])
    base = f"{parts.scheme}://{parts.netloc}"
    store = HTTPStore.from_url(base, client_options={"allow_http": True})
    return store, [urlsplit(u).path.lstrip("/") for u in urls]


def async_geotiff_headers(plan: dict[str, Any], timer: _Timer) -> list[Any]:
    from async_geotiff import GeoTIFF

    async def main() -> list[Any]:
        store, paths = _agt_store(plan["urls"])
        gts = await asyncio.gather(*(GeoTIFF.open(p, store=store) for p in paths))
        return [
            _summary_row(g.width, g.height, g.tile_width, g.tile_height, g.dtype, g.nodata)
            for g in gts
        ]

    with timer:
        return asyncio.run(main())


def async_geotiff_read(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """GeoTIFF.open every file, then ``GeoTIFF.read(window=...)`` every window (it fetches the
    intersecting tiles with coalesced range requests and stitches them)."""
    from async_geotiff import GeoTIFF, Window

    urls = plan["urls"]
    if plan["kind"] in ("aoi", "cube"):
        col, row, w, h = plan["window"]
        jobs = [(i, i, col, row) for i in range(len(urls))]
        out = np.zeros((len(urls), h, w), np.uint16)
    else:
        w = h = plan["chip"]
        jobs = chip_reads(plan)
        out = np.zeros((len(jobs), h, w), np.uint16)

    async def main() -> None:
        store, paths = _agt_store(urls)
        gts = await asyncio.gather(*(GeoTIFF.open(p, store=store) for p in paths))

        async def one(slot: int, k: int, c: int, r: int) -> None:
            arr = await gts[k].read(window=Window(col_off=c, row_off=r, width=w, height=h))
            out[slot] = arr.data[0]

        await asyncio.gather(*(one(*j) for j in jobs))

    with timer:
        asyncio.run(main())
    return out


# ---- B6: point sampling ---------------------------------------------------------------------
BANDS = tuple(f"B{b + 1}" for b in range(N_BANDS))


def _scene_columns(plan: dict[str, Any]) -> dict[str, Any]:
    """The record table of the plan's scenes (one row per scene, its 4 band COGs as STAC-style
    assets): what ``build_from_table`` takes."""
    import datetime as dt

    import pyarrow as pa
    import shapely
    from pyproj import Transformer

    n = plan["n_scenes"]
    to_lonlat = Transformer.from_crs(32633, 4326, always_xy=True)
    footprints, boxes = [], []
    for s in range(n):  # the cube's scenes all lie on scene 0's footprint
        left = SCENE_ORIGIN_X + (0 if plan["kind"] == "cube" else SCENE_STEP_X * s)
        right, bottom = left + SIZE * PIXEL, SCENE_TOP - SIZE * PIXEL
        box = to_lonlat.transform_bounds(left, bottom, right, SCENE_TOP)
        boxes.append(dict(zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)))
        footprints.append(shapely.box(*box).wkb)
    urls = plan["urls"]
    return {
        "id": [f"S{s:02d}" for s in range(n)],
        "datetime": pa.array([dt.datetime(2024, 1, 1 + s) for s in range(n)], pa.timestamp("us")),
        "geometry": pa.array(footprints, pa.binary()),
        "bbox": boxes,
        "assets": [
            {band: {"href": urls[s * N_BANDS + b]} for b, band in enumerate(BANDS)}
            for s in range(n)
        ],
        "proj:epsg": pa.array([32633] * n, pa.int32()),
    }


def prepare_collection(plan: dict[str, Any], out_path: str) -> None:
    """Parse the headers once and write the scenes as a rasteret collection (GeoParquet rows
    with ``B1_metadata`` ... ``B4_metadata``): the index the public-API variants read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = _rasteret_headers(plan["urls"]).column("metadata")
    columns = _scene_columns(plan)
    n = plan["n_scenes"]
    for b, band in enumerate(BANDS):
        columns[f"{band}_metadata"] = meta.take(pa.array([s * N_BANDS + b for s in range(n)]))
    pq.write_table(pa.table(columns), out_path)


def rasteret_api_build(plan: dict[str, Any], timer: _Timer) -> list[Any]:
    """``build_from_table`` of the scenes' record table (one row per scene, 4 COGs each):
    every header parsed and the collection written to a fresh workspace."""
    import tempfile

    import pyarrow as pa
    import rasteret

    _rasteret_import()
    rasteret.build_from_table  # noqa: B018 - its module is imported on first access
    table = pa.table(_scene_columns(plan))
    with tempfile.TemporaryDirectory() as workspace:
        with timer:
            coll = rasteret.build_from_table(
                table, name="bench", workspace_dir=workspace, enrich_cog=True
            )
        rows = coll.to_table(columns=[f"{b}_metadata" for b in BANDS]).to_pylist()
    return [_layout_summary(row[f"{b}_metadata"]) for row in rows for b in BANDS]


def rasteret_points(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import rasteret

    coll = rasteret.as_collection(pq.read_table(plan["collection_path"]), name="b6")
    _, x, y = point_list(plan["n_scenes"], plan["n_points"])
    points = pa.table({"x": x, "y": y})
    with timer:
        table = coll.sample_points(points, list(BANDS), geometry_crs=32633)
    out = np.full((len(x), N_BANDS), np.nan)
    band = {b: k for k, b in enumerate(BANDS)}
    cols = np.array([band[b] for b in table.column("band").to_pylist()])
    out[table.column("point_index").to_numpy(), cols] = table.column("value").to_numpy()
    return out


# ---- public API: what a user of a collection calls ------------------------------------------
def _bench_collection(plan: dict[str, Any]) -> Any:
    """The collection a user would open: ``rasteret.load`` of the index written untimed by
    ``prepare-collection``; imports and the first Arrow call paid before any timing."""
    import rasteret
    import shapely  # noqa: F401 - the geometry inputs below are built with it

    _rasteret_import()
    # rasteret imports these on first use (``import rasteret`` stays cheap); a read needs
    # them, so they are imported here, as the other tools' libraries are before timing
    import affine  # noqa: F401 - window transforms
    import geoarrow.pyarrow  # noqa: F401 - geometry inputs as GeoArrow
    import pyproj  # noqa: F401 - the query box into the collection's CRS

    return rasteret.load(plan["collection_path"], name="bench")


def _scene_box(scene: int, col: int, row: int, width: int, height: int) -> Any:
    """The EPSG:32633 box of pixel window ``(col, row, width, height)`` of ``scene``."""
    import shapely

    left = SCENE_ORIGIN_X + SCENE_STEP_X * scene + col * PIXEL
    top = SCENE_TOP - row * PIXEL
    return shapely.box(left, top - height * PIXEL, left + width * PIXEL, top)


def rasteret_api_aoi(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """``get_numpy`` of the AOI window's box in every scene (one polygon per scene, all bands
    in one call): ``[scenes, bands, H, W]``, the same pixels as the window reads."""
    coll = _bench_collection(plan)
    col, row, w, h = plan["window"]
    boxes = [_scene_box(s, col, row, w, h) for s in range(plan["n_scenes"])]
    with timer:
        out = coll.get_numpy(boxes, list(BANDS), geometry_crs=32633)
    return out.reshape(-1, h, w)


def rasteret_api_gdf(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """``get_gdf`` of the same boxes as :func:`rasteret_api_aoi`: one row per (scene, band),
    its ``data`` stacked untimed."""
    coll = _bench_collection(plan)
    col, row, w, h = plan["window"]
    boxes = [_scene_box(s, col, row, w, h) for s in range(plan["n_scenes"])]
    with timer:
        gdf = coll.get_gdf(boxes, list(BANDS), geometry_crs=32633)
    return np.stack(list(gdf["data"])).reshape(-1, h, w)


def rasteret_api_chips(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """The documented chip pattern: per scene, ``subset`` to its date, then ``get_numpy`` of
    that scene's chip boxes (all bands): one call per scene. Reordered untimed into the
    plan's chip order."""
    import datetime as dt

    coll = _bench_collection(plan)
    n = plan["chip"]
    by_scene: dict[int, list[tuple[int, Any]]] = {}
    for i, (s, c, r) in enumerate(plan["chips"]):
        by_scene.setdefault(s, []).append((i, _scene_box(s, c, r, n, n)))
    arrays: dict[int, np.ndarray] = {}
    with timer:
        for s, chips in sorted(by_scene.items()):
            day = (dt.date(2024, 1, 1) + dt.timedelta(days=s)).isoformat()
            scene = coll.subset(date_range=(day, day))
            arrays[s] = scene.get_numpy([g for _, g in chips], list(BANDS), geometry_crs=32633)
    out = np.zeros((len(plan["chips"]) * N_BANDS, n, n), np.uint16)
    for s, chips in by_scene.items():
        for k, (i, _) in enumerate(chips):
            out[i * N_BANDS : (i + 1) * N_BANDS] = arrays[s][k]
    return out


def rasteret_api_pairs(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """Every chip box with its scene's id in one table: ONE ``get_numpy`` with
    ``record_id_column`` (slices in chip order)."""
    import pyarrow as pa
    import shapely

    coll = _bench_collection(plan)
    n = plan["chip"]
    boxes = [_scene_box(s, c, r, n, n) for s, c, r in plan["chips"]]
    chips = pa.table(
        {
            "scene": [f"S{s:02d}" for s, _, _ in plan["chips"]],
            "geometry": shapely.to_wkb(boxes),
        }
    )
    with timer:
        out = coll.get_numpy(
            chips,
            list(BANDS),
            geometry_column="geometry",
            geometry_crs=32633,
            record_id_column="scene",
        )
    return out.reshape(-1, n, n)


def rasterio_points(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """One task per (scene, band, 5,000 points): ``src.sample`` with per-thread datasets."""
    _rio_env()
    import rasterio  # noqa: F401 - GDAL loads here, before the timed region

    urls = plan["urls"]
    scenes, x, y = point_list(plan["n_scenes"], plan["n_points"])
    out = np.full((len(x), N_BANDS), np.nan)
    tasks = []
    for s in range(plan["n_scenes"]):
        idx = np.nonzero(scenes == s)[0]
        for b in range(N_BANDS):
            for k in range(0, len(idx), 5_000):
                tasks.append((s * N_BANDS + b, b, idx[k : k + 5_000]))
    datasets = _ThreadDatasets(urls)

    def one(task: tuple[int, int, np.ndarray]) -> None:
        k, b, idx = task
        values = datasets.get(k).sample(zip(x[idx], y[idx], strict=True), indexes=1)
        out[idx, b] = np.fromiter((v[0] for v in values), dtype=np.float64, count=len(idx))

    with timer:
        with ThreadPoolExecutor(RIO_THREADS) as pool:
            list(pool.map(one, tasks))
        datasets.close()
    return out


def async_geotiff_points(plan: dict[str, Any], timer: _Timer) -> np.ndarray:
    """async-geotiff has no point API: per (scene, band), every 512x512 tile that holds points
    is read once with ``GeoTIFF.read(window=<tile>)`` (64 in flight) and indexed in NumPy."""
    from async_geotiff import GeoTIFF, Window

    urls = plan["urls"]
    scenes, x, y = point_list(plan["n_scenes"], plan["n_points"])
    out = np.full((len(x), N_BANDS), np.nan)
    left = SCENE_ORIGIN_X + SCENE_STEP_X * scenes
    cols = np.floor((x - left) / PIXEL).astype(np.int64)
    rows = np.floor((SCENE_TOP - y) / PIXEL).astype(np.int64)
    tile_of = scenes * 10_000 + (rows // TILE) * 100 + cols // TILE
    jobs = []
    order = np.argsort(tile_of, kind="stable")
    keys, starts = np.unique(tile_of[order], return_index=True)
    for key, idx in zip(keys, np.split(order, starts[1:]), strict=True):
        s, tr, tc = int(key // 10_000), int(key // 100 % 100), int(key % 100)
        for b in range(N_BANDS):
            jobs.append((s * N_BANDS + b, b, tr, tc, idx))

    async def main() -> None:
        store, paths = _agt_store(urls)
        gts = await asyncio.gather(*(GeoTIFF.open(p, store=store) for p in paths))
        gate = asyncio.Semaphore(64)

        async def one(k: int, b: int, tr: int, tc: int, idx: np.ndarray) -> None:
            r0, c0 = tr * TILE, tc * TILE
            win = Window(
                col_off=c0, row_off=r0, width=min(TILE, SIZE - c0), height=min(TILE, SIZE - r0)
            )
            async with gate:
                arr = await gts[k].read(window=win)
            out[idx, b] = arr.data[0][rows[idx] - r0, cols[idx] - c0]

        await asyncio.gather(*(one(*j) for j in jobs))

    with timer:
        asyncio.run(main())
    return out


# ---- B4: single-thread tile decode ----------------------------------------------------------
def _load_tiles(plan: dict[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
    import tifffile

    with tifffile.TiffFile(plan["tile_source"]) as tif:
        page = tif.pages[0]
        info = {
            "compression": int(page.compression),
            "predictor": int(page.predictor),
            "tile": [int(page.tilelength), int(page.tilewidth)],
            "bits_per_sample": int(page.bitspersample),
            "sample_format": int(page.sampleformat),
        }
        fh = tif.filehandle
        tiles = []
        for off, cnt in zip(page.dataoffsets, page.databytecounts, strict=True):
            fh.seek(off)
            tiles.append(fh.read(cnt))
    if plan.get("n_tiles"):
        tiles = tiles[: plan["n_tiles"]]
    info["n_tiles"] = len(tiles)
    info["compressed_bytes"] = sum(len(t) for t in tiles)
    return tiles, info


def decode_bench(plan: dict[str, Any], variant: str, timer: _Timer) -> tuple[np.ndarray, dict]:
    tiles, info = _load_tiles(plan)
    th, tw = info["tile"]
    n = th * tw
    if info["predictor"] != 2 or info["bits_per_sample"] != 16:
        raise RuntimeError(f"unexpected tile layout {info}")

    if variant == "rasteret":
        from rasteret import _core

        def dec(data: bytes) -> np.ndarray:
            raw = _core.decode_tile(
                data,
                compression=info["compression"],
                width=tw,
                rows=th,
                bits_per_sample=16,
                sample_format=1,
                samples=1,
                predictor=2,
                little_endian=True,
            )
            return np.frombuffer(raw, np.uint16)
    else:
        import imagecodecs

        raw_decode = {
            "imagecodecs-zlib": imagecodecs.zlib_decode,
            "imagecodecs-deflate": imagecodecs.deflate_decode,
            "imagecodecs-zstd": imagecodecs.zstd_decode,
        }[variant]

        def dec(data: bytes) -> np.ndarray:
            a = np.empty((th, tw), "<u2")
            raw_decode(data, out=a.reshape(-1).view(np.uint8))
            imagecodecs.delta_decode(a, axis=-1, out=a)
            return a

    out: list[np.ndarray] = []
    with timer:
        for _ in range(plan["passes"]):
            out = [dec(t) for t in tiles]
    decoded = np.concatenate([a.reshape(-1) for a in out])
    if decoded.size != n * len(tiles):
        raise RuntimeError(f"decoded {decoded.size} samples, expected {n * len(tiles)}")
    mb = plan["passes"] * decoded.nbytes / 1e6
    info["decoded_mb"] = mb
    info["mb_per_s"] = round(mb / timer.seconds, 1)
    return decoded, info


# ---------------------------------------------------------------------------------------------
# Child process
# ---------------------------------------------------------------------------------------------
class _Timer:
    """Context manager measuring the timed section (and the peak RSS right after it)."""

    def __init__(self) -> None:
        self.seconds = float("nan")
        self.peak_rss_mib = float("nan")
        self.cpu_s = float("nan")
        self._t0 = 0.0
        self._cpu0 = 0.0

    def __enter__(self) -> _Timer:
        # RASTERET_BENCH_PROFILE=DIR: cProfile the timed section into DIR/<pid>.prof
        # (diagnosis only: the profiler's overhead makes the time meaningless)
        self._profile = None
        if os.environ.get("RASTERET_BENCH_PROFILE"):
            import cProfile

            self._profile = cProfile.Profile()
            self._profile.enable()
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        self.cpu_s = time.process_time() - self._cpu0
        self.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if self._profile is not None:
            self._profile.disable()
            out = Path(os.environ["RASTERET_BENCH_PROFILE"]) / f"{os.getpid()}.prof"
            out.parent.mkdir(parents=True, exist_ok=True)
            self._profile.dump_stats(str(out))


def _digest(output: Any) -> tuple[str, list[int] | None]:
    if isinstance(output, np.ndarray):
        a = np.ascontiguousarray(output)
        return hashlib.sha256(a.view(np.uint8).reshape(-1).data).hexdigest(), list(a.shape)
    text = json.dumps(output, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest(), [len(output)]


ADAPTERS: dict[tuple[str, str], Callable[[dict[str, Any], _Timer], Any]] = {
    ("headers", "rasteret"): rasteret_headers,
    ("headers", "rasterio"): rasterio_headers,
    ("headers", "async_geotiff"): async_geotiff_headers,
    **{(k, "rasteret"): rasteret_cold for k in ("aoi", "chips")},
    **{(k, "rasteret-indexed"): rasteret_indexed for k in ("aoi", "chips")},
    ("headers", "rasteret-api"): rasteret_api_build,
    ("aoi", "rasteret-api"): rasteret_api_aoi,
    ("aoi", "rasteret-api-gdf"): rasteret_api_gdf,
    ("chips", "rasteret-api"): rasteret_api_chips,
    ("chips", "rasteret-api-pairs"): rasteret_api_pairs,
    **{(k, "rasterio"): rasterio_read for k in ("aoi", "chips")},
    **{(k, "async_geotiff"): async_geotiff_read for k in ("aoi", "chips")},
    ("points", "rasteret"): rasteret_points,
    ("points", "rasterio"): rasterio_points,
    ("points", "async_geotiff"): async_geotiff_points,
}


def run_child(plan_path: str, variant: str) -> dict[str, Any]:
    """Run one repetition; the result dict is what the child prints."""
    plan = json.loads(Path(plan_path).read_text())
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timer = _Timer()
    extra: dict[str, Any] = {}
    if plan["kind"] == "decode":
        output, extra = decode_bench(plan, variant, timer)
    elif plan["kind"] == "cube":
        import cube

        output = cube.ADAPTERS[variant](plan, timer)
    else:
        output = ADAPTERS[(plan["kind"], variant)](plan, timer)
    sha, shape = _digest(output)
    return {
        "ok": True,
        "seconds": timer.seconds,
        "cpu_s": round(timer.cpu_s, 3),
        "peak_rss_mib": round(timer.peak_rss_mib, 1),
        "start_rss_mib": round(baseline_rss, 1),
        "sha256": sha,
        "shape": shape,
        "extra": extra,
    }


def probe() -> dict[str, Any]:
    """Versions of every tool (None when not importable)."""
    info: dict[str, Any] = {"python": sys.version.split()[0], "numpy": np.__version__}
    modules = ("rasterio", "async_geotiff", "async_tiff", "obstore", "imagecodecs", "tifffile")
    for mod in (*modules, "odc.stac", "stackstac", "xarray"):
        try:
            m = importlib.import_module(mod)
            info[mod] = getattr(m, "__version__", "?")
        except Exception as e:  # noqa: BLE001 - a missing tool is data, not a crash
            info[mod] = None
            info[f"{mod}_error"] = repr(e)
    try:
        import rasterio

        info["gdal"] = rasterio.__gdal_version__
    except Exception:  # noqa: BLE001
        info["gdal"] = None
    try:
        from rasteret import _core

        info["rasteret"] = _core.__version__
        info["rasteret_build_profile"] = _core.build_profile
    except Exception as e:  # noqa: BLE001
        info["rasteret"] = None
        info["rasteret_error"] = repr(e)
    return info


def _ensure_rasteret_importable() -> None:
    """Use the source tree's python/ when rasteret is not installed (e.g. maturin develop)."""
    try:
        import rasteret  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_DIR / "python"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="one timed repetition; prints one JSON line")
    r.add_argument("plan")
    r.add_argument("variant")
    g = sub.add_parser("generate", help="build the cached data set")
    g.add_argument("--quick", action="store_true", help=f"first {QUICK_SCENES} scenes only")
    h = sub.add_parser("prepare-headers", help="rasteret headers -> Arrow IPC (the index)")
    h.add_argument("plan")
    h.add_argument("out")
    c = sub.add_parser("prepare-collection", help="rasteret collection Parquet (B6 index)")
    c.add_argument("plan")
    c.add_argument("out")
    sub.add_parser("probe", help="tool versions as JSON")
    args = p.parse_args(argv)
    _ensure_rasteret_importable()

    if args.cmd == "generate":
        ensure_data(QUICK_SCENES if args.quick else N_SCENES)
        print(json.dumps(data_stats(QUICK_SCENES if args.quick else N_SCENES)))
        return 0
    if args.cmd == "probe":
        print(json.dumps(probe()))
        return 0
    if args.cmd == "prepare-collection":
        prepare_collection(json.loads(Path(args.plan).read_text()), args.out)
        return 0
    if args.cmd == "prepare-headers":
        prepare_headers(json.loads(Path(args.plan).read_text()), args.out)
        return 0
    try:
        result = run_child(args.plan, args.variant)
    except BaseException as e:  # noqa: BLE001 - report every failure as data
        tb = traceback.format_exc(limit=8)
        result = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": tb}
    print(json.dumps(result), flush=True)
    sys.stderr.flush()
    # Skip interpreter finalization: async-geotiff (obstore/async-tiff runtimes) crashes there
    # about 1 time in 10 (SIGSEGV / "PyGILState_Release: thread state ... must be current").
    os._exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    sys.exit(main())
