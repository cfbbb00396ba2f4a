"""Soak run: mixed public-API calls from 2 processes x 4 threads against a faulty server.

Writes a few GDAL-written COGs (rasterio: ``--scenes`` scenes x 3 bands of ``--size``^2
uint16, DEFLATE + predictor 2, 512- and 256-px tiles, nodata 0), serves them from a
fault-injecting HTTP server on 127.0.0.1 (``soak_server.FaultServer``: latency jitter,
5xx, mid-body resets, short bodies, slow bodies, short outages of one file), builds a
reference collection with faults off, then runs ``--processes`` spawned workers of
``--threads`` threads each for ``--minutes``, drawing builds, AOI reads, point samples and
TorchGeo-style chip reads (see ``soak_work.py``). Every success is checked against rasterio
on the local files, every failure must be a ``rasteret.errors.RasteretError``, and a call
still running after the engine's retry budget (``--deadline``) counts as stuck. The resident
memory of each worker (RSS, and its anonymous / file-backed / shared parts from
``/proc/PID/status``) is sampled every ``--rss-every`` seconds; after ``--warmup`` minutes a
linear fit gives each slope in MiB/min.

Usage::

    python benches/soak.py                   # 12 minutes (the report quoted in the docs)
    python benches/soak.py --minutes 0.5     # quick self-check

Output: a summary on stdout, ``report.json`` and the server's request log (``requests.tsv``:
time, path, Range, injected fault) in ``--out`` (default ``benches/results/soak-<UTC>/``).
Exit status 1 when a call was stuck, a success differed from rasterio, a failure was not a
``RasteretError``, a fault kind was never injected, or the slope of a worker's anonymous
memory (its heap, where a leak shows; file-backed pages grow as library code is paged in)
exceeds ``--max-slope``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from soak_server import FAULT_KINDS, FaultRates, FaultServer  # noqa: E402
from soak_work import KINDS, worker_main  # noqa: E402

BANDS = ["B1", "B2", "B3"]
EPSG = 32633
RES = 10.0
#: The engine's per-request defaults: 4 attempts of at most 30 s, backoff 100/200/400 ms.
RETRY_BUDGET_S = 4 * 30.0 + 0.7


def write_scenes(root: Path, n: int, size: int) -> dict[str, Any]:
    """Write ``n`` scenes x 3 bands (skipping files already there); their description."""
    import rasterio
    import shapely
    from rasterio.transform import from_origin
    from rasterio.warp import transform_geom
    from shapely.geometry import mapping
    from workloads import synth_band

    root.mkdir(parents=True, exist_ok=True)
    spec: dict[str, Any] = {
        "ids": [],
        "bands": BANDS,
        "paths": {},
        "names": {},
        "wkb": {},
        "datetimes": {},
        "origin": {},
        "size": size,
        "res": RES,
        "epsg": EPSG,
    }
    for s in range(n):
        sid = f"S{s}"
        x0, y1 = 300_000.0 + s * (size * RES + 5_000.0), 5_000_000.0
        spec["ids"].append(sid)
        spec["origin"][sid] = [x0, y1]
        spec["datetimes"][sid] = (dt.datetime(2024, 5, 1) + dt.timedelta(days=5 * s)).isoformat()
        box = shapely.box(x0, y1 - size * RES, x0 + size * RES, y1)
        spec["wkb"][sid] = shapely.geometry.shape(
            transform_geom(f"EPSG:{EPSG}", "EPSG:4326", mapping(box))
        ).wkb.hex()
        spec["paths"][sid], spec["names"][sid] = {}, {}
        for b, band in enumerate(BANDS):
            name = f"{sid}_{band}_{size}.tif"
            path = root / name
            spec["paths"][sid][band], spec["names"][sid][band] = str(path), name
            if path.exists():
                continue
            tmp = path.with_suffix(".tmp.tif")
            with rasterio.open(
                tmp,
                "w",
                driver="COG",
                width=size,
                height=size,
                count=1,
                dtype="uint16",
                crs=f"EPSG:{EPSG}",
                transform=from_origin(x0, y1, RES, RES),
                nodata=0,
                blocksize=512 if s % 2 == 0 else 256,
                compress="DEFLATE",
                predictor=2,
            ) as dst:
                dst.write(synth_band(200 + s, b, size=size), 1)
            os.replace(tmp, path)
    return spec


def build_reference(server: FaultServer, spec: dict[str, Any], workspace: Path) -> str:
    """The reference collection, built with faults off; its path on disk."""
    import pyarrow as pa
    import rasteret

    spec["urls"] = {
        sid: {b: server.url(spec["names"][sid][b]) for b in BANDS} for sid in spec["ids"]
    }
    table = pa.table(
        {
            "id": spec["ids"],
            "datetime": pa.array(
                [dt.datetime.fromisoformat(spec["datetimes"][i]) for i in spec["ids"]],
                pa.timestamp("us"),
            ),
            "geometry": [bytes.fromhex(spec["wkb"][i]) for i in spec["ids"]],
            "assets": [{b: {"href": spec["urls"][i][b]} for b in BANDS} for i in spec["ids"]],
        }
    )
    server.clean = True
    try:
        rasteret.build_from_table(
            table, name="soak-reference", workspace_dir=workspace, enrich_cog=True, force=True
        )
    finally:
        server.clean = False
    return str(workspace / "soak-reference_records")


#: Memory figures sampled from /proc/PID/status: the whole resident set, then its parts.
MEMORY_FIELDS = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}


def memory_mib(pid: int) -> dict[str, float] | None:
    """Resident memory of ``pid`` in MiB: ``rss`` and, on Linux, its ``anon`` part (heap,
    where a leak shows), ``file`` (mapped files and libraries, paged in as code runs) and
    ``shmem`` (shared memory); None once the process has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        try:
            import psutil

            return {"rss": psutil.Process(pid).memory_info().rss / 2**20}
        except Exception:  # noqa: BLE001 - no psutil, or the process is gone
            return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in MEMORY_FIELDS:
            out[MEMORY_FIELDS[key]] = int(value.split()[0]) / 1024
    return out or None


