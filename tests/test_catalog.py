"""Catalog, band/cloud registries and runtime options."""

from __future__ import annotations

import dataclasses
import json

import pytest
import rasteret
from rasteret import catalog
from rasteret.catalog import DatasetDescriptor, DatasetRegistry
from rasteret.cloud import (
    CloudConfig,
    backend_config_from_cloud_config,
    rewrite_url,
    s3_overrides_from_config,
)
from rasteret.constants import BandRegistry, DataSources

BUILTIN_IDS = [
    "earthsearch/sentinel-2-l2a",
    "earthsearch/landsat-c2-l2",
    "earthsearch/naip",
    "earthsearch/cop-dem-glo-30",
    "earthsearch/cop-dem-glo-90",
    "pc/sentinel-2-l2a",
    "pc/io-lulc-annual-v02",
    "pc/alos-dem",
    "pc/nasadem",
    "pc/esa-worldcover",
    "pc/usda-cdl",
    "aef/v1-annual",
]


@pytest.fixture
def registries():
    """Snapshot and restore the class-level registries around a test."""
    saved = (
        dict(DatasetRegistry._descriptors),
        dict(BandRegistry._maps),
        dict(CloudConfig._configs),
    )
    yield
    DatasetRegistry._descriptors.clear()
    DatasetRegistry._descriptors.update(saved[0])
    BandRegistry._maps.clear()
    BandRegistry._maps.update(saved[1])
    CloudConfig._configs.clear()
    CloudConfig._configs.update(saved[2])


def test_builtins_registered_in_order():
    ids = [d.id for d in DatasetRegistry.list()]
    assert [i for i in ids if i in BUILTIN_IDS] == BUILTIN_IDS


def test_builtin_fields():
    s2 = DatasetRegistry.get("earthsearch/sentinel-2-l2a")
    assert s2.stac_api == "https://earth-search.aws.element84.com/v1"
    assert s2.band_map["B8A"] == "nir08" and s2.temporal_range == ("2015-06-23", "present")
    assert s2.field_roles == {"bbox": "bbox"} and s2.column_map is None
    naip = DatasetRegistry.get("earthsearch/naip")
    assert naip.band_index_map == {"R": 0, "G": 1, "B": 2, "NIR": 3} and not naip.separate_files
    aef = DatasetRegistry.get("aef/v1-annual")
    assert aef.stac_api is None and aef.geoparquet_uri is None
    assert aef.record_table_uri == aef.index_uri and aef.index_uri.endswith("index.parquet")
    assert aef.column_map == {
        "fid": "id",
        "geom": "geometry",
        "year": "datetime",
        "crs": "proj:epsg",
    }
    assert aef.href_column == "path"
    assert aef.band_index_map["A63"] == 63 and len(aef.band_index_map) == 64
    assert DatasetRegistry.get("pc/usda-cdl").example_bbox == (-93.8, 41.9, -93.6, 42.1)


def test_band_and_cloud_registries_after_catalog_import():
    assert BandRegistry.get("sentinel-2-l2a")["B04"] == "red"
    assert set(BUILTIN_IDS) - set(BandRegistry.list_registered()) == {"aef/v1-annual"}
    assert DataSources.list_sources() == BandRegistry.list_registered()
    assert BandRegistry.get("nope", {"a": "b"}) == {"a": "b"} and BandRegistry.get("nope") == {}
    landsat = CloudConfig.get_config("EarthSearch/Landsat-C2-L2")
    assert landsat.requester_pays and landsat.url_patterns == {
        "https://landsatlook.usgs.gov/data/": "s3://usgs-landsat/"
    }
    assert CloudConfig.get_config("sentinel-2-l2a").requester_pays is False
    assert CloudConfig.get_config("earthsearch/sentinel-2-l2a") is None


