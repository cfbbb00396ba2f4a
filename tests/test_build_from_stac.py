"""build_from_stac against a real STAC API (stac-fastapi-pgstac) and static catalogs, with
pixels checked against the formula the archive was written with."""

from __future__ import annotations

import numpy as np
import pyarrow.dataset as ds
import pytest
import rasteret
import shapely
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from support.stac_items import SCENES, scene_pixels

BAND_MAP = {"B04": "red", "B03": "green", "B02": "blue", "B08": "nir"}
BBOX = (10.0, 43.0, 17.0, 46.0)


def _expected_ids(date_range=None, cloud_lt=None):
    out = []
    for s in SCENES:
        day = s.datetime[:10]
        if date_range and not (date_range[0] <= day <= date_range[1]):
            continue
        if cloud_lt is not None and not s.cloud_cover < cloud_lt:
            continue
        out.append(s.id)
    return sorted(out)


def test_build_from_stac_api(stac_api, tmp_path):
    coll = rasteret.build_from_stac(
        name="demo",
        stac_api=stac_api.url,
        collection=stac_api.collection_id,
        band_map=BAND_MAP,
        bbox=BBOX,
        date_range=("2024-01-01", "2024-03-31"),
        query={"eo:cloud_cover": {"lt": 50}},
        workspace_dir=tmp_path,
    )
    ids = sorted(coll.to_table().column("id").to_pylist())
    assert ids == _expected_ids(("2024-01-01", "2024-03-31"), 50) and len(ids) > 4  # > 1 page
    assert coll.name == "demo_202401-03_test-s2"
    assert (tmp_path / "demo_202401-03_test-s2_stac").is_dir()
    assert coll.bands == list(BAND_MAP)
    table = coll.to_table()
    assert set(table.column("proj:epsg").to_pylist()) <= {32632, 32633}
    assert "eo:cloud_cover" in table.column_names and "platform" in table.column_names
    assets = table.column("assets").to_pylist()[0]
    assert set(assets) == set(BAND_MAP) and assets["B04"]["href"].endswith("red.tif")
    # cached: the second call reads nothing from the COG server
    stac_api.cog_server.reset_log()
    again = rasteret.build_from_stac(
        name="demo",
        stac_api=stac_api.url,
        collection=stac_api.collection_id,
        band_map=BAND_MAP,
        bbox=BBOX,
        date_range=("2024-01-01", "2024-03-31"),
        workspace_dir=tmp_path,
    )
    assert stac_api.cog_server.count() == 0 and len(again) == len(ids)


def test_stac_collection_reads_exact_pixels(stac_api, tmp_path):
    coll = rasteret.build_from_stac(
        name="px",
        stac_api=stac_api.url,
        collection=stac_api.collection_id,
        band_map=BAND_MAP,
        bbox=BBOX,
        date_range=("2024-01-01", "2024-01-31"),
        workspace_dir=tmp_path,
    )
    scenes = {s.id: s for s in SCENES}
    for rid in coll.to_table().column("id").to_pylist():
        scene = scenes[rid]
        t = scene.transform
        box = shapely.box(t.c + 400, t.f - 2000, t.c + 1600, t.f - 500)  # pixels 40..160, 50..200
        aoi = shapely.geometry.shape(
            transform_geom(f"EPSG:{scene.epsg}", "EPSG:4326", mapping(box))
        )
        one = coll.where(ds.field("id") == rid)
        gdf = one.get_gdf(aoi, ["B04", "B08"])
        for band, asset in (("B04", "red"), ("B08", "nir")):
            row = gdf[gdf["band"] == band].iloc[0]
            tr = row["transform"]
            col0, row0 = round((tr.c - t.c) / t.a), round((tr.f - t.f) / t.e)
            h, w = row["data"].shape
            full = scene_pixels(scene, asset)[row0 : row0 + h, col0 : col0 + w]
            inside = row["data"] != 0
            assert inside.mean() > 0.5
            np.testing.assert_array_equal(row["data"][inside], full[inside])


def test_static_catalog_local_and_http(static_catalog, tmp_path):
    for i, root in enumerate((str(static_catalog.path), static_catalog.url)):
        coll = rasteret.build_from_stac(
            name=f"static{i}",
            stac_api=root,
            collection=static_catalog.collection_id,
            data_source=static_catalog.collection_id,
            band_map=BAND_MAP,
            bbox=BBOX,
            date_range=("2024-02-01", "2024-05-31"),
            workspace_dir=tmp_path,
            static_catalog=True,
        )
        assert sorted(coll.to_table().column("id").to_pylist()) == _expected_ids(
            ("2024-02-01", "2024-05-31")
        )


def test_static_catalog_band_map_naming_missing_asset_keys(static_catalog, tmp_path):
    with pytest.raises(ValueError) as err:
        rasteret.build_from_stac(
            name="missing",
            stac_api=str(static_catalog.path),
            collection=static_catalog.collection_id,
            data_source=static_catalog.collection_id,
            band_map={"B04": "red", "B99": "swir99", "B01": "coastal"},
            bbox=BBOX,
            date_range=("2024-02-01", "2024-05-31"),
            workspace_dir=tmp_path,
            static_catalog=True,
        )
    assert str(err.value) == (
        "STAC band_map references asset keys not present in the selected STAC items. "
        "Missing asset keys: coastal, swir99. Configured asset keys: coastal, red, swir99. "
        "Detected asset keys: blue, green, nir, red. Individual items may omit valid bands, "
        "but every configured asset key must appear at least once in the selected result."
    )
    assert list(tmp_path.iterdir()) == []


def test_stac_errors(stac_api, tmp_path):
    with pytest.raises(ValueError, match="band_map references asset keys not present"):
        rasteret.build_from_stac(
            name="bad",
            stac_api=stac_api.url,
            collection=stac_api.collection_id,
            band_map={"B99": "swir99"},
            bbox=BBOX,
            date_range=("2024-01-01", "2024-01-31"),
            workspace_dir=tmp_path,
        )
    with pytest.raises(ValueError, match="No STAC scenes matched the request"):
        rasteret.build_from_stac(
            name="none",
            stac_api=stac_api.url,
            collection=stac_api.collection_id,
            band_map=BAND_MAP,
            bbox=(-170.0, -80.0, -169.0, -79.0),
            date_range=("2024-01-01", "2024-01-31"),
            workspace_dir=tmp_path,
        )
    with pytest.raises(ValueError, match="Invalid bbox"):
        rasteret.build_from_stac(name="x", stac_api=stac_api.url, collection="c", bbox=(1, 1, 0, 0))
    assert list(tmp_path.iterdir()) == []


def test_interrupted_rebuild_leaves_workspace_as_it_was(stac_api, tmp_path, ctrl_c):
    kwargs = dict(
        name="intr",
        stac_api=stac_api.url,
        collection=stac_api.collection_id,
        band_map=BAND_MAP,
        bbox=BBOX,
        date_range=("2024-01-01", "2024-05-31"),
        workspace_dir=tmp_path,
    )
    first = rasteret.build_from_stac(**kwargs)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    stac_api.cog_server.latency_ms = 2000  # every header read now takes 2 s
    try:
        with ctrl_c(after=1.0):
            rasteret.build_from_stac(force=True, **kwargs)
    finally:
        stac_api.cog_server.latency_ms = 0
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before and len(first) == len(rasteret.load(tmp_path / f"{first.name}_stac"))
