"""Several processes writing one collection or one registry file: they take turns (a lock
file beside the target), one whole collection is left, the registry JSON keeps every entry and
never reads half-written, and names that would leave the workspace are refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import rasteret
from rasteret.cli import main as cli_main
from support.aoi_oracle import BAND, aoi_in_4326, eligible, oracle, record_table
from support.holding_server import HoldingServer

_PRELUDE = """
import json, os, sys, time
import rasteret
ARGS = {args!r}
def wait_for_go():
    while not os.path.exists(ARGS["go"]):
        time.sleep(0.002)
"""

_BUILD = """
wait_for_go()
started = time.monotonic()
coll = rasteret.build_from_table(ARGS["records"], name="same", workspace_dir=ARGS["workspace"],
                                 href_column="url", band_index_map={"B1": 0}, enrich_cog=True,
                                 force=ARGS["force"])
print(json.dumps({"started": started, "ended": time.monotonic(), "rows": len(coll),
                  "bands": coll.bands}), flush=True)
"""

_EXPORT = """
coll = rasteret.build_from_table(ARGS["records"], href_column="url", name="",
                                 band_index_map={"B1": 0})
wait_for_go()
for _ in range(ARGS["times"]):
    coll.export(ARGS["target"])
print("done", flush=True)
"""

_REGISTER = """
from rasteret.catalog import DatasetDescriptor, remove_local_descriptor, save_local_descriptor
wait_for_go()
for i in range(ARGS["n"]):
    save_local_descriptor(DatasetDescriptor(id=f"{ARGS['who']}/d{i}", name=f"d{i}"),
                          ARGS["registry"])
    save_local_descriptor(DatasetDescriptor(id=f"{ARGS['who']}/tmp", name="t"), ARGS["registry"])
    remove_local_descriptor(f"{ARGS['who']}/tmp", ARGS["registry"])