def test_descriptor_is_frozen_and_roundtrips_json():
    d = DatasetRegistry.get("aef/v1-annual")
    with pytest.raises(AttributeError):
        d.name = "x"  # type: ignore[misc]
    again = DatasetDescriptor(**json.loads(json.dumps(dataclasses.asdict(d))))
    assert again.column_map == d.column_map and again.surface_fields == d.surface_fields


def test_descriptor_normalisation():
    d = DatasetDescriptor(id="a/b", name="B", geoparquet_uri="s3://x/t.parquet")
    assert d.record_table_uri == "s3://x/t.parquet" and d.build_source_uri == "s3://x/t.parquet"
    d = DatasetDescriptor(id="a/b", name="B", record_table_uri="r.parquet")
    assert d.geoparquet_uri == "r.parquet" and d.runtime_index_uri == "r.parquet"
    d = DatasetDescriptor(id="a/b", name="B", field_roles={"proj:epsg": "crs"})
    assert d.column_map == {"crs": "proj:epsg"}
    d = DatasetDescriptor(id="a/b", name="B", column_map={"path": "href"}, bbox_columns={})
    assert d.field_roles == {"href": "path"} and d.href_column == "path"
    assert d.source_field("href") == "path" and d.source_field("id") == "id"
    d = DatasetDescriptor(id="a/b", name="B", surface_fields={"index": ["id", "id", "bbox"]})
    assert d.surface_fields == {"index": ["id", "bbox"]}
    with pytest.raises(ValueError, match="field_roles must map non-empty"):
        DatasetDescriptor(id="a/b", name="B", field_roles={"id": ""})
    with pytest.raises(ValueError, match="surface_fields contains unsupported surface names"):
        DatasetDescriptor(id="a/b", name="B", surface_fields={"nope": ["id"]})
    with pytest.raises(ValueError, match="filter_capabilities contains unsupported"):
        DatasetDescriptor(id="a/b", name="B", filter_capabilities={"x": []})


def test_surface_queries():
    aef = DatasetRegistry.get("aef/v1-annual")
    assert aef.surface_has_field("index", "utm_zone")
    assert not aef.surface_has_field("record_table", "utm_zone")
    assert aef.surface_supports_filter("collection", "year")
    assert not aef.surface_supports_filter("collection", "cloud_cover")
    plain = DatasetDescriptor(id="a/b", name="B")
    assert plain.surface_has_field("collection", "assets")
    assert not plain.surface_has_field("collection", "href")
    assert not plain.surface_has_field("record_table", "href")
    assert plain.surface_supports_filter("record_table", "bbox")


def test_search_and_unregister(registries):
    assert {d.id for d in DatasetRegistry.search("dem")} >= {
        "earthsearch/cop-dem-glo-30",
        "pc/alos-dem",
        "pc/nasadem",
    }
    assert DatasetRegistry.search("SENTINEL")
    removed = DatasetRegistry.unregister("pc/nasadem")
    assert removed is not None and DatasetRegistry.get("pc/nasadem") is None
    assert DatasetRegistry.unregister("pc/nasadem") is None


def test_register_keeps_first_band_map_and_registers_cloud_config(registries):
    rasteret.register(DatasetDescriptor(id="me/x", name="X", band_map={"R": "red"}))
    rasteret.register(
        DatasetDescriptor(
            id="me/x", name="X2", band_map={"R": "other"}, cloud_config={"requester_pays": True}
        )
    )
    assert DatasetRegistry.get("me/x").name == "X2"
    assert BandRegistry.get("me/x") == {"R": "red"}
    cfg = CloudConfig.get_config("me/x")
    assert cfg.provider == "aws" and cfg.requester_pays and cfg.region == "us-west-2"


