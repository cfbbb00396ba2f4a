"""Turn a benchmark results file into Markdown tables and a PNG bar chart.

    python benches/report.py benches/results/<run>/            # prints + writes results.md/png
    python benches/report.py benches/results/<run>/results.json --no-chart
    python benches/report.py benches/results/latest.json --no-md --chart docs/assets/bench.png

Tables: one per latency (B4 has none), columns ``| workload | tool | median s | min–max s |
spread | peak MiB | requests | MB/s | ÷ rasteret | ÷ baseline | pixels |``. ``÷ rasteret`` is
the tool's median divided by rasteret's cold median from the same run (above 1: rasteret is
faster); ``÷ baseline`` divides by the workload's baseline (rasterio; imagecodecs for B4).
The chart (matplotlib, Agg) has a panel per latency with grouped bars per workload, log seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

AOI_BYTES_PER_FILE = 1024 * 1024 * 2
CHIP_BYTES = 64 * 64 * 2


def _key(rec: dict[str, Any]) -> tuple[str, Any, str]:
    return rec["workload"], rec["latency_ms"], rec["variant"]


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (workload, latency, variant): median, spread, memory, ratios, pixel check."""
    groups: dict[tuple[str, Any, str], list[dict[str, Any]]] = {}
    order: list[tuple[str, Any, str]] = []
    for rec in results["records"]:
        k = _key(rec)
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(rec)
    checks = {_key(c): c for c in results.get("checks", [])}
    rows: list[dict[str, Any]] = []
    for k in order:
        recs = groups[k]
        ok = [r for r in recs if r.get("ok") and r.get("rep", 0) >= 0]
        fails = [r for r in recs if not r.get("ok")]
        row: dict[str, Any] = {
            "workload": k[0],
            "latency_ms": k[1],
            "variant": k[2],
            "label": recs[0].get("label", k[2]),
            "n": len(ok),
            "errors": sorted({str(r.get("error")) for r in fails}),
        }
        if ok:
            secs = [r["seconds"] for r in ok]
            med = statistics.median(secs)
            row.update(
                median_s=med,
                min_s=min(secs),
                max_s=max(secs),
                spread_pct=100.0 * (max(secs) - min(secs)) / med if med else 0.0,
                peak_mib=statistics.median(r["peak_rss_mib"] for r in ok),
                requests=statistics.median(r["requests"] for r in ok)
                if "requests" in ok[0]
                else None,
                hashes=sorted({r["sha256"] for r in ok}),
                mb_per_s=_throughput(results, k[0], ok, med),
            )
        c = checks.get(k)
        row["matches_baseline"] = None if c is None else c.get("matches_baseline")
        rows.append(row)
    _add_ratios(results, rows)
    return rows


def _throughput(
    results: dict[str, Any], workload: str, ok: list[dict[str, Any]], med: float
) -> float | None:
    extra = ok[0].get("extra") or {}
    if "decoded_mb" in extra:
        return extra["decoded_mb"] / med
    shape = ok[0].get("shape")
    kind = results.get("workloads", {}).get(workload, {}).get("description", "")
    if shape and len(shape) == 3 and med > 0 and "header" not in kind:
        return shape[0] * shape[1] * shape[2] * 2 / 1e6 / med  # uint16 output
    return None


