"""A file-backed collection keeps the record columns reads need in memory once loaded: its
filtered views (every read narrows to its AOIs) filter them there instead of re-reading the
Parquet files, with the same rows in the same order."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.dataset as ds
import pytest
import rasteret
from rasteret.records import column_cache
from test_aoi_reads import BAND, _aoi_in_4326, _oracle, aoi_collection  # noqa: F401


@pytest.fixture()
def saved(aoi_collection, tmp_path):  # noqa: F811
    coll, entries = aoi_collection
    coll.export(tmp_path / "coll")
    return rasteret.load(tmp_path / "coll"), entries, tmp_path / "coll"


def test_views_read_the_same_rows_from_memory_as_from_the_files(saved):
    loaded, entries, path = saved
    views = [
        loaded,
        loaded.subset(date_range=("2024-01-03", "2024-01-06")),
        loaded.where(ds.field("id").isin([e.name for e in entries[1:7:2]])),
        loaded.subset(date_range=("2024-01-02", "2024-01-09")).where(
            ds.field("id") != entries[4].name
        ),
    ]
    columns = ["id", "datetime", f"{BAND}_metadata"]
    held = [v._scan_table(columns) for v in views]
    cache = loaded._source._column_cache()
    assert cache is not None and cache.nbytes > 0
    fresh = rasteret.load(path)  # the same filters scanned from the files
    files = [
        fresh.dataset.filter(v._source._expression).to_table(columns=columns)
        if v._source._expression is not None
        else fresh.dataset.to_table(columns=columns)
        for v in views
    ]
    for got, expected in zip(held, files, strict=True):
        assert got.column_names == expected.column_names
        for name in columns:  # (repr: NaN nodata compares equal to itself)
            assert repr(got.column(name).to_pylist()) == repr(expected.column(name).to_pylist())
    assert [t.num_rows for t in held] == [len(entries), 4, 3, 7]


def test_a_second_read_does_not_scan_the_files_again(saved):
    loaded, entries, path = saved
    first, second = entries[0], entries[3]
    a = loaded.where(ds.field("id") == first.name).get_numpy(_aoi_in_4326(first), [BAND])
    # the Parquet files are gone: a read through the held columns still works
    shutil.rmtree(path)
    b = loaded.where(ds.field("id") == second.name).get_numpy(_aoi_in_4326(second), [BAND])
    np.testing.assert_array_equal(a[0], _oracle(first, _aoi_in_4326(first))[0])
    np.testing.assert_array_equal(b[0], _oracle(second, _aoi_in_4326(second))[0])
    assert (
        loaded.subset(date_range=("2024-01-01", "2024-01-02")).to_table(columns=["id"]).num_rows
        == 2
    )


def test_collections_over_the_limits_are_scanned_instead(saved, monkeypatch):
    loaded, entries, path = saved
    monkeypatch.setattr(column_cache, "ROW_LIMIT", len(entries) - 1)
    assert loaded._source._column_cache().scan(["id"], None) is None
    assert loaded.subset(date_range=("2024-01-01", "2024-01-02"))._scan_table(["id"]).num_rows == 2
    fresh = rasteret.load(path)
    monkeypatch.setattr(column_cache, "ROW_LIMIT", 10**6)
    monkeypatch.setattr(column_cache, "BYTE_BUDGET", 1)
    cache = fresh._source._column_cache()
    assert cache.scan(["id", f"{BAND}_metadata"], None) is None and cache.nbytes == 0
    assert fresh.to_table(columns=["id"]).num_rows == len(entries)