print("done", flush=True)
"""

_READ_REGISTRY = """
wait_for_go()
reads = 0
while not os.path.exists(ARGS["stop"]):
    try:
        with open(ARGS["registry"], encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        continue
    entries = json.loads(text)  # a half-written file fails here
    assert isinstance(entries, list), entries
    reads += 1
print("reads", reads, flush=True)
"""


def _start(body: str, args: dict) -> subprocess.Popen:
    script = textwrap.dedent(_PRELUDE).format(args=args) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )


def _finish(proc: subprocess.Popen, timeout: float = 300) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out


def _leftovers(directory: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)


@pytest.fixture(scope="module")
def entries(cog_corpus):
    return eligible(cog_corpus, 6)


def _assert_reads_like_rasterio(path: Path, entries) -> None:
    coll = rasteret.load(path)
    assert sorted(coll.to_table(columns=["id"])["id"].to_pylist()) == sorted(
        e.name for e in entries
    )
    for entry in entries[:2]:
        aoi = aoi_in_4326(entry)
        got = coll.where(ds.field("id") == entry.name).get_numpy(aoi, [BAND])
        np.testing.assert_array_equal(got[0], oracle(entry, aoi), err_msg=entry.name)


@pytest.mark.parametrize("force", [False, True])
def test_two_processes_building_one_name_leave_one_whole_collection(
    entries, http_server, tmp_path, force
):
    records = tmp_path / "records.parquet"
    pq.write_table(record_table(entries, [http_server.url(e.path.name) for e in entries]), records)
    workspace = tmp_path / "ws"
    # What one build asks the server for.
    http_server.reset_log()
    rasteret.build_from_table(
        str(records), href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    one_build = http_server.count()
    assert one_build >= len(entries)

    http_server.reset_log()
    http_server.latency_ms = 400  # each build takes a while: the two overlap
    args = {
        "go": str(tmp_path / "go"),
        "records": str(records),
        "workspace": str(workspace),
        "force": force,
    }
    procs = [_start(_BUILD, args) for _ in range(2)]
    time.sleep(3.0)  # both interpreters up and polling for the go file
    (tmp_path / "go").touch()
    results = [json.loads(_finish(p).strip().splitlines()[-1]) for p in procs]
    http_server.latency_ms = 0

    assert all(r["rows"] == len(entries) and r["bands"] == [BAND] for r in results)
    first, second = sorted(results, key=lambda r: r["ended"])
    assert second["started"] < first["ended"], "the two builds did not overlap"
    # Without force the second waited for the first and reused its collection; with force
    # both built, one after the other.
    assert http_server.count() == (2 * one_build if force else one_build)
    if force:  # the second rebuilt after the first released the lock: >= 1 more round trip
        assert second["ended"] - first["ended"] > 0.3, results
    assert _leftovers(workspace, {"same_records"}) == []
    _assert_reads_like_rasterio(workspace / "same_records", entries)


def test_concurrent_exports_to_one_path_leave_one_writers_collection(
    entries, http_server, tmp_path
):
    table = record_table(entries, [http_server.url(e.path.name) for e in entries])
    pq.write_table(table, tmp_path / "six.parquet")
    pq.write_table(table.slice(0, 2), tmp_path / "two.parquet")
    target = tmp_path / "out" / "shared_records"
    go = str(tmp_path / "go")
    procs = [
        _start(
            _EXPORT,
            {
                "go": go,
                "records": str(tmp_path / f),
                "label": f,
                "target": str(target),
                "times": 30,
            },
        )
        for f in ("six.parquet", "two.parquet")
    ]
    time.sleep(3.0)
    Path(go).touch()
    for proc in procs:
        assert _finish(proc).strip() == "done"
    ids = rasteret.load(target).to_table(columns=["id"])["id"].to_pylist()
    assert sorted(ids) in (sorted(e.name for e in entries), sorted(e.name for e in entries[:2]))
    assert _leftovers(target.parent, {"shared_records"}) == []


def test_concurrent_registry_writers_keep_every_entry_and_never_corrupt_it(tmp_path):
    registry = tmp_path / "reg" / "datasets.local.json"
    go, stop = str(tmp_path / "go"), str(tmp_path / "stop")
    writers = [
        _start(_REGISTER, {"go": go, "registry": str(registry), "who": f"w{k}", "n": 12})
        for k in range(4)
    ]
    reader = _start(_READ_REGISTRY, {"go": go, "registry": str(registry), "stop": stop})
    time.sleep(3.0)
    Path(go).touch()
    for proc in writers:
        assert _finish(proc).strip() == "done"
    Path(stop).touch()
    reads = int(_finish(reader).split()[-1])
    entries = json.loads(registry.read_text(encoding="utf-8"))
    ids = sorted(e["id"] for e in entries)
    assert ids == sorted(f"w{k}/d{i}" for k in range(4) for i in range(12))
    assert reads > 0
    assert _leftovers(registry.parent, {"datasets.local.json"}) == []


@pytest.fixture
def holding(cog_corpus):
    with HoldingServer(cog_corpus.root) as server:
        yield server


def test_a_killed_builder_does_not_block_the_next_one(entries, holding, tmp_path):
    records = tmp_path / "records.parquet"
    pq.write_table(record_table(entries, [holding.url(e.path.name) for e in entries]), records)
    workspace = tmp_path / "ws"
    args = {"go": str(tmp_path / "go"), "records": str(records), "workspace": str(workspace)}
    (tmp_path / "go").touch()
    holding.hold = True
    first = _start(_BUILD, {**args, "force": False})
    second = None
    try:
        holding.wait_for_held(len(entries), timeout=60)  # every header request of the first
        assert (workspace / ".same_records.lock").exists()
        second = _start(_BUILD, {**args, "force": False})
        time.sleep(4.0)  # ample time to start and reach the lock
        # The second builder sent nothing while the first held the lock.
        assert len(holding.held()) == len(entries), "the second builder did not wait"
        assert second.poll() is None
        first.kill()  # the lock's holder dies mid-build: the kernel releases its lock
        first.wait(timeout=30)
        holding.hold = False
        result = json.loads(_finish(second).strip().splitlines()[-1])
    finally:
        holding.hold = False
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert result["rows"] == len(entries)
    assert _leftovers(workspace, {"same_records"}) == []
    _assert_reads_like_rasterio(workspace / "same_records", entries)


@pytest.mark.parametrize("name", ["../escaped", "a/b", "a\\b", "..", "x..y", "."])
def test_names_that_leave_the_workspace_are_value_errors(entries, http_server, tmp_path, name):
    table = record_table(entries[:1], [http_server.url(entries[0].path.name)])
    workspace = tmp_path / "deep" / "ws"
    with pytest.raises(ValueError, match="Invalid collection name"):
        rasteret.build_from_table(
            table, name=name, workspace_dir=workspace, href_column="url", enrich_cog=True
        )
    with pytest.raises(ValueError, match="Invalid collection name"):
        rasteret.build_from_stac(
            name=name,
            stac_api="http://127.0.0.1:9/stac",
            collection="sentinel-2-l2a",
            bbox=(11.0, 46.0, 11.5, 46.5),
            date_range=("2024-06-01", "2024-06-30"),
            workspace_dir=workspace,
        )
    with pytest.raises(ValueError, match="Invalid collection name"):
        rasteret.build(
            "earthsearch/sentinel-2-l2a",
            name=name,
            bbox=(11.0, 46.0, 11.5, 46.5),
            date_range=("2024-06-01", "2024-06-30"),
            workspace_dir=workspace,
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_names_outside_the_workspace(tmp_path, capsys):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    assert cli_main(["collections", "delete", "..", "--workspace-dir", str(workspace), "--yes"])
    assert cli_main(["collections", "info", "../ws", "--workspace-dir", str(workspace)])
    assert "Invalid collection name" in capsys.readouterr().out
    assert precious.read_text() == "keep me" and workspace.is_dir()
    rc = cli_main(
        [
            "collections",
            "import",
            "../out",
            "--record-table",
            str(precious),
            "--workspace-dir",
            str(workspace),
        ]
    )
    assert rc == 1 and "Invalid collection name" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt", "ws"]


def test_lock_is_reentrant_and_removed(tmp_path):
    from rasteret.records.persistence import collection_lock

    target = tmp_path / "c_records"
    with collection_lock(target):
        assert (tmp_path / ".c_records.lock").exists()
        with collection_lock(target):  # the same thread again: no deadlock
            pass
        assert (tmp_path / ".c_records.lock").exists()
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_while_waiting_for_the_lock_raises(tmp_path):
    # A process waiting behind another writer can still be stopped with Ctrl-C.
    target = tmp_path / "c_records"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from rasteret.records.persistence import collection_lock\n"
            f"with collection_lock({str(target)!r}):\n"
            "    print('held', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    waiter = None
    try:
        assert holder.stdout.readline().strip() == "held"
        waiter = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal\n"
                "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                "from rasteret.records.persistence import collection_lock\n"
                "print('waiting', flush=True)\n"
                "try:\n"
                f"    with collection_lock({str(target)!r}):\n"
                "        print('acquired', flush=True)\n"
                "except KeyboardInterrupt:\n"
                "    print('interrupted', flush=True)\n",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        assert waiter.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        sent = time.monotonic()
        waiter.send_signal(signal.SIGINT)
        assert waiter.stdout.readline().strip() == "interrupted"
        assert time.monotonic() - sent < 1.0
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
