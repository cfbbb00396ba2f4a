"""``build_from_table(..., shards=N)``: header enrichment as Dask tasks on a real LocalCluster.

Each shard is one task that parses its records' headers on a worker and writes one part into
a staging directory; the collection is published when all parts are in. The sharded build
must equal the serial one, survive a worker killed mid-build (Dask re-runs the shard, whose
part is replaced, not duplicated), and leave nothing behind when a shard fails.
"""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pyarrow.compute as pc
import pytest
import rasteret
from support.aoi_oracle import BAND, eligible, record_table
from test_dask_window import dask_client  # noqa: F401  (module fixture)

distributed = pytest.importorskip("distributed")

COLUMNS = ["id", "datetime", f"{BAND}_metadata"]


def _table(cog_corpus, http_server, n=8):
    entries = eligible(cog_corpus, n)[:n]
    return record_table(entries, [http_server.url(e.path.name) for e in entries]), entries


def _build(table, tmp_path, name, **kw):
    return rasteret.build_from_table(
        table,
        name=name,
        workspace_dir=tmp_path,
        href_column="url",
        band_index_map={BAND: 0},
        enrich_cog=True,
        **kw,
    )


def _rows(coll):
    """The records, sorted by id, as text (so that NaN nodata compares equal)."""
    table = coll.to_table(columns=COLUMNS)
    return [repr(r) for r in table.take(pc.sort_indices(table, [("id", "ascending")])).to_pylist()]


def _leftovers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".rasteret-shards-"))


def test_sharded_build_equals_serial_build(cog_corpus, http_server, dask_client, tmp_path):  # noqa: F811
    table, entries = _table(cog_corpus, http_server)
    serial = _build(table, tmp_path, "serial")
    start = len(http_server.requests)
    sharded = _build(table, tmp_path, "sharded", shards=3)
    headers = http_server.requests[start:]
    assert len(headers) == len(entries)  # one request per header, as a serial build
    assert _rows(sharded) == _rows(serial)
    assert (tmp_path / "sharded_records").is_dir() and not _leftovers(tmp_path)
    # the sharded collection reads the same pixels
    entry = entries[0]
    bbox = serial.to_table(columns=["id", "bbox"]).to_pylist()[0]["bbox"]
    box = (bbox["xmin"], bbox["ymin"], bbox["xmax"], bbox["ymax"])
    one = [c.where(pc.field("id") == entry.name) for c in (serial, sharded)]
    np.testing.assert_array_equal(one[1].get_numpy(box, [BAND]), one[0].get_numpy(box, [BAND]))


def test_killed_worker_mid_build_gives_one_complete_collection(
    cog_corpus,
    http_server,
    dask_client,  # noqa: F811
    tmp_path,
):
    table, entries = _table(cog_corpus, http_server)
    serial = _build(table, tmp_path, "serial")
    pids = list(dask_client.run(os.getpid).values())
    http_server.latency_ms = 400.0  # every header request takes 0.4 s: the kill lands mid-run
    killer = threading.Timer(0.8, os.kill, (pids[0], signal.SIGKILL))
    killer.start()
    try:
        sharded = _build(table, tmp_path, "sharded", shards=4)
    finally:
        killer.cancel()
        http_server.latency_ms = 0.0
    rows = _rows(sharded)
    assert len(rows) == len(entries) == len(set(rows))
    assert rows == _rows(serial)
    assert set(dask_client.run(os.getpid).values()) != set(pids)  # the worker was replaced
    assert not _leftovers(tmp_path)


def test_failed_assets_are_reported_like_a_serial_build(
    cog_corpus,
    http_server,
    dask_client,  # noqa: F811
    tmp_path,
):
    table, _ = _table(cog_corpus, http_server)
    at = table.schema.get_field_index("url")
    urls = table.column("url").to_pylist()
    # one missing file: a warning on the client naming it, its metadata null, as serially
    partial = table.set_column(at, "url", [[*urls[:-1], http_server.url("no-such-file.tif")]])
    with pytest.warns(UserWarning, match="1 of 8 assets could not be read") as serial_warning:
        serial = _build(partial, tmp_path, "serial")
    with pytest.warns(UserWarning, match="1 of 8 assets could not be read") as sharded_warning:
        sharded = _build(partial, tmp_path, "sharded", shards=3)
    assert "no-such-file.tif" in str(sharded_warning[0].message)
    assert str(sharded_warning[0].message) == str(serial_warning[0].message)
    assert _rows(sharded) == _rows(serial)
    # every file missing: the build fails and publishes nothing
    broken = table.set_column(at, "url", [[http_server.url(f"gone-{k}.tif") for k in range(8)]])
    with pytest.raises(ValueError, match="failed for all assets") as info:
        _build(broken, tmp_path, "broken", shards=3)
    assert "gone-0.tif" in str(info.value)
    assert not (tmp_path / "broken_records").exists()
    assert not _leftovers(tmp_path)
    with pytest.raises(ValueError, match="positive integer"):
        _build(table, tmp_path, "bad", shards=0)
    assert not any(p.name.startswith("bad") for p in tmp_path.iterdir())
