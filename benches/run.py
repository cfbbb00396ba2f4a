"""Run rasteret's benchmarks (B1-B4, B6, B7; see benches/README.md) and write a results directory.

    python benches/run.py                                  # everything, 5 reps, 0 and 20 ms
    python benches/run.py --quick                          # smoke run: 3 scenes, 3 reps, 0 ms
    python benches/run.py --workloads B2,B3 --tools rasterio,async_geotiff --latency-ms 20

Every repetition is a fresh subprocess (``benches/workloads.py run``) so caches and pools
start cold. One Range-capable HTTP server (``async_range_server.AsyncRangeServer``: one event
loop, ``sendfile``) runs in this process over ``benches/.data/``; it adds the same latency to
every request of every tool.
Before the timed repetitions, each variant runs once untimed: its output hash must equal the
baseline's (rasterio, or imagecodecs for B4). Repetitions are interleaved across tools.

Writes ``benches/results/<UTC time>-<git sha>/`` with ``results.json`` (everything),
``results.jsonl`` (one line per repetition), ``machine.json``, ``results.md`` and
``results.png`` (when matplotlib is installed), and prints the Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
import workloads as wl  # noqa: E402

RESULTS_DIR = wl.BENCH_DIR / "results"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _range_server(root: Path) -> AbstractContextManager[Any]:
    """The benchmarks' asyncio Range server (``async_range_server.py``)."""
    from async_range_server import AsyncRangeServer

    return AsyncRangeServer(root)


def _git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=wl.REPO_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=wl.REPO_DIR,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "nogit"


