"""Zonal statistics: ``Collection.zonal_stats`` vs ``rasterstats.zonal_stats`` and
``exactextract`` on the same COGs, served over HTTP by the benchmarks' Range server.

    python benches/zonal_bench.py                       # 300 polygons, 2 scenes x 4 bands
    python benches/zonal_bench.py --polygons 10000 --scenes 12 --latency-ms 20 --reps 3
    python benches/zonal_bench.py --all-touched         # every touched pixel counts

Data: the S2-like scenes of ``benches/workloads.py`` (5490 x 5490 uint16, DEFLATE, 512-px
tiles; generated once if missing). Polygons: random convex "parcels" of 100-600 m across,
spread evenly over the scenes (side by side), in their CRS; rasterstats and exactextract get
each file with the polygons of its scene only. Each tool runs in a fresh subprocess
(cold caches, imports outside the timed region): rasteret ``--reps`` times (the median is
reported), the others ``--slow-reps`` times (default once: rasterstats takes many minutes at
10,000 polygons). rasterstats and exactextract read through GDAL's ``/vsicurl/``; rasteret's
index (one header read per file, ``build_from_table``) is built before its timed region and
its time printed apart.

rasteret's values are checked equal to rasterstats' (count, min, max exactly; sum, mean,
std to 1e-9) before the times are printed. exactextract weights each pixel by the fraction
of it the polygon covers and has no pixel-centre mode: with the default rule its values are
compared and the share that differs printed; with ``--all-touched`` it runs with
``coverage_weight=none`` (every pixel with any coverage counts whole), which is rasterstats'
``all_touched=True``, and its values too must be equal.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

STATS = ["count", "sum", "mean", "min", "max", "std"]
EXACTEXTRACT_OPS = ["count", "sum", "mean", "min", "max", "stdev"]
GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
}


def _polygons(n: int, bounds: tuple[float, float, float, float], seed: int = 7) -> list[bytes]:
    import numpy as np
    import shapely

    rng = np.random.default_rng(seed)
    left, bottom, right, top = bounds
    out = []
    for _ in range(n):
        size = rng.uniform(100, 600)
        cx = rng.uniform(left + size, right - size)
        cy = rng.uniform(bottom + size, top - size)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radii = size / 2 * rng.uniform(0.6, 1.0, 7)
        ring = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
        out.append(shapely.Polygon(ring).convex_hull.wkb)
    return out


def _exactextract_row(row: dict) -> list:
    """One exactextract row as rasterstats reports it (count an int when whole, None for
    the statistics of a polygon without pixels)."""
    import math

    count = float(row["count"])
    out: list = [int(count) if count.is_integer() else count]
    for name in STATS[1:]:
        value = float(row[name])
        out.append(None if count == 0 or math.isnan(value) else value)
    return out


def _child(tool: str, spec: dict) -> dict:
    """Run one tool (in this fresh process) and return its time and values."""
    import shapely

    shapes = [shapely.from_wkb(w) for w in spec["polygons"]]
    urls = spec["urls"]  # scene -> band -> url
    all_touched = spec["all_touched"]
    if tool == "rasteret":
        import datetime as dt

        import pyarrow as pa
        import rasteret

        bands = [f"B{b + 1}" for b in range(len(urls[0]))]
        table = pa.table(
            {
                "id": [f"S{s:02d}" for s in range(len(urls))],
                "datetime": pa.array(
                    [dt.datetime(2024, 1, 1 + s) for s in range(len(urls))], pa.timestamp("us")
                ),
                "geometry": [shapely.box(*b).wkb for b in spec["footprints4326"]],
                "assets": [
                    {band: {"href": url} for band, url in zip(bands, scene, strict=True)}
                    for scene in urls
                ],
            }
        )
        t0 = time.perf_counter()
        coll = rasteret.build_from_table(table, enrich_cog=True)  # the index: not timed
        index_seconds = time.perf_counter() - t0
        t0, cpu0 = time.perf_counter(), time.process_time()
        got = coll.zonal_stats(
            shapes, bands, stats=STATS, geometry_crs=spec["epsg"], all_touched=all_touched
        )
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        rows = got.to_pylist()
        values = {
            f"{r['record_id']}/{r['band']}/{r['geometry_index']}": [r[s] for s in STATS]
            for r in rows
        }
        return {"seconds": seconds, "cpu": cpu, "index_seconds": index_seconds, "values": values}
    import os

    os.environ.update(GDAL_ENV)
    if tool == "rasterstats":
        import warnings

        from rasterstats import zonal_stats

        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        values = {}
        for s, bands in enumerate(urls):
            mine = [g for g, scene in enumerate(spec["scene_of"]) if scene == s]
            for b, url in enumerate(bands):
                out = zonal_stats(
                    [shapes[g] for g in mine],
                    "/vsicurl/" + url,
                    stats=STATS,
                    all_touched=all_touched,
                )
                for g, st in zip(mine, out, strict=True):
                    values[f"S{s:02d}/B{b + 1}/{g}"] = [st[k] for k in STATS]
        return {"seconds": time.perf_counter() - t0, "values": values}
    if tool == "exactextract":
        import geopandas as gpd
        import rasterio
        from exactextract import exact_extract

        # the default weights every pixel by the fraction of it the polygon covers; with
        # coverage_weight=none every pixel with any coverage counts whole: rasterstats'
        # all_touched=True rule (there is no mode for the pixel-centre rule)
        arg = "(coverage_weight=none)" if all_touched else ""
        ops = [f"{s}={op}{arg}" for s, op in zip(STATS, EXACTEXTRACT_OPS, strict=True)]
        frame = gpd.GeoDataFrame(geometry=shapes, crs=f"EPSG:{spec['epsg']}")
        t0 = time.perf_counter()
        values = {}
        for s, bands in enumerate(urls):
            mine = [g for g, scene in enumerate(spec["scene_of"]) if scene == s]
            for b, url in enumerate(bands):
                with rasterio.open("/vsicurl/" + url) as src:
                    out = exact_extract(src, frame.iloc[mine], ops, output="pandas")
                for g, row in zip(mine, out.itertuples(index=False), strict=True):
                    values[f"S{s:02d}/B{b + 1}/{g}"] = _exactextract_row(row._asdict())
        return {"seconds": time.perf_counter() - t0, "values": values}
    raise ValueError(tool)


def _run_child(tool: str, spec_path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, "--spec", str(spec_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{tool} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check(reference: dict, other: dict, name: str) -> None:
    import math

    assert reference.keys() == other.keys(), f"{name}: different rows"
    for key, want in reference.items():
        got = other[key]
        for stat, a, b in zip(STATS, got, want, strict=True):
            if a is None or b is None:
                assert a is None and b is None, (name, key, stat, a, b)
            elif stat in ("count", "min", "max"):
                assert a == b, (name, key, stat, a, b)
            else:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (name, key, stat, a, b)


def _differences(reference: dict, other: dict) -> str:
    """How exactextract's coverage-weighted values differ from the pixel-centre ones."""
    import numpy as np

    keys = [k for k in reference if k in other and reference[k][0] and other[k][0]]
    ref = np.array([reference[k] for k in keys], dtype=float)
    got = np.array([other[k] for k in keys], dtype=float)
    parts = [f"{len(keys)} rows with pixels in both"]
    for j, stat in enumerate(STATS):
        differ = ~np.isclose(got[:, j], ref[:, j], rtol=1e-9, atol=1e-9)
        rel = np.abs(got[:, j] - ref[:, j]) / np.maximum(np.abs(ref[:, j]), 1e-12)
        parts.append(
            f"{stat}: {differ.mean():.1%} differ (median {np.median(rel):.2e}, "
            f"max {rel.max():.2e} relative)"
        )
    return "\n    ".join(parts)


