"""``build_from_stac(..., shards=N)`` and ``build(..., shards=N)`` on a real LocalCluster.

The STAC catalog walk (or the record-table scan) stays on the client; only the COG header
parse runs as Dask tasks, one per shard, each writing one part. The sharded collection must
hold exactly the serial one's rows and metadata, read the same pixels as rasterio, and fetch
every header once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import rasteret
import rasterio
import shapely
from rasteret.catalog import DatasetDescriptor, DatasetRegistry
from rasteret.constants import BandRegistry
from rasterio.warp import transform_geom
from rasterio.windows import Window
from shapely.geometry import mapping
from support.stac_items import SCENES
from test_dask_window import dask_client  # noqa: F401  (module fixture)

distributed = pytest.importorskip("distributed")

BAND_MAP = {"B04": "red", "B03": "green", "B02": "blue", "B08": "nir"}
BBOX = (10.0, 43.0, 17.0, 46.0)
DATES = ("2024-01-01", "2024-12-31")


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """Datasets registered by a test are forgotten afterwards."""
    monkeypatch.setenv("RASTERET_LOCAL_DATASETS_PATH", str(tmp_path / "registry.json"))
    saved, bands = dict(DatasetRegistry._descriptors), dict(BandRegistry._maps)
    yield
    DatasetRegistry._descriptors.clear()
    DatasetRegistry._descriptors.update(saved)
    BandRegistry._maps.clear()
    BandRegistry._maps.update(bands)


def _from_stac(static_catalog, workspace, name, **kw):
    return rasteret.build_from_stac(
        name=name,
        stac_api=static_catalog.url,
        collection=static_catalog.collection_id,
        data_source=static_catalog.collection_id,
        band_map=BAND_MAP,
        bbox=BBOX,
        date_range=DATES,
        workspace_dir=workspace,
        static_catalog=True,
        **kw,
    )


def _rows(coll):
    """Every column of every record, in order, as text (so that NaN nodata compares equal)."""
    return [repr(r) for r in coll.to_table().to_pylist()]


def _enrich_tasks(stream):
    return sorted(t["key"] for t in stream.data if str(t["key"]).startswith("rasteret-enrich-"))


def _leftovers(root):
    return sorted(p.name for p in root.rglob(".rasteret-shards-*"))


def test_sharded_build_from_stac_equals_serial(
    static_catalog,
    stac_archive,
    dask_client,  # noqa: F811
    tmp_path,
):
    serial = _from_stac(static_catalog, tmp_path / "serial", "scenes")
    stac_archive.cog_server.reset_log()
    static_catalog.server.reset_log()
    with distributed.get_task_stream(client=dask_client) as stream:
        sharded = _from_stac(static_catalog, tmp_path / "sharded", "scenes", shards=3)
    # the headers were parsed by 3 tasks on the cluster, each header fetched once
    assert len(_enrich_tasks(stream)) == 3
    n = len(serial)
    assert n == len(SCENES) and stac_archive.cog_server.count() == n * len(BAND_MAP)
    # the catalog documents were walked once, by the client (the tasks get the records)
    assert all(r.path.endswith(".json") for r in static_catalog.server.requests)
    assert len(static_catalog.server.requests) == 2 + n  # root, collection, items
    # same rows, same columns (every {band}_metadata included), same names
    assert sharded.to_table().column_names == serial.to_table().column_names
    assert _rows(sharded) == _rows(serial)
    assert sharded.name == serial.name and sharded.bands == serial.bands == list(BAND_MAP)
    assert (tmp_path / "sharded" / f"{serial.name}_stac").is_dir()
    assert not _leftovers(tmp_path)
    # one read of the sharded collection equals rasterio on the same file and window
    scene = SCENES[3]
    t = scene.transform
    box = shapely.box(t.c + 400, t.f - 2000, t.c + 1600, t.f - 500)
    aoi = shapely.geometry.shape(transform_geom(f"EPSG:{scene.epsg}", "EPSG:4326", mapping(box)))
    gdf = sharded.where(ds.field("id") == scene.id).get_gdf(aoi, ["B08"])
    assert len(gdf) == 1
    got, tr = gdf.iloc[0]["data"], gdf.iloc[0]["transform"]
    col0, row0 = round((tr.c - t.c) / t.a), round((tr.f - t.f) / t.e)
    with rasterio.open(stac_archive.paths[scene.id]["nir"]) as src:
        want = src.read(1, window=Window(col0, row0, got.shape[1], got.shape[0]))
    inside = got != 0  # outside the AOI polygon the read is filled
    assert inside.mean() > 0.5
    np.testing.assert_array_equal(got[inside], want[inside])


def test_bad_shards_fail_before_any_request(static_catalog, tmp_path, registry):
    static_catalog.server.reset_log()
    for bad in (0, -2, True, 1.5, "3"):
        with pytest.raises(ValueError, match="shards must be a positive integer"):
            _from_stac(static_catalog, tmp_path, "bad", shards=bad)
        with pytest.raises(ValueError, match="shards must be a positive integer"):
            rasteret.build("earthsearch/sentinel-2-l2a", name="bad", shards=bad)
    assert static_catalog.server.requests == []
    assert not any(p.name.startswith("bad") for p in tmp_path.rglob("*"))


def test_build_with_shards_static_catalog_and_record_table(
    static_catalog,
    stac_archive,
    http_server,
    cog_corpus,
    dask_client,  # noqa: F811
    tmp_path,
    registry,
):
    # a registered static catalog: build() walks it here and shards the header parse
    rasteret.register(
        DatasetDescriptor(
            id="test/static-s2",
            name="Static S2",
            stac_api=static_catalog.url,
            stac_collection=static_catalog.collection_id,
            static_catalog=True,
            band_map=BAND_MAP,
        )
    )
    kw = dict(bbox=BBOX, date_range=DATES)
    serial = rasteret.build("test/static-s2", name="s2", workspace_dir=tmp_path / "a", **kw)
    with distributed.get_task_stream(client=dask_client) as stream:
        sharded = rasteret.build(
            "test/static-s2", name="s2", workspace_dir=tmp_path / "b", shards=2, **kw
        )
    assert len(_enrich_tasks(stream)) == 2
    assert len(serial) == len(SCENES) and _rows(sharded) == _rows(serial)
    # a registered record table: build() scans it here (bbox pushdown) and shards the parse
    entries = [e for e in cog_corpus.entries if e.count == 3 and "chunky" in e.tags][:1] * 6
    src = tmp_path / "index.parquet"
    pq.write_table(
        pa.table(
            {
                "fid": [f"tile-{i}" for i in range(6)],
                "year": [2020 + i for i in range(6)],
                "geom": [shapely.box(10 + i, 45, 10.9 + i, 45.9).wkb for i in range(6)],
                "bbox": [
                    {"xmin": 10.0 + i, "ymin": 45.0, "xmax": 10.9 + i, "ymax": 45.9}
                    for i in range(6)
                ],
                "path": [http_server.url(e.path.name) for e in entries],
            }
        ),
        src,
    )
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
    kw = dict(bbox=(11.2, 45.1, 14.4, 45.2), date_range=("2021-01-01", "2025-12-31"))
    serial = rasteret.build("test/tiles", name="tiles", workspace_dir=tmp_path / "c", **kw)
    with distributed.get_task_stream(client=dask_client) as stream:
        sharded = rasteret.build(
            "test/tiles", name="tiles", workspace_dir=tmp_path / "d", shards=2, **kw
        )
    assert len(_enrich_tasks(stream)) == 2
    ids = sharded.to_table(columns=["id"]).column("id").to_pylist()
    assert ids == ["tile-1", "tile-2", "tile-3", "tile-4"]
    assert _rows(sharded) == _rows(serial)
    assert (tmp_path / "d" / "tiles_records").is_dir() and not _leftovers(tmp_path)