def slope_mib_per_min(samples: list[tuple[float, float]], after_s: float) -> float | None:
    """Least-squares slope of RSS (MiB) over time (min) for samples at or after ``after_s``."""
    pts = [(t, r) for t, r in samples if t >= after_s]
    if len(pts) < 3:
        return None
    t = np.array([p[0] for p in pts]) / 60.0
    r = np.array([p[1] for p in pts])
    return float(np.polyfit(t, r, 1)[0])


def curve(samples: list[tuple[float, float]], step_s: float, duration_s: float) -> list[float]:
    """RSS at every ``step_s`` (the last sample at or before each mark), from 0 to the end."""
    out = []
    mark = 0.0
    while mark <= duration_s + 1e-6:
        before = [r for t, r in samples if t <= mark + 0.5]
        out.append(round(before[-1], 1) if before else float("nan"))
        mark += step_s
    return out


def memory_summary(
    samples: list[tuple[float, dict[str, float]]], warm_s: float, duration_s: float
) -> dict[str, Any]:
    """Start / after warm-up / end / peak, slope after warm-up and per-minute curve of the
    resident set (``rss``), and the slope and curve of each of its parts."""
    out: dict[str, Any] = {}
    for part in MEMORY_FIELDS.values():
        s = [(t, m[part]) for t, m in samples if part in m]
        if not s:
            continue
        m = slope_mib_per_min(s, warm_s)
        out[part] = {
            "slope_mib_per_min": None if m is None else round(m, 3),
            "curve_per_minute_mib": curve(s, 60.0, duration_s),
        }
        if part == "rss":
            after = [r for t, r in s if t >= warm_s]
            out.update(
                start_mib=round(s[0][1], 1),
                after_warmup_mib=round(after[0], 1) if after else None,
                end_mib=round(s[-1][1], 1),
                peak_mib=round(max(r for _, r in s), 1),
                slope_mib_per_min=out[part]["slope_mib_per_min"],
                curve_per_minute_mib=out[part]["curve_per_minute_mib"],
            )
    out["samples"] = [(round(t, 1), {k: round(v, 1) for k, v in m.items()}) for t, m in samples]
    return out


