"""Dual-surface collections: a narrow record index plans reads of a
wide collection written from GDAL corpus COGs served over HTTP.

The index uses other column names than the collection (``fid``, ``geom``, integer ``year``,
an ``extent`` bbox struct, ``path`` hrefs, ``crs`` strings) and names the collection part
holding each record (``source_part``). Listing, counting and planning must not open the wide
Parquet; materialising opens only the selected parts; pixels equal rasterio.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import rasteret
import rasterio
import shapely
from rasteret.catalog import DatasetDescriptor, DatasetRegistry
from support.corpus_collection import (
    BAND,
    aoi_in_4326,
    corpus_record_table,
    eligible_entries,
    oracle_mask,
)

ROLES = {
    "id": "fid",
    "geometry": "geom",
    "datetime": "year",
    "bbox": "extent",
    "href": "path",
    "proj:epsg": "crs",
}
COLLECTION_FIELDS = ["id", "geometry", "bbox", "datetime", "assets", "year", "eo:cloud_cover"]


@pytest.fixture(scope="module")
def published(cog_corpus, http_server, tmp_path_factory):
    """Entries, the record table, the wide collection directory and the index file."""
    entries = eligible_entries(cog_corpus)
    records = corpus_record_table(entries, http_server)
    built = rasteret.build_from_table(
        records, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    root = tmp_path_factory.mktemp("dual")
    wide_dir = root / "wide"
    built.export(wide_dir)
    part_of = {}
    for f in sorted(wide_dir.rglob("*.parquet")):
        for rid in pq.read_table(f, columns=["id"]).column("id").to_pylist():
            part_of[rid] = f.relative_to(wide_dir).as_posix()
    assert len(set(part_of.values())) == len(entries)  # one part per year
    epsgs = []
    for e in entries:
        with rasterio.open(e.path) as src:
            epsgs.append(f"EPSG:{src.crs.to_epsg()}")
    bboxes = [shapely.from_wkb(g).bounds for g in records.column("geometry").to_pylist()]
    index = pa.table(
        {
            "fid": records.column("id"),
            "geom": records.column("geometry"),
            "year": pa.array([2020 + i for i in range(len(entries))], pa.int16()),
            "extent": pa.array(
                [dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True)) for b in bboxes],
                pa.struct([(n, pa.float64()) for n in ("xmin", "ymin", "xmax", "ymax")]),
            ),
            "path": records.column("url"),
            "crs": epsgs,
            "source_part": [part_of[r] for r in records.column("id").to_pylist()],
        }
    )
    index_path = root / "index.parquet"
    pq.write_table(index, index_path)
    return {
        "entries": entries,
        "records": records,
        "wide_dir": wide_dir,
        "index_path": index_path,
        "bboxes": bboxes,
        "epsgs": epsgs,
        "part_of": part_of,
    }


@pytest.fixture
def registry():
    saved = dict(DatasetRegistry._descriptors)
    yield DatasetRegistry
    DatasetRegistry._descriptors.clear()
    DatasetRegistry._descriptors.update(saved)


def _register(published, registry, wide_dir=None, **extra):
    descriptor = DatasetDescriptor(
        id=extra.pop("id", "test/dual"),
        name="Dual-surface test collection",
        collection_uri=str(wide_dir or published["wide_dir"]),
        index_uri=str(published["index_path"]),
        field_roles=ROLES,
        band_index_map={BAND: 0},
        surface_fields={
            "index": ["id", "geometry", "bbox", "datetime", "href", "year"],
            "collection": COLLECTION_FIELDS,
        },
        filter_capabilities={
            "index": ["id", "bbox", "datetime", "year"],
            "collection": COLLECTION_FIELDS,
        },
        **extra,
    )
    registry.register(descriptor)
    return descriptor


def _index(coll):
    """The record index planning ``coll`` (None when the view filters wide records only)."""
    return getattr(coll._source, "index", None)


def _wide_opened(coll) -> bool:
    return "wide" in _index(coll)._cache


def _ids(table: pa.Table) -> list[str]:
    return sorted(table.column("id").to_pylist())


def test_descriptor_load_is_a_record_index_collection(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    assert _index(coll) is not None
    assert _index(coll).path == str(published["index_path"])
    assert coll.name == "Dual-surface test collection"
    assert coll.data_source == "test/dual"
    assert not _wide_opened(coll)


def test_planning_never_opens_the_wide_collection(published, registry, tmp_path):
    # a private copy of the wide collection, moved away once loaded: everything below must
    # work from the index alone
    wide = tmp_path / "wide"
    shutil.copytree(published["wide_dir"], wide)
    _register(published, registry, wide_dir=wide)
    coll = rasteret.load("test/dual")
    shutil.move(wide, tmp_path / "gone")
    n = len(published["entries"])

    head = coll.head(3)
    assert head.num_rows == 3
    assert head.column("id").to_pylist() == published["records"].column("id").to_pylist()[:3]
    assert pa.types.is_timestamp(head.schema.field("datetime").type)
    assert [d.year for d in head.column("datetime").to_pylist()] == [2020, 2021, 2022]
    assets = head.column("assets").to_pylist()
    urls = published["records"].column("url").to_pylist()
    assert [a[BAND]["href"] for a in assets] == urls[:3]
    assert all(a[BAND]["band_index"] == 0 for a in assets)
    assert head.column("proj:epsg").to_pylist() == [
        int(c.split(":")[1]) for c in published["epsgs"][:3]
    ]
    assert coll.head(2, columns=["id", "crs"]).column_names == ["id", "crs"]

    assert coll.bands == [BAND]
    assert coll.epsg == sorted({int(c.split(":")[1]) for c in published["epsgs"]})
    assert coll.crs == sorted(set(published["epsgs"]))
    assert len(coll) == n
    xs = np.array(published["bboxes"])
    assert coll.bounds == pytest.approx(
        (xs[:, 0].min(), xs[:, 1].min(), xs[:, 2].max(), xs[:, 3].max())
    )
    sub = coll.subset(date_range=("2021-01-01", "2023-06-30"))
    assert len(sub) == 3
    assert sub.subset(bbox=(-180, -90, 180, 90)).head(10).num_rows == 3
    assert "records=8" in repr(coll)
    assert coll.describe()["records"] == n
    assert not _wide_opened(coll) and not _wide_opened(sub)
    # reading records needs the wide collection, which is gone
    with pytest.raises(FileNotFoundError):
        sub.to_table()


def test_subset_compiles_for_both_surfaces_and_opens_only_selected_parts(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    sub = coll.subset(date_range=("2021-03-01", "2023-12-31"))
    # integer-year index column: both surfaces compare whole years (2021..2023)
    assert "year" in str(sub._source.index_expr)
    wide_expr = str(sub._source.wide_expr)
    assert "year" in wide_expr and "datetime" not in wide_expr
    assert not _wide_opened(sub)
    expected = sorted(published["records"].column("id").to_pylist()[1:4])
    table = sub.to_table()
    assert _ids(table) == expected
    # materialised from exactly the three parts holding those records
    files = {
        Path(f).relative_to(published["wide_dir"]).as_posix()
        for f in sub._source.to_dataset().files
    }
    assert files == {published["part_of"][r] for r in expected}
    assert f"{BAND}_metadata" in table.column_names
    assert coll.dataset is None  # the parent view is untouched


def test_dataset_stays_none_while_deferred(published, registry):
    # the wide dataset is never exposed, even by views and after reads (which open only the
    # parts the index selects)
    _register(published, registry)
    coll = rasteret.load("test/dual")
    ids = published["records"].column("id").to_pylist()
    sub = coll.subset(date_range=("2021-01-01", "2022-12-31"))
    on_index = coll.where(ds.field("year") == 2022)
    for view in (coll, sub, on_index):
        assert view.dataset is None
        assert not _wide_opened(view)
    on_wide = coll.where(ds.field("eo:cloud_cover") > 65)  # checked on the wide schema
    assert on_wide.dataset is None
    assert _ids(sub.to_table(columns=["id"])) == sorted(ids[1:3])
    assert _ids(on_wide.to_table(columns=["id"])) == sorted(ids[6:])
    entry = published["entries"][2]
    aoi = aoi_in_4326(entry)
    got = on_index.get_numpy(aoi, [BAND])
    np.testing.assert_array_equal(got[0], oracle_mask(entry, aoi), err_msg=entry.name)
    for view in (coll, sub, on_index, on_wide):
        assert view.dataset is None


def test_bbox_and_geometries_filters_on_the_index(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    ids = published["records"].column("id").to_pylist()
    bboxes = published["bboxes"]

    def overlapping(q):
        return sorted(
            r
            for r, b in zip(ids, bboxes, strict=True)
            if b[2] >= q[0] and b[0] <= q[2] and b[3] >= q[1] and b[1] <= q[3]
        )

    b0 = bboxes[0]
    query = (b0[0], b0[1], (b0[0] + b0[2]) / 2, (b0[1] + b0[3]) / 2)
    sub = coll.subset(bbox=query)
    assert "extent" in str(sub._source.index_expr)
    assert len(sub) == len(overlapping(query))
    assert _ids(sub.to_table(columns=["id"])) == overlapping(query)
    b5 = bboxes[5]
    geoms = [shapely.box(*query), shapely.box(*b5)]
    sub2 = coll.subset(geometries=geoms)
    expected = sorted(set(overlapping(query)) | set(overlapping(b5)))
    assert len(sub2) == len(expected)
    assert _ids(sub2.to_table(columns=["id"])) == expected
    # chained filters AND together
    sub3 = sub2.subset(date_range=("2025-01-01", "2025-12-31"))
    assert _ids(sub3.to_table(columns=["id"])) == [r for r in expected if r == ids[5]]


def test_validation_errors_without_opening(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    for kwargs, message in [
        ({}, "No filters provided"),
        ({"cloud_cover_lt": 150}, "Invalid cloud_cover_lt"),
        ({"date_range": ("2024-01-01", "2023-01-01")}, "Invalid date range"),
        ({"bbox": (1, 1, 0, 0)}, "Invalid bbox coordinates"),
        ({"bbox": (1, 2, 3)}, "Invalid bbox format"),
        ({"split": []}, "Invalid split filter"),
    ]:
        with pytest.raises(ValueError, match=message):
            coll.subset(**kwargs)
    assert not _wide_opened(coll)


def test_fallbacks_filter_the_wide_collection(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    ids = published["records"].column("id").to_pylist()
    # the index has no cloud cover: the wide dataset is filtered directly, index dropped
    cloudy = coll.subset(date_range=("2020-01-01", "2024-12-31")).subset(cloud_cover_lt=35)
    assert _index(cloudy) is None
    assert _ids(cloudy.to_table(columns=["id"])) == sorted(ids[:3])
    assert len(cloudy) == 3
    # nor a split column
    test_split = coll.subset(split="test")
    assert _index(test_split) is None
    assert _ids(test_split.to_table(columns=["id"])) == sorted(ids[1::2])
    with pytest.raises(ValueError, match="Collection has no split column: 'fold'"):
        coll.subset(split="a", split_column="fold")


def test_where_on_either_surface(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    ids = published["records"].column("id").to_pylist()
    on_index = coll.where(ds.field("year") == 2022)
    assert not _wide_opened(coll)
    assert len(on_index) == 1
    assert _ids(on_index.to_table(columns=["id"])) == [ids[2]]
    on_wide = coll.where(ds.field("eo:cloud_cover") > 65)
    assert _ids(on_wide.to_table(columns=["id"])) == sorted(ids[6:])
    with pytest.raises(ValueError, match="could not be applied"):
        coll.where(ds.field("no_such_column") == 1)


def test_pixels_through_the_record_index_equal_rasterio(published, registry):
    _register(published, registry)
    coll = rasteret.load("test/dual")
    checked = 0
    for i, entry in enumerate(published["entries"][:4]):
        year = 2020 + i
        one = coll.subset(date_range=(f"{year}-01-01", f"{year}-12-31"))
        aoi = aoi_in_4326(entry)
        got = one.get_numpy(aoi, [BAND])
        expected = oracle_mask(entry, aoi)
        assert got.shape == (1, *expected.shape), entry.name
        np.testing.assert_array_equal(got[0], expected, err_msg=entry.name)
        checked += 1
    assert checked == 4


def test_url_rewrite_patterns_apply_to_index_assets(published, registry, http_server):
    prefix = http_server.base_url + "/"
    _register(
        published,
        registry,
        id="test/dual-rewrite",
        cloud_config={"url_patterns": {prefix: "https://mirror.example/"}},
    )
    coll = rasteret.load("test/dual-rewrite")
    hrefs = [a[BAND]["href"] for a in coll.head(8).column("assets").to_pylist()]
    names = [e.path.name for e in published["entries"]]
    assert hrefs == [f"https://mirror.example/{n}" for n in names]


def test_same_index_and_collection_uri_is_a_plain_collection(published, registry):
    registry.register(
        DatasetDescriptor(
            id="test/plain",
            name="Plain",
            collection_uri=str(published["wide_dir"]),
            index_uri=str(published["wide_dir"]),
        )
    )
    coll = rasteret.load("test/plain")
    assert _index(coll) is None
    assert len(coll) == len(published["entries"])


def test_from_parquet_with_an_index_opens_and_validates_the_wide_collection_now(published):
    from rasteret.core.collection import Collection

    coll = Collection.from_parquet(
        published["wide_dir"],
        record_index_path=str(published["index_path"]),
        record_index_field_roles=ROLES,
        record_index_band_index_map={BAND: 0},
    )
    assert "wide" in _index(coll)._cache  # not deferred: opened (and validated) up front
    assert len(coll) == len(published["entries"])
    sub = coll.subset(date_range=("2027-01-01", "2027-12-31"))
    ids = published["records"].column("id").to_pylist()
    assert _ids(sub.to_table(columns=["id"])) == [ids[7]]
    with pytest.raises(FileNotFoundError, match="Parquet not found"):
        Collection.from_parquet(
            published["wide_dir"] / "missing", record_index_path=str(published["index_path"])
        )


def test_missing_index_names_its_path(published, registry, tmp_path):
    missing = tmp_path / "no-index.parquet"
    registry.register(
        DatasetDescriptor(
            id="test/no-index",
            name="No index",
            collection_uri=str(published["wide_dir"]),
            index_uri=str(missing),
            field_roles=ROLES,
        )
    )
    coll = rasteret.load("test/no-index")
    with pytest.raises(FileNotFoundError, match=f"Record index not found at {missing}"):
        len(coll)


def test_index_and_collection_on_s3(published, registry, s3_server, monkeypatch):
    # Both surfaces as public objects in a bucket of a real S3 API (moto): the index is read
    # anonymously, the collection parts with the credential chain; the endpoint
    # comes from AWS_ENDPOINT_URL, as users of an S3-compatible store set it.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    bucket = "rasteret-dual"  # its own bucket: the session bucket holds exactly the corpus
    client = s3_server.client
    client.create_bucket(Bucket=bucket)
    uploads = {"index.parquet": published["index_path"]}
    for f in sorted(published["wide_dir"].rglob("*.parquet")):
        uploads[f"wide/{f.relative_to(published['wide_dir']).as_posix()}"] = f
    for key, path in uploads.items():
        client.upload_file(str(path), bucket, key)
        client.put_object_acl(Bucket=bucket, Key=key, ACL="public-read")
    descriptor = _register(published, registry, id="test/dual-s3")
    registry.register(
        dataclasses.replace(
            descriptor,
            index_uri=f"s3://{bucket}/index.parquet",
            collection_uri=f"s3://{bucket}/wide",
        )
    )
    coll = rasteret.load("test/dual-s3")
    assert _index(coll).path.startswith("s3://")
    assert len(coll) == len(published["entries"])
    sub = coll.subset(date_range=("2021-03-01", "2023-12-31"))
    assert not _wide_opened(sub)
    expected = sorted(published["records"].column("id").to_pylist()[1:4])
    assert _ids(sub.to_table()) == expected
    entry = published["entries"][1]
    aoi = aoi_in_4326(entry)
    got = coll.subset(date_range=("2021-01-01", "2021-12-31")).get_numpy(aoi, [BAND])
    np.testing.assert_array_equal(got[0], oracle_mask(entry, aoi), err_msg=entry.name)