def _timed(tool: str, spec_path: Path, reps: int) -> dict:
    """``reps`` fresh-process runs of a tool: the values of the first, every time."""
    runs = [_run_child(tool, spec_path) for _ in range(reps)]
    times = sorted(r["seconds"] for r in runs)
    print(f"  {tool}: " + ", ".join(f"{t:.3f}" for t in times) + " s", file=sys.stderr)
    out = {"seconds": times[len(times) // 2], "all": times, "values": runs[0]["values"]}
    for key in ("cpu", "index_seconds"):
        if key in runs[0]:
            out[key] = sorted(r[key] for r in runs)[len(runs) // 2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polygons", type=int, default=300)
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--reps", type=int, default=1, help="fresh-process runs of rasteret")
    parser.add_argument(
        "--slow-reps", type=int, default=1, help="fresh-process runs of rasterstats/exactextract"
    )
    parser.add_argument("--tools", default="rasteret,rasterstats,exactextract")
    parser.add_argument(
        "--all-touched",
        action="store_true",
        help="count every touched pixel (exactextract then runs with coverage_weight=none)",
    )
    parser.add_argument("--json", help="write the times (not the values) here")
    parser.add_argument("--child")
    parser.add_argument("--spec")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(Path(args.spec).read_text())
        spec["polygons"] = [bytes.fromhex(h) for h in spec["polygons"]]
        print(json.dumps(_child(args.child, spec)))
        return

    import tempfile

    import rasterio
    import workloads as wl
    from async_range_server import AsyncRangeServer
    from rasterio.warp import transform_bounds

    tools = [t for t in args.tools.split(",") if t]
    data = wl.ensure_data(args.scenes, log=lambda m: print(m, file=sys.stderr))
    paths = [
        [data / wl.cog_name("deflate", s, b) for b in range(wl.N_BANDS)] for s in range(args.scenes)
    ]
    footprints = []
    for scene in paths:
        with rasterio.open(scene[0]) as src:
            epsg = src.crs.to_epsg()
            footprints.append(tuple(src.bounds))
    per_scene = [
        args.polygons // args.scenes + (s < args.polygons % args.scenes) for s in range(args.scenes)
    ]
    polygons, scene_of = [], []
    for s, n in enumerate(per_scene):
        polygons += _polygons(n, footprints[s], seed=7 + s)
        scene_of += [s] * n
    results = {}
    with AsyncRangeServer(data) as server:
        server.latency_ms = args.latency_ms
        urls = [[server.url(str(p.relative_to(data))) for p in scene] for scene in paths]
        spec = {
            "polygons": [p.hex() for p in polygons],
            "urls": urls,
            "epsg": epsg,
            "scene_of": scene_of,
            "all_touched": args.all_touched,
            "footprints4326": [
                transform_bounds(f"EPSG:{epsg}", "EPSG:4326", *f) for f in footprints
            ],
        }
        with tempfile.TemporaryDirectory() as tmp:
            spec_path = Path(tmp) / "spec.json"
            spec_path.write_text(json.dumps(spec))
            for tool in tools:
                reps = args.reps if tool == "rasteret" else args.slow_reps
                results[tool] = _timed(tool, spec_path, reps)
    n_files = args.scenes * wl.N_BANDS
    rule = "all_touched" if args.all_touched else "pixel centres"
    print(
        f"{args.polygons} polygons x {n_files} COGs ({args.scenes} scenes x {wl.N_BANDS} bands), "
        f"HTTP latency {args.latency_ms:g} ms, {rule}"
    )
    reference = results.get("rasterstats")
    if reference is not None:
        for tool in ("rasteret", "exactextract"):
            if tool not in results:
                continue
            if tool == "rasteret" or args.all_touched:
                _check(reference["values"], results[tool]["values"], tool)
                print(f"  {tool}: every value equal to rasterstats")
            else:
                diff = _differences(reference["values"], results[tool]["values"])
                print(f"  exactextract (coverage fractions) vs rasterstats:\n    {diff}")
    others = [r["seconds"] for t, r in results.items() if t != "rasteret"]
    for tool, r in results.items():
        line = f"  {tool:12s} {r['seconds']:8.3f} s (median of {len(r['all'])})"
        if tool == "rasteret" and others:
            line += f"   {min(others) / r['seconds']:6.2f}x the faster other tool"
        print(line)
        if "cpu" in r:
            print(f"  {'':12s} {r['cpu']:8.3f} CPU-s (all threads of the process)")
        if "index_seconds" in r:
            print(f"  {'':12s} {r['index_seconds']:8.3f} s before that: build the index (headers)")
    if args.json:
        summary = {t: {k: v for k, v in r.items() if k != "values"} for t, r in results.items()}
        meta = {"polygons": args.polygons, "scenes": args.scenes, "bands": wl.N_BANDS}
        meta.update(latency_ms=args.latency_ms, all_touched=args.all_touched)
        Path(args.json).write_text(json.dumps({**meta, "tools": summary}, indent=1))


if __name__ == "__main__":
    main()
