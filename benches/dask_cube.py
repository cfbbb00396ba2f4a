"""B7's cube (12 dates x 4 bands, one 1024² window) computed lazily on a Dask LocalCluster.

    python benches/dask_cube.py                      # 20 ms latency, 3 reps, 1 and 2 workers
    python benches/dask_cube.py --latency-ms 0 --reps 5

The same COGs as ``benches/cube.py`` (served by the benchmarks' HTTP server with injected
latency), the same window, through each tool's lazy Dask path, computed on a fresh
``distributed.LocalCluster`` of worker processes (1 thread each) per tool and repetition:

- ``rasteret``: ``Collection.get_xarray(box, bands, chunks={"y": 512, "x": 512})`` on a
  collection opened untimed (the index); the graph is built inside the timed region;
  ``rasteret-all-dates``: the same with ``"time": -1`` (every date of a spatial chunk read in
  one task, as lazycogs chunks);
- ``odc-stac``: ``odc.stac.load(items, geobox=..., chunks={"x": 512, "y": 512})``;
- ``stackstac``: ``stackstac.stack(items, bounds=..., chunksize=512)``;
- ``lazycogs``: ``lazycogs.open(items.parquet, bbox=..., crs=..., resolution=10,
  chunks={"y": 512, "x": 512})``, run by ``benches/dask_cube_lazycogs.py`` in another
  interpreter (lazycogs needs Python >= 3.12): ``--lazycogs-python``, by default the first of
  ``$LAZYCOGS_PYTHON``, ``/tmp/lazycogs-venv/bin/python`` and this interpreter that imports
  lazycogs; without one the tool is skipped with a message. That child starts its own
  LocalCluster of the same shape and reports its time; the requests are counted here.

Every run is a fresh process (its own Dask client and LocalCluster; the Range server runs in
this one), every tool's imports are done in that client and in every worker before timing (a
``client.run`` that imports them); the timed region is graph building plus ``compute``.
Results are checked equal to rasteret's eager ``get_xarray`` (``[time * band, y, x]``).
Printed: median seconds and spread per tool and worker count, the ratio to rasteret, the
scaling efficiency from 1 to 2 workers (``t1 / (2 * t2)``), the graph size, the requests
made and, with one worker, requests/s and decoded MB/s per worker core.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cube  # noqa: E402
import workloads as wl  # noqa: E402
from async_range_server import AsyncRangeServer  # noqa: E402

CHUNK = 512


def _imports(tool: str) -> None:
    """Run in the client and on every worker before timing: the modules each tool's graph
    building and tasks use (``import rasteret`` alone defers its submodules to first use)."""
    import dask.array  # noqa: F401
    import xarray  # noqa: F401

    if tool.startswith("rasteret"):
        import affine  # noqa: F401 - window transforms, imported by a read's first use
        import rasteret  # noqa: F401
        import rasteret.core.xarray_chunks  # noqa: F401
        import shapely  # noqa: F401
    else:
        os.environ.update(wl.GDAL_ENV)
        import rasterio  # noqa: F401

        if tool == "odc-stac":
            import odc.stac  # noqa: F401
        else:
            import stackstac  # noqa: F401


def _rasteret(plan: dict[str, Any], time_chunk: int = 1) -> Any:
    import shapely

    coll = wl._bench_collection(plan)
    box = shapely.box(*cube.aoi_bounds(plan))
    chunks = {"time": time_chunk, "y": CHUNK, "x": CHUNK}

    def build() -> Any:
        ds = coll.get_xarray(box, list(wl.BANDS), geometry_crs=32633, chunks=chunks)
        return ds, [ds[b].data for b in wl.BANDS]

    return build


def _rasteret_all_dates(plan: dict[str, Any]) -> Any:
    """Every date of a spatial chunk in one task (one Rust call), as lazycogs chunks."""
    return _rasteret(plan, time_chunk=-1)


def _odc(plan: dict[str, Any]) -> Any:
    import odc.stac
    from odc.geo.geobox import GeoBox

    items = cube.stac_items(plan)
    geobox = GeoBox.from_bbox(cube.aoi_bounds(plan), crs="EPSG:32633", resolution=wl.PIXEL)

    def build() -> Any:
        ds = odc.stac.load(
            items,
            bands=list(wl.BANDS),
            geobox=geobox,
            dtype="uint16",
            chunks={"x": CHUNK, "y": CHUNK},
        )
        return ds, [ds[b].data for b in wl.BANDS]

    return build


def _stackstac(plan: dict[str, Any]) -> Any:
    import stackstac

    items = cube.stac_items(plan)

    def build() -> Any:
        arr = stackstac.stack(
            items,
            assets=list(wl.BANDS),
            epsg=32633,
            resolution=wl.PIXEL,
            bounds=cube.aoi_bounds(plan),
            dtype="uint16",
            fill_value=np.uint16(0),
            rescale=False,
            chunksize=CHUNK,
        )
        return arr, [arr[:, b].data for b in range(len(wl.BANDS))]

    return build


TOOLS = {
    "rasteret": _rasteret,
    "rasteret-all-dates": _rasteret_all_dates,
    "odc-stac": _odc,
    "stackstac": _stackstac,
    "lazycogs": None,
}
LAZYCOGS_CHILD = Path(__file__).resolve().parent / "dask_cube_lazycogs.py"
LAZYCOGS_CANDIDATES = ("/tmp/lazycogs-venv/bin/python",)


def lazycogs_python(explicit: str | None) -> str | None:
    """The interpreter that runs the lazycogs leg, or ``None`` (printed why)."""
    env = os.environ.get("LAZYCOGS_PYTHON")
    candidates = [explicit] if explicit else [env, *LAZYCOGS_CANDIDATES, sys.executable]
    for python in filter(None, candidates):
        if not (os.path.exists(python) or shutil.which(python)):
            if explicit:
                print(f"lazycogs skipped: no interpreter at {python}")
                return None
            continue
        probe = subprocess.run(
            [python, str(LAZYCOGS_CHILD), "--probe"], capture_output=True, text=True
        )
        if probe.returncode == 0:
            return python
        if explicit:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            print(f"lazycogs skipped: {python} cannot import lazycogs + distributed: {last}")
            return None
    print(
        "lazycogs skipped: no interpreter imports lazycogs and distributed (lazycogs needs "
        "Python >= 3.12; see benches/README.md); pass --lazycogs-python PATH"
    )
    return None


def _run_child(argv: list[str], server: Any, out_path: str) -> tuple[float, np.ndarray, int, int]:
    """Run one timed leg as ``argv`` (a fresh process that prints ``{"seconds", "tasks"}``
    last and saves the cube to ``out_path``); the Range server here counts its requests."""
    server.reset_log()  # the child makes no request before its timed region
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:3]} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], np.load(out_path), result["tasks"], server.count()


def _lazycogs_one(
    plan: dict[str, Any], workers: int, server: Any, python: str, tmp: str
) -> tuple[float, np.ndarray, int, int]:
    """One lazycogs run in ``python`` (a fresh LocalCluster in that process)."""
    spec = {
        "items": [item.to_dict() for item in cube.stac_items(plan)],
        "bounds": list(cube.aoi_bounds(plan)),
        "crs": "EPSG:32633",
        "resolution": wl.PIXEL,
        "bands": list(wl.BANDS),
        "chunk": CHUNK,
        "workers": workers,
    }
    spec_path, out_path = os.path.join(tmp, "lazycogs.json"), os.path.join(tmp, "lazycogs.npy")
    Path(spec_path).write_text(json.dumps(spec))
    argv = [python, str(LAZYCOGS_CHILD), "--spec", spec_path, "--out", out_path]
    return _run_child(argv, server, out_path)


def _one_in_child(
    tool: str, plan: dict[str, Any], workers: int, server: Any, tmp: str
) -> tuple[float, np.ndarray, int, int]:
    """One run of ``tool`` in a fresh process (its own client and LocalCluster), so no tool's
    client shares a process, an interpreter lock or warm caches with the Range server or an
    earlier run; the requests are counted here."""
    plan_path, out_path = os.path.join(tmp, "plan.json"), os.path.join(tmp, "cube.npy")
    Path(plan_path).write_text(json.dumps(plan))
    argv = [sys.executable, __file__, "--child", tool, str(workers), plan_path, out_path]
    return _run_child(argv, server, out_path)


def _child(tool: str, workers: int, plan_path: str, out_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    seconds, stacked, tasks, _ = _one(tool, plan, workers, None)
    np.save(out_path, stacked)
    print(json.dumps({"seconds": seconds, "tasks": tasks}))


def _one(
    tool: str, plan: dict[str, Any], workers: int, server: Any
) -> tuple[float, np.ndarray, int, int]:
    """One run of ``tool`` on a fresh LocalCluster (``server`` None: requests not counted)."""
    import dask
    from distributed import Client, LocalCluster

    _imports(tool)
    build = TOOLS[tool](plan)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: 8787 may be taken
            worker_dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_imports, tool)
        if server is not None:
            server.reset_log()
        t0 = time.perf_counter()
        _, arrays = build()
        values = dask.compute(*arrays)
        seconds = time.perf_counter() - t0
        requests = server.count() if server is not None else -1
        tasks = len(dict(arrays[0].__dask_graph__()))
    h, w = plan["window"][3], plan["window"][2]
    stacked = np.stack([np.asarray(v).reshape(-1, h, w) for v in values], axis=1)
    return seconds, stacked.reshape(-1, h, w), tasks, requests


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--lazycogs-python", help="interpreter with lazycogs + distributed (Python >= 3.12)"
    )
    args = parser.parse_args()
    tools = args.tools.split(",")
    python = lazycogs_python(args.lazycogs_python) if "lazycogs" in tools else None
    if "lazycogs" in tools and python is None:
        tools.remove("lazycogs")
    cube.ensure_cube(wl.N_SCENES)
    with AsyncRangeServer(wl.DATA_DIR) as server, tempfile.TemporaryDirectory() as tmp:
        plan = wl.make_plan(wl.WORKLOADS["B7"], server.url, wl.N_SCENES, False)
        path = os.path.join(tmp, "c.parquet")
        wl.prepare_collection(plan, path)
        plan["collection_path"] = path
        eager = cube.rasteret_api_cube(plan, _NoTimer())
        server.latency_ms = args.latency_ms
        times: dict[tuple[str, int], list[float]] = {}
        sizes: dict[str, int] = {}
        counts: dict[str, int] = {}
        for rep in range(args.reps):
            for workers in (1, 2):
                for tool in tools if rep % 2 == 0 else tools[::-1]:
                    if tool == "lazycogs":
                        assert python is not None
                        run = _lazycogs_one(plan, workers, server, python, tmp)
                    else:
                        run = _one_in_child(tool, plan, workers, server, tmp)
                    seconds, got, tasks, requests = run
                    assert np.array_equal(got, eager), f"{tool}: pixels differ from rasteret"
                    times.setdefault((tool, workers), []).append(seconds)
                    sizes[tool] = tasks
                    counts[tool] = requests
    base = {n: statistics.median(times[("rasteret", n)]) for n in (1, 2) if "rasteret" in tools}
    # decoded bytes: the 512-px tiles under the window, 2 bytes a pixel, in all 48 files
    col, row, w, h = plan["window"]
    tiles = (((col + w - 1) // wl.TILE - col // wl.TILE) + 1) * (
        ((row + h - 1) // wl.TILE - row // wl.TILE) + 1
    )
    decoded_mb = tiles * wl.TILE * wl.TILE * 2 * wl.N_SCENES * wl.N_BANDS / 1e6
    print(f"latency {args.latency_ms:g} ms, {args.reps} reps, chunks {CHUNK}², pixels identical")
    for tool in tools:
        for workers in (1, 2):
            t = times[(tool, workers)]
            med = statistics.median(t)
            print(
                f"  {tool:10s} {workers} worker(s): {med:6.3f} s ({min(t):.3f}-{max(t):.3f})"
                + (f"  {med / base[workers]:5.2f}x rasteret's time" if base else "")
            )
        t1 = statistics.median(times[(tool, 1)])
        t2 = statistics.median(times[(tool, 2)])
        # lazycogs' graph is one (band, time, y, x) array: its keys cover the 4 bands
        keys = "keys, 4 bands" if tool == "lazycogs" else "keys per band"
        print(
            f"  {tool:10s} 1 -> 2 workers: efficiency {t1 / (2 * t2):.2f}; graph "
            f"{keys} {sizes[tool]}; {counts[tool]} requests; one worker core: "
            f"{counts[tool] / t1:.0f} requests/s, {decoded_mb / t1:.0f} MB/s decoded"
        )


class _NoTimer:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
