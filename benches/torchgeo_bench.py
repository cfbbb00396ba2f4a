"""TorchGeo chips: TorchGeo's own ``RasterDataset`` (GDAL ``/vsicurl/``) vs rasteret's
``Collection.to_torchgeo_dataset`` over the same COGs on the same local HTTP server.

Samples per second for 256x256 chips through a ``DataLoader`` (``num_workers`` 0 and 2,
persistent workers): a cold warm-up epoch (worker start-up, opens, connections; its rate is
reported too), then the measured epoch over a different chip list of the same size,
single-scene (one date per chip, 3 bands) and time-series (every date per chip: rasteret
returns ``[T, C, H, W]``). TorchGeo's ``RasterDataset`` has no time-series sample, so the
time-series case measures it two ways over the same T x C files per chip: ``torchgeo`` (one
query over all dates: TorchGeo merges them into one ``[C, H, W]`` mosaic, a quarter of the
sample) and ``torchgeo-stack`` (one query per date, stacked into ``[T, C, H, W]``: the sample
rasteret returns, so the DataLoader moves the same bytes). Every loader gets the same chip
list; the first batch of each case is checked pixel-identical. Every (tool, case, workers)
epoch runs in a fresh process, so no cache is inherited; within an epoch TorchGeo keeps its
file handles and GDAL's block cache (decoded tiles, reused when chips overlap), rasteret
reads headers from its index, keeps a decoded-tile cache per process (its workers share
decoded tiles through /dev/shm) and reads each batch's missing tiles in one call
(``__getitems__``).

Usage::

    python benches/torchgeo_bench.py                  # full run (about 5-10 min)
    python benches/torchgeo_bench.py --quick          # 32 chips per case
    python benches/torchgeo_bench.py --latency-ms 20  # add server latency per request
    python benches/torchgeo_bench.py --full-size --latency-ms 20  # one 5490x5490 scene

Data: ``benches/.data/torchgeo-v1/`` (gitignored), 4 dates x 3 bands of 2048x2048 uint16 COGs
on one EPSG:32633 10 m grid (512-px tiles, DEFLATE + predictor 2, nodata 0), content from
``workloads.synth_band``: every decoded tile fits in half of rasteret's tile cache, so a
missing tile brings its tile row. ``--full-size`` runs the single-scene case alone over one
Sentinel-2-sized scene instead: ``S00_B1..B4.tif`` of ``benches/workloads.py``'s DEFLATE set
(5490x5490 uint16, 512-px tiles, made by ``python benches/run.py``), whose decoded tiles
(241 MB) exceed half the cache, so the tile-row read-ahead is off. Results: printed, and
written to ``benches/results/torchgeo.json`` (``torchgeo_full.json`` with ``--full-size``).
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
from torchgeo.datasets import RasterDataset

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data" / "torchgeo-v1"
DATES = ["20240501", "20240511", "20240521", "20240531"]
BANDS = ("B1", "B2", "B3")
SIZE = 2048
CHIP = 256
# --full-size: one scene of workloads.py's DEFLATE set, on its grid (scene 0)
FULL_DIR = BENCH_DIR / ".data" / "v1-s2like-5490-sigma4" / "deflate"
FULL_BANDS = ("B1", "B2", "B3", "B4")
FULL_SIZE = 5490
FULL_ORIGIN = (300_000, 5_000_040)
BATCH = 8
GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "NO",  # faster here, and no stalls in forked workers
    "VSI_CACHE": "TRUE",
}


class Scenes(RasterDataset):
    """TorchGeo's reader over the bench files (module level: spawned workers unpickle it)."""

    filename_glob = "T*_B1.tif"
    filename_regex = r"^T(?P<date>\d{8})_(?P<band>B\d)\.tif$"
    date_format = "%Y%m%d"
    separate_files = True
    all_bands = BANDS


class FullScene(RasterDataset):
    """TorchGeo's reader over the full-size scene's 4 band files (no date in the names: the
    scene spans all time, and every chip query names its day)."""

    filename_glob = "S00_B1.tif"
    filename_regex = r"^S(?P<scene>\d{2})_(?P<band>B\d)\.tif$"
    separate_files = True
    all_bands = FULL_BANDS


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


