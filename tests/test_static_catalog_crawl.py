"""Static STAC catalogs crawled concurrently through the engine (``fetch_objects``) and parsed
by pystac: the same items, in the same order, as pystac's own sequential walk; one request per
document; errors naming the document; cycles end."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pystac
import pytest
import rasteret
from rasteret.errors import RemoteNotFoundError
from rasteret.ingest.stac_indexer import StacCollectionBuilder
from rasteret.ingest.static_catalog import iter_static_items
from rasteret.read import engine
from support.range_server import RangeServer
from support.static_catalogs import nested_documents, write_nested_catalog

BAND_MAP = {"B04": "red", "B03": "green", "B02": "blue", "B08": "nir"}
#: item order in the catalog: not the archive's, so the walk order is visible
PERMUTATION = [5, 0, 11, 3, 8, 1, 10, 6, 2, 9, 4, 7]
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def nested(stac_archive: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The nested catalog on disk (``.path``) and served (``.server``, ``.url``)."""
    root = tmp_path_factory.mktemp("nested-static")
    items = [stac_archive.items[k] for k in PERMUTATION]
    path = write_nested_catalog(root, stac_archive.collection, items)
    with RangeServer(root) as server:
        yield _Nested(path, server, items, stac_archive.collection_id)


class _Nested:
    def __init__(self, path: Path, server: RangeServer, items: list[Any], cid: str) -> None:
        self.path, self.server, self.items, self.collection_id = path, server, items, cid
        self.url = server.url("catalog.json")


def _pystac_walk(
    href: str,
    child_id: str | None,
    bbox: list[float] | None = None,
    date_range: tuple[str, str] | None = None,
    max_items: int | None = None,
) -> list[dict[str, Any]]:
    """What the static walk gave before the concurrent crawl: pystac's sequential walk."""
    root = pystac.Catalog.from_file(href)
    child = root.get_child(child_id) if child_id else None
    out: list[dict[str, Any]] = []
    for item in (child or root).get_items(recursive=True):
        item.make_asset_hrefs_absolute()
        d = item.to_dict(transform_hrefs=False)
        if bbox is not None and d.get("bbox"):
            ib = d["bbox"]
            if ib[2] < bbox[0] or ib[0] > bbox[2] or ib[3] < bbox[1] or ib[1] > bbox[3]:
                continue
        if date_range is not None:
            when = d.get("properties", {}).get("datetime") or ""
            if not (date_range[0] <= when <= f"{date_range[1]}T23:59:59Z"):
                continue
        out.append(d)
        if max_items is not None and len(out) >= max_items:
            break
    return out