def test_local_registry_file_roundtrip(tmp_path, registries):
    path = tmp_path / "reg" / "datasets.local.json"
    local = DatasetDescriptor(
        id="local/mine", name="Mine", collection_uri=str(tmp_path), spatial_coverage="local"
    )
    other = DatasetDescriptor(
        id="local/aaa", name="A", collection_uri="x", spatial_coverage="local"
    )
    catalog.save_local_descriptor(local, path)
    catalog.save_local_descriptor(other, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert [e["id"] for e in json.loads(text)] == ["local/aaa", "local/mine"]
    assert [d.id for d in catalog.load_local_descriptors(path)] == ["local/aaa", "local/mine"]
    out = catalog.export_local_descriptor("local/mine", tmp_path / "out" / "mine.json", path)
    assert json.loads(out.read_text())["collection_uri"] == str(tmp_path)
    DatasetRegistry.register(local)
    removed = catalog.unregister_local_descriptor("local/mine", path)
    assert removed.id == "local/mine" and DatasetRegistry.get("local/mine") is None
    assert [d.id for d in catalog.load_local_descriptors(path)] == ["local/aaa"]
    assert catalog.remove_local_descriptor("local/none", path) is None
    with pytest.raises(KeyError, match="Local dataset 'local/none' not found."):
        catalog.export_local_descriptor("local/none", tmp_path / "x.json", path)


def test_local_registry_env_path_and_bad_files(tmp_path, monkeypatch):
    path = tmp_path / "env.json"
    monkeypatch.setenv("RASTERET_LOCAL_DATASETS_PATH", str(path))
    assert catalog.load_local_descriptors() == []
    path.write_text("{not json", encoding="utf-8")
    with pytest.warns(UserWarning, match=str(path)):
        assert catalog.load_local_descriptors() == []
    path.write_text('{"id": "x"}', encoding="utf-8")
    with pytest.warns(UserWarning, match="expected a JSON list"):
        assert catalog.load_local_descriptors() == []
    path.write_text('[1, {"id": "a/b", "name": "B", "bogus": 1}, {"id": "c/d", "name": "D"}]')
    with pytest.warns(UserWarning, match="Skipping invalid entry 'a/b'"):
        assert [d.id for d in catalog.load_local_descriptors()] == ["c/d"]


def test_cloud_helpers():
    landsat = CloudConfig.get_config("earthsearch/landsat-c2-l2")
    assert s3_overrides_from_config(landsat) == {
        "usgs-landsat": {"region": "us-west-2", "request_payer": "true"}
    }
    aef = CloudConfig.get_config("aef/v1-annual")
    assert s3_overrides_from_config(aef) == {
        "us-west-2.opendata.source.coop": {"region": "us-west-2", "skip_signature": "true"}
    }
    assert s3_overrides_from_config(None) == {}
    url = "https://landsatlook.usgs.gov/data/collection02/x.tif"
    assert rewrite_url(url, landsat) == "s3://usgs-landsat/collection02/x.tif"
    assert rewrite_url("https://other/x.tif", landsat) == "https://other/x.tif"
    assert rewrite_url(url, None) == url
    cfg = backend_config_from_cloud_config(landsat)
    assert cfg["default_s3_config"] == {"request_payer": "true", "region": "us-west-2"}
    assert cfg["url_patterns"] == landsat.url_patterns and "s3_overrides" in cfg
    assert backend_config_from_cloud_config(None) == {}
    assert backend_config_from_cloud_config(CloudConfig("aws")) == {}


def test_options():
    assert rasteret.get_options().progress is False
    with rasteret.options(progress=True) as current:
        assert current.progress and rasteret.get_options().progress
        rasteret.set_options(progress=None)
        assert rasteret.get_options().progress
    assert rasteret.get_options().progress is False


def test_lazy_top_level_exports():
    assert rasteret.DatasetRegistry is DatasetRegistry
    assert rasteret.BandRegistry is BandRegistry and rasteret.CloudConfig is CloudConfig
    with pytest.raises(AttributeError, match="has no attribute 'Rasteret'"):
        rasteret.Rasteret  # noqa: B018
    assert dir(rasteret) == sorted(set(rasteret.__all__))