def grid(full: bool) -> tuple[float, float, int, list[str], tuple[str, ...]]:
    """``(left, top, size, dates, bands)`` of the case's scenes."""
    if full:
        return (*FULL_ORIGIN, FULL_SIZE, DATES[:1], FULL_BANDS)
    return (500_000, 5_000_000, SIZE, DATES, BANDS)


def rasteret_dataset(base_url: str, time_series: bool, full: bool = False) -> Any:
    import pyarrow as pa
    import rasteret
    import shapely
    from pyproj import Transformer

    x0, y1, size, dates, bands = grid(full)
    tf = Transformer.from_crs(32633, 4326, always_xy=True)
    lon0, lat0, lon1, lat1 = tf.transform_bounds(x0, y1 - size * 10, x0 + size * 10, y1)

    def href(date: str, band: str) -> str:
        return f"{base_url}/S00_{band}.tif" if full else f"{base_url}/T{date}_{band}.tif"

    rows = [
        {
            "id": f"T{date}",
            "datetime": dt.datetime.strptime(date, "%Y%m%d"),
            "geometry": shapely.box(lon0, lat0, lon1, lat1).wkb,
            "assets": {b: {"href": href(date, b)} for b in bands},
        }
        for date in dates
    ]
    coll = rasteret.build_from_table(pa.Table.from_pylist(rows), enrich_cog=True)
    return coll.to_torchgeo_dataset(bands=list(bands), time_series=time_series)


class SceneSeries(Scenes):
    """TorchGeo's reader giving rasteret's time-series sample: one query per date of the
    chip's time range, the ``[C, H, W]`` images stacked into ``[T, C, H, W]`` (what a TorchGeo
    user writes to get a time series from a ``RasterDataset``)."""

    def __getitem__(self, query: Any) -> dict[str, Any]:
        import pandas as pd
        import torch

        x, y, t = query
        samples = []
        for date in DATES:
            day = pd.Timestamp(date)
            if t.start <= day <= t.stop:
                hour = pd.Timedelta(hours=1)
                samples.append(super().__getitem__((x, y, slice(day - hour, day + hour))))
        out = dict(samples[0])
        out["image"] = torch.stack([s["image"] for s in samples])
        return out


def torchgeo_dataset(base_url: str, stack_dates: bool = False, full: bool = False) -> Any:
    if full:
        return FullScene(paths=[f"/vsicurl/{base_url}/S00_B1.tif"], bands=list(FULL_BANDS))
    paths = [f"/vsicurl/{base_url}/T{date}_B1.tif" for date in DATES]
    return (SceneSeries if stack_dates else Scenes)(paths=paths, bands=list(BANDS))


def chip_queries(ds: Any, n: int, time_series: bool, seed: int, full: bool = False) -> list[Any]:
    """``n`` random 256x256 chip queries (pixel-aligned, like RandomGeoSampler's)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    x0, y1, size, dates, _ = grid(full)
    t_all = slice(pd.Timestamp(dates[0]) - pd.Timedelta(days=1), pd.Timestamp(dates[-1]))
    out = []
    for _ in range(n):
        col, row = rng.integers(0, size - CHIP, 2)
        xmin, ymax = x0 + col * 10.0, y1 - row * 10.0
        if time_series:
            t = t_all
        else:
            day = pd.Timestamp(dates[int(rng.integers(0, len(dates)))])
            t = slice(day - pd.Timedelta(hours=1), day + pd.Timedelta(hours=1))
        out.append(
            (slice(xmin, xmin + CHIP * 10.0, 10.0), slice(ymax - CHIP * 10.0, ymax, 10.0), t)
        )
    return out


def run_loader(
    ds: Any, warmup: list[Any], queries: list[Any], workers: int, context: str | None
) -> dict[str, Any]:
    """A warm-up epoch over ``warmup`` (worker start-up, file opens, first connections), then
    the measured epoch over ``queries`` with the same (persistent) workers. Also returns the
    seconds of the cold warm-up epoch and the measured epoch's first images."""
    from torch.utils.data import DataLoader
    from torchgeo.datasets import stack_samples

    def loader(sampler: list[Any]) -> Any:
        return DataLoader(
            ds,
            sampler=sampler,
            batch_size=BATCH,
            num_workers=workers,
            collate_fn=stack_samples,
            multiprocessing_context=context if workers else None,
            persistent_workers=bool(workers),
        )

    # one DataLoader whose sampler is swapped between epochs keeps its workers
    sampler = list(warmup)
    dl = loader(sampler)
    t0 = time.perf_counter()
    for _ in dl:
        pass
    cold = time.perf_counter() - t0
    sampler[:] = queries
    first = None
    t0 = time.perf_counter()
    for batch in dl:
        if first is None:
            first = batch["image"]
    return {"seconds": time.perf_counter() - t0, "cold_seconds": cold, "first": first}


