"""One Collection read from many threads, from inside a running event loop, from forked and
spawned processes: every result equals the serial read and rasterio's. Ctrl-C (a real SIGINT
sent to a child process) stops a read or a build within a second, cancels its requests and
leaves nothing on disk."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import rasteret
from support import concurrency_work as work
from support.aoi_oracle import BAND, eligible, record_table
from support.holding_server import HoldingServer

#: Longest a Ctrl-C may take to stop a read or a build.
CTRL_C_LIMIT_S = 1.0


@pytest.fixture(scope="module")
def entries(cog_corpus):
    return eligible(cog_corpus, 6)


@pytest.fixture(scope="module")
def collection(entries, http_server):
    table = record_table(entries, [http_server.url(e.path.name) for e in entries])
    return rasteret.build_from_table(
        table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )


@pytest.fixture(scope="module")
def jobs(entries):
    return work.jobs_for(entries)


@pytest.fixture(scope="module")
def serial(collection, entries, jobs):
    """Every job read once, in order, checked against rasterio."""
    by_name = {e.name: e for e in entries}
    results = work.run_all(collection, jobs)
    for job, got in zip(jobs, results, strict=True):
        want = work.expected(by_name[job[1]], job)
        assert got.shape == want.shape, job[:2]
        np.testing.assert_array_equal(got, want, err_msg=str(job[:2]))
    return results


def _assert_same(results, serial, jobs):
    assert len(results) == len(serial)
    for job, got, want in zip(jobs, results, serial, strict=True):
        assert got.dtype == want.dtype, job[:2]
        np.testing.assert_array_equal(got, want, err_msg=str(job[:2]))


def test_serial_reads_match_rasterio(serial, jobs):
    kinds = {job[0] for job in jobs}
    assert kinds == {"numpy", "xarray", "points", "window"}
    assert all(r.size > 0 for r in serial)


def test_many_threads_on_one_collection_read_what_serial_reads(collection, jobs, serial):
    # 8 threads x every job 3 times, shuffled so different reads overlap in every way.
    order = [i for i in range(len(jobs)) for _ in range(3)]
    random.Random(7).shuffle(order)
    started = threading.Barrier(8)

    def one(i):
        if threading.current_thread().name not in seen:
            seen.add(threading.current_thread().name)
            started.wait(timeout=60)
        return i, work.run(collection, jobs[i])

    seen: set[str] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, order))
    assert len(seen) == 8
    for i, got in results:
        assert got.dtype == serial[i].dtype, jobs[i][:2]
        np.testing.assert_array_equal(got, serial[i], err_msg=str(jobs[i][:2]))


def test_sync_reads_inside_a_running_event_loop(collection, jobs, serial):
    # As in a Jupyter cell: the sync API called from a coroutine while the loop runs other
    # tasks, and from several coroutines at once through asyncio.to_thread.
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        inline = work.run_all(collection, jobs)
        threaded = await asyncio.gather(*(asyncio.to_thread(work.run, collection, j) for j in jobs))
        before = ticks
        await asyncio.sleep(0.05)
        task.cancel()
        return inline, list(threaded), ticks > before

    inline, threaded, loop_alive = asyncio.run(main())
    _assert_same(inline, serial, jobs)
    _assert_same(threaded, serial, jobs)
    assert loop_alive


def test_forked_workers_read_after_the_parent_did(collection, jobs, serial):
    # The parent has read (its I/O runtime and decode pool exist) before it forks.
    assert serial
    work.FORK_COLLECTION = collection
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            halves = pool.map(work.run_forked, [jobs[0::2], jobs[1::2]])
    finally:
        work.FORK_COLLECTION = None
    _assert_same(halves[0], serial[0::2], jobs[0::2])
    _assert_same(halves[1], serial[1::2], jobs[1::2])
    # and the parent still reads after its children did
    _assert_same(work.run_all(collection, jobs[:4]), serial[:4], jobs[:4])


def test_spawned_workers_read_a_pickled_or_reopened_collection(
    collection, entries, jobs, serial, tmp_path
):
    subset = collection.subset(date_range=("2024-01-02", "2024-01-04"))
    assert 0 < len(subset) < len(collection)
    in_subset = [i for i, j in enumerate(jobs) if j[1] in set(subset.to_table()["id"].to_pylist())]
    collection.export(tmp_path / "saved_records")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        whole = pool.apply_async(work.run_all, (collection, jobs))
        part = pool.apply_async(work.run_all, (subset, [jobs[i] for i in in_subset]))
        loaded = pool.apply_async(work.run_loaded, (str(tmp_path / "saved_records"), jobs))
        _assert_same(whole.get(timeout=300), serial, jobs)
        _assert_same(
            part.get(timeout=300), [serial[i] for i in in_subset], [jobs[i] for i in in_subset]
        )
        _assert_same(loaded.get(timeout=300), serial, jobs)
    # a pickled subset keeps its filter, not the whole collection
    assert len(pickle.loads(pickle.dumps(subset))) == len(subset)


# -- Ctrl-C: a real SIGINT to a child process reading from a server that never answers -----


_CHILD_PRELUDE = """
import asyncio, os, sys, time, signal
import numpy as np
import rasteret, rasterio, shapely
import pyarrow.dataset as ds
signal.signal(signal.SIGINT, signal.default_int_handler)
import faulthandler
faulthandler.register(signal.SIGUSR1, all_threads=True)  # a stack dump when the test is stuck
ARGS = {args!r}
"""

_READ_CHILD = """
coll = rasteret.load(ARGS["collection"])
one = coll.where(ds.field("id") == ARGS["id"])
aoi = shapely.from_wkb(ARGS["aoi"])

