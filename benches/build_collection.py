"""B5 build: enrich a 2,000-COG record table over a local HTTP server with injected latency.

Measures what the collections issue asks for: COGs/s of ``build_from_table(enrich_cog=True)``
and requests per COG (headers that fit the 64 KiB read-ahead must cost ~1 request).

    python benches/build_collection.py [--cogs 2000] [--latency-ms 20] [--reps 5]

Each repetition runs in a fresh process; the median is reported. The COGs are 40 distinct
GDAL-written files (512 px, 256-px tiles, DEFLATE) exposed under 2,000 names (symlinks), so
every URL is fetched separately, as a build over a real archive would.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA = BENCH_DIR / ".data" / "b5-build-v1"
DISTINCT = 40


def ensure_data(n: int) -> Path:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(DISTINCT):
        path = DATA / f"src_{i:02d}.tif"
        if path.exists():
            continue
        data = rng.integers(0, 4000, (512, 512), dtype=np.uint16)
        profile = dict(
            driver="COG",
            width=512,
            height=512,
            count=1,
            dtype="uint16",
            crs="EPSG:32633",
            transform=from_origin(300000 + 5120 * i, 5000000, 10, 10),
            compress="DEFLATE",
            blocksize=256,
            predictor=2,
        )
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
    for k in range(n):
        link = DATA / f"cog_{k:05d}.tif"
        if not link.exists():
            link.symlink_to(DATA / f"src_{k % DISTINCT:02d}.tif")
    return DATA


def child(base_url: str, n: int) -> None:
    import datetime as dt

    import pyarrow as pa
    import rasteret
    import shapely

    table = pa.table(
        {
            "id": [f"r{k}" for k in range(n)],
            "datetime": pa.array([dt.datetime(2024, 1, 1)] * n, pa.timestamp("us")),
            "geometry": [shapely.box(10, 45, 10.1, 45.1).wkb] * n,
            "url": [f"{base_url}/cog_{k:05d}.tif" for k in range(n)],
        }
    )
    t0 = time.perf_counter()
    coll = rasteret.build_from_table(
        table, href_column="url", band_index_map={"B1": 0}, enrich_cog=True, max_concurrent=300
    )
    seconds = time.perf_counter() - t0
    ok = coll.to_table().column("B1_metadata").null_count == 0
    print(json.dumps({"seconds": seconds, "ok": ok}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cogs", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    from async_range_server import AsyncRangeServer as RangeServer

    root = ensure_data(args.cogs)
    runs = []
    with RangeServer(root) as server:
        server.latency_ms = args.latency_ms
        for _ in range(args.reps):
            server.reset_log()
            out = subprocess.run(
                [sys.executable, __file__, "--child", server.base_url.rstrip("/"), str(args.cogs)],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["requests"] = server.count()
            runs.append(result)
    med = statistics.median(r["seconds"] for r in runs)
    reqs = statistics.median(r["requests"] for r in runs)
    print(
        f"B5 build: {args.cogs} COGs, {args.latency_ms:g} ms latency, {args.reps} reps: "
        f"median {med:.3f} s = {args.cogs / med:.0f} COGs/s; "
        f"{reqs / args.cogs:.2f} requests/COG; all parsed: {all(r['ok'] for r in runs)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
