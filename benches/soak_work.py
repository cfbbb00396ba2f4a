"""The soak run's worker process: threads looping over random public-API calls, each checked.

One worker (a spawned process) loads the reference collection, waits for the start signal,
then runs ``threads`` threads until ``duration_s`` has passed. Each thread draws one call at a
time from a weighted mix:

- ``build``: ``rasteret.build_from_table`` of 1-4 scenes (every band, ``enrich_cog=True``)
  into a fresh workspace; success = every ``{band}_metadata`` equal to the reference
  collection's (built by the parent with faults off);
- ``aoi``: ``Collection.get_numpy`` of a random triangle (EPSG:4326) or box (native CRS,
  ``geometry_crs=32633``) inside one scene, 1-3 bands; success = equal to
  ``rasterio.mask.mask(crop=True, filled=True, nodata=0)`` per band on the local file;
- ``points``: ``Collection.sample_points`` of 1-2000 random points over 1-4 scenes, 1-3
  bands; success = every (point, band) value equal to rasterio's ``sample``;
- ``chip``: TorchGeo-style chip reads: ``to_torchgeo_dataset`` samples of 1-4 pixel-aligned
  256x256 chips (``__getitems__``, what a ``DataLoader`` calls per batch) when TorchGeo
  imports, else ``get_numpy`` of 256x256 native-CRS boxes; success = equal to rasterio's
  window read.

A call that returns with part of its data missing in the documented way (a build's asset
that could not be read has null metadata; a point read that failed drops the samples of that
record and band; a failed band of an AOI stays at nodata) is counted as ``partial``, and the
rest of its data is still checked. Whether the documented warning was seen is counted too:
Python's warning filters are process-wide, so a ``warnings.catch_warnings`` block running in
another thread (pandas, torch and others use them) can swallow a warning, and the check does
not depend on it. A failure must be a :class:`rasteret.errors.RasteretError` (or an exception
chained to one: reported as ``"Outer from Inner"``); anything else is recorded as untyped. A
call still running ``deadline_s`` after it started is recorded as stuck (the deadline is the
engine's retry budget plus a margin). Results go to ``<result_dir>/worker<i>.json``.
"""

from __future__ import annotations

import faulthandler
import json
import os
import random
import shutil
import sys
import threading
import time
import traceback
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("GDAL_CACHEMAX", "32")  # bound the oracle's GDAL block cache (MiB)

import numpy as np  # noqa: E402

CHIP = 256
KINDS = ("build", "aoi", "points", "chip")
WEIGHTS = (0.1, 0.35, 0.25, 0.3)


