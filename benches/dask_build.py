"""The distributed build: 10,000 COG headers parsed serially and as Dask tasks (``shards=``).

    python benches/dask_build.py                     # 10,000 COGs, 20 ms latency, 3 reps
    python benches/dask_build.py --reps 1 --cogs 2000

Data (written once, deterministic, cached under ``benches/.data/build10k-v1/``): 10,000
distinct GDAL-written COGs, one per scene, each its own file and URL: 256x256 uint16, one
band, DEFLATE + predictor 2, 128-px tiles (2x2 tiles and one overview), each with its own
origin and pixel content (``(x + 2y + 37k) mod 65000``). The benchmarks' HTTP server serves
them with 20 ms of injected latency and counts the requests.

Each run is a fresh process timing ``build_from_table(table, name=..., enrich_cog=True)`` of
a 10,000-row record table (one URL per row; the table is made before timing, the collection
is written to a local workspace inside the timed region):

- ``serial``: no Dask, the headers parsed in the process (``max_concurrent=300``);
- ``dask-1`` / ``dask-2``: ``shards=S`` (default 8) on a fresh ``distributed.LocalCluster``
  of 1 or 2 worker processes with 1 thread each; rasteret, pyarrow, dask and distributed are
  imported in the client and on every worker before timing (cluster start-up is untimed).

Printed: median seconds (min-max) and COGs/s per mode, requests per COG from the server's
counter (a header that fits the 64 KiB read-ahead costs one request), the CPU seconds of the
client, the workers and the server per run (they share the machine's cores), the summed run
time of the shard tasks (from the scheduler's task stream), the 1 -> 2 worker
efficiency ``t1 / (2 * t2)``, and whether the three collections hold identical rows (every
column, compared after sorting by id).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DATA = BENCH_DIR / ".data" / "build10k-v1"
MODES = {"serial": 0, "dask-1": 1, "dask-2": 2}
SIZE = 256


def ensure_data(n: int) -> Path:
    """Write the ``n`` COGs that are missing (about 6 ms each); ``DATA`` when done."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    DATA.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    base = (xx + 2 * yy).astype(np.int64)
    written = 0
    for k in range(n):
        path = DATA / f"s{k:05d}.tif"
        if path.exists():
            continue
        data = ((base + 37 * k) % 65000).astype(np.uint16)
        profile = dict(
            driver="COG",
            width=SIZE,
            height=SIZE,
            count=1,
            dtype="uint16",
            crs="EPSG:32633",
            transform=from_origin(300000 + 2560 * (k % 100), 5000000 - 2560 * (k // 100), 10, 10),
            compress="DEFLATE",
            predictor=2,
            blocksize=128,
        )
        partial = path.with_name(f".{path.name}.partial")
        with rasterio.open(partial, "w", **profile) as dst:
            dst.write(data, 1)
        os.replace(partial, path)
        written += 1
    if written:
        print(f"wrote {written} COGs under {DATA}", file=sys.stderr)
    return DATA


def _imports() -> None:
    """Run in the client and on every worker before timing."""
    import dask  # noqa: F401
    import distributed  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import rasteret  # noqa: F401
    import rasteret.ingest.sharded  # noqa: F401
    import rasteret.read.engine  # noqa: F401


def _record_table(base_url: str, n: int) -> Any:
    import datetime as dt

    import pyarrow as pa
    import shapely

    start = dt.datetime(2024, 1, 1)
    return pa.table(
        {
            "id": [f"s{k:05d}" for k in range(n)],
            "datetime": pa.array(
                [start + dt.timedelta(minutes=k) for k in range(n)], pa.timestamp("us")
            ),
            "geometry": [
                shapely.box(15 + 0.03 * (k % 100), 45 - 0.03 * (k // 100), 15.03, 45.03).wkb
                for k in range(n)
            ],
            "url": [f"{base_url}/s{k:05d}.tif" for k in range(n)],
        }
    )


def child(mode: str, base_url: str, n: int, workspace: str, shards: int) -> None:
    """One timed build in this (fresh) process; prints a JSON line."""
    import contextlib

    _imports()
    import rasteret

    table = _record_table(base_url, n)
    workers = MODES[mode]

    def build() -> Any:
        return rasteret.build_from_table(
            table,
            name="scenes",
            workspace_dir=workspace,
            href_column="url",
            band_index_map={"B1": 0},
            enrich_cog=True,
            max_concurrent=300,
            shards=shards if workers else None,
        )

    with contextlib.ExitStack() as stack:
        if workers:
            from distributed import Client, LocalCluster

            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    # the scheduler's HTTP routes on a free port: 8787 may be another cluster's
                    scheduler_kwargs={"dashboard_address": ":0"},
                )
            )
            client = stack.enter_context(Client(cluster))
            client.run(_imports)
            worker_cpu0 = sum(client.run(time.process_time).values())
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        if workers:
            from distributed import get_task_stream

            with get_task_stream(client) as stream:
                coll = build()
        else:
            coll = build()
        seconds = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        task_seconds = worker_cpu = 0.0
        if workers:
            worker_cpu = sum(client.run(time.process_time).values()) - worker_cpu0
            task_seconds = sum(
                s["stop"] - s["start"]
                for task in stream.data
                if str(task["key"]).startswith("rasteret-enrich-")
                for s in task["startstops"]
                if s["action"] == "compute"
            )
    parsed = coll.to_table(columns=["B1_metadata"]).column("B1_metadata")
    result = {"seconds": seconds, "rows": len(parsed), "nulls": parsed.null_count}
    result.update(client_cpu=client_cpu, worker_cpu=worker_cpu, task_seconds=task_seconds)
    print(json.dumps(result))


def _sorted_rows(workspace: Path) -> Any:
    import pyarrow.compute as pc
    import rasteret

    table = rasteret.load(workspace / "scenes_records").to_table()
    return table.take(pc.sort_indices(table, [("id", "ascending")]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cogs", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, base_url, n, workspace, shards = args.child
        child(mode, base_url, int(n), workspace, int(shards))
        return 0
    sys.path.insert(0, str(BENCH_DIR))
    from async_range_server import AsyncRangeServer

    t0 = time.perf_counter()
    root = ensure_data(args.cogs)
    print(f"data ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    modes = args.modes.split(",")
    times: dict[str, list[float]] = {m: [] for m in modes}
    requests: dict[str, list[int]] = {m: [] for m in modes}
    server_cpu: dict[str, list[float]] = {m: [] for m in modes}
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    reference = None
    identical = True
    with AsyncRangeServer(root) as server, tempfile.TemporaryDirectory() as tmp:
        server.latency_ms = args.latency_ms
        for rep in range(args.reps):
            for mode in modes if rep % 2 == 0 else modes[::-1]:
                workspace = Path(tmp) / f"{mode}-{rep}"
                server.reset_log()
                cpu0 = time.process_time()  # this process only serves requests meanwhile
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        mode,
                        server.base_url.rstrip("/"),
                        str(args.cogs),
                        str(workspace),
                        str(args.shards),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                server_cpu[mode].append(time.process_time() - cpu0)
                requests[mode].append(server.count())
                result = json.loads(out.stdout.strip().splitlines()[-1])
                assert result["rows"] == args.cogs and result["nulls"] == 0, result
                times[mode].append(result["seconds"])
                results[mode].append(result)
                rows = _sorted_rows(workspace)
                if reference is None:
                    reference = rows
                elif not rows.equals(reference):
                    identical = False
                    print(f"rows differ: {mode} rep {rep}", file=sys.stderr)
                shutil.rmtree(workspace)
                print(
                    f"  rep {rep} {mode}: {result['seconds']:.3f} s, {requests[mode][-1]} "
                    f"requests; CPU s: client {result['client_cpu']:.2f}, workers "
                    f"{result['worker_cpu']:.2f}, server {server_cpu[mode][-1]:.2f}; shard "
                    f"tasks {result['task_seconds']:.2f} s",
                    file=sys.stderr,
                )
    print(
        f"distributed build: {args.cogs} COGs, {args.latency_ms:g} ms latency, {args.reps} "
        f"reps, shards={args.shards}, load at end {os.getloadavg()[0]:.2f}"
    )
    for mode in modes:
        t = times[mode]
        med = statistics.median(t)
        per_cog = statistics.median(requests[mode]) / args.cogs
        print(
            f"  {mode:7s}: {med:6.3f} s ({min(t):.3f}-{max(t):.3f}) = {args.cogs / med:,.0f} "
            f"COGs/s; {per_cog:.2f} requests/COG"
        )
        med_of = {
            key: statistics.median(r[key] for r in results[mode])
            for key in ("client_cpu", "worker_cpu", "task_seconds")
        }
        print(
            f"           CPU s per run (medians): client {med_of['client_cpu']:.2f}, workers "
            f"{med_of['worker_cpu']:.2f}, server {statistics.median(server_cpu[mode]):.2f}"
            + (
                f"; shard tasks {med_of['task_seconds']:.2f} s in all = "
                f"{args.cogs / med_of['task_seconds']:,.0f} COGs/s per worker thread"
                if med_of["task_seconds"]
                else ""
            )
        )
    if "dask-1" in times and "dask-2" in times:
        t1, t2 = statistics.median(times["dask-1"]), statistics.median(times["dask-2"])
        print(f"  1 -> 2 workers: efficiency {t1 / (2 * t2):.2f}")
    print(f"  collections identical (every column, sorted by id): {identical}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
