"""The STAC fixtures work: a real STAC API (stac-fastapi-pgstac) and a static catalog, both
over the synthetic Sentinel-2-like archive, queried with pystac-client / pystac."""

from __future__ import annotations

import json
import urllib.request
import warnings
from datetime import datetime
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import requests
from pystac_client import Client
from pystac_client.warnings import DoesNotConformTo
from rasterio.warp import transform_bounds
from support.stac_items import ASSET_KEYS, SCENES, scene_pixels
from support.stac_server import StacApi

# A box around tile 33TWN (~15.0°E 45.1°N) only; the other tiles are > 1° away.
BBOX_33TWN = [14.9, 45.0, 15.1, 45.2]
DATE_RANGE = "2024-02-01T00:00:00Z/2024-04-30T23:59:59Z"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _expected(
    items: list[dict[str, Any]],
    bbox: list[float] | None = None,
    dates: str | None = None,
    cloud_lt: float | None = None,
) -> set[str]:
    """Ids matching the filters, computed locally from the loaded item dicts."""
    out = set()
    for item in items:
        w, s, e, n = item["bbox"]
        if bbox is not None and (w > bbox[2] or e < bbox[0] or s > bbox[3] or n < bbox[1]):
            continue
        if dates is not None:
            start, end = (_ts(x) for x in dates.split("/"))
            if not start <= _ts(item["properties"]["datetime"]) <= end:
                continue
        if cloud_lt is not None and not item["properties"]["eo:cloud_cover"] < cloud_lt:
            continue
        out.add(item["id"])
    return out