def _without_links(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Item dicts minus ``links`` (pystac writes a resolved parent/root link as an absolute
    href, an unresolved one as written; no record field comes from links)."""
    return [{k: v for k, v in d.items() if k != "links"} for d in docs]


def _walk_static(href: str, data_source: str, query: dict[str, Any] | None = None, **kw: Any):
    builder = StacCollectionBuilder(
        data_source=data_source, stac_api=href, static_catalog=True, max_concurrent=8
    )
    return builder._walk_static(kw.get("bbox"), kw.get("date_range"), dict(query or {}))


# ------------------------------------------------------------------------- fetch_objects


def test_fetch_objects_whole_bodies_in_order(tmp_path: Path) -> None:
    small = tmp_path / "small.json"
    small.write_bytes(b'{"a": 1}')
    big = tmp_path / "big.bin"
    payload = bytes(range(256)) * (3 * MIB // 256 + 77)  # > 1 MiB: a second request
    big.write_bytes(payload)
    (tmp_path / "empty.json").write_bytes(b"")
    with RangeServer(tmp_path) as server:
        urls = [
            server.url("big.bin"),
            str(small),
            small.as_uri(),
            server.url("small.json"),
            server.url("missing.json"),
            server.url("empty.json"),
        ]
        done: list[int] = []
        bodies = engine.fetch_objects(urls, options={"max_concurrent": 4}, progress=done.append)
        assert bodies[0] == payload
        assert bodies[1] == bodies[2] == bodies[3] == b'{"a": 1}'
        assert isinstance(bodies[4], RemoteNotFoundError)
        assert server.url("missing.json") in str(bodies[4])
        assert bodies[5] == b""
        assert done[-1] == len(urls)
        assert server.count("small.json") == 1
        assert server.count("big.bin") == 2


# ------------------------------------------------------------------ same items as pystac


@pytest.mark.parametrize("where", ["path", "url"])
def test_crawl_gives_pystac_items_in_pystac_order(nested: Any, where: str) -> None:
    href = str(nested.path) if where == "path" else nested.url
    placed = [i["id"] for i in nested.items]  # the layout's walk order is the list order
    expected_ids = {nested.collection_id: placed[7:12], "regions": placed[2:7]}
    for child_id in (None, "no-such-child", nested.collection_id, "regions"):
        expected = _pystac_walk(href, child_id)
        got = []
        for item in iter_static_items(href, child_id=child_id, options={"max_concurrent": 4}):
            item.make_asset_hrefs_absolute()
            got.append(item.to_dict(transform_hrefs=False))
        assert _without_links(got) == _without_links(expected), child_id
        assert [d["id"] for d in got] == expected_ids.get(child_id, placed), child_id


def test_walk_static_filters_like_pystac(nested: Any) -> None:
    bbox = [10.0, 43.0, 14.0, 46.0]
    date_range = ("2024-02-01", "2024-05-31")
    found = []
    for kw, query in (
        ({}, {}),
        ({"bbox": bbox}, {}),
        ({"date_range": date_range}, {}),
        ({"bbox": bbox, "date_range": date_range}, {"max_items": 2}),
        ({}, {"max_items": 5}),
    ):
        got = _walk_static(nested.url, "all", query, **kw)
        expected = _pystac_walk(nested.url, "all", max_items=query.get("max_items"), **kw)
        assert _without_links(got) == _without_links(expected), (kw, query)
        found.append(len(got))
    assert found[0] == 12 and all(0 < n < 12 for n in found[1:]), found


def test_build_from_static_catalog_one_request_per_document(
    nested: Any, stac_archive: Any, tmp_path: Path
) -> None:
    nested.server.reset_log()
    stac_archive.cog_server.reset_log()
    coll = rasteret.build_from_stac(
        name="nested",
        stac_api=nested.url,
        collection=nested.collection_id,
        data_source="whole-catalog",  # no child of that id: every item of the catalog
        band_map=BAND_MAP,
        workspace_dir=tmp_path,
        static_catalog=True,
    )
    table = coll.to_table()
    # every record, in the catalog's order, its assets the archive's COGs
    assert table.column("id").to_pylist() == [i["id"] for i in nested.items]
    for item, assets in zip(nested.items, table.column("assets").to_pylist(), strict=True):
        assert {b: a["href"] for b, a in assets.items()} == {
            band: item["assets"][key]["href"] for band, key in BAND_MAP.items()
        }
    clouds = table.column("eo:cloud_cover").to_pylist()
    assert clouds == [i["properties"]["eo:cloud_cover"] for i in nested.items]
    assert pc.all(pc.is_valid(table.column("B04_metadata"))).as_py()
    # one request per document: each JSON of the layout exactly once, nothing else
    asked = Counter(r.path for r in nested.server.requests)
    docs = nested_documents(stac_archive.collection, nested.items)
    assert asked == Counter(dict.fromkeys(docs, 1))
    # the COG headers: one request each (they fit the header read-ahead)
    assert stac_archive.cog_server.count() == 12 * 4


def test_narrowed_build_fetches_only_the_child(nested: Any, tmp_path: Path) -> None:
    nested.server.reset_log()
    coll = rasteret.build_from_stac(
        name="narrow",
        stac_api=nested.url,
        collection=nested.collection_id,
        band_map=BAND_MAP,
        workspace_dir=tmp_path,
        static_catalog=True,
    )
    assert coll.to_table().column("id").to_pylist() == [i["id"] for i in nested.items[7:12]]
    cid = nested.collection_id
    expected = ["catalog.json", f"{cid}/collection.json"]
    expected += [f"{cid}/{i['id']}/{i['id']}.json" for i in nested.items[7:12]]
    assert sorted(r.path for r in nested.server.requests) == sorted(expected)


def test_documents_are_fetched_concurrently(stac_archive: Any, tmp_path: Path) -> None:
    write_nested_catalog(tmp_path, stac_archive.collection, stac_archive.items)
    with RangeServer(tmp_path) as server:
        server.latency_ms = 150
        items = list(iter_static_items(server.url("catalog.json"), options={"max_concurrent": 50}))
        assert len(items) == 12
        # 5 item documents hang on the server at once (each asks for a 1 MiB range)
        assert server.peak_bytes_in_flight >= 5 * MIB
        assert server.count() == 4 + 12


# ------------------------------------------------ many items: batches parsed while fetched

#: items in the flat catalog: more than two fetch batches at max_concurrent=8 (100 per batch)
MANY = 250


@pytest.fixture(scope="module")
def flat(stac_archive: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A flat catalog of ``MANY`` items (``items/<id>.json``), item ``k`` a copy of the
    archive's item ``k % 12`` under its own id, so the 48 archive COGs are each shared by
    about 20 items, in several fetch batches."""
    root = tmp_path_factory.mktemp("flat-static")
    (root / "items").mkdir()
    ids = []
    for k in range(MANY):
        item = json.loads(json.dumps(stac_archive.items[k % 12]))
        item["id"] = f"{item['id']}-{k:03d}"
        item["links"] = [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
        ]
        (root / "items" / f"{item['id']}.json").write_text(json.dumps(item))
        ids.append(item["id"])
    links = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
    links += [{"rel": "item", "href": f"./items/{i}.json"} for i in ids]
    catalog = {"type": "Catalog", "stac_version": "1.0.0", "id": "flat", "description": "flat"}
    (root / "catalog.json").write_text(json.dumps({**catalog, "links": links}))
    with RangeServer(root) as server:
        yield _Nested(root / "catalog.json", server, ids, "flat")


def test_batches_parsed_while_fetching_match_pystac(flat: Any) -> None:
    builder = StacCollectionBuilder(
        data_source="all",
        stac_api=flat.url,
        static_catalog=True,
        max_concurrent=8,
        band_map=BAND_MAP,
    )
    headers: list[Any] = []
    got = builder._walk_static(None, None, {}, headers)
    assert [d["id"] for d in got] == flat.items
    assert _without_links(got) == _without_links(_pystac_walk(flat.url, "all"))
    # the headers of the first batches were read before the last batch was parsed, and each
    # COG once although about 20 items share it
    assert headers, "no headers were read during the walk"
    asked = [u for batch in headers for u in batch.column("url").to_pylist()]
    assert len(asked) == len(set(asked)) and 0 < len(asked) <= 48
    # a band map inferred from the asset keys depends on every item: nothing read early
    inferred = StacCollectionBuilder(
        data_source="all", stac_api=flat.url, static_catalog=True, max_concurrent=8
    )
    none: list[Any] = []
    assert _without_links(inferred._walk_static(None, None, {}, none)) == _without_links(got)
    assert none == []


def test_build_with_headers_read_during_the_walk(
    flat: Any, stac_archive: Any, tmp_path: Path
) -> None:
    tables = {}
    for how, query in (("walk", None), ("sequential", {"max_items": 10 * MANY})):
        flat.server.reset_log()
        stac_archive.cog_server.reset_log()
        coll = rasteret.build_from_stac(
            name=how,
            stac_api=flat.url,
            collection="flat",
            data_source="all",
            band_map=BAND_MAP,
            workspace_dir=tmp_path,
            static_catalog=True,
            max_concurrent=8,
            query=query,
        )
        tables[how] = coll.to_table().sort_by("id")
        # every document once; every distinct COG header once (48 COGs, 250 items)
        assert Counter(r.path for r in flat.server.requests) == Counter(
            ["catalog.json"] + [f"items/{i}.json" for i in flat.items]
        ), how
        assert stac_archive.cog_server.count() == 48, how
    walk, sequential = tables["walk"], tables["sequential"]
    assert walk.num_rows == MANY
    assert walk.column("id").to_pylist() == sorted(flat.items)
    assert pc.all(pc.is_valid(walk.column("B08_metadata"))).as_py()
    # the item-by-item walk (max_items) and the pipelined one give the same records
    assert walk.equals(sequential)


# ------------------------------------------------------------------------------- errors


def test_missing_item_names_its_url(nested: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(nested.path.parent, broken)
    lost = nested.items[5]["id"]  # linked from regions/north/catalog.json
    (broken / "regions" / "north" / f"{lost}.json").unlink()
    with RangeServer(broken) as server:
        for href, base in (
            (str(broken / "catalog.json"), str(broken)),
            (server.url("catalog.json"), server.base_url.rstrip("/")),
        ):
            with pytest.raises(RemoteNotFoundError) as err:
                _walk_static(href, "all")
            message = str(err.value)
            assert f"item {base}/regions/north/{lost}.json" in message, message
            assert f"linked from {base}/regions/north/catalog.json" in message, message
            assert isinstance(err.value, FileNotFoundError)


def test_missing_root_and_bad_json_name_the_document(nested: Any, tmp_path: Path) -> None:
    with pytest.raises(RemoteNotFoundError, match="root catalog .*nope/catalog.json"):
        list(iter_static_items(str(tmp_path / "nope" / "catalog.json")))
    shutil.copytree(nested.path.parent, tmp_path / "bad")
    (tmp_path / "bad" / "regions" / "catalog.json").write_text("{not json")
    bad_url = re.escape(str(tmp_path / "bad" / "regions" / "catalog.json"))
    with pytest.raises(ValueError, match=f"catalog {bad_url} .*is not valid JSON"):
        list(iter_static_items(str(tmp_path / "bad" / "catalog.json")))


def test_cycles_end(stac_archive: Any, tmp_path: Path) -> None:
    items = [stac_archive.items[k] for k in PERMUTATION]
    write_nested_catalog(tmp_path, stac_archive.collection, items, cycle=True)
    with RangeServer(tmp_path) as server:
        got = list(iter_static_items(server.url("catalog.json")))
        assert [i.id for i in got] == [i["id"] for i in items]
        # every document once, the ones linked again included
        assert Counter(r.path for r in server.requests) == Counter(
            dict.fromkeys(nested_documents(stac_archive.collection, items, cycle=True), 1)
        )


def test_catalog_on_s3(nested: Any, s3_server: Any) -> None:
    """pystac alone cannot read s3:// documents; the engine routes them like COG reads."""
    base = nested.path.parent
    bucket = "rasteret-static-catalog"  # its own bucket: the session bucket holds the corpus
    s3_server.client.create_bucket(Bucket=bucket)
    for path in sorted(base.rglob("*.json")):
        key = f"nested/{path.relative_to(base).as_posix()}"
        s3_server.client.upload_file(str(path), bucket, key)
    href = f"s3://{bucket}/nested/catalog.json"
    got = list(iter_static_items(href, options=s3_server.options))
    assert [i.id for i in got] == [i["id"] for i in nested.items]
    item = got[0]
    assert item.get_self_href() == f"s3://{bucket}/nested/items/{item.id}.json"
    expected = _pystac_walk(str(nested.path), None)
    dicts = [i.to_dict(transform_hrefs=False) for i in got]
    assert _without_links(dicts) == _without_links(expected)
