"""``rasteret demo``: an offline end-to-end run on a synthetic Sentinel-2-like archive.

It writes a few scenes x 4 bands of GDAL COGs (DEFLATE + predictor 2, 512-px tiles), serves
them over a Range-capable HTTP server on 127.0.0.1 (optionally with injected latency), parses
every header through the Rust core in one call, reads one window of every band of every
scene in one call, checks the pixels against rasterio and prints a timing table.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

BANDS = ("B02", "B03", "B04", "B08")


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured."""

    scenes: int
    files: int
    header_seconds: float
    header_requests: int
    read_seconds: float
    read_requests: int
    rasterio_seconds: float
    window: tuple[int, int, int, int]
    identical: bool


def write_scenes(root: Path, scenes: int = 3, size: int = 1098) -> list[Path]:
    """Write ``scenes`` x 4 band COGs (uint16, DEFLATE, predictor 2, 512-px tiles)."""
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    paths = []
    for s in range(scenes):
        for b, band in enumerate(BANDS):
            base = 800 + 300 * np.sin((xx + 37 * s) / (90 + 10 * b)) * np.cos(yy / 120)
            data = (base + rng.normal(0, 25, (size, size)) + 400 * b).clip(0, 10000)
            path = root / f"S2_T33UUP_2024{s + 1:02d}15_{band}.tif"
            profile = {
                "driver": "COG",
                "width": size,
                "height": size,
                "count": 1,
                "dtype": "uint16",
                "crs": "EPSG:32633",
                "transform": from_origin(399960.0, 5800020.0, 10.0, 10.0),
                "nodata": 0,
                "compress": "DEFLATE",
                "predictor": 2,
                "blocksize": 512,
            }
            with rasterio.open(path, "w", **profile) as dst:
                dst.write(data.astype(np.uint16), 1)
            paths.append(path)
    return paths


def _rasterio_read(urls: list[str], window: tuple[int, int, int, int]) -> np.ndarray:
    import rasterio
    from rasterio.windows import Window

    col, row, w, h = window
    out = np.zeros((len(urls), h, w), dtype=np.uint16)
    env = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES"}
    with rasterio.Env(**env):
        for i, url in enumerate(urls):
            with rasterio.open(url) as src:
                out[i] = src.read(1, window=Window(col, row, w, h))
    return out


def run(
    workdir: Path | None = None,
    *,
    scenes: int = 3,
    latency_ms: float = 0.0,
    window: tuple[int, int, int, int] = (300, 200, 512, 512),
) -> DemoResult:
    """Run the demo; returns the measurements (also logged)."""
    from rasteret._range_server import RangeServer
    from rasteret.core import _read

    with tempfile.TemporaryDirectory(prefix="rasteret-demo-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        paths = write_scenes(root, scenes=scenes)
        with RangeServer(root) as server:
            server.latency_ms = latency_ms
            urls = [server.url(p.name) for p in paths]

            server.reset_log()
            t0 = time.perf_counter()
            headers = _read.parse_headers(urls)
            header_s = time.perf_counter() - t0
            header_requests = len(server.requests)
            for i in range(len(urls)):
                err = _read.header_error(headers, i)
                if err is not None:
                    raise err
            meta = headers.column("metadata")

            col, row, w, h = window
            out = np.zeros((len(urls), h, w), dtype=np.uint16)
            reads = [
                _read.WindowRead(url, meta[i], col, row, w, h, index=i)
                for i, url in enumerate(urls)
            ]
            server.reset_log()
            t0 = time.perf_counter()
            _read.read_into(reads, out)
            read_s = time.perf_counter() - t0
            read_requests = len(server.requests)

            t0 = time.perf_counter()
            expected = _rasterio_read(urls, window)
            rio_s = time.perf_counter() - t0
    return DemoResult(
        scenes=scenes,
        files=len(paths),
        header_seconds=header_s,
        header_requests=header_requests,
        read_seconds=read_s,
        read_requests=read_requests,
        rasterio_seconds=rio_s,
        window=window,
        identical=bool(np.array_equal(out, expected)),
    )


def format_result(r: DemoResult) -> str:
    """A short human-readable timing table."""
    col, row, w, h = r.window
    lines = [
        f"rasteret demo: {r.scenes} scenes x {len(BANDS)} bands = {r.files} COGs over HTTP",
        f"{'step':<38}{'seconds':>10}{'requests':>10}",
        f"{'parse headers (all COGs, one call)':<38}{r.header_seconds:>10.3f}"
        f"{r.header_requests:>10}",
        f"{f'read {w}x{h} window x {r.files} (one call)':<38}{r.read_seconds:>10.3f}"
        f"{r.read_requests:>10}",
        f"{'same window with rasterio/GDAL':<38}{r.rasterio_seconds:>10.3f}{'':>10}",
        f"pixels identical to rasterio: {'yes' if r.identical else 'NO'}",
    ]
    return "\n".join(lines)