class Tally:
    """Counters shared by a worker's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.ok: Counter[str] = Counter()
        self.partial: Counter[str] = Counter()
        self.partial_warned: Counter[str] = Counter()
        self.partial_examples: list[str] = []
        self.failed: dict[str, Counter[str]] = defaultdict(Counter)
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.untyped: list[dict[str, str]] = []
        self.mismatches: list[dict[str, str]] = []
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.stuck: list[dict[str, Any]] = []
        self.in_flight: dict[int, tuple[str, float, str]] = {}

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": dict(self.calls),
                "ok": dict(self.ok),
                "partial": dict(self.partial),
                "partial_warned": dict(self.partial_warned),
                "partial_examples": self.partial_examples[:10],
                "failed": {k: dict(v) for k, v in self.failed.items()},
                "examples": dict(self.examples),
                "untyped": self.untyped[:50],
                "untyped_count": len(self.untyped),
                "mismatches": self.mismatches[:50],
                "mismatch_count": len(self.mismatches),
                "stuck": self.stuck,
                "durations": {
                    k: {
                        "n": len(v),
                        "p50_s": float(np.percentile(v, 50)),
                        "p99_s": float(np.percentile(v, 99)),
                        "max_s": float(max(v)),
                    }
                    for k, v in self.durations.items()
                    if v
                },
            }


class Scenes:
    """The scenes (ids, local files, grid) and the reference band metadata."""

    def __init__(self, spec: dict[str, Any], reference: Any) -> None:
        self.ids: list[str] = spec["ids"]
        self.bands: list[str] = spec["bands"]
        self.paths: dict[str, dict[str, str]] = spec["paths"]
        self.urls: dict[str, dict[str, str]] = spec["urls"]
        self.footprints: dict[str, bytes] = {k: bytes.fromhex(v) for k, v in spec["wkb"].items()}
        self.datetimes: dict[str, str] = spec["datetimes"]
        self.origin: dict[str, tuple[float, float]] = {
            k: tuple(v) for k, v in spec["origin"].items()
        }
        self.size: int = spec["size"]
        self.res: float = spec["res"]
        self.epsg: int = spec["epsg"]
        rows = reference.to_table().to_pylist()
        self.metadata = {r["id"]: {b: r[f"{b}_metadata"] for b in self.bands} for r in rows}


_CALL = threading.local()

#: Documented partial-failure warnings: the call returns what it could read and warns.
PARTIAL_WARNINGS = (
    "Some records failed",
    "Partial read failures",
    "RasteretGeoDataset skipped failed COG reads",
    "could not be read; their band metadata is null",
)


def _record_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` replacement: keep the warning on the calling thread's list."""
    caught = getattr(_CALL, "warnings", None)
    if caught is not None:
        caught.append(f"{category.__name__}: {message}")


def _typed_in_chain(exc: BaseException) -> BaseException | None:
    """The first ``RasteretError`` among ``exc`` and its causes / contexts."""
    import rasteret.errors

    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        if isinstance(cur, rasteret.errors.RasteretError):
            return cur
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


# ---------------------------------------------------------------------------- the calls


def op_build(rng: random.Random, scenes: Scenes, ctx: dict[str, Any]) -> str | None:
    import datetime as dt

    import pyarrow as pa
    import rasteret

    ids = rng.sample(scenes.ids, rng.randint(1, len(scenes.ids)))
    table = pa.table(
        {
            "id": ids,
            "datetime": pa.array(
                [dt.datetime.fromisoformat(scenes.datetimes[i]) for i in ids], pa.timestamp("us")
            ),
            "geometry": [scenes.footprints[i] for i in ids],
            "assets": [{b: {"href": scenes.urls[i][b]} for b in scenes.bands} for i in ids],
        }
    )
    ctx["n"] += 1
    workspace = Path(ctx["tmp"]) / f"ws-{ctx['n']}"
    try:
        coll = rasteret.build_from_table(
            table,
            name=f"soak-{ctx['n']}",
            workspace_dir=workspace,
            enrich_cog=True,
            force=True,
        )
        rows = coll.to_table().to_pylist()
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    got_ids = sorted(r["id"] for r in rows)
    if got_ids != sorted(ids):
        return f"ids {got_ids} != {sorted(ids)}"
    for r in rows:
        for b in scenes.bands:
            meta = r[f"{b}_metadata"]
            if meta is None:  # documented: an asset that could not be read has null metadata
                ctx["partial"] = True
                continue
            if meta != scenes.metadata[r["id"]][b]:
                what = "missing" if meta is None else "different"
                return f"{r['id']} {b}_metadata {what} (reference: present)"
    return None


def _rand_bands(rng: random.Random, scenes: Scenes) -> list[str]:
    return sorted(rng.sample(scenes.bands, rng.randint(1, len(scenes.bands))))


def _mask_oracle(path: str, geom_native: Any) -> np.ndarray:
    import rasterio
    import rasterio.mask
    from shapely.geometry import mapping

    with rasterio.open(path) as src:
        data, _ = rasterio.mask.mask(
            src, [mapping(geom_native)], crop=True, filled=True, nodata=0, indexes=1
        )
    return data