def child(tool: str, case: str, workers: int, n: int, base: str, dump: Path) -> None:
    """One cold measurement in this fresh process; prints one JSON line."""
    os.environ.update(GDAL_ENV)
    warnings.filterwarnings("ignore", message="uint16 pixels are returned as int32")
    time_series = case == "time-series"
    full = case == "full-size"
    t0 = time.perf_counter()
    rs = rasteret_dataset(base, time_series=time_series, full=full)  # build + index (headers)
    if tool == "rasteret":
        ds = rs
    else:
        t0 = time.perf_counter()
        # opens every file
        ds = torchgeo_dataset(base, stack_dates=tool == "torchgeo-stack", full=full)
    index_s = time.perf_counter() - t0
    warmup = chip_queries(rs, n, time_series, seed=41, full=full)
    queries = chip_queries(rs, n, time_series, seed=42, full=full)
    # GDAL's /vsicurl/ state does not survive fork (observed: "not recognized as being in a
    # supported file format" in forked workers), so TorchGeo's workers are spawned; rasteret's
    # Rust runtime is rebuilt per process, so its workers are forked.
    context = "fork" if tool == "rasteret" else "spawn"
    run = run_loader(ds, warmup, queries, workers, context)
    np.save(dump, run.pop("first").numpy())
    print(json.dumps({**run, "index_seconds": index_s, "context": context}), flush=True)


