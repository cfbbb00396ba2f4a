"""Static catalog build: ``build_from_stac(static_catalog=True)`` over a generated static STAC
catalog (1,000 items x 4 COG assets) served over HTTP with injected latency.

    python benches/static_catalog_bench.py [--items 1000] [--latency-ms 20] [--reps 3]
                                           [--max-concurrent 50]
    python benches/static_catalog_bench.py --src /tmp/rasteret-before/python   # another tree

Layout (written once under ``benches/.data/static-catalog-v1/``, gitignored):
``catalog/catalog.json`` -> ``catalog/bench/collection.json`` -> ``catalog/bench/<id>/<id>.json``
(relative link hrefs), each item with 4 assets whose relative hrefs resolve to
``cogs/<id>/b<k>.tif``: symlinks to 16 distinct GDAL-written COGs (512 px, 256-px tiles,
DEFLATE), so each of the 4,000 URLs is fetched separately as over a real archive.

Each repetition runs in a fresh process that imports everything before the clock starts
(``--src DIR`` puts DIR first on that process's ``PYTHONPATH``, e.g. an export of an older
commit's ``python/`` with the engine copied in, for a before/after comparison). Reported:
items/s of the median run, the range over the runs, requests per item (at best 1 item
document + 4 COG headers) and the build process's CPU time (user + system, all its threads;
steadier than wall time on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
DATA = BENCH_DIR / ".data" / "static-catalog-v1"
DISTINCT = 16
BANDS = ("b1", "b2", "b3", "b4")
EPSG = 32633


def _write_cogs() -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(7)
    (DATA / "src").mkdir(parents=True, exist_ok=True)
    for i in range(DISTINCT):
        path = DATA / "src" / f"src_{i:02d}.tif"
        if path.exists():
            continue
        profile = dict(
            driver="COG",
            width=512,
            height=512,
            count=1,
            dtype="uint16",
            crs=f"EPSG:{EPSG}",
            transform=from_origin(300000 + 5120 * i, 5000000, 10, 10),
            compress="DEFLATE",
            blocksize=256,
            predictor=2,
        )
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(rng.integers(0, 4000, (512, 512), dtype=np.uint16), 1)


def _item(k: int) -> dict:
    item_id = f"scene-{k:05d}"
    x0, y0 = 10.0 + (k % 40) * 0.05, 45.0 + (k // 40) * 0.05
    day = 1 + k % 28
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": item_id,
        "collection": "bench",
        "bbox": [x0, y0, x0 + 0.05, y0 + 0.05],
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[x0, y0], [x0 + 0.05, y0], [x0 + 0.05, y0 + 0.05], [x0, y0 + 0.05], [x0, y0]]
            ],
        },
        "properties": {
            "datetime": f"2024-{1 + k % 12:02d}-{day:02d}T10:00:00Z",
            "eo:cloud_cover": float(k % 100),
            "proj:epsg": EPSG,
        },
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
        ],
        "assets": {
            band: {
                "href": f"../../../cogs/{item_id}/{band}.tif",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
            }
            for band in BANDS
        },
    }


def ensure_data(n: int) -> Path:
    """Write the COGs, the asset symlinks and the catalog (once); returns the served root."""
    _write_cogs()
    catalog = DATA / f"catalog-{n}"
    if (catalog / "catalog.json").exists():
        return DATA
    items = [_item(k) for k in range(n)]
    for k, item in enumerate(items):
        cog_dir = DATA / "cogs" / item["id"]
        cog_dir.mkdir(parents=True, exist_ok=True)
        for b, band in enumerate(BANDS):
            link = cog_dir / f"{band}.tif"
            if not link.exists():
                link.symlink_to(DATA / "src" / f"src_{(4 * k + b) % DISTINCT:02d}.tif")
        item_dir = catalog / "bench" / item["id"]
        item_dir.mkdir(parents=True, exist_ok=True)
        (item_dir / f"{item['id']}.json").write_text(json.dumps(item))
    collection = {
        "type": "Collection",
        "stac_version": "1.0.0",
        "id": "bench",
        "description": f"{n} generated items",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[10.0, 45.0, 12.05, 46.3]]},
            "temporal": {"interval": [["2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z"]]},
        },
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
        ]
        + [
            {"rel": "item", "href": f"./{i['id']}/{i['id']}.json", "type": "application/json"}
            for i in items
        ],
    }
    (catalog / "bench" / "collection.json").write_text(json.dumps(collection))
    root = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "bench-root",
        "description": "static catalog benchmark",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            {"rel": "child", "href": "./bench/collection.json", "type": "application/json"},
        ],
    }
    (catalog / "catalog.json").write_text(json.dumps(root))
    return DATA


def child(url: str, workspace: str, max_concurrent: int) -> None:
    import pystac  # noqa: F401 - imported before the clock starts
    import rasteret
    import rasteret.ingest.stac_indexer  # noqa: F401

    t0, cpu0 = time.perf_counter(), time.process_time()
    coll = rasteret.build_from_stac(
        name="bench",
        stac_api=url,
        collection="bench",
        band_map={b.upper(): b for b in BANDS},
        static_catalog=True,
        workspace_dir=workspace,
        force=True,
        max_concurrent=max_concurrent,
    )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    table = coll.to_table(columns=["id", "B1_metadata"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "records": table.num_rows,
                "parsed": table.num_rows - table.column("B1_metadata").null_count,
                "rasteret": rasteret.__file__,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--max-concurrent", type=int, default=50, help="build_from_stac's (default: its 50)"
    )
    parser.add_argument("--src", help="source tree (a python/ dir) first on the child's path")
    parser.add_argument("--child", nargs=3, metavar=("URL", "WS", "MC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    from async_range_server import AsyncRangeServer as RangeServer

    root = ensure_data(args.items)
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.src, env.get("PYTHONPATH")]))
    runs = []
    with RangeServer(root) as server, tempfile.TemporaryDirectory() as tmp:
        server.latency_ms = args.latency_ms
        url = server.url(f"catalog-{args.items}/catalog.json")
        for rep in range(args.reps):
            server.reset_log()
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    url,
                    str(Path(tmp) / f"ws{rep}"),
                    str(args.max_concurrent),
                ],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["requests"] = server.count()
            runs.append(result)
    seconds = sorted(r["seconds"] for r in runs)
    med = statistics.median(seconds)
    print(f"rasteret: {runs[0]['rasteret']}")
    print(
        f"static catalog build: {args.items} items x {len(BANDS)} COGs, "
        f"{args.latency_ms:g} ms latency, max_concurrent={args.max_concurrent}, "
        f"{args.reps} fresh processes: "
        f"median {med:.2f} s = {args.items / med:.0f} items/s "
        f"(runs {', '.join(f'{s:.2f}' for s in seconds)} s = "
        f"{args.items / seconds[-1]:.0f}-{args.items / seconds[0]:.0f} items/s); "
        f"{statistics.median(r['requests'] for r in runs) / args.items:.2f} requests/item; "
        f"CPU {statistics.median(r['cpu'] for r in runs):.2f} s (median, the build's process); "
        f"records {runs[0]['records']}, headers parsed {runs[0]['parsed']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
