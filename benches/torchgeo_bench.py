"""TorchGeo chips: TorchGeo's own ``RasterDataset`` (GDAL ``/vsicurl/``) vs rasteret's
``Collection.to_torchgeo_dataset`` over the same COGs on the same local HTTP server.

Samples per second for 256x256 chips through a ``DataLoader`` (``num_workers`` 0 and 2),
single-scene (one date per chip, 3 bands) and time-series (every date per chip: rasteret
returns ``[T, C, H, W]``; TorchGeo's ``RasterDataset`` merges the same T x C files per chip,
so both read the same windows). Both loaders get the same chip list; the first chips of each
case are checked pixel-identical between the two. Each epoch is cold: workers (and TorchGeo's
file-handle cache) start fresh, and rasteret reads headers from its index, not the files.

Usage::

    python benches/torchgeo_bench.py                  # full run (about 5-10 min)
    python benches/torchgeo_bench.py --quick          # 16 chips per case
    python benches/torchgeo_bench.py --latency-ms 20  # add server latency per request

Data: ``benches/.data/torchgeo-v1/`` (gitignored), 4 dates x 3 bands of 2048x2048 uint16 COGs
on one EPSG:32633 10 m grid (512-px tiles, DEFLATE + predictor 2, nodata 0), content from
``workloads.synth_band``. Results: printed, and written to ``benches/results/torchgeo.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data" / "torchgeo-v1"
DATES = ["20240501", "20240511", "20240521", "20240531"]
BANDS = ("B1", "B2", "B3")
SIZE = 2048
CHIP = 256
GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_data() -> Path:
    """Write (once) the 12 COGs."""
    import rasterio
    from rasterio.transform import from_origin

    sys.path.insert(0, str(BENCH_DIR))
    from workloads import synth_band

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for t, date in enumerate(DATES):
        for b, band in enumerate(BANDS):
            path = DATA_DIR / f"T{date}_{band}.tif"
            if path.exists():
                continue
            t0 = time.perf_counter()
            data = synth_band(100 + t, b, size=SIZE)
            tmp = path.with_suffix(".tmp.tif")
            with rasterio.open(
                tmp,
                "w",
                driver="COG",
                width=SIZE,
                height=SIZE,
                count=1,
                dtype="uint16",
                crs="EPSG:32633",
                transform=from_origin(500_000, 5_000_000, 10, 10),
                nodata=0,
                blocksize=512,
                compress="DEFLATE",
                predictor=2,
            ) as dst:
                dst.write(data, 1)
            os.replace(tmp, path)
            _log(f"  data: {path.name} {time.perf_counter() - t0:.1f}s")
    return DATA_DIR


def rasteret_dataset(base_url: str, time_series: bool) -> Any:
    import pyarrow as pa
    import rasteret
    import shapely
    from pyproj import Transformer

    tf = Transformer.from_crs(32633, 4326, always_xy=True)
    x0, y1 = 500_000, 5_000_000
    lon0, lat0, lon1, lat1 = tf.transform_bounds(x0, y1 - SIZE * 10, x0 + SIZE * 10, y1)
    rows = [
        {
            "id": f"T{date}",
            "datetime": dt.datetime.strptime(date, "%Y%m%d"),
            "geometry": shapely.box(lon0, lat0, lon1, lat1).wkb,
            "assets": {b: {"href": f"{base_url}/T{date}_{b}.tif"} for b in BANDS},
        }
        for date in DATES
    ]
    coll = rasteret.build_from_table(pa.Table.from_pylist(rows), enrich_cog=True)
    return coll.to_torchgeo_dataset(bands=list(BANDS), time_series=time_series)


def torchgeo_dataset(base_url: str) -> Any:
    from torchgeo.datasets import RasterDataset

    class Scenes(RasterDataset):
        filename_glob = "T*_B1.tif"
        filename_regex = r"^T(?P<date>\d{8})_(?P<band>B\d)\.tif$"
        date_format = "%Y%m%d"
        separate_files = True
        all_bands = BANDS

    paths = [f"/vsicurl/{base_url}/T{date}_B1.tif" for date in DATES]
    return Scenes(paths=paths, bands=list(BANDS))


def chip_queries(ds: Any, n: int, time_series: bool, seed: int) -> list[Any]:
    """``n`` random 256x256 chip queries (pixel-aligned, like RandomGeoSampler's)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x0, y1 = 500_000.0, 5_000_000.0
    t_all = slice(pd.Timestamp(DATES[0]) - pd.Timedelta(days=1), pd.Timestamp(DATES[-1]))
    out = []
    for _ in range(n):
        col, row = rng.integers(0, SIZE - CHIP, 2)
        xmin, ymax = x0 + col * 10.0, y1 - row * 10.0
        if time_series:
            t = t_all
        else:
            day = pd.Timestamp(DATES[int(rng.integers(0, len(DATES)))])
            t = slice(day - pd.Timedelta(hours=1), day + pd.Timedelta(hours=1))
        out.append(
            (slice(xmin, xmin + CHIP * 10.0, 10.0), slice(ymax - CHIP * 10.0, ymax, 10.0), t)
        )
    return out


def run_loader(ds: Any, queries: list[Any], workers: int, key: str) -> tuple[float, Any]:
    from torch.utils.data import DataLoader
    from torchgeo.datasets import stack_samples

    loader = DataLoader(
        ds,
        sampler=queries,
        batch_size=8,
        num_workers=workers,
        collate_fn=stack_samples,
        multiprocessing_context="fork" if workers else None,
    )
    t0 = time.perf_counter()
    first = None
    for batch in loader:
        if first is None:
            first = batch[key]
    return time.perf_counter() - t0, first


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="16 chips per case")
    p.add_argument("--chips", type=int, default=96, help="chips per single-scene case")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--out", type=Path, default=BENCH_DIR / "results" / "torchgeo.json")
    args = p.parse_args(argv)
    os.environ.update(GDAL_ENV)
    warnings.filterwarnings("ignore", message="uint16 pixels are returned as int32")
    n_single = 16 if args.quick else args.chips
    n_series = max(8, n_single // 4)

    from rasteret._range_server import RangeServer

    ensure_data()
    load_start = os.getloadavg()
    results: list[dict[str, Any]] = []
    with RangeServer(DATA_DIR) as server:
        server.latency_ms = args.latency_ms
        base = server.base_url.rstrip("/")
        t0 = time.perf_counter()
        tg = torchgeo_dataset(base)
        tg_index_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rs_single = rasteret_dataset(base, time_series=False)
        rs_index_s = time.perf_counter() - t0
        rs_series = rasteret_dataset(base, time_series=True)
        for case, n, rs in (
            ("single-scene", n_single, rs_single),
            ("time-series", n_series, rs_series),
        ):
            queries = chip_queries(rs, n, case == "time-series", seed=42)
            for workers in (0, 2):
                tg_s, tg_first = run_loader(tg, queries, workers, "image")
                rs_s, rs_first = run_loader(rs, queries, workers, "image")
                if case == "single-scene":
                    same = bool(np.array_equal(tg_first.numpy(), rs_first.numpy()))
                else:
                    # TorchGeo mosaics the T dates (first wins); rasteret stacks them: the
                    # first date of rasteret's stack equals TorchGeo's mosaic where it is valid
                    a, b = tg_first.numpy(), rs_first[:, 0].numpy()
                    same = bool(np.array_equal(a[b != 0], b[b != 0]))
                row = {
                    "case": case,
                    "num_workers": workers,
                    "chips": n,
                    "torchgeo_samples_per_s": n / tg_s,
                    "rasteret_samples_per_s": n / rs_s,
                    "speedup": tg_s / rs_s,
                    "first_batch_identical": same,
                }
                results.append(row)
                _log(json.dumps(row))
    load_end = os.getloadavg()
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "python": platform.python_version(),
        },
        "latency_ms": args.latency_ms,
        "data": f"{len(DATES)} dates x {len(BANDS)} bands, {SIZE}x{SIZE} uint16 COGs, 512 tiles",
        "index_seconds": {"torchgeo": tg_index_s, "rasteret_build_and_index": rs_index_s},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print("| case | workers | chips | TorchGeo samples/s | rasteret samples/s | speedup |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['num_workers']} | {r['chips']} | "
            f"{r['torchgeo_samples_per_s']:.1f} | {r['rasteret_samples_per_s']:.1f} | "
            f"{r['speedup']:.1f}x |"
        )
    print(f"load average start {load_start}, end {load_end}; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
