"""Warm Python overhead of the public API over the engine, in one process.

    python benches/api_overhead.py                      # 20 ms latency, 7 reps
    python benches/api_overhead.py --latency-ms 0 --reps 9

For each workload the same pixels are read, alternately, through the public ``Collection``
call a user makes (the collection opened once, as in a session) and through the engine alone
(one ``read_column_into`` call with the layouts already in memory: the floor). One untimed
call of each first (the public output converted to the engine's array and checked equal);
then every repetition times both calls alone. The table gives the medians, their spread and
the overhead ``api / engine - 1``.

Workloads (the data of ``benches/run.py``; 12 scenes x 4 bands of 5490² DEFLATE COGs):

- ``get_numpy``: B2's 1024² window in every scene (12 boxes, 4 bands);
- ``get_gdf``: the same boxes as a GeoDataFrame;
- ``get_xarray``: B7's 12-date cube (``benches/cube.py``);
- ``read_window``: the same cube through ``read_window``;
- ``chips``: B3's 500 chips x 4 bands in one ``get_numpy(record_id_column=)``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cube  # noqa: E402
import workloads as wl  # noqa: E402


class _Untimed:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _engine(plan: dict[str, Any]) -> Callable[[], np.ndarray]:
    """The floor: one engine call with the header batch already in memory."""
    batch = wl._rasteret_headers(plan["urls"])
    return lambda: wl._rasteret_read(plan, batch)


def _session(plan: dict[str, Any], path: str) -> Any:
    wl.prepare_collection(plan, path)
    plan["collection_path"] = path
    return wl._bench_collection(plan)


def _aoi_calls(plan: dict[str, Any], coll: Any) -> dict[str, tuple[Callable[[], Any], Callable]]:
    col, row, w, h = plan["window"]
    boxes = [wl._scene_box(s, col, row, w, h) for s in range(plan["n_scenes"])]
    bands = list(wl.BANDS)

    def numpy_call() -> Any:
        return coll.get_numpy(boxes, bands, geometry_crs=32633)

    def gdf_call() -> Any:
        return coll.get_gdf(boxes, bands, geometry_crs=32633)

    return {
        "get_numpy": (numpy_call, lambda out: out.reshape(-1, h, w)),
        "get_gdf": (gdf_call, lambda gdf: np.stack(list(gdf["data"])).reshape(-1, h, w)),
    }


def _cube_calls(plan: dict[str, Any], coll: Any) -> dict[str, tuple[Callable[[], Any], Callable]]:
    import shapely

    _, _, w, h = plan["window"]
    bounds = cube.aoi_bounds(plan)
    bands = list(wl.BANDS)
    ids = [f"S{s:02d}" for s in range(plan["n_scenes"])]

    def xarray_call() -> Any:
        return coll.get_xarray(shapely.box(*bounds), bands, geometry_crs=32633)

    def window_call() -> Any:
        return coll.read_window(record_ids=ids, bounds=bounds, res=wl.PIXEL, bands=bands)

    return {
        "get_xarray": (xarray_call, lambda ds: cube._stack_bands(ds, h, w)),
        "read_window": (window_call, lambda stack: np.ascontiguousarray(stack).reshape(-1, h, w)),
    }


def _chips_call(plan: dict[str, Any], coll: Any) -> tuple[Callable[[], Any], Callable]:
    import pyarrow as pa
    import shapely

    n = plan["chip"]
    chips = pa.table(
        {
            "scene": [f"S{s:02d}" for s, _, _ in plan["chips"]],
            "geometry": shapely.to_wkb([wl._scene_box(s, c, r, n, n) for s, c, r in plan["chips"]]),
        }
    )

    def call() -> Any:
        return coll.get_numpy(
            chips,
            list(wl.BANDS),
            geometry_column="geometry",
            geometry_crs=32633,
            record_id_column="scene",
        )

    return call, lambda out: out.reshape(-1, n, n)


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--reps", type=int, default=7)
    args = p.parse_args(argv)

    from async_range_server import AsyncRangeServer

    wl._rasteret_import()
    cube._xarray_ready()
    wl.ensure_data(wl.N_SCENES, log=lambda m: None)
    cube.ensure_cube(wl.N_SCENES, log=lambda m: None)
    rows = []
    with AsyncRangeServer(wl.DATA_DIR) as server, tempfile.TemporaryDirectory() as tmp:
        server.latency_ms = args.latency_ms
        cases: list[tuple[str, Any, Callable[[], Any]]] = []
        for name in ("B2", "B7", "B3"):
            plan = wl.make_plan(wl.WORKLOADS[name], server.url, wl.N_SCENES, False)
            coll = _session(plan, str(Path(tmp) / f"{name}.parquet"))
            engine = _engine(plan)
            if name == "B2":
                calls = _aoi_calls(plan, coll)
            elif name == "B7":
                calls = _cube_calls(plan, coll)
            else:
                calls = {"chips (pairs)": _chips_call(plan, coll)}
            for label, call in calls.items():
                cases.append((label, call, engine))
        for label, (call, as_array), engine in cases:
            if not np.array_equal(as_array(call()), engine()):
                raise SystemExit(f"{label}: the public call and the engine read differ")
            api_s, engine_s = [], []
            for _ in range(args.reps):
                engine_s.append(_time(engine))
                api_s.append(_time(call))
            a, e = statistics.median(api_s), statistics.median(engine_s)
            rows.append((label, a, min(api_s), max(api_s), e, min(engine_s), max(engine_s)))
    print(f"## Warm public-API overhead, {args.latency_ms:g} ms latency, {args.reps} reps\n")
    print("| call | API median s (min-max) | engine median s (min-max) | overhead |")
    print("|---|---:|---:|---:|")
    for label, a, a0, a1, e, e0, e1 in rows:
        print(
            f"| {label} | {a:.3f} ({a0:.3f}-{a1:.3f}) | {e:.3f} ({e0:.3f}-{e1:.3f}) "
            f"| {100 * (a / e - 1):+.0f}% |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
