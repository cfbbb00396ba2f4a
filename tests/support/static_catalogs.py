"""A nested static STAC catalog (catalog -> catalogs/collection -> items), every link relative.

Layout written by :func:`write_nested_catalog` for 12 items ``I0..I11``::

    catalog.json                  Catalog "nested-root": items I0, I1 (./items/<id>.json),
                                  children ./regions/catalog.json and ./<cid>/collection.json
    items/<id>.json               I0, I1
    regions/catalog.json          Catalog "regions": child north/catalog.json (no ./), items
                                  I2, I3 as ../items/<id>.json
    regions/north/catalog.json    Catalog "north": items I4..I6 as <id>.json (same folder)
    <cid>/collection.json         the Collection: items I7..I11 at ./<id>/<id>.json

With ``cycle=True``, ``regions/north/catalog.json`` also links back to ``../catalog.json`` and
``../../catalog.json`` as children, and the collection to itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STAC_VERSION = "1.0.0"
JSON = "application/json"


def _link(rel: str, href: str) -> dict[str, str]:
    return {"rel": rel, "href": href, "type": JSON}


def _catalog(cid: str, links: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": cid,
        "description": f"{cid} (nested test catalog)",
        "links": links,
    }


def _item(item: dict[str, Any], root: str, parent: str) -> dict[str, Any]:
    doc = dict(item)
    doc["links"] = [_link("root", root), _link("parent", parent)]
    return doc


def nested_documents(
    collection: dict[str, Any], items: list[dict[str, Any]], *, cycle: bool = False
) -> dict[str, dict[str, Any]]:
    """``{relative path: document}`` of the layout above (``items`` holds 12 Item dicts)."""
    if len(items) != 12:
        raise ValueError("the nested layout places exactly 12 items")
    cid = collection["id"]
    ids = [i["id"] for i in items]
    docs: dict[str, dict[str, Any]] = {}
    docs["catalog.json"] = _catalog(
        "nested-root",
        [
            _link("root", "./catalog.json"),
            *(_link("item", f"./items/{i}.json") for i in ids[0:2]),
            _link("child", "./regions/catalog.json"),
            _link("child", f"./{cid}/collection.json"),
        ],
    )
    for item in items[0:4]:
        docs[f"items/{item['id']}.json"] = _item(item, "../catalog.json", "../catalog.json")
    north_links = [
        _link("root", "../../catalog.json"),
        _link("parent", "../catalog.json"),
        *(_link("item", f"{i}.json") for i in ids[4:7]),
    ]
    if cycle:
        north_links += [_link("child", "../catalog.json"), _link("child", "../../catalog.json")]
    docs["regions/catalog.json"] = _catalog(
        "regions",
        [
            _link("root", "../catalog.json"),
            _link("parent", "../catalog.json"),
            _link("child", "north/catalog.json"),
            *(_link("item", f"../items/{i}.json") for i in ids[2:4]),
        ],
    )
    docs["regions/north/catalog.json"] = _catalog("north", north_links)
    for item in items[4:7]:
        docs[f"regions/north/{item['id']}.json"] = _item(
            item, "../../catalog.json", "./catalog.json"
        )
    coll = dict(collection)
    coll["links"] = [
        _link("root", "../catalog.json"),
        _link("parent", "../catalog.json"),
        *(_link("item", f"./{i}/{i}.json") for i in ids[7:12]),
    ]
    if cycle:
        coll["links"].append(_link("child", "./collection.json"))
    docs[f"{cid}/collection.json"] = coll
    for item in items[7:12]:
        docs[f"{cid}/{item['id']}/{item['id']}.json"] = _item(
            item, "../../catalog.json", "../collection.json"
        )
    return docs


def write_nested_catalog(
    root: Path, collection: dict[str, Any], items: list[dict[str, Any]], *, cycle: bool = False
) -> Path:
    """Write :func:`nested_documents` under ``root``; returns the root ``catalog.json``."""
    for rel, doc in nested_documents(collection, items, cycle=cycle).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1))
    return root / "catalog.json"
