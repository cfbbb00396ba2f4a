"""Hugging Face dataset collections against a real HTTP
server speaking the Hub API on 127.0.0.1 (``support.hf_hub_server``), reached by
``huggingface_hub`` through ``HF_ENDPOINT``.

The repositories hold Parquet written from a real collection over GDAL corpus COGs served by
the Range server, so streamed reads are compared with rasterio.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import rasteret
import shapely
from rasteret.catalog import DatasetDescriptor, DatasetRegistry
from rasteret.integrations import huggingface as hf
from support.corpus_collection import (
    BAND,
    aoi_in_4326,
    corpus_record_table,
    eligible_entries,
    oracle_mask,
)
from support.hf_hub_server import HubServer

PAD = 40_000  # incompressible bytes per row: row groups far larger than pyarrow's footer read


def _write(path: Path, table: pa.Table, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)


def _tiled(table: pa.Table) -> pa.Table:
    """``table`` with row ``i`` moved to its own 1-degree tile ``(10 i, 0, 10 i + 1, 1)``."""
    boxes = [(10.0 * i, 0.0, 10.0 * i + 1.0, 1.0) for i in range(table.num_rows)]
    columns = {
        "bbox": [dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True)) for b in boxes],
        "geometry": [shapely.box(*b).wkb for b in boxes],
    }
    for name, values in columns.items():
        field = table.schema.field(name)
        table = table.set_column(
            table.schema.get_field_index(name), field, pa.array(values, field.type)
        )
    return table


@pytest.fixture(scope="module")
def hub(cog_corpus, http_server, tmp_path_factory):
    """The Hub server and what its repositories hold."""
    entries = eligible_entries(cog_corpus)
    records = corpus_record_table(entries, http_server)
    built = rasteret.build_from_table(
        records, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    table = built.dataset.to_table().sort_by("datetime")
    rng = np.random.default_rng(7)
    pad = pa.array([rng.bytes(PAD) for _ in range(table.num_rows)], pa.binary())
    table = table.append_column("thumbnail", pad)
    root = tmp_path_factory.mktemp("hub")
    scenes = root / "org" / "scenes"
    _write(scenes / "main/data/train-00000.parquet", table.slice(0, 4), row_group_size=1)
    _write(scenes / "main/data/train-00001.parquet", table.slice(4), row_group_size=1)
    _write(scenes / "main/extra/other.parquet", table.slice(0, 1))
    (scenes / "main/README.md").write_text("# scenes\n")
    _write(scenes / "v1/data/train-00000.parquet", table.slice(0, 2))
    tiles = _tiled(table)
    _write(root / "org/tiles/main/data/part-0.parquet", tiles.slice(0, 4), row_group_size=1)
    _write(root / "org/tiles/main/data/part-1.parquet", tiles.slice(4), row_group_size=1)
    (root / "org/empty/main").mkdir(parents=True)
    (root / "org/empty/main/README.md").write_text("no data\n")
    _write(root / "org/flat/main/shards/a.parquet", table.slice(2, 3))
    _write(root / "org/records/main/data/records.parquet", records)
    bboxes = [shapely.from_wkb(g).bounds for g in table.column("geometry").to_pylist()]
    index = pa.table(
        {
            "fid": table.column("id"),
            "year": pa.array([d.year for d in table.column("datetime").to_pylist()], pa.int32()),
            "extent": pa.array(
                [dict(zip(("xmin", "ymin", "xmax", "ymax"), b, strict=True)) for b in bboxes]
            ),
        }
    )
    _write(root / "org/index/main/index.parquet", index)
    wide = tmp_path_factory.mktemp("hf-wide") / "wide"
    built.export(wide)
    with pytest.MonkeyPatch.context() as mp, HubServer(root) as server:
        for key in ("HF_HUB_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
            mp.delenv(key, raising=False)
        mp.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        mp.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        mp.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf-home")))
        mp.setenv("HF_ENDPOINT", server.endpoint)
        yield {
            "server": server,
            "root": root,
            "entries": {e.name: e for e in entries},
            "table": table,
            "records": records,
            "wide": wide,
        }


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("hf://datasets/org/name", ("org/name", "", None)),
        ("hf://datasets/org/name/", ("org/name", "", None)),
        ("hf://datasets/org/name@v1", ("org/name", "", "v1")),
        ("hf://datasets/org/name@v1/data/x.parquet", ("org/name", "data/x.parquet", "v1")),
        ("hf://datasets//org//name//sub/dir", ("org/name", "sub/dir", None)),
    ],
)
def test_parse_hf_dataset_uri(uri, expected):
    assert hf.parse_hf_dataset_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["hf://datasets/org", "hf://datasets/", "s3://bucket/key", "hf://datasets/org/@v1"]
)
def test_parse_hf_dataset_uri_rejects(uri):
    with pytest.raises(ValueError, match="hf://datasets/"):
        hf.parse_hf_dataset_uri(uri)


def test_is_hf_dataset_uri():
    assert hf.is_hf_dataset_uri("hf://datasets/a/b")
    assert not hf.is_hf_dataset_uri("hf://models/a/b")
    assert not hf.is_hf_dataset_uri("/data/hf://datasets/a/b")
    assert not hf.is_hf_dataset_uri(None)


def test_resolve_parquet_paths(hub):
    base = "hf://datasets/org/scenes"
    assert hf.resolve_hf_parquet_paths(base) == [
        f"{base}/data/train-00000.parquet",
        f"{base}/data/train-00001.parquet",
    ]
    assert hf.resolve_hf_parquet_paths(f"{base}/extra") == [f"{base}/extra/other.parquet"]
    assert hf.resolve_hf_parquet_paths("hf://datasets/org/scenes@v1") == [
        "hf://datasets/org/scenes@v1/data/train-00000.parquet"
    ]
    assert hf.resolve_hf_parquet_paths("hf://datasets/org/flat") == [
        "hf://datasets/org/flat/shards/a.parquet"
    ]
    hub["server"].clear()
    explicit = f"{base}/extra/other.parquet"
    assert hf.resolve_hf_parquet_paths(explicit) == [explicit]
    assert hub["server"].requests == []  # an explicit file needs no listing
    with pytest.raises(FileNotFoundError, match="No Parquet files found"):
        hf.resolve_hf_parquet_paths("hf://datasets/org/empty")
    with pytest.raises(FileNotFoundError, match="org/scenes"):
        hf.resolve_hf_parquet_paths(f"{base}/nothing-here")
    with pytest.raises(FileNotFoundError, match="dataset repository not found.*org/missing"):
        hf.resolve_hf_parquet_paths("hf://datasets/org/missing")
    with pytest.raises(FileNotFoundError, match="revision not found.*'nope'"):
        hf.resolve_hf_parquet_paths("hf://datasets/org/scenes@nope")
    with pytest.raises(FileNotFoundError, match="Parquet not found at .*absent.parquet"):
        rasteret.load(f"{base}/data/absent.parquet")


def test_load_streams_a_collection(hub):
    table = hub["table"]
    coll = rasteret.load("hf://datasets/org/scenes")
    assert coll.name == "scenes"
    assert coll.dataset is None
    with pytest.raises(TypeError, match="len\\(\\) is not available for HF streaming"):
        len(coll)
    with pytest.raises(NotImplementedError, match="where\\(expr\\) is not supported for HF"):
        coll.where(ds.field("id") == "x")
    with pytest.raises(ValueError, match="No Pyarrow dataset provided"):
        coll.export(hub["root"] / "never")
    head = coll.head(3, columns=["id", "datetime"])
    assert head.column("id").to_pylist() == table.column("id").to_pylist()[:3]
    assert coll.head(0).num_rows == 0
    assert coll.bands == [BAND]
    xs = np.array([shapely.from_wkb(g).bounds for g in table.column("geometry").to_pylist()])
    assert coll.bounds == pytest.approx(
        (xs[:, 0].min(), xs[:, 1].min(), xs[:, 2].max(), xs[:, 3].max())
    )
    epsgs = sorted(set(table.column("proj:epsg").to_pylist()))
    assert coll.epsg == epsgs
    assert coll.crs == [f"EPSG:{e}" for e in epsgs]
    assert coll.describe()["records"] == "?"  # counting would scan the remote dataset
    assert "records=?" in repr(coll)
    exported = pa.table(coll)  # Arrow PyCapsule stream
    assert exported.num_rows == table.num_rows
    assert exported.schema.field("geometry").type.extension_name == "geoarrow.wkb"
    assert coll.to_table(columns=["id"]).column("id").to_pylist() == table.column("id").to_pylist()
    assert sum(b.num_rows for b in coll) == table.num_rows

    async def ids():
        return [r.id async for r in coll.iterate_rasters()]

    assert asyncio.run(ids()) == table.column("id").to_pylist()


def test_revision_and_explicit_file(hub):
    v1 = rasteret.load("hf://datasets/org/scenes@v1")
    assert v1.to_table(columns=["id"]).num_rows == 2
    one = rasteret.load("hf://datasets/org/scenes/extra/other.parquet", name="other")
    assert one.name == "other"
    assert one.to_table(columns=["id"]).column("id").to_pylist() == [
        hub["table"].column("id")[0].as_py()
    ]
    with pytest.raises(FileNotFoundError):
        rasteret.load("hf://datasets/org/empty")


def test_missing_columns_rejected(hub):
    with pytest.raises(ValueError, match="missing required columns"):
        rasteret.load("hf://datasets/org/records")


def _touched_chunks(server, uri_suffix: str, local: Path) -> set[tuple[int, str]]:
    """``(row group, column path)`` of the column chunks of ``local`` that fetched byte ranges
    overlap (footer reads, the ranges ending at the last byte, excluded)."""
    meta = pq.ParquetFile(local).metadata
    size = local.stat().st_size
    spans = {}
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            c = rg.column(j)
            start = c.data_page_offset
            if c.has_dictionary_page and c.dictionary_page_offset:
                start = min(start, c.dictionary_page_offset)
            spans[(i, c.path_in_schema)] = (start, start + c.total_compressed_size)
    touched = set()
    for req in server.file_requests(uri_suffix):
        lo, _, hi = req.range.split("=", 1)[1].partition("-")
        lo, hi = int(lo), int(hi)
        if hi == size - 1:
            continue  # the footer read
        touched |= {key for key, (s, e) in spans.items() if lo < e and hi >= s}
    return touched


def _touched_row_groups(server, uri_suffix: str, local: Path) -> set[int]:
    """Row groups of ``local`` whose column chunks were fetched (footer reads excluded)."""
    return {rg for rg, _ in _touched_chunks(server, uri_suffix, local)}


def test_subset_prunes_row_groups_by_statistics(hub):
    server = hub["server"]
    data = hub["root"] / "org/scenes/main/data"
    coll = rasteret.load("hf://datasets/org/scenes")
    server.clear()
    full = coll.to_table()
    assert full.num_rows == 8
    assert _touched_row_groups(server, "train-00000.parquet", data / "train-00000.parquet") == {
        0,
        1,
        2,
        3,
    }
    server.clear()
    first_year = coll.subset(date_range=("2020-01-01", "2020-12-31"))
    got = first_year.to_table()
    assert got.column("id").to_pylist() == [hub["table"].column("id")[0].as_py()]
    assert _touched_row_groups(server, "train-00000.parquet", data / "train-00000.parquet") == {0}
    assert _touched_row_groups(server, "train-00001.parquet", data / "train-00001.parquet") == set()


def _scan_ids_and_chunks(server, files, source, columns):
    server.clear()
    tables = list(hf.iter_hf_arrow_tables(source, columns=columns))
    ids = [i for t in tables for i in t.column("id").to_pylist()]
    return ids, {name: _touched_chunks(server, name, path) for name, path in files.items()}


def test_bbox_subset_fetches_only_the_matching_column_chunks(hub):
    """Two files of four one-row row groups, each row its own tile: a bbox subset hitting
    tile 2 fetches, besides the two footers, only row group 2 of the first file, and there
    only the chunks an unfiltered scan of the id and bbox columns fetches for it."""
    server = hub["server"]
    data = hub["root"] / "org/tiles/main/data"
    files = {name: data / name for name in ("part-0.parquet", "part-1.parquet")}
    source = hf.open_hf_streaming_source("hf://datasets/org/tiles")
    ids, everything = _scan_ids_and_chunks(server, files, source, ["id", "bbox"])
    assert ids == hub["table"].column("id").to_pylist()
    for name in files:
        assert {rg for rg, _ in everything[name]} == {0, 1, 2, 3}
        assert {c for _, c in everything[name]} >= {"id", "bbox.xmin", "bbox.ymax"}
        assert "thumbnail" not in {c for _, c in everything[name]}

    sub = hf.subset_hf_streaming_source(source, bbox=(20.25, 0.25, 20.75, 0.75))
    got, touched = _scan_ids_and_chunks(server, files, sub, ["id"])
    assert got == [ids[2]]
    assert touched["part-1.parquet"] == set()
    assert touched["part-0.parquet"] == {k for k in everything["part-0.parquet"] if k[0] == 2}
    assert len(server.file_requests("part-1.parquet")) == 1  # the second file's footer only


def test_head_fetches_only_the_row_groups_it_returns(hub):
    server = hub["server"]
    data = hub["root"] / "org/tiles/main/data"
    files = {name: data / name for name in ("part-0.parquet", "part-1.parquet")}
    source = hf.open_hf_streaming_source("hf://datasets/org/tiles")
    ids = hub["table"].column("id").to_pylist()
    for src, n, want_rows, want_groups in [
        (source, 1, ids[:1], {"part-0.parquet": {0}, "part-1.parquet": set()}),
        (source, 5, ids[:5], {"part-0.parquet": {0, 1, 2, 3}, "part-1.parquet": {0}}),
        (
            hf.subset_hf_streaming_source(source, bbox=(20.5, 0.5, 50.5, 0.5)),
            1,
            ids[2:3],
            {"part-0.parquet": {2}, "part-1.parquet": set()},
        ),
    ]:
        server.clear()
        head = hf.head_hf_streaming_source(src, n=n, columns=["id"])
        assert head.column("id").to_pylist() == want_rows
        for name, path in files.items():
            assert _touched_row_groups(server, name, path) == want_groups[name], (n, name)


def test_subset_filters_are_hashable_tuples(hub):
    source = hf.open_hf_streaming_source("hf://datasets/org/tiles")
    sub = hf.subset_hf_streaming_source(source, bbox=(0, 0, 20.5, 1), split=["train", "test"])
    sub = hf.subset_hf_streaming_source(
        sub, geometries=[shapely.box(0, 0, 1, 1), shapely.box(20, 0, 21, 1)]
    )
    bbox_terms = _bbox_terms(0, 0, 20.5, 1)
    assert sub.filters == (
        (*bbox_terms, ("split", "in", ("train", "test")), *_bbox_terms(0, 0, 1, 1)),
        (*bbox_terms, ("split", "in", ("train", "test")), *_bbox_terms(20, 0, 21, 1)),
    )
    assert type(sub.filters) is tuple
    assert all(type(conj) is tuple for conj in sub.filters)
    assert all(type(pred) is tuple for conj in sub.filters for pred in conj)
    again = hf.subset_hf_streaming_source(
        hf.subset_hf_streaming_source(source, bbox=(0, 0, 20.5, 1), split=["train", "test"]),
        geometries=[shapely.box(0, 0, 1, 1), shapely.box(20, 0, 21, 1)],
    )
    assert hash(again) == hash(sub) and {sub: "x"}[again] == "x"
    ids = hub["table"].column("id").to_pylist()
    got = [i for t in hf.iter_hf_arrow_tables(sub, columns=["id"]) for i in t["id"].to_pylist()]
    assert got == [ids[0], ids[2]]


def _bbox_terms(minx, miny, maxx, maxy):
    return (
        (("bbox", "xmax"), ">=", float(minx)),
        (("bbox", "xmin"), "<=", float(maxx)),
        (("bbox", "ymax"), ">=", float(miny)),
        (("bbox", "ymin"), "<=", float(maxy)),
    )


def test_subset_filters_and_errors(hub):
    table = hub["table"]
    ids = table.column("id").to_pylist()
    coll = rasteret.load("hf://datasets/org/scenes")

    def got(c):
        return sorted(c.to_table(columns=["id"]).column("id").to_pylist())

    cc = table.column("eo:cloud_cover").to_pylist()
    assert got(coll.subset(cloud_cover_lt=35)) == sorted(
        i for i, c in zip(ids, cc, strict=True) if c < 35
    )
    splits = table.column("split").to_pylist()
    assert got(coll.select_split("test")) == sorted(
        i for i, s in zip(ids, splits, strict=True) if s == "test"
    )
    assert got(coll.subset(split=["train", "test"])) == sorted(ids)
    bounds = [shapely.from_wkb(g).bounds for g in table.column("geometry").to_pylist()]
    b = bounds[3]
    inside = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    query = (inside[0], inside[1], inside[0], inside[1])

    def hit(q):
        return {
            r
            for r, x in zip(ids, bounds, strict=True)
            if x[2] >= q[0] and x[0] <= q[2] and x[3] >= q[1] and x[1] <= q[3]
        }

    assert got(coll.subset(bbox=query)) == sorted(hit(query))
    both = coll.subset(geometries=[shapely.box(*query), shapely.box(*bounds[6])])
    assert got(both) == sorted(hit(query) | hit(bounds[6]))
    chained = both.subset(date_range=("2023-01-01", "2023-12-31"))
    assert got(chained) == sorted({ids[3]} & (hit(query) | hit(bounds[6])))
    for kwargs, message in [
        ({}, "No filters provided"),
        ({"cloud_cover_lt": -1}, "Invalid cloud_cover_lt"),
        ({"date_range": ("2024-01-01", "2023-01-01")}, "Invalid date range"),
        ({"bbox": (1, 1, 0, 0)}, "Invalid bbox coordinates"),
        ({"split": "x", "split_column": "fold"}, "Collection has no split column: 'fold'"),
    ]:
        with pytest.raises(ValueError, match=message):
            coll.subset(**kwargs)


def test_streamed_pixels_equal_rasterio(hub):
    coll = rasteret.load("hf://datasets/org/scenes")
    table = hub["table"]
    for i in (0, 5):
        entry = hub["entries"][table.column("id")[i].as_py()]
        year = table.column("datetime")[i].as_py().year
        one = coll.subset(date_range=(f"{year}-01-01", f"{year}-12-31"))
        aoi = aoi_in_4326(entry)
        got = one.get_numpy(aoi, [BAND])
        expected = oracle_mask(entry, aoi)
        assert got.shape == (1, *expected.shape)
        np.testing.assert_array_equal(got[0], expected, err_msg=entry.name)


def test_build_from_table_reads_hf_record_tables(hub):
    records = hub["records"]
    coll = rasteret.build_from_table(
        "hf://datasets/org/records",
        href_column="url",
        band_index_map={BAND: 0},
        columns=["id", "datetime", "geometry", "url", "eo:cloud_cover"],
        filter_expr=ds.field("eo:cloud_cover") < 35,
        enrich_cog=True,
    )
    assert coll.name == "records"
    assert len(coll) == 3
    assert "split" not in coll.dataset.schema.names
    first = records.column("id")[0].as_py()
    entry = hub["entries"][first]
    aoi = aoi_in_4326(entry)
    got = coll.where(ds.field("id") == first).get_numpy(aoi, [BAND])
    np.testing.assert_array_equal(got[0], oracle_mask(entry, aoi))


def test_load_and_open_hf_parquet_helpers(hub):
    table = hf.load_hf_parquet_table(
        "hf://datasets/org/records", columns=["id"], filter_expr=ds.field("split") == "train"
    )
    assert table.column_names == ["id"]
    assert table.num_rows == 4
    lazy = hf.open_hf_parquet_dataset("hf://datasets/org/scenes")
    assert lazy.count_rows() == 8
    source = hf.open_hf_streaming_source("hf://datasets/org/scenes")
    assert len(source.parquet_paths) == 2
    assert source.filters is None
    sub = hf.subset_hf_streaming_source(source, cloud_cover_lt=25)
    assert sub.filters == ((("eo:cloud_cover", "<", 25),),)
    assert hf.head_hf_streaming_source(sub, n=5, columns=["id"]).num_rows == 2
    assert sum(t.num_rows for t in hf.iter_hf_arrow_tables(sub, batch_size=1)) == 2
    with pytest.raises(ValueError, match="not found"):
        hf.head_hf_streaming_source(source, columns=["nope"])


def test_subset_filters_are_hashable_dnf_tuples(hub):
    source = hf.open_hf_streaming_source("hf://datasets/org/scenes")
    sub = hf.subset_hf_streaming_source(source, cloud_cover_lt=50, split=["train", "test"])
    assert sub.filters == ((("eo:cloud_cover", "<", 50), ("split", "in", ("train", "test"))),)
    boxes = [shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 4)]
    both = hf.subset_hf_streaming_source(sub, geometries=boxes)
    assert isinstance(both.filters, tuple) and len(both.filters) == 2
    assert all(isinstance(conj, tuple) for conj in both.filters)
    assert both.filters[1] == (
        *sub.filters[0],
        (("bbox", "xmax"), ">=", 2.0),
        (("bbox", "xmin"), "<=", 3.0),
        (("bbox", "ymax"), ">=", 2.0),
        (("bbox", "ymin"), "<=", 4.0),
    )
    again = hf.subset_hf_streaming_source(sub, geometries=boxes)
    assert hash(both) == hash(again) and both == again
    assert len({both, again, sub}) == 2


def test_describe_reads_no_records_to_count_them(hub):
    server = hub["server"]
    coll = rasteret.load("hf://datasets/org/scenes")

    def file_reads():
        return sorted(
            (r.path, r.range or "")
            for r in server.requests
            if r.method == "GET" and "/resolve/" in r.path
        )

    server.clear()
    bounds, epsg = coll.bounds, coll.epsg
    reads_for_bounds_and_crs = file_reads()
    assert reads_for_bounds_and_crs  # the Hub serves this collection: bounds stream bbox
    server.clear()
    described = coll.describe()
    assert described["records"] == "?"
    assert described["bounds"] == bounds and described["crs"] == epsg
    # describe() reads what bounds and CRS need and nothing more: no count of the records
    assert file_reads() == reads_for_bounds_and_crs
    assert "Records" in str(described) and "?" in str(described)


def test_arrow_export_is_geoarrow_typed_without_importing_geoarrow(hub):
    # a fresh interpreter: other tests' imports of geoarrow.pyarrow must not hide the
    # registration rasteret does itself
    code = (
        "import json\n"
        "import pyarrow as pa\n"
        "import rasteret\n"
        "coll = rasteret.load('hf://datasets/org/scenes')\n"
        "t = pa.table(coll)\n"
        "typ = t.schema.field('geometry').type\n"
        "crs = json.loads(typ.__arrow_ext_serialize__())['crs']\n"
        "print(typ.extension_name, crs['id']['authority'], crs['id']['code'], t.num_rows)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["geoarrow.wkb", "OGC", "CRS84", str(hub["table"].num_rows)]


def test_record_index_on_hf(hub):
    saved = dict(DatasetRegistry._descriptors)
    try:
        DatasetRegistry.register(
            DatasetDescriptor(
                id="test/hf-index",
                name="HF index",
                collection_uri=str(hub["wide"]),
                index_uri="hf://datasets/org/index/index.parquet",
                field_roles={"id": "fid", "datetime": "year", "bbox": "extent"},
                band_index_map={BAND: 0},
            )
        )
        coll = rasteret.load("test/hf-index")
        index = getattr(coll._source, "index", None)
        assert index is not None
        assert len(coll) == 8
        assert coll.bands == [BAND]
        sub = coll.subset(date_range=("2022-01-01", "2023-12-31"))
        assert len(sub) == 2
        assert coll.dataset is None and "wide" not in index._cache
        ids = hub["table"].column("id").to_pylist()
        assert sorted(sub.to_table(columns=["id"]).column("id").to_pylist()) == sorted(ids[2:4])
    finally:
        DatasetRegistry._descriptors.clear()
        DatasetRegistry._descriptors.update(saved)


def test_missing_huggingface_hub_raises_import_error():
    code = (
        "import sys\n"
        "sys.modules['huggingface_hub'] = None\n"
        "import rasteret\n"
        "from rasteret.integrations.huggingface import resolve_hf_parquet_paths\n"
        "for call in (lambda: resolve_hf_parquet_paths('hf://datasets/a/b'),\n"
        "             lambda: rasteret.load('hf://datasets/a/b/x.parquet')):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as e:\n"
        "        assert 'huggingface_hub' in str(e), e\n"
        "    else:\n"
        "        raise SystemExit('no ImportError')\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_torchgeo_rejects_streaming_collections(hub):
    """TorchGeo needs a dataset-backed scan (random access to records)."""
    pytest.importorskip("torchgeo", reason="torchgeo is not installed")
    coll = rasteret.load("hf://datasets/org/scenes")
    with pytest.raises(ValueError, match="requires a dataset-backed collection scan"):
        coll.to_torchgeo_dataset(bands=[BAND])