def merge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the workers' tallies."""
    total: dict[str, Any] = {
        "calls": {k: 0 for k in KINDS},
        "ok": {k: 0 for k in KINDS},
        "partial": {k: 0 for k in KINDS},
        "partial_warned": {k: 0 for k in KINDS},
        "partial_examples": [],
        "failed_by_class": {},
        "failed_by_kind": {k: {} for k in KINDS},
        "examples": {},
        "untyped": [],
        "untyped_count": 0,
        "mismatches": [],
        "mismatch_count": 0,
        "stuck": [],
        "threads_alive": 0,
        "max_call_s": {},
        "p99_call_s": {},
    }
    for r in results:
        for k, v in r["calls"].items():
            total["calls"][k] += v
        for k, v in r["ok"].items():
            total["ok"][k] += v
        for k, v in r["partial"].items():
            total["partial"][k] += v
        for k, v in r["partial_warned"].items():
            total["partial_warned"][k] += v
        total["partial_examples"].extend(r["partial_examples"][:3])
        for kind, by_class in r["failed"].items():
            for name, v in by_class.items():
                total["failed_by_class"][name] = total["failed_by_class"].get(name, 0) + v
                fk = total["failed_by_kind"][kind]
                fk[name] = fk.get(name, 0) + v
        for name, ex in r["examples"].items():
            total["examples"].setdefault(name, []).extend(ex[: 3 - len(total["examples"][name])])
        for key in ("untyped", "mismatches", "stuck"):
            total[key].extend(r[key])
        total["untyped_count"] += r["untyped_count"]
        total["mismatch_count"] += r["mismatch_count"]
        total["threads_alive"] += r["threads_alive"]
        for kind, d in r["durations"].items():
            total["max_call_s"][kind] = round(max(total["max_call_s"].get(kind, 0), d["max_s"]), 2)
            total["p99_call_s"][kind] = round(max(total["p99_call_s"].get(kind, 0), d["p99_s"]), 2)
    return total


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=12.0, help="duration of the mixed calls")
    p.add_argument("--warmup", type=float, default=2.0, help="minutes before the RSS slope fit")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=4, help="threads per process")
    p.add_argument("--scenes", type=int, default=4)
    p.add_argument("--size", type=int, default=2048, help="scene width = height in pixels")
    p.add_argument("--chips", choices=("auto", "torchgeo", "numpy"), default="auto")
    p.add_argument("--rate-5xx", type=float, default=0.01)
    p.add_argument("--rate-reset", type=float, default=0.005)
    p.add_argument("--rate-short", type=float, default=0.005)
    p.add_argument("--rate-slow", type=float, default=0.005)
    p.add_argument("--outage-every", type=float, default=60.0, help="seconds (0: none)")
    p.add_argument("--outage-seconds", type=float, default=3.0)
    p.add_argument("--deadline", type=float, default=RETRY_BUDGET_S + 10.0, help="stuck after")
    p.add_argument("--rss-every", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument(
        "--max-slope", type=float, default=2.0, help="anonymous MiB/min allowed after warm-up"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data-dir", type=Path, default=BENCH_DIR / ".data" / "soak-v1")
    p.add_argument("--out", type=Path, default=None)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Run the soak; the report and the list of violated invariants."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or BENCH_DIR / "results" / f"soak-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    t_data = time.monotonic()
    root = args.data_dir / f"size{args.size}"
    spec = write_scenes(root, args.scenes, args.size)
    print(f"data: {len(spec['ids'])} scenes x 3 bands ({time.monotonic() - t_data:.1f} s)")
    rates = FaultRates(
        http_5xx=args.rate_5xx,
        reset=args.rate_reset,
        short=args.rate_short,
        slow=args.rate_slow,
        outage_every=args.outage_every,
        outage_seconds=args.outage_seconds,
    )
    duration_s = args.minutes * 60.0
    with (
        tempfile.TemporaryDirectory(prefix="rasteret-soak-") as tmp,
        FaultServer(root, rates, seed=args.seed, log_path=out / "requests.tsv") as server,
    ):
        collection_path = build_reference(server, spec, Path(tmp) / "reference")
        cfg = {
            "collection_path": collection_path,
            "scenes": spec,
            "tmp": tmp,
            "chips": args.chips,
            "duration_s": duration_s,
            "deadline_s": args.deadline,
            "threads": args.threads,
            "seed": args.seed,
            "result_dir": str(out),
        }
        ctx = mp.get_context("spawn")
        ready, go = ctx.Queue(), ctx.Event()
        procs = [
            ctx.Process(target=worker_main, args=(cfg, i, ready, go), name=f"soak-worker-{i}")
            for i in range(args.processes)
        ]
        for p in procs:
            p.start()
        started = [ready.get(timeout=300) for _ in procs]
        chips_via = sorted({c for _, _, c in started})
        pids = {i: pid for i, pid, _ in started}
        samples: dict[int, list[tuple[float, dict[str, float]]]] = {i: [] for i in pids}
        server_before = server.stats()["requests"]
        go.set()
        t0 = time.monotonic()
        limit = t0 + duration_s + args.deadline + 30
        next_sample = t0
        print(f"running {args.processes} x {args.threads} threads for {args.minutes} min ...")
        while any(p.is_alive() for p in procs) and time.monotonic() < limit:
            now = time.monotonic()
            if now >= next_sample:
                for i, pid in pids.items():
                    r = memory_mib(pid)
                    if r is not None and now - t0 <= duration_s + 1:
                        samples[i].append((now - t0, r))
                next_sample += args.rss_every
            time.sleep(0.2)
        hung = [p.name for p in procs if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(timeout=10)
        wall_s = time.monotonic() - t0
        stats = server.stats()
        stats["requests_before_start"] = server_before
    results = []
    for i in range(args.processes):
        f = out / f"worker{i}.json"
        if f.exists():
            results.append(json.loads(f.read_text()))
    totals = merge_results(results)
    warm_s = args.warmup * 60.0
    rss = {f"worker{i}": memory_summary(s, warm_s, duration_s) for i, s in samples.items()}
    report = {
        "date_utc": stamp,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "fault_rates": rates.as_dict(),
        "chips_via": chips_via,
        "duration_s": round(wall_s, 1),
        "deadline_s": args.deadline,
        "calls": totals["calls"],
        "calls_total": sum(totals["calls"].values()),
        "ok": totals["ok"],
        "partial": totals["partial"],
        "partial_warned": totals["partial_warned"],
        "partial_examples": totals["partial_examples"],
        "failed_by_class": totals["failed_by_class"],
        "failed_by_kind": totals["failed_by_kind"],
        "failure_examples": totals["examples"],
        "untyped_count": totals["untyped_count"],
        "untyped": totals["untyped"],
        "mismatch_count": totals["mismatch_count"],
        "mismatches": totals["mismatches"],
        "stuck_count": len(totals["stuck"]) + totals["threads_alive"] + len(hung),
        "stuck": totals["stuck"],
        "hung_workers": hung,
        "max_call_s": totals["max_call_s"],
        "p99_call_s": totals["p99_call_s"],
        "server": stats,
        "rss": rss,
        "workers_reported": len(results),
    }
    problems = check(report, args)
    report["problems"] = problems
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report, problems


def check(report: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The invariants the run must hold; a list of the violated ones."""
    problems = []
    if report["workers_reported"] != args.processes:
        problems.append(f"{report['workers_reported']} of {args.processes} workers reported")
    if report["stuck_count"]:
        problems.append(f"{report['stuck_count']} stuck calls")
    if report["mismatch_count"]:
        problems.append(f"{report['mismatch_count']} successes differ from rasterio")
    if report["untyped_count"]:
        problems.append(f"{report['untyped_count']} failures are not RasteretError")
    for kind in KINDS:
        if report["calls"][kind] == 0:
            problems.append(f"no {kind} call ran")
    wanted = {"5xx": args.rate_5xx, "reset": args.rate_reset, "short": args.rate_short}
    wanted |= {"slow": args.rate_slow, "outage": args.outage_every * args.outage_seconds}
    for kind in FAULT_KINDS:
        if wanted[kind] > 0 and report["server"]["by_fault"][kind] == 0:
            problems.append(f"no {kind} fault was injected")
    for name, r in report["rss"].items():
        part = "anon" if "anon" in r else "rss"  # the heap: where a leak shows
        slope = r[part]["slope_mib_per_min"] if part in r else None
        if slope is not None and slope > args.max_slope:
            problems.append(f"{name} {part} memory grows {slope} MiB/min")
    return problems


def summary(report: dict[str, Any]) -> str:
    """The printed summary of a report."""
    lines = [
        f"soak {report['date_utc']}: {report['duration_s']} s, chips via "
        f"{'/'.join(report['chips_via'])}, deadline {report['deadline_s']} s",
        "calls: "
        + ", ".join(
            f"{k} {v} ({report['ok'][k]} ok, {report['partial'][k]} partial"
            f" [{report['partial_warned'][k]} warning seen])"
            for k, v in report["calls"].items()
        )
        + f"; total {report['calls_total']}",
        f"failures by class: {report['failed_by_class'] or 'none'}",
        f"failures by call: { {k: v for k, v in report['failed_by_kind'].items() if v} }",
        f"stuck: {report['stuck_count']}, mismatches: {report['mismatch_count']}, "
        f"untyped: {report['untyped_count']}",
        f"slowest call (s): {report['max_call_s']}; p99 (s): {report['p99_call_s']}",
        f"server: {report['server']['requests']} requests, by fault "
        f"{report['server']['by_fault']}, {report['server']['bytes_sent'] / 2**20:.0f} MiB sent",
    ]
    for ex in report["partial_examples"][:4]:
        lines.append(f"  partial, e.g. {ex[:160]}")
    for name, examples in report["failure_examples"].items():
        for ex in examples[:2]:
            lines.append(f"  e.g. {name}: {ex}")
    for u in report["untyped"][:5]:
        lines.append(f"  UNTYPED {u['kind']}: {u['class']}: {u['message']}")
    for m in report["mismatches"][:5]:
        lines.append(f"  MISMATCH {m['kind']}: {m['detail']}")
    for name, r in report["rss"].items():
        lines.append(
            f"{name} RSS MiB: start {r['start_mib']}, after warm-up {r['after_warmup_mib']}, "
            f"end {r['end_mib']}, peak {r['peak_mib']}, slope {r['slope_mib_per_min']} MiB/min"
        )
        lines.append(f"  per minute: {r['curve_per_minute_mib']}")
        for part in ("anon", "file", "shmem"):
            if part in r:
                lines.append(
                    f"  {part}: slope {r[part]['slope_mib_per_min']} MiB/min, per minute "
                    f"{r[part]['curve_per_minute_mib']}"
                )
    lines.append("OK" if not report["problems"] else "FAILED: " + "; ".join(report["problems"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report, problems = run(args)
    print(summary(report))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