def op_aoi(rng: random.Random, scenes: Scenes, ctx: dict[str, Any]) -> str | None:
    import pyarrow.dataset as pads
    import shapely
    from pyproj import Transformer

    sid = rng.choice(scenes.ids)
    bands = _rand_bands(rng, scenes)
    x0, y1 = scenes.origin[sid]
    extent = scenes.size * scenes.res
    span = rng.uniform(20, min(600, scenes.size - 2)) * scenes.res
    left = x0 + rng.uniform(0.5 * scenes.res, extent - span - 0.5 * scenes.res)
    top = y1 - rng.uniform(0.5 * scenes.res, extent - span - 0.5 * scenes.res)
    one = ctx["coll"].where(pads.field("id") == sid)
    if rng.random() < 0.6:  # a triangle in lon/lat: the mask matters
        native = shapely.Polygon(
            [
                (left + rng.uniform(0, span / 3), top - span),
                (left + span, top - rng.uniform(0, span)),
                (left + rng.uniform(0, span), top),
            ]
        )
        tf = Transformer.from_crs(scenes.epsg, 4326, always_xy=True)
        lonlat = shapely.transform(native, lambda xy: np.column_stack(tf.transform(*xy.T)))
        native = shapely.transform(
            lonlat,
            lambda xy: np.column_stack(
                Transformer.from_crs(4326, scenes.epsg, always_xy=True).transform(*xy.T)
            ),
        )
        got = one.get_numpy(lonlat, bands, geometry_crs=4326)
    else:  # a box in the scene's CRS, not pixel-aligned
        native = shapely.box(left, top - span * rng.uniform(0.3, 1.0), left + span, top)
        got = one.get_numpy(native, bands, geometry_crs=scenes.epsg)
    expected = np.stack([_mask_oracle(scenes.paths[sid][b], native) for b in bands])
    got = np.asarray(got)
    want_shape = (1, *expected.shape[1:]) if len(bands) == 1 else (1, *expected.shape)
    if got.shape != want_shape:
        return f"{sid} {bands}: shape {got.shape} != {want_shape}"
    got = got.reshape(expected.shape)
    for k, b in enumerate(bands):
        if np.array_equal(got[k], expected[k]):
            continue
        if not np.any(got[k]):  # documented: a failed band is left at nodata (and warned)
            ctx["partial"] = True
            continue
        diff = int(np.count_nonzero(got[k] != expected[k]))
        return f"{sid} {b}: {diff} pixels differ"
    return None


def op_points(rng: random.Random, scenes: Scenes, ctx: dict[str, Any]) -> str | None:
    import pyarrow as pa
    import rasterio

    chosen = rng.sample(scenes.ids, rng.randint(1, len(scenes.ids)))
    bands = _rand_bands(rng, scenes)
    n = rng.choice((1, 7, 100, 500, 2000))
    extent = scenes.size * scenes.res
    nprng = np.random.default_rng(rng.getrandbits(32))
    which = nprng.integers(0, len(chosen), n)
    xs = np.empty(n)
    ys = np.empty(n)
    for k, sid in enumerate(chosen):
        sel = which == k
        x0, y1 = scenes.origin[sid]
        xs[sel] = x0 + nprng.uniform(0.01, extent - 0.01, sel.sum())
        ys[sel] = y1 - nprng.uniform(0.01, extent - 0.01, sel.sum())
    out = ctx["coll"].sample_points(pa.table({"x": xs, "y": ys}), bands, geometry_crs=scenes.epsg)
    got: dict[tuple[int, str], float] = {}
    for pi, band, value in zip(
        out.column("point_index").to_pylist(),
        out.column("band").to_pylist(),
        out.column("value").to_pylist(),
        strict=True,
    ):
        if (pi, band) in got:
            return f"point {pi} band {band} returned twice"
        got[(pi, band)] = value
    if len(got) != n * len(bands):
        ctx["partial"] = True  # checked below: only whole (scene, band) reads may be missing
    for k, sid in enumerate(chosen):
        idx = np.flatnonzero(which == k)
        if idx.size == 0:
            continue
        for b in bands:
            present = [(i, b) in got for i in idx.tolist()]
            if not any(present):  # documented: a failed read drops its (record, band) samples
                continue
            if not all(present):
                return f"{sid} {b}: {present.count(False)} of {len(present)} points missing"
            with rasterio.open(scenes.paths[sid][b]) as src:
                want = [v[0] for v in src.sample(zip(xs[idx], ys[idx], strict=True), indexes=1)]
            for i, w in zip(idx.tolist(), want, strict=True):
                if got.get((i, b)) != w:
                    return f"{sid} {b} point {i}: {got.get((i, b))} != {w}"
    return None


