"""A short run of the soak harness (``benches/soak.py``) and the invariants of its report.

Two spawned worker processes of two threads each call ``build_from_table``, ``get_numpy``
(AOIs and 256x256 chips) and ``sample_points`` for about 15 s against the fault-injecting
server with raised fault rates (so every fault kind shows up in that time); every success is
compared with rasterio on the local files by the workers. Here we check what the report says:
every kind of call ran and some succeeded, every fault kind was injected, no call was stuck,
no success differed from rasterio, and every failure is a ``RasteretError`` (or a documented
wrapper chained to one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rasteret.errors

ROOT = Path(__file__).resolve().parents[1]
SOAK = ROOT / "benches" / "soak.py"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("soak")
    env = dict(os.environ)
    # the rasteret this test imported (the installed wheel in CI, the tree in development)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    cmd = [
        sys.executable,
        str(SOAK),
        "--minutes", "0.25",
        "--warmup", "0.1",
        "--processes", "2",
        "--threads", "2",
        "--size", "512",
        "--scenes", "3",
        "--chips", "numpy",
        "--rate-5xx", "0.04",
        "--rate-reset", "0.03",
        "--rate-short", "0.03",
        "--rate-slow", "0.03",
        "--outage-every", "4",
        "--outage-seconds", "1.5",
        "--deadline", "60",
        "--rss-every", "1",
        "--max-slope", "100000",  # too short for a meaningful slope
        "--data-dir", str(out / "data"),
        "--out", str(out / "run"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    path = out / "run" / "report.json"
    assert path.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(path.read_text()), proc


def test_every_call_kind_ran_and_succeeded(report):
    data, _ = report
    assert data["workers_reported"] == 2
    for kind in ("build", "aoi", "points", "chip"):
        assert data["calls"][kind] > 0, kind
        assert data["ok"][kind] > 0, kind
    assert data["chips_via"] == ["numpy"]


def test_every_fault_kind_was_injected(report):
    data, _ = report
    faults = data["server"]["by_fault"]
    for kind in ("5xx", "reset", "short", "slow", "outage"):
        assert faults[kind] > 0, (kind, faults)
    assert faults["none"] > 0
    assert data["server"]["requests"] == sum(faults.values())


def test_no_stuck_call_no_mismatch_every_failure_typed(report):
    data, proc = report
    assert data["stuck_count"] == 0, data["stuck"]
    assert data["hung_workers"] == []
    assert data["mismatch_count"] == 0, data["mismatches"]
    assert data["untyped_count"] == 0, data["untyped"]
    typed = set(rasteret.errors.__all__)
    for name in data["failed_by_class"]:  # "Class" or "Wrapper from Class"
        assert name.split(" from ")[-1] in typed, name
    assert data["problems"] == [], data["problems"]
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "OK" in proc.stdout.splitlines()[-1]


def test_rss_was_sampled(report):
    data, _ = report
    for name in ("worker0", "worker1"):
        rss = data["rss"][name]
        assert len(rss["samples"]) >= 5, rss
        assert rss["start_mib"] > 10 and rss["end_mib"] > 10
        assert rss["slope_mib_per_min"] is not None
