"""The steps of ``rasteret demo``, each timed, through rasteret's public API only.

1. write a Sentinel-2-like archive (:mod:`rasteret._demo.archive`) and serve it on 127.0.0.1
   with the Range-capable :class:`~rasteret._demo.range_server.RangeServer`;
2. ``rasteret.build_from_stac(static_catalog=True)`` on the served ``catalog.json``;
3. ``Collection.subset`` by date and cloud cover;
4. ``get_numpy`` and ``get_xarray`` of a lon/lat polygon AOI;
5. ``sample_points`` of random points (an Arrow table of lon/lat columns);
6. a few TorchGeo batches through ``to_torchgeo_dataset`` (skipped when unavailable);
7. the same AOI with rasterio/GDAL over the same server: pixels must be identical;
8. a PNG quick-look (true colour + NDVI) of the newest clear scene.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rasteret._demo.archive import ASSETS, COLLECTION_ID, EPSG, ORIGIN, Archive, write_archive
from rasteret._demo.quicklook import compose, write_png

logger = logging.getLogger(__name__)

__all__ = [
    "AOI_UTM",
    "BANDS",
    "DATE_RANGE",
    "MAX_CLOUD",
    "DemoResult",
    "Step",
    "aoi_polygon",
    "run",
]

BANDS = list(ASSETS)
#: The AOI in EPSG:32633 ``(left, bottom, right, top)``: 4 km x 3 km across the river.
AOI_UTM = (ORIGIN[0] + 2400.0, ORIGIN[1] - 6000.0, ORIGIN[0] + 6400.0, ORIGIN[1] - 3000.0)
#: The subset applied after the build.
DATE_RANGE = ("2024-05-01", "2024-08-31")
MAX_CLOUD = 20.0
POINTS = 500


@dataclass
class Step:
    """One timed step: label, wall seconds, HTTP requests the local server answered, result."""

    label: str
    seconds: float = 0.0
    requests: int | None = None
    detail: str = ""


@dataclass
class DemoResult:
    """Everything the demo measured and produced."""

    steps: list[Step] = field(default_factory=list)
    png: Path | None = None
    png_writer: str = ""
    png_shape: tuple[int, int] = (0, 0)
    quicklook_id: str = ""
    identical: bool = False
    records: int = 0
    selected: int = 0
    workdir: Path | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        """Sum of the step times."""
        return sum(s.seconds for s in self.steps)


def aoi_polygon() -> Any:
    """The AOI as a lon/lat (EPSG:4326) shapely polygon, as a user would draw it."""
    from pyproj import Transformer
    from shapely.geometry import Polygon

    left, bottom, right, top = AOI_UTM
    to_lonlat = Transformer.from_crs(EPSG, 4326, always_xy=True)
    corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
    return Polygon([to_lonlat.transform(x, y) for x, y in corners])


@contextmanager
def _timed(result: DemoResult, label: str, server: Any = None) -> Iterator[Step]:
    step = Step(label)
    if server is not None:
        server.reset_log()
    t0 = time.perf_counter()
    yield step
    step.seconds = time.perf_counter() - t0
    if server is not None:
        step.requests = len(server.requests)
    result.steps.append(step)
    logger.info("%s: %.3f s %s", label, step.seconds, step.detail)


def _rasterio_aoi(urls: list[str], polygon: Any) -> list[np.ndarray]:
    """``rasterio.mask.mask(crop=True, filled=True)`` of the AOI for every URL (the oracle)."""
    import rasterio
    import rasterio.mask
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping

    env = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES"}
    out = []
    with rasterio.Env(**env):
        for url in urls:
            with rasterio.open(url) as src:
                geom = transform_geom("EPSG:4326", src.crs, mapping(polygon))
                data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=0)
                out.append(data[0])
    return out


def _torchgeo_batches(collection: Any, result: DemoResult, server: Any) -> None:
    try:
        from torch.utils.data import DataLoader
        from torchgeo.datasets import stack_samples
        from torchgeo.samplers import RandomGeoSampler

        with (
            _timed(result, "TorchGeo: 4 batches of 4 chips 128x128", server) as step,
            warnings.catch_warnings(),
        ):
            # documented: torch has no uint16, so chips come as int32 (as in TorchGeo itself)
            warnings.filterwarnings("ignore", "uint16 .*int32", UserWarning)
            dataset = collection.to_torchgeo_dataset(bands=BANDS, chip_size=128)
            sampler = RandomGeoSampler(dataset, size=128, length=16)
            loader = DataLoader(dataset, sampler=sampler, batch_size=4, collate_fn=stack_samples)
            images = [batch["image"] for batch in loader]
            dtype = str(images[0].dtype).removeprefix("torch.")
            step.detail = f"{len(images)} batches of {dtype}{list(images[0].shape)}"
    except (ImportError, NotImplementedError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        result.skipped.append(f"TorchGeo batches skipped ({reason})")


def _xarray_aoi(clear: Any, polygon: Any, result: DemoResult, server: Any) -> None:
    try:
        import xarray  # noqa: F401
    except ImportError:
        result.skipped.append("get_xarray skipped (xarray is not installed: pip install xarray)")
        return
    with _timed(result, "get_xarray(AOI, 4 bands)", server) as step:
        xds = clear.get_xarray(polygon, BANDS)
        dims = ", ".join(f"{k}={v}" for k, v in xds.sizes.items())
        step.detail = f"{len(xds.data_vars)} variables ({dims})"


def _sample_points(clear: Any, result: DemoResult, server: Any) -> None:
    import pyarrow as pa
    from pyproj import Transformer

    rng = np.random.default_rng(7)
    left, bottom, right, top = AOI_UTM
    xs, ys = rng.uniform(left, right, POINTS), rng.uniform(bottom, top, POINTS)
    lon, lat = Transformer.from_crs(EPSG, 4326, always_xy=True).transform(xs, ys)
    points = pa.table({"plot": np.arange(POINTS), "lon": lon, "lat": lat})
    with _timed(result, f"sample_points({POINTS} points, 4 bands)", server) as step:
        samples = clear.sample_points(points, BANDS, geometry_crs=4326)
        step.detail = f"{samples.num_rows} rows (point x record x band)"


def run(
    workdir: Path | None = None,
    *,
    out: Path | None = None,
    scenes: int = 4,
    size: int = 1024,
    latency_ms: float = 20.0,
    echo: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo end to end and return its measurements.

    Parameters
    ----------
    workdir
        Where the archive and the collection are written; a temporary directory (removed
        afterwards) when ``None``.
    out
        Path of the PNG quick-look; ``rasteret-demo.png`` in the current directory by default.
    scenes
        Number of acquisitions in the archive (1-6), 4 bands each.
    size
        Raster width and height in pixels.
    latency_ms
        Time-to-first-byte the local server adds to every request, as a cloud store would.
    echo
        Called with a short progress line before each phase (e.g. ``print``).

    Returns
    -------
    DemoResult
        The timed steps, the PNG path and whether the pixels equal rasterio's.
    """
    import rasteret
    from rasteret._demo.range_server import RangeServer

    say = echo or (lambda _msg: None)
    result = DemoResult()
    out = Path(out) if out is not None else Path.cwd() / "rasteret-demo.png"
    polygon = aoi_polygon()
    with tempfile.TemporaryDirectory(prefix="rasteret-demo-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        result.workdir = root if workdir is not None else None
        say(f"writing {scenes} scenes x {len(BANDS)} bands of Sentinel-2-like COGs ...")
        with _timed(result, "write archive (GDAL COGs + STAC)") as step:
            archive: Archive = write_archive(root / "archive", scenes=scenes, size=size)
            step.detail = f"{len(archive.cogs)} COGs {size}x{size} uint16 + catalog.json"
        with RangeServer(root / "archive") as server:
            server.latency_ms = latency_ms
            catalog_url = server.url("catalog.json")
            say(f"serving them at {server.base_url}/ ; building a collection ...")
            with _timed(result, "build_from_stac(static catalog)", server) as step:
                coll = rasteret.build_from_stac(
                    name="demo",
                    stac_api=catalog_url,
                    collection=COLLECTION_ID,
                    band_map=dict(ASSETS),
                    static_catalog=True,
                    workspace_dir=root / "workspace",
                    force=True,
                )
                result.records = len(coll)
                step.detail = f"{result.records} records, bands {coll.bands}"
            with _timed(result, "subset(date_range, cloud_cover_lt)") as step:
                clear = coll.subset(date_range=DATE_RANGE, cloud_cover_lt=MAX_CLOUD)
                ids = clear.to_table(columns=["id", "datetime"]).sort_by("datetime")
                result.selected = ids.num_rows
                step.detail = f"{result.selected} of {result.records} records left"
            if result.selected == 0:
                raise ValueError(
                    f"No scene between {DATE_RANGE} with cloud cover < {MAX_CLOUD}: "
                    "use more --scenes"
                )
            say("reading the AOI, sampling points ...")
            with _timed(result, "get_numpy(AOI, 4 bands)", server) as step:
                arr = clear.get_numpy(polygon, BANDS)
                step.detail = f"{arr.dtype}{list(arr.shape)}"
            _xarray_aoi(clear, polygon, result, server)
            _sample_points(clear, result, server)
            _torchgeo_batches(clear, result, server)

            # the newest clear scene: its position in get_numpy's record order
            order = clear.to_table(columns=["id"]).column("id").to_pylist()
            newest = ids.column("id")[-1].as_py()
            result.quicklook_id = newest
            pos = order.index(newest)
            urls = [
                server.url(f"{COLLECTION_ID}/{rid}/{ASSETS[b]}.tif") for rid in order for b in BANDS
            ]
            with _timed(result, "same AOI with rasterio/GDAL", server) as step:
                expected = _rasterio_aoi(urls, polygon)
                step.detail = f"{len(urls)} files"
        got = [arr[i, b] for i in range(len(order)) for b in range(len(BANDS))]
        result.identical = len(got) == len(expected) and all(
            g.shape == e.shape and np.array_equal(g, e) for g, e in zip(got, expected, strict=True)
        )
        with _timed(result, "PNG quick-look (true colour | NDVI)") as step:
            image = compose(*arr[pos])
            result.png_writer = write_png(out, image)
            result.png = out.resolve()
            result.png_shape = (image.shape[0], image.shape[1])
            step.detail = f"{image.shape[1]}x{image.shape[0]} px, {result.png_writer}"
    return result


def format_result(r: DemoResult) -> str:
    """The timing table and summary printed by ``rasteret demo``."""
    width = max(len(s.label) for s in r.steps) + 2
    lines = [
        f"{'step':<{width}}{'seconds':>9}{'requests':>10}  result",
        f"{'-' * (width - 2):<{width}}{'-------':>9}{'--------':>10}  ------",
    ]
    for s in r.steps:
        req = "" if s.requests is None else str(s.requests)
        lines.append(f"{s.label:<{width}}{s.seconds:>9.3f}{req:>10}  {s.detail}")
    lines.append(f"{'total':<{width}}{r.total_seconds:>9.3f}")
    lines.extend(r.skipped)
    lines.append(f"pixels identical to rasterio: {'yes' if r.identical else 'NO'}")
    lines.append(f"quick-look of {r.quicklook_id} (true colour | NDVI): {r.png}")
    return "\n".join(lines)