def read():
    if ARGS["how"] == "sample_points":
        return one.sample_points([shapely.Point(*p) for p in ARGS["points"]], ["B1"])
    if ARGS["how"] == "read_window":
        return coll.read_window(record_ids=[ARGS["id"]], bounds=ARGS["bounds"],
                                res=ARGS["res"], bands=["B1"])
    return one.get_numpy(aoi, ["B1"])

async def in_a_coroutine():
    return read()

print("reading", flush=True)
try:
    asyncio.run(in_a_coroutine()) if ARGS["asyncio"] else read()
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
sys.stdin.readline()  # the parent checks the server while this process lives on
got = one.get_numpy(aoi, ["B1"])
print("again", got.shape == (1, *ARGS["shape"]) and int(got.sum()) == ARGS["sum"], flush=True)
"""

_BUILD_CHILD = """
print("building", flush=True)
try:
    rasteret.build_from_table(ARGS["table"], name="intr", workspace_dir=ARGS["workspace"],
                              href_column="url", band_index_map={"B1": 0}, enrich_cog=True)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


class _Child:
    """A child Python process whose stdout lines are timestamped as they arrive."""

    def __init__(self, body: str, args: dict) -> None:
        script = textwrap.dedent(_CHILD_PRELUDE).format(args=args) + textwrap.dedent(body)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ,
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.strip()))

    def when(self, text: str, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in list(self.lines):
                if line.startswith(text):
                    return at
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.005)
        err = self.proc.stderr.read() if self.proc.poll() is not None else ""
        raise AssertionError(f"child never printed {text!r}: {self.lines} {err[-2000:]}")

    def line(self, text: str) -> str:
        self.when(text)
        return next(line for _, line in self.lines if line.startswith(text))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def holding(cog_corpus):
    with HoldingServer(cog_corpus.root) as server:
        yield server


@pytest.fixture(scope="module")
def held_collection(entries, holding, tmp_path_factory):
    """A saved collection whose URLs point at the holding server (headers already parsed)."""
    holding.hold = False
    out = tmp_path_factory.mktemp("held") / "held_records"
    table = record_table(entries, [holding.url(e.path.name) for e in entries])
    rasteret.build_from_table(
        table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    ).export(out)
    return out


def _interrupt(child: _Child, server: HoldingServer) -> float:
    """Send SIGINT once the child's first request is parked; return when it was sent."""
    server.wait_for_held(1)
    time.sleep(0.2)  # let the read put every request it can in flight
    sent = time.monotonic()
    child.proc.send_signal(signal.SIGINT)
    return sent