class _Counter:
    """A pystac-client ``request_modifier`` recording every request it sends."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def __call__(self, request: requests.Request) -> None:
        self.requests.append((request.method or "", request.url or ""))

    def searches(self) -> int:
        return sum(1 for _, url in self.requests if "/search" in url)


def _client(api: StacApi, counter: _Counter | None = None) -> Client:
    return Client.open(api.url, request_modifier=counter)


# ---------------------------------------------------------------------------- the API


def test_api_landing_conformance_and_collection(stac_api: StacApi) -> None:
    client = _client(stac_api)
    for conformance in ("ITEM_SEARCH", "QUERY", "FILTER", "COLLECTIONS", "FEATURES"):
        assert client.conforms_to(conformance), conformance
    collection = client.get_collection(stac_api.collection_id)
    assert collection.id == "test-s2"
    assert stac_api.max_limit < len(stac_api.items) == 12
    assert stac_api.timings["total"] > 0


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_api_bbox_datetime_query(stac_api: StacApi, method: str) -> None:
    counter = _Counter()
    search = _client(stac_api, counter).search(
        method=method,
        collections=[stac_api.collection_id],
        bbox=BBOX_33TWN,
        datetime=DATE_RANGE,
        query={"eo:cloud_cover": {"lt": 10}},
    )
    ids = {item["id"] for item in search.items_as_dicts()}
    expected = _expected(stac_api.items, BBOX_33TWN, DATE_RANGE, 10)
    assert expected == {"S2A_33TWN_20240214_0_L2A", "S2B_33TWN_20240325_0_L2A"}
    assert ids == expected
    assert {m for m, url in counter.requests if "/search" in url} == {method}
    # each filter alone narrows the archive as computed locally
    for kwargs, exp in [
        ({"bbox": BBOX_33TWN}, _expected(stac_api.items, bbox=BBOX_33TWN)),
        ({"datetime": DATE_RANGE}, _expected(stac_api.items, dates=DATE_RANGE)),
        ({"query": {"eo:cloud_cover": {"lt": 20}}}, _expected(stac_api.items, cloud_lt=20)),
    ]:
        got = {i["id"] for i in _client(stac_api).search(method=method, **kwargs).items_as_dicts()}
        assert got == exp and 0 < len(exp) < 12, kwargs


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("limit", [None, 3, 100])
def test_api_paging(stac_api: StacApi, method: str, limit: int | None) -> None:
    counter = _Counter()
    search = _client(stac_api, counter).search(
        method=method, collections=[stac_api.collection_id], limit=limit
    )
    pages = list(search.pages_as_dicts())
    page_size = min(limit or stac_api.default_limit, stac_api.max_limit)
    assert [len(p["features"]) for p in pages[:-1]] == [page_size] * (len(pages) - 1)
    assert len(pages) == -(-12 // page_size) > 1
    ids = [f["id"] for p in pages for f in p["features"]]
    assert sorted(ids) == sorted(stac_api.item_ids)  # every item once, no duplicates
    assert counter.searches() == len(pages)
    # default order: newest first
    dts = [f["properties"]["datetime"] for p in pages for f in p["features"]]
    assert dts == sorted(dts, reverse=True)


def test_api_caps_limit_and_reports_number_matched(stac_api: StacApi) -> None:
    with urllib.request.urlopen(f"{stac_api.search_url}?limit=1000") as resp:
        page = json.load(resp)
    assert len(page["features"]) == stac_api.max_limit
    assert page["numberMatched"] == 12
    assert any(link["rel"] == "next" for link in page["links"])
    assert _client(stac_api).search(collections=[stac_api.collection_id]).matched() == 12


def test_api_max_items(stac_api: StacApi) -> None:
    counter = _Counter()
    search = _client(stac_api, counter).search(collections=[stac_api.collection_id], max_items=7)
    items = list(search.items_as_dicts())
    assert len(items) == 7
    assert counter.searches() == 2  # 5 + 2 of the second page; the third is never fetched


def test_api_intersects_and_sortby(stac_api: StacApi) -> None:
    point = {"type": "Point", "coordinates": [12.47, 45.11]}  # inside tile 33TUN
    search = _client(stac_api).search(intersects=point)
    ids = {i["id"] for i in search.items_as_dicts()}
    assert ids == {s.id for s in SCENES if s.tile == "33TUN"}
    with warnings.catch_warnings():
        # pgstac advertises sort v1.1.0; pystac-client 0.9 only knows the older URI
        warnings.simplefilter("ignore", DoesNotConformTo)
        search = _client(stac_api).search(sortby="+properties.eo:cloud_cover", limit=100)
        clouds = [i["properties"]["eo:cloud_cover"] for i in search.items_as_dicts()]
    assert clouds == sorted(clouds) and len(clouds) == 12  # numeric, not text, order


def test_api_round_trips_items(stac_api: StacApi) -> None:
    search = _client(stac_api).search(collections=[stac_api.collection_id])
    served = {i["id"]: i for i in search.items_as_dicts()}
    for item in stac_api.items:
        got = served[item["id"]]
        assert got["properties"] == item["properties"]
        assert got["assets"] == item["assets"]
        assert got["bbox"] == pytest.approx(item["bbox"])
        assert got["geometry"]["type"] == "Polygon"
        assert got["properties"]["proj:epsg"] in (32632, 32633)
        assert set(got["assets"]) == set(ASSET_KEYS)


def test_pystac_items_migrate_proj_epsg_to_proj_code(stac_api: StacApi) -> None:
    """Documented pitfall: pystac-client yields *migrated* pystac Items, where
    ``proj:epsg`` became ``proj:code``; only the raw dicts keep ``proj:epsg``."""
    item = next(iter(_client(stac_api).search(max_items=1).items()))
    assert item.properties.get("proj:code") in ("EPSG:32632", "EPSG:32633")
    assert "proj:epsg" not in item.properties
    raw = next(iter(_client(stac_api).search(max_items=1).items_as_dicts()))
    assert raw["properties"]["proj:epsg"] in (32632, 32633)


def test_api_collection_items_endpoint_pages(stac_api: StacApi) -> None:
    counter = _Counter()
    collection = _client(stac_api, counter).get_collection(stac_api.collection_id)
    ids = [item.id for item in collection.get_items()]
    assert sorted(ids) == sorted(stac_api.item_ids)
    assert sum(1 for _, url in counter.requests if "/items" in url) > 1


# ---------------------------------------------------------------------------- assets


def test_asset_hrefs_serve_ranges_and_open_in_rasterio(stac_api: StacApi) -> None:
    archive = stac_api.archive
    raw = next(iter(_client(stac_api).search(ids=[SCENES[4].id]).items_as_dicts()))
    scene = archive.scene(raw["id"])
    href = raw["assets"]["nir"]["href"]
    assert href.startswith(stac_api.cog_server.base_url + "/")
    request = urllib.request.Request(href, headers={"Range": "bytes=0-15"})
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 206
        head = resp.read()
    assert len(head) == 16 and head[:4] == b"II*\x00"
    before = stac_api.cog_server.count()
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with rasterio.open(f"/vsicurl/{href}") as src:
            assert src.crs.to_epsg() == raw["properties"]["proj:epsg"]
            assert [src.height, src.width] == raw["assets"]["nir"]["proj:shape"]
            assert list(src.transform)[:6] == raw["assets"]["nir"]["proj:transform"]
            assert src.nodata == 0 and src.dtypes[0] == "uint16"
            np.testing.assert_array_equal(src.read(1), scene_pixels(scene, "nir"))
            bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    assert stac_api.cog_server.count() > before
    w, s, e, n = raw["bbox"]
    assert w <= bounds[0] and s <= bounds[1] and e >= bounds[2] and n >= bounds[3]
    assert bounds == pytest.approx(raw["bbox"], abs=1e-3)  # a tight footprint


def test_archive_cogs_match_items(stac_archive: Any) -> None:
    for item in stac_archive.items:
        scene = stac_archive.scene(item["id"])
        for key in ASSET_KEYS:
            path = stac_archive.paths[item["id"]][key]
            assert item["assets"][key]["href"] == stac_archive.cog_server.url(
                path.relative_to(stac_archive.root)
            )
            with rasterio.open(path) as src:
                assert src.crs.to_epsg() == scene.epsg
                assert src.overviews(1)  # a real COG with an internal overview
                assert src.block_shapes[0] == (256, 256)


# ---------------------------------------------------------------------------- static


def test_static_catalog_local(static_catalog: Any) -> None:
    catalog = pystac.Catalog.from_file(str(static_catalog.path))
    collection = catalog.get_child(static_catalog.collection_id)
    assert isinstance(collection, pystac.Collection)
    items = list(catalog.get_items(recursive=True))
    assert sorted(i.id for i in items) == sorted(i["id"] for i in static_catalog.items)
    hrefs = {i.id: i.assets["red"].href for i in items}
    assert hrefs == {i["id"]: i["assets"]["red"]["href"] for i in static_catalog.items}
    # every link on disk is relative
    for path in static_catalog.root.rglob("*.json"):
        for link in json.loads(path.read_text())["links"]:
            assert not link["href"].startswith(("/", "http")), (path, link)


def test_static_catalog_http(static_catalog: Any) -> None:
    catalog = pystac.Catalog.from_file(static_catalog.url)
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 12
    assert all(i.get_self_href().startswith(static_catalog.server.base_url) for i in items)
    assert static_catalog.server.count() >= 14  # catalog + collection + 12 items


def test_missing_postgres_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import support.stac_server as stac_server

    monkeypatch.setattr(stac_server.glob, "glob", lambda pattern: [])
    with pytest.raises(stac_server.StacServerError, match="install-system-deps.sh"):
        stac_server.find_pg_bin()
