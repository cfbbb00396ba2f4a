"""rasteret.build routing, register_local and load-by-id, end to end over the HTTP corpus."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasteret
import shapely
from rasteret.catalog import DatasetDescriptor, DatasetRegistry, load_local_descriptors


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setenv("RASTERET_LOCAL_DATASETS_PATH", str(tmp_path / "registry.json"))
    saved = dict(DatasetRegistry._descriptors)
    yield tmp_path / "registry.json"
    DatasetRegistry._descriptors.clear()
    DatasetRegistry._descriptors.update(saved)


def _record_table(entries, http_server) -> pa.Table:
    return pa.table(
        {
            "fid": [f"tile-{i}" for i in range(len(entries))],
            "year": [2020 + i for i in range(len(entries))],
            "geom": [shapely.box(10 + i, 45, 10.9 + i, 45.9).wkb for i in range(len(entries))],
            "bbox": [
                {"xmin": 10.0 + i, "ymin": 45.0, "xmax": 10.9 + i, "ymax": 45.9}
                for i in range(len(entries))
            ],
            "path": [http_server.url(e.path.name) for e in entries],
        }
    )


def test_build_record_table_route_with_pushdown(cog_corpus, http_server, tmp_path, registry):
    entries = [e for e in cog_corpus.entries if e.count == 3 and "chunky" in e.tags][:1] * 3
    src = tmp_path / "index.parquet"
    pq.write_table(_record_table(entries, http_server), src)
    rasteret.register(
        DatasetDescriptor(
            id="test/tiles",
            name="Test tiles",
            record_table_uri=str(src),
            field_roles={"id": "fid", "geometry": "geom", "datetime": "year", "href": "path"},
            band_index_map={"R": 0, "G": 1, "B": 2},
            separate_files=False,
        )
    )
    coll = rasteret.build(
        "test/tiles",
        name="tiles",
        bbox=(11.2, 45.1, 11.4, 45.2),
        date_range=("2021-01-01", "2022-12-31"),
        workspace_dir=tmp_path / "ws",
    )
    table = coll.to_table()
    assert table.column("id").to_pylist() == ["tile-1"]
    assert table.column("datetime").to_pylist() == [dt.datetime(2021, 1, 1)]
    assert coll.bands == ["B", "G", "R"]  # asset keys, sorted
    assert (tmp_path / "ws" / "tiles_records").is_dir()
    # register the built collection and load it back by id
    d = rasteret.register_local("local/tiles", tmp_path / "ws" / "tiles_records")
    assert d.spatial_coverage == "local" and d.temporal_range == ("2021-01-01", "2021-01-01")
    assert [x.id for x in load_local_descriptors()] == ["local/tiles"]
    again = rasteret.load("local/tiles")
    assert len(again) == 1 and again.bands == ["B", "G", "R"]
    assert len(rasteret.build("local/tiles", name="x")) == 1


def test_build_errors(registry):
    with pytest.raises(KeyError, match="not found in registry"):
        rasteret.build("nope/nope", name="x")
    with pytest.raises(ValueError, match="requires bbox and date_range"):
        rasteret.build("earthsearch/sentinel-2-l2a", name="x", bbox=(0, 0, 1, 1))
    with pytest.raises(ValueError, match="Invalid date_range: start '2024-02-01' is after"):
        rasteret.build(
            "earthsearch/sentinel-2-l2a", name="x", date_range=("2024-02-01", "2024-01-01")
        )
    rasteret.register(DatasetDescriptor(id="test/none", name="None"))
    with pytest.raises(ValueError, match="has no STAC API or record-table URI configured"):
        rasteret.build("test/none", name="x")