def _first_batches_agree(case: str, tg: np.ndarray, rs: np.ndarray) -> bool:
    if case != "time-series" or tg.shape == rs.shape:  # also TorchGeo's stacked series
        return bool(np.array_equal(tg, rs))
    # TorchGeo merges the T dates (first valid pixel wins); rasteret stacks them: where
    # rasteret's first date is valid, TorchGeo's mosaic shows that date.
    first = rs[:, 0]
    return bool(np.array_equal(tg[first != 0], first[first != 0]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="32 / 32 chips")
    p.add_argument("--chips", type=int, default=96, help="chips per single-scene case")
    p.add_argument(
        "--series-chips",
        type=int,
        default=None,
        help="chips per time-series case (default: a third of --chips, at least 4 batches)",
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument(
        "--full-size",
        action="store_true",
        help="one 5490x5490 scene x 4 bands (benches/workloads.py's S00, DEFLATE) instead",
    )
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        tool, case, workers, n, base, dump = args.child
        child(tool, case, int(workers), int(n), base, Path(dump))
        return 0
    n_single = 32 if args.quick else args.chips
    n_series = args.series_chips or max(4 * BATCH, n_single // 3)
    cases = [("single-scene", n_single), ("time-series", n_series)]
    data_dir = DATA_DIR
    out_name = "torchgeo.json"
    if args.full_size:
        cases, data_dir, out_name = [("full-size", n_single)], FULL_DIR, "torchgeo_full.json"
        if not all((FULL_DIR / f"S00_{b}.tif").exists() for b in FULL_BANDS):
            raise SystemExit(f"{FULL_DIR}/S00_B*.tif missing: run python benches/run.py once")
    out_path = args.out or BENCH_DIR / "results" / out_name

    import subprocess
    import tempfile

    from async_range_server import AsyncRangeServer as RangeServer

    if not args.full_size:
        ensure_data()
    load_start = os.getloadavg()
    results: list[dict[str, Any]] = []
    with RangeServer(data_dir) as server, tempfile.TemporaryDirectory() as tmp:
        server.latency_ms = args.latency_ms
        base = server.base_url.rstrip("/")
        for case, n in cases:
            for workers in (0, 2):
                runs: dict[str, dict[str, Any]] = {}
                tools = ("torchgeo", "rasteret")
                if case == "time-series":
                    tools = ("torchgeo", "torchgeo-stack", "rasteret")
                for tool in tools:
                    dump = Path(tmp) / f"{tool}.npy"
                    out = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--child",
                            tool,
                            case,
                            str(workers),
                            str(n),
                            base,
                            str(dump),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    if out.returncode != 0:
                        _log(out.stderr[-3000:])
                        raise SystemExit(f"{tool} {case} workers={workers} failed")
                    runs[tool] = json.loads(out.stdout.strip().splitlines()[-1])
                    runs[tool]["first"] = np.load(dump)
                tg, rs = runs["torchgeo"], runs["rasteret"]
                row = {
                    "case": case,
                    "num_workers": workers,
                    "chips": n,
                    "torchgeo_samples_per_s": n / tg["seconds"],
                    "rasteret_samples_per_s": n / rs["seconds"],
                    "speedup": tg["seconds"] / rs["seconds"],
                    "cold_epoch_samples_per_s": {
                        "torchgeo": n / tg["cold_seconds"],
                        "rasteret": n / rs["cold_seconds"],
                    },
                    "first_batch_identical": _first_batches_agree(
                        case, runs["torchgeo"]["first"], runs["rasteret"]["first"]
                    ),
                    "index_seconds": {t: runs[t]["index_seconds"] for t in runs},
                }
                if "torchgeo-stack" in runs:
                    st = runs["torchgeo-stack"]
                    row["torchgeo_stack_samples_per_s"] = n / st["seconds"]
                    row["speedup_vs_stack"] = st["seconds"] / rs["seconds"]
                    row["cold_epoch_samples_per_s"]["torchgeo-stack"] = n / st["cold_seconds"]
                    row["first_batch_identical_stack"] = _first_batches_agree(
                        case, st["first"], rs["first"]
                    )
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
        "data": (
            f"1 scene x {len(FULL_BANDS)} bands, {FULL_SIZE}x{FULL_SIZE} uint16 COGs, 512 tiles"
            if args.full_size
            else f"{len(DATES)} dates x {len(BANDS)} bands, {SIZE}x{SIZE} uint16 COGs, 512 tiles"
        ),
        "results": results,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"latency {args.latency_ms} ms per request")
    print(
        "| case | workers | chips | TorchGeo warm | rasteret warm | speedup warm "
        "| TorchGeo cold | rasteret cold | speedup cold |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        cold = r["cold_epoch_samples_per_s"]
        rows = [("", r["torchgeo_samples_per_s"], r["speedup"], cold["torchgeo"])]
        if "torchgeo_stack_samples_per_s" in r:
            rows[0] = (" (mosaic)", *rows[0][1:])
            rows.append(
                (
                    " (per-date stack)",
                    r["torchgeo_stack_samples_per_s"],
                    r["speedup_vs_stack"],
                    cold["torchgeo-stack"],
                )
            )
        for label, tg_rate, speedup, tg_cold in rows:
            print(
                f"| {r['case']}{label} | {r['num_workers']} | {r['chips']} | "
                f"{tg_rate:.1f} | {r['rasteret_samples_per_s']:.1f} | {speedup:.1f}x | "
                f"{tg_cold:.1f} | {cold['rasteret']:.1f} | {cold['rasteret'] / tg_cold:.1f}x |"
            )
    print(f"load average start {load_start}, end {load_end}; results in {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