@pytest.mark.parametrize(
    ("how", "under_asyncio"),
    [("get_numpy", False), ("get_numpy", True), ("sample_points", False), ("read_window", False)],
)
def test_ctrl_c_stops_a_read_within_a_second_and_cancels_its_requests(
    entries, jobs, serial, holding, held_collection, how, under_asyncio
):
    entry = entries[0]
    numpy_job = next(i for i, j in enumerate(jobs) if j[:2] == ("numpy", entry.name))
    points_job = next(j for j in jobs if j[:2] == ("points", entry.name))
    window_job = next(j for j in jobs if j[:2] == ("window", entry.name))
    args = {
        "collection": str(held_collection),
        "id": entry.name,
        "aoi": jobs[numpy_job][2],
        "points": list(zip(*points_job[2], strict=True)),
        "bounds": window_job[2][0],
        "res": window_job[2][1],
        "how": how,
        "asyncio": under_asyncio,
        "shape": list(serial[numpy_job].shape),
        "sum": int(serial[numpy_job].sum()),
    }
    holding.requests.clear()
    holding.hold = True
    child = _Child(_READ_CHILD, args)
    try:
        child.when("reading")
        sent = _interrupt(child, holding)
        stopped = child.when("interrupted", timeout=30) - sent
        parked = holding.held()
        # While the child lives on, every request it had in flight was hung up on.
        deadline = time.monotonic() + 5
        while holding.held("waiting") and time.monotonic() < deadline:
            time.sleep(0.01)
        closed = [r.ended - sent for r in holding.held("client-closed")]
        holding.hold = False
        child.proc.stdin.write("go on\n")
        child.proc.stdin.flush()
        again = child.line("again")
        child.proc.wait(timeout=60)
    finally:
        holding.hold = False
        child.kill()
    print(
        f"Ctrl-C during {how} (asyncio={under_asyncio}): stopped in {stopped:.3f} s, "
        f"{len(parked)} requests cancelled within {max(closed, default=0):.3f} s"
    )
    assert stopped < CTRL_C_LIMIT_S, f"Ctrl-C took {stopped:.2f} s"
    assert parked and len(closed) == len(parked), [(r.path, r.outcome) for r in parked]
    assert max(closed) < CTRL_C_LIMIT_S, closed
    assert again == "again True"  # the same process reads correctly afterwards
    assert child.proc.returncode == 0


def test_ctrl_c_stops_a_build_within_a_second_and_leaves_nothing(entries, holding, tmp_path):
    table = record_table(entries, [holding.url(e.path.name) for e in entries])
    pq.write_table(table, tmp_path / "records.parquet")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    holding.requests.clear()
    holding.hold = True
    child = _Child(
        _BUILD_CHILD, {"table": str(tmp_path / "records.parquet"), "workspace": str(workspace)}
    )
    try:
        child.when("building")
        sent = _interrupt(child, holding)
        stopped = child.when("interrupted", timeout=30) - sent
        try:
            child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.proc.send_signal(signal.SIGUSR1)  # dump its threads' stacks to stderr
            child.proc.wait(timeout=30)
        exited = time.monotonic() - sent
        deadline = time.monotonic() + 5
        while holding.held("waiting") and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        holding.hold = False
        child.kill()
    print(
        f"Ctrl-C during a build: KeyboardInterrupt after {stopped:.3f} s, "
        f"process gone after {exited:.3f} s"
    )
    assert stopped < CTRL_C_LIMIT_S, f"the build took {stopped:.2f} s to stop"
    # Nothing kept the process alive: it ended as soon as the interpreter was torn down.
    assert exited < 5.0, child.proc.stderr.read()[-3000:]
    assert child.proc.returncode == 130
    assert "finished" not in [line for _, line in child.lines]
    assert holding.held() and not holding.held("served")
    assert sorted(p.name for p in workspace.iterdir()) == []  # no collection, temp or lock
    assert not list(Path(tmp_path).glob("**/*.tmp*"))