def _add_ratios(results: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    med = {(r["workload"], r["latency_ms"], r["variant"]): r.get("median_s") for r in rows}
    for r in rows:
        base_name = results.get("workloads", {}).get(r["workload"], {}).get("baseline")
        ours = med.get((r["workload"], r["latency_ms"], "rasteret"))
        base = med.get((r["workload"], r["latency_ms"], base_name))
        m = r.get("median_s")
        r["vs_rasteret"] = m / ours if m and ours else None
        r["vs_baseline"] = m / base if m and base else None
        # pixel-identity across every variant of the same workload+latency
        same = [
            x for x in rows if x["workload"] == r["workload"] and x["latency_ms"] == r["latency_ms"]
        ]
        all_hashes = {h for x in same for h in x.get("hashes", [])}
        if r.get("n", 0) == 0:
            r["pixels"] = "FAILED"
        elif len(r.get("hashes", [])) > 1:
            r["pixels"] = "UNSTABLE"
        elif r.get("matches_baseline") is False or len(all_hashes) > 1:
            r["pixels"] = "MISMATCH"
        else:
            r["pixels"] = "identical"


def mismatches(results: dict[str, Any]) -> list[str]:
    """Human-readable list of pixel mismatches (empty when every tool agrees)."""
    return [
        f"{r['workload']}@{r['latency_ms']} {r['variant']}: {r['pixels']}"
        for r in summarize(results)
        if r["pixels"] in ("MISMATCH", "UNSTABLE")
    ]


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def render_markdown(results: dict[str, Any]) -> str:
    """Markdown: header lines (machine, versions) and one table per latency."""
    rows = summarize(results)
    m = results.get("machine", {})
    tools = m.get("tools", {})
    cfg = results.get("config", {})
    lines = [
        f"# rasteret benchmarks — {m.get('time_utc', '?')} (git {m.get('git_sha', '?')})",
        "",
        f"- machine: {m.get('cpu_count')} CPUs ({m.get('platform')}), "
        f"load at start {m.get('loadavg_start')}",
        f"- rasteret {tools.get('rasteret')} ({tools.get('rasteret_build_profile')} build), "
        f"rasterio {tools.get('rasterio')} / GDAL {tools.get('gdal')}, "
        f"async-geotiff {tools.get('async_geotiff')}, imagecodecs {tools.get('imagecodecs')}",
        f"- {cfg.get('reps')} timed reps per tool (fresh process each, interleaved), "
        f"{cfg.get('scenes')} scenes x 4 bands, quick={cfg.get('quick')}; data "
        f"{json.dumps(m.get('data', {}))}",
        "- ÷ rasteret = tool median / rasteret (cold) median; ÷ baseline = tool median / "
        "baseline median (rasterio; imagecodecs zlib for B4). Above 1 means slower.",
        "",
    ]
    descr = results.get("workloads", {})
    for lat in _latencies(rows):
        title = "decode (no server)" if lat is None else f"{lat:g} ms injected latency"
        lines += [
            f"## {title}",
            "",
            "| workload | tool | median s | min–max s | spread | peak MiB | requests | MB/s "
            "| ÷ rasteret | ÷ baseline | pixels |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in (r for r in rows if r["latency_ms"] == lat):
            if r.get("median_s") is None:
                err = "; ".join(r["errors"])[:120]
                lines.append(
                    f"| {r['workload']} | {r['variant']} | FAILED: {err} | | | | | | | | FAILED |"
                )
                continue
            lines.append(
                f"| {r['workload']} | {r['variant']} | {r['median_s']:.3f} "
                f"| {r['min_s']:.3f}–{r['max_s']:.3f} | {r['spread_pct']:.0f}% "
                f"| {r['peak_mib']:.0f} | {_fmt(r.get('requests'), '.0f')} "
                f"| {_fmt(r.get('mb_per_s'), '.3g')} | {_fmt(r['vs_rasteret'], '.2f')} "
                f"| {_fmt(r['vs_baseline'], '.2f')} | {r['pixels']} |"
            )
        lines.append("")
    lines.append("Workloads:")
    lines += [f"- **{n}**: {d.get('description')}" for n, d in descr.items()]
    bad = [r for r in rows if r["errors"]]
    if bad:
        lines += ["", "Failures:"]
        lines += [f"- {r['workload']} {r['variant']}: {'; '.join(r['errors'])}" for r in bad]
    return "\n".join(lines) + "\n"


def _latencies(rows: list[dict[str, Any]]) -> list[Any]:
    seen: list[Any] = []
    for r in rows:
        if r["latency_ms"] not in seen:
            seen.append(r["latency_ms"])
    return sorted(seen, key=lambda x: (x is None, x or 0))


def render_chart(results: dict[str, Any], path: Path) -> bool:
    """Grouped bars (log seconds) per workload, one panel per latency; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [r for r in summarize(results) if r.get("median_s")]
    lats = _latencies(rows)
    if not rows:
        return False
    fig, axes = plt.subplots(1, len(lats), figsize=(6 * len(lats), 4.5), squeeze=False)
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    colors = {v: f"C{i}" for i, v in enumerate(variants)}
    for ax, lat in zip(axes[0], lats, strict=True):
        sub = [r for r in rows if r["latency_ms"] == lat]
        wls = list(dict.fromkeys(r["workload"] for r in sub))
        width = 0.8 / max(1, len({r["variant"] for r in sub}))
        for wi, wname in enumerate(wls):
            group = [r for r in sub if r["workload"] == wname]
            for vi, r in enumerate(group):
                x = wi + (vi - (len(group) - 1) / 2) * width
                ax.bar(x, r["median_s"], width, color=colors[r["variant"]], label=r["variant"])
                ratio = r.get("vs_rasteret") or r.get("vs_baseline")
                if ratio:
                    ax.text(x, r["median_s"], f"{ratio:.2g}x", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(wls)), wls)
        ax.set_yscale("log")
        ax.set_ylabel("median seconds (log)")
        ax.set_title("decode" if lat is None else f"{lat:g} ms latency")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.suptitle("rasteret benchmarks (labels: time ÷ rasteret, else ÷ baseline)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def load(path: Path) -> dict[str, Any]:
    """Results from a run directory or its results.json."""
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", type=Path, help="run directory or results.json")
    p.add_argument("--no-chart", action="store_true", help="do not draw the PNG chart")
    p.add_argument("--no-md", action="store_true", help="print the tables, write no results.md")
    p.add_argument("--chart", type=Path, help="where to write the chart (default: results.png)")
    a = p.parse_args(argv)
    results = load(a.results)
    out_dir = a.results if a.results.is_dir() else a.results.parent
    md = render_markdown(results)
    if not a.no_md:
        (out_dir / "results.md").write_text(md)
    print(md)
    chart = a.chart or out_dir / "results.png"
    if not a.no_chart:
        if not render_chart(results, chart):
            print("(no chart: matplotlib is not installed)", file=sys.stderr)
            return 1 if a.chart else 0
        print(f"chart: {chart}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
