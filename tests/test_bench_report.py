"""The documentation's benchmark chart and figures come from the committed results file."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.errors

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "benches" / "results" / "latest.json"


def _report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "benches" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_figures_match_committed_results() -> None:
    report = _report()
    rows = report.summarize(report.load(LATEST))
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    for row in rows:
        if row["variant"] != "rasterio" or row.get("vs_rasteret") is None:
            continue
        # the rasterio row of every workload/latency table in the docs shows the same ratio
        line = (
            f"| {row['workload']} | rasterio | {row['median_s']:.3f} |"
            if row["latency_ms"] is not None
            else None
        )
        if line is not None:
            hits = [ln for ln in page.splitlines() if ln.startswith(line)]
            assert hits, f"no docs row {line!r}"
            assert re.search(rf"\| {row['vs_rasteret']:.2f} \|", hits[0])


def test_chart_is_drawn_from_committed_results(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "bench.png"
    assert _report().main([str(LATEST), "--no-md", "--chart", str(out)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        src = rasterio.open(out)
    with src:
        assert (src.width, src.height) == (2160, 540)  # 3 panels of 6 x 4.5 in at 120 dpi
        assert np.ptp(src.read(1)) > 0
    committed = ROOT / "docs" / "assets" / "bench.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(committed) as src:
            assert (src.width, src.height) == (2160, 540)