def _child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``workloads.py`` with ``args``; parse its last JSON line (or describe the failure)."""
    cmd = [sys.executable, str(wl.BENCH_DIR / "workloads.py"), *args]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout:.0f}s"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"ok": False, "error": f"exit {proc.returncode}, no result: " + " | ".join(tail)}
    res = json.loads(lines[-1])
    res["process_wall_s"] = round(wall, 3)
    if proc.returncode != 0 and res.get("ok"):
        res = {"ok": False, "error": f"exit {proc.returncode}"}
    return res


def _requests_summary(server: Any) -> dict[str, Any]:
    reqs = list(getattr(server, "requests", []) or [])
    nbytes = 0
    for r in reqs:
        b = r.get("bytes_sent") if isinstance(r, dict) else getattr(r, "bytes_sent", None)
        if isinstance(b, int):
            nbytes += b
    return {"requests": len(reqs), "bytes_served": nbytes}


def machine_info(probe: dict[str, Any]) -> dict[str, Any]:
    return {
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git_sha": _git_sha(),
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "loadavg_start": list(os.getloadavg()),
        "tools": probe,
        "gdal_env": wl.GDAL_ENV,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workloads", default=",".join(wl.WORKLOADS), help="comma list (B1,B2,...)")
    p.add_argument("--tools", default=",".join(wl.TOOLS), help="comma list of tools")
    p.add_argument("--latency-ms", default=None, help="comma list (default 0,20; quick: 0)")
    p.add_argument("--reps", type=int, default=None, help="timed reps (default 5; quick: 3)")
    p.add_argument("--scenes", type=int, default=None, help="scenes to use (default 12)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 scenes, 3 reps, 0 ms")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per child process")
    p.add_argument("--allow-debug", action="store_true", help="run a debug rasteret build")
    p.add_argument("--no-verify", action="store_true", help="skip the untimed check run")
    p.add_argument("--out", type=Path, default=None, help="results directory")
    a = p.parse_args(argv)
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    unknown = [w for w in a.workloads if w not in wl.WORKLOADS]
    unknown += [t for t in a.tools if t not in wl.TOOLS]
    if unknown:
        p.error(
            f"unknown workload/tool {unknown}; workloads {list(wl.WORKLOADS)}, tools {wl.TOOLS}"
        )
    if a.latency_ms is None:
        a.latency_ms = "0" if a.quick else "0,20"
    a.latency_ms = [float(x) for x in a.latency_ms.split(",")]
    a.reps = a.reps or (3 if a.quick else 5)
    a.scenes = a.scenes or (wl.QUICK_SCENES if a.quick else wl.N_SCENES)
    return a


def _precompile_rasteret() -> None:
    """Byte-compile the rasteret package the children import, as ``pip install`` does: a
    source tree on ``PYTHONPATH`` under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile
    every module a first call imports lazily, inside the timed region."""
    where = subprocess.run(
        [sys.executable, "-c", "import os, rasteret; print(os.path.dirname(rasteret.__file__))"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if where:
        import compileall

        compileall.compile_dir(where, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _precompile_rasteret()
    probe = _child(["probe"], timeout=120)
    tools = list(args.tools)
    if "rasteret" in tools:
        profile = probe.get("rasteret_build_profile")
        if probe.get("rasteret") is None:
            _log(f"!! rasteret is not importable ({probe.get('rasteret_error')}); skipping it")
            tools.remove("rasteret")
        elif profile != "release" and not args.allow_debug:
            _log(f"!! refusing to benchmark a {profile!r} build of rasteret (--allow-debug)")
            return 2
    optional = (("rasterio", "rasterio"), ("async_geotiff", "async_geotiff"))
    for t, mod in (*optional, ("odc_stac", "odc.stac"), ("stackstac", "stackstac")):
        if t in tools and probe.get(mod) is None:
            _log(f"!! {t} is not importable; skipping it")
            tools.remove(t)

    server_cm = _range_server(wl.DATA_DIR)  # fail early when the server is missing
    _log(f"data: {wl.DATA_DIR} ({args.scenes} scenes x {wl.N_BANDS} bands, cached)")
    wl.ensure_data(args.scenes, log=_log)
    if "B7" in args.workloads:
        import cube

        cube.ensure_cube(args.scenes, log=_log)
    machine = machine_info(probe)
    machine["data"] = {"version": wl.DATA_VERSION, **wl.data_stats(args.scenes)}
    config = {
        "workloads": args.workloads,
        "tools": tools,
        "latency_ms": args.latency_ms,
        "reps": args.reps,
        "scenes": args.scenes,
        "quick": args.quick,
    }
    records: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_dir = args.out or RESULTS_DIR / f"{stamp}-{machine['git_sha']}"
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = (out_dir / "results.jsonl").open("w")

    def record(rec: dict[str, Any]) -> None:
        records.append(rec)
        jsonl.write(json.dumps(rec) + "\n")
        jsonl.flush()

    with (
        tempfile.TemporaryDirectory(prefix="rasteret-bench-") as tmp,
        server_cm as server,
    ):
        header_cache: dict[str, str | None] = {}
        for name in args.workloads:
            w = wl.WORKLOADS[name]
            variants = [v for v in w.variants if v.tool in tools]
            if not variants:
                continue
            latencies = args.latency_ms if w.uses_server else [None]
            for lat in latencies:
                if w.uses_server:
                    server.latency_ms = lat
                plan = wl.make_plan(w, server.url, args.scenes, args.quick)
                if any(v.name == "rasteret-indexed" for v in variants):
                    plan["headers_path"] = _index_for(w, plan, tmp, header_cache, args.timeout)
                if w.kind != "headers" and any(
                    v.name.startswith(("rasteret-api", "rasteret-window"))
                    or (w.kind == "points" and v.tool == "rasteret")
                    for v in variants
                ):
                    plan["collection_path"] = _collection_for(w, plan, tmp, args.timeout)
                plan_path = Path(tmp) / f"{name}-{lat}.json"
                plan_path.write_text(json.dumps(plan))
                tag = f"{name} @ {lat:g} ms" if lat is not None else name
                _log(f"== {tag}: {w.description}")
                active = list(variants)
                if not args.no_verify:
                    ref_hash = None
                    for v in variants:
                        server.reset_log()
                        res = _child(["run", str(plan_path), v.name], args.timeout)
                        res.update(_requests_summary(server))
                        check = {
                            "workload": name,
                            "latency_ms": lat,
                            "variant": v.name,
                            "tool": v.tool,
                            "label": v.label,
                            **res,
                        }
                        checks.append(check)
                        _log(f"   check {v.name:20s} {_short(res)}")
                        if v.name == w.baseline and res.get("ok"):
                            ref_hash = res["sha256"]
                        if not res.get("ok"):
                            active.remove(v)
                            record({**check, "rep": -1})
                    for c in checks:
                        if c["workload"] == name and c["latency_ms"] == lat and c.get("ok"):
                            c["matches_baseline"] = ref_hash is None or c["sha256"] == ref_hash
                            if not c["matches_baseline"]:
                                _log(f"!! PIXEL MISMATCH: {name} {c['variant']} != {w.baseline}")
                for rep in range(args.reps):
                    for v in active:
                        server.reset_log()
                        res = _child(["run", str(plan_path), v.name], args.timeout)
                        if w.uses_server:
                            res.update(_requests_summary(server))
                        rec = {
                            "workload": name,
                            "latency_ms": lat,
                            "variant": v.name,
                            "tool": v.tool,
                            "label": v.label,
                            "rep": rep,
                            "loadavg_1m": round(os.getloadavg()[0], 2),
                            **res,
                        }
                        record(rec)
                        _log(f"   rep {rep} {v.name:20s} {_short(res)}")
    jsonl.close()
    results = {
        "machine": machine,
        "config": config,
        "workloads": {
            n: {"description": w.description, "baseline": w.baseline, "codec": w.codec}
            for n, w in wl.WORKLOADS.items()
            if n in args.workloads
        },
        "checks": checks,
        "records": records,
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    (out_dir / "machine.json").write_text(json.dumps(machine, indent=1))
    md = report.render_markdown(results)
    (out_dir / "results.md").write_text(md)
    chart = report.render_chart(results, out_dir / "results.png")
    print(md)
    _log(f"results: {out_dir}" + ("" if chart else " (no chart: matplotlib not installed)"))
    mismatches = report.mismatches(results)
    if mismatches:
        _log("!! PIXEL MISMATCHES: " + "; ".join(mismatches))
        return 1
    return 0


def _index_for(
    w: wl.Workload, plan: dict[str, Any], tmp: str, cache: dict[str, str | None], timeout: float
) -> str | None:
    """Parse the headers once (untimed) into an Arrow IPC file: the collection's index."""
    if w.codec in cache:
        return cache[w.codec]
    path = str(Path(tmp) / f"headers-{w.codec}.arrow")
    plan_path = Path(tmp) / f"headers-{w.codec}.json"
    plan_path.write_text(json.dumps(plan))
    cmd = [sys.executable, str(wl.BENCH_DIR / "workloads.py"), "prepare-headers"]
    proc = subprocess.run(
        [*cmd, str(plan_path), path], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        _log(f"!! rasteret header index failed: {proc.stderr.strip().splitlines()[-1:]}")
        cache[w.codec] = None
    else:
        cache[w.codec] = path
    return cache[w.codec]


def _collection_for(w: wl.Workload, plan: dict[str, Any], tmp: str, timeout: float) -> str:
    """Build (untimed) the collection Parquet the public-API variants read: the index."""
    path = str(Path(tmp) / f"collection-{w.name}-{plan['n_scenes']}.parquet")
    if Path(path).exists():
        return path
    plan_path = Path(tmp) / f"collection-{w.name}.json"
    plan_path.write_text(json.dumps(plan))
    cmd = [sys.executable, str(wl.BENCH_DIR / "workloads.py"), "prepare-collection"]
    proc = subprocess.run(
        [*cmd, str(plan_path), path], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"!! {w.name} collection build failed: {proc.stderr.strip()[-500:]}")
    return path


def _short(res: dict[str, Any]) -> str:
    if not res.get("ok"):
        return f"FAILED: {res.get('error')}"
    s = f"{res['seconds']:.3f}s peak {res['peak_rss_mib']:.0f} MiB sha {res['sha256'][:10]}"
    if "requests" in res:
        s += f" reqs {res['requests']}"
    if res.get("extra", {}).get("mb_per_s"):
        s += f" {res['extra']['mb_per_s']} MB/s"
    return s


if __name__ == "__main__":
    sys.exit(main())