def _chip_queries(rng: random.Random, scenes: Scenes) -> list[tuple[str, int, int]]:
    out = []
    for _ in range(rng.randint(1, 4)):
        sid = rng.choice(scenes.ids)
        out.append((sid, rng.randint(0, scenes.size - CHIP), rng.randint(0, scenes.size - CHIP)))
    return out


def _window(scenes: Scenes, sid: str, col: int, row: int) -> np.ndarray:
    import rasterio
    from rasterio.windows import Window

    planes = []
    for b in scenes.bands:
        with rasterio.open(scenes.paths[sid][b]) as src:
            planes.append(src.read(1, window=Window(col, row, CHIP, CHIP)))
    return np.stack(planes)


def op_chip(rng: random.Random, scenes: Scenes, ctx: dict[str, Any]) -> str | None:
    chips = _chip_queries(rng, scenes)
    res = scenes.res
    if ctx.get("dataset") is not None:
        dataset = ctx["dataset"]
        queries = []
        for sid, col, row in chips:
            x0, y1 = scenes.origin[sid]
            left, top = x0 + col * res, y1 - row * res
            day = np.datetime64(scenes.datetimes[sid]).astype("datetime64[us]").item()
            queries.append(  # a closed point interval in time: the scene's date
                (
                    slice(left, left + CHIP * res, res),
                    slice(top - CHIP * res, top, res),
                    slice(day, day),
                )
            )
        samples = dataset.__getitems__(queries)
        images = [s["image"].numpy() for s in samples]
    else:
        import pyarrow.dataset as pads
        import shapely

        images = []
        for sid, col, row in chips:
            x0, y1 = scenes.origin[sid]
            left, top = x0 + col * res, y1 - row * res
            box = shapely.box(left, top - CHIP * res, left + CHIP * res, top)
            one = ctx["coll"].where(pads.field("id") == sid)
            images.append(np.asarray(one.get_numpy(box, scenes.bands, geometry_crs=scenes.epsg))[0])
    if len(images) != len(chips):
        return f"{len(images)} samples for {len(chips)} queries"
    for (sid, col, row), image in zip(chips, images, strict=True):
        want = _window(scenes, sid, col, row)
        if image.shape != want.shape:
            return f"{sid} chip {col},{row}: shape {image.shape} != {want.shape}"
        if not np.array_equal(image, want.astype(image.dtype)):
            return f"{sid} chip {col},{row}: {int(np.count_nonzero(image != want))} pixels differ"
    return None


OPS = {"build": op_build, "aoi": op_aoi, "points": op_points, "chip": op_chip}


# ---------------------------------------------------------------------------- the loop


def _thread_loop(
    tid: int, seed: int, end: float, scenes: Scenes, ctx: dict[str, Any], tally: Tally
) -> None:
    rng = random.Random(seed)
    own = dict(ctx, n=0, tmp=str(Path(ctx["tmp"]) / f"t{tid}"))
    Path(own["tmp"]).mkdir(parents=True, exist_ok=True)
    key = threading.get_ident()
    while time.monotonic() < end:
        _CALL.warnings = []
        kind = rng.choices(KINDS, WEIGHTS)[0]
        with tally.lock:
            tally.calls[kind] += 1
            tally.in_flight[key] = (kind, time.monotonic(), "")
        t0 = time.monotonic()
        own["partial"] = False
        try:
            problem = OPS[kind](rng, scenes, own)
        except Exception as exc:  # noqa: BLE001 - classified below
            typed = _typed_in_chain(exc)
            if typed is not None:
                name = type(exc).__name__
                if typed is not exc:  # a documented wrapper chained to the typed error
                    name = f"{name} from {type(typed).__name__}"
                with tally.lock:
                    tally.failed[kind][name] += 1
                    if len(tally.examples[name]) < 3:
                        tally.examples[name].append(f"{kind}: {_short(exc)}")
                continue
            with tally.lock:
                tally.untyped.append(
                    {
                        "kind": kind,
                        "class": f"{type(exc).__module__}.{type(exc).__qualname__}",
                        "message": _short(exc),
                        "traceback": "".join(traceback.format_exc(limit=8))[-3000:],
                    }
                )
        else:
            warned = [w for w in _CALL.warnings if any(p in w for p in PARTIAL_WARNINGS)]
            with tally.lock:
                if problem is not None:
                    tally.mismatches.append(
                        {"kind": kind, "detail": problem, "warnings": _CALL.warnings[:3]}
                    )
                elif own["partial"]:
                    tally.partial[kind] += 1
                    tally.partial_warned[kind] += bool(warned)
                    if warned and len(tally.partial_examples) < 10:
                        tally.partial_examples.append(f"{kind}: {' '.join(warned[0].split())}")
                else:
                    tally.ok[kind] += 1
        finally:
            with tally.lock:
                tally.durations[kind].append(time.monotonic() - t0)
                tally.in_flight.pop(key, None)


def _watch(tally: Tally, deadline_s: float, stop: threading.Event) -> None:
    reported: set[tuple[int, float]] = set()
    while not stop.wait(1.0):
        now = time.monotonic()
        with tally.lock:
            for key, (kind, t0, _) in tally.in_flight.items():
                if now - t0 > deadline_s and (key, t0) not in reported:
                    reported.add((key, t0))
                    tally.stuck.append({"kind": kind, "running_s": round(now - t0, 1)})
                    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)


def worker_main(cfg: dict[str, Any], index: int, ready: Any, go: Any) -> None:
    """Entry point of a spawned worker (see the module docstring)."""
    warnings.simplefilter("always")
    warnings.filterwarnings("ignore", message="uint16 pixels are returned as int32")
    warnings.showwarning = _record_warning
    faulthandler.enable()
    import rasteret

    coll = rasteret.load(cfg["collection_path"])
    scenes = Scenes(cfg["scenes"], coll)
    ctx: dict[str, Any] = {"coll": coll, "dataset": None, "tmp": cfg["tmp"] + f"/w{index}"}
    chips_via = "numpy"
    if cfg["chips"] != "numpy":
        try:
            ctx["dataset"] = coll.to_torchgeo_dataset(bands=scenes.bands)
            chips_via = "torchgeo"
        except ImportError:
            if cfg["chips"] == "torchgeo":
                raise
    tally = Tally()
    ready.put((index, os.getpid(), chips_via))
    go.wait()
    end = time.monotonic() + cfg["duration_s"]
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(tally, cfg["deadline_s"], stop), daemon=True)
    watcher.start()
    threads = [
        threading.Thread(
            target=_thread_loop,
            args=(t, cfg["seed"] * 1000 + index * 10 + t, end, scenes, ctx, tally),
            daemon=True,
        )
        for t in range(cfg["threads"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, end - time.monotonic()) + cfg["deadline_s"] + 5)
    stop.set()
    result = tally.as_dict()
    result["threads_alive"] = sum(t.is_alive() for t in threads)
    result["chips_via"] = chips_via
    Path(cfg["result_dir"], f"worker{index}.json").write_text(json.dumps(result, indent=1))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # a stuck thread must not keep the process alive
