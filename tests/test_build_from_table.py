"""build_from_table with header enrichment through the Rust core, against the HTTP corpus."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import rasteret
import shapely
from rasteret.constants import COG_BAND_METADATA_STRUCT
from rasteret.ingest.parquet_record_table import prepare_record_table
from support.oracle import describe


def _footprint_table(entries, urls, *, href="path") -> pa.Table:
    return pa.table(
        {
            "fid": list(range(len(entries))),
            "datetime": pa.array(
                [dt.datetime(2024, 1 + i % 12, 1) for i in range(len(entries))],
                pa.timestamp("us"),
            ),
            "geom": [shapely.box(10 + i, 45, 10.5 + i, 45.5).wkb for i in range(len(entries))],
            href: urls,
        }
    )


#: Build arguments for `_footprint_table` tables of single-band entries.
FOOTPRINT_BUILD = dict(
    column_map={"fid": "id", "geom": "geometry"},
    href_column="path",
    band_index_map={"B1": 0},
    enrich_cog=True,
)


def _single_band(cog_corpus, n=4):
    picked = [e for e in cog_corpus.entries if e.count == 1 and "overviews" not in e.tags][:n]
    assert len(picked) == n
    return picked


def test_enriched_metadata_matches_rasterio(cog_corpus, http_server):
    entries = _single_band(cog_corpus)
    urls = [http_server.url(e.path.name) for e in entries]
    coll = rasteret.build_from_table(
        _footprint_table(entries, urls),
        column_map={"fid": "id", "geom": "geometry"},
        href_column="path",
        band_index_map={"B1": 0},
        enrich_cog=True,
    )
    table = coll.to_table()
    assert coll.bands == ["B1"] and table.column("id").to_pylist() == ["0", "1", "2", "3"]
    for entry, meta in zip(entries, table.column("B1_metadata").to_pylist(), strict=True):
        expected = describe(entry.path)
        assert (meta["image_width"], meta["image_height"]) == (
            expected["width"],
            expected["height"],
        )
        assert np.dtype(meta["dtype"]) == np.dtype(expected["dtypes"][0]) or "float16" in entry.tags
        assert len(meta["tile_offsets"]) == len(meta["tile_byte_counts"]) > 0
    names = list(table.schema.field("B1_metadata").type.names)
    assert names[:17] == list(COG_BAND_METADATA_STRUCT.names)


def test_planar_tables_are_sliced_per_band(cog_corpus, http_server):
    entry = next(e for e in cog_corpus.entries if "planar" in e.tags and e.count == 3)
    url = http_server.url(entry.path.name)
    coll = rasteret.build_from_table(
        _footprint_table([entry], [url]),
        column_map={"fid": "id", "geom": "geometry"},
        href_column="path",
        band_index_map={"R": 0, "G": 1, "B": 2},
        enrich_cog=True,
    )
    row = coll.to_table().to_pylist()[0]
    per_plane = len(row["R_metadata"]["tile_offsets"])
    offsets = [row[f"{b}_metadata"]["tile_offsets"] for b in "RGB"]
    assert all(len(o) == per_plane for o in offsets)
    assert len({tuple(o) for o in offsets}) == 3  # three different planes


def test_cached_build_skips_io(cog_corpus, http_server, tmp_path):
    entries = _single_band(cog_corpus, 2)
    src = tmp_path / "records.parquet"
    pq.write_table(_footprint_table(entries, [http_server.url(e.path.name) for e in entries]), src)
    kwargs = dict(
        name="fields",
        workspace_dir=tmp_path / "ws",
        column_map={"fid": "id", "geom": "geometry"},
        href_column="path",
        band_index_map={"B1": 0},
        enrich_cog=True,
    )
    first = rasteret.build_from_table(src, **kwargs)
    assert (tmp_path / "ws" / "fields_records").is_dir() and len(first) == 2
    http_server.reset_log()
    again = rasteret.build_from_table(src, **kwargs)
    assert http_server.count() == 0 and again.name == "fields" and again.bands == ["B1"]
    forced = rasteret.build_from_table(src, force=True, **kwargs)
    assert http_server.count() > 0 and len(forced) == 2


def test_ctrl_c_stops_the_header_parse_without_writing(cog_corpus, http_server, tmp_path, ctrl_c):
    # Builds parse headers inside asyncio.run, whose own SIGINT handler only cancels its task
    # (and a task busy in the Rust core never yields): Ctrl-C must still stop the parse at
    # once, not after every header arrived, and leave no collection behind.
    entries = _single_band(cog_corpus, 3)
    table = _footprint_table(entries, [http_server.url(e.path.name) for e in entries])
    http_server.latency_ms = 8000  # each header read would take 8 s
    with ctrl_c(after=0.5) as stopped:
        rasteret.build_from_table(table, name="intr", workspace_dir=tmp_path, **FOOTPRINT_BUILD)
    assert stopped.seconds < 6.0, f"the interrupt waited for the headers ({stopped.seconds:.1f} s)"
    assert list(tmp_path.iterdir()) == []


def test_one_bad_asset_is_reported_not_fatal(cog_corpus, http_server):
    entries = _single_band(cog_corpus, 3)
    urls = [http_server.url(e.path.name) for e in entries]
    urls[1] = http_server.url("missing_scene.tif")
    with pytest.warns(UserWarning, match="1 of 3 assets could not be read") as caught:
        coll = rasteret.build_from_table(_footprint_table(entries, urls), **FOOTPRINT_BUILD)
    assert "missing_scene.tif" in str(caught[0].message)
    metas = coll.to_table().column("B1_metadata").to_pylist()
    assert metas[1] is None and metas[0] is not None and metas[2] is not None


def test_all_assets_failing_leaves_no_workspace(http_server, tmp_path):
    table = _footprint_table([0, 1], [http_server.url("nope1.tif"), http_server.url("nope2.tif")])
    with pytest.raises(ValueError, match="COG header enrichment failed for all assets"):
        rasteret.build_from_table(table, name="broken", workspace_dir=tmp_path, **FOOTPRINT_BUILD)
    assert list(tmp_path.iterdir()) == []


def test_prepare_record_table_rules():
    t = pa.table({"id": [1, 2], "datetime": [2020, None], "url": ["https://a/x.tif", None]})
    out = prepare_record_table(
        t,
        href_column="url",
        band_index_map={"A": 0, "B": 1},
        url_rewrite_patterns={"https://a/": "s3://bucket/"},
    )
    assert out.column("id").to_pylist() == ["1", "2"]
    assert out.column("datetime").to_pylist() == [dt.datetime(2020, 1, 1), None]
    assets = out.column("assets").to_pylist()
    assert assets[0]["B"] == {"href": "s3://bucket/x.tif", "band_index": 1}
    with pytest.raises(ValueError, match="href_column 'nope' not found"):
        prepare_record_table(t, href_column="nope", band_index_map={"A": 0})


def test_workspace_resolution(tmp_path):
    from rasteret._build import resolve_workspace

    assert resolve_workspace(tmp_path / "x_stac", "n") == tmp_path / "x_stac"
    assert resolve_workspace(tmp_path, "n") == tmp_path / "n_records"
    assert resolve_workspace(tmp_path, "") == tmp_path
    assert resolve_workspace("s3://b/ws", "n") == "s3://b/ws/n_records"
    assert resolve_workspace(None, "") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert str(resolve_workspace(None, "n")).endswith("rasteret_workspace/n_records")


def test_geoarrow_typed_footprints_in_another_crs_are_stored_in_crs84():
    import geoarrow.pyarrow as ga  # registers the GeoArrow extension types
    from pyproj import Transformer
    from rasteret.ingest.normalize import build_collection_from_table

    metres = [
        shapely.box(0, 0, 111319.49079327357, 111325.14286638486),
        shapely.box(-2e5, 5e6, -1e5, 5.1e6),
    ]
    geometry = pa.ExtensionArray.from_storage(
        ga.wkb().with_crs("EPSG:3857"), pa.array([g.wkb for g in metres], pa.binary())
    )
    table = pa.table(
        {
            "id": ["a", "b"],
            "datetime": pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us")),
            "geometry": geometry,
            "assets": [{"B1": {"href": f"https://h/{i}.tif"}} for i in "ab"],
        }
    )
    field = table.schema.field("geometry")
    # the CRS lives in the registered extension type, not in the field metadata
    assert field.type.extension_name == "geoarrow.wkb" and not field.metadata
    coll = build_collection_from_table(table)
    out = coll.to_table()
    assert coll.dataset.schema.field("geometry").type == pa.binary()
    to_crs84 = Transformer.from_crs("EPSG:3857", "OGC:CRS84", always_xy=True)
    for source, wkb, bbox in zip(
        metres,
        out.column("geometry").to_pylist(),
        out.column("bbox").to_pylist(),
        strict=True,
    ):
        expected = shapely.transform(
            source, lambda xy: np.column_stack(to_crs84.transform(xy[:, 0], xy[:, 1]))
        )
        got = shapely.from_wkb(wkb)
        assert shapely.equals_exact(got, expected, tolerance=1e-9)
        assert tuple(bbox[k] for k in ("xmin", "ymin", "xmax", "ymax")) == pytest.approx(
            expected.bounds
        )
    first = out.column("bbox")[0].as_py()
    assert first["xmax"] == pytest.approx(1.0) and first["ymax"] == pytest.approx(1.0)


def _nan_as_text(values: dict) -> dict:
    return {k: "nan" if isinstance(v, float) and v != v else v for k, v in values.items()}


def _enriched_and_documented_items(entries, http_server):
    """The enriched record table of ``entries`` and, per record, upstream's
    ``add_band_metadata_columns`` item: the documented ``{band}_metadata`` fields only."""
    from support.corpus_collection import BAND, corpus_record_table

    enriched = rasteret.build_from_table(
        corpus_record_table(entries, http_server),
        href_column="url",
        band_index_map={BAND: 0},
        enrich_cog=True,
    ).to_table()
    renamed = {"image_width": "width", "image_height": "height"}
    items = [
        {
            "record_id": rid,
            "band": BAND,
            **{renamed.get(k, k): meta[k] for k in COG_BAND_METADATA_STRUCT.names},
        }
        for rid, meta in zip(
            enriched.column("id").to_pylist(),
            enriched.column(f"{BAND}_metadata").to_pylist(),
            strict=True,
        )
    ]
    return enriched, items


def test_add_band_metadata_columns_takes_parsed_header_items(cog_corpus, http_server):
    import pyarrow.dataset as ds
    from rasteret.ingest.enrich import add_band_metadata_columns
    from support.corpus_collection import (
        BAND,
        aoi_in_4326,
        oracle_mask,
    )

    # plain little-endian files: the documented struct has no byte-order or bit-depth field
    names = ("deflate_pred2_u16_t256.tif", "lzw_u8_t256.tif", "zstd_pred3_f64_t256.tif")
    entries = sorted((e for e in cog_corpus.entries if e.name in names), key=lambda e: e.name)
    assert [e.name for e in entries] == sorted(names)
    enriched, items = _enriched_and_documented_items(entries, http_server)
    ids = enriched.column("id").to_pylist()
    parsed = enriched.column(f"{BAND}_metadata").to_pylist()
    items = items[:2]  # the third record has no item
    items.append({**items[0], "record_id": "not-in-the-table"})
    items.append({**items[0], "band": "B9"})  # not a requested band
    bare = enriched.drop_columns([f"{BAND}_metadata"])
    out = add_band_metadata_columns(bare, [BAND], items)
    column = out.column(f"{BAND}_metadata")
    assert column.type == COG_BAND_METADATA_STRUCT
    got = column.to_pylist()
    for value, meta in zip(got[:2], parsed[:2], strict=True):
        assert _nan_as_text(value) == _nan_as_text(
            {k: meta[k] for k in COG_BAND_METADATA_STRUCT.names}
        )
    assert got[2] is None
    # the columns read like the enriched ones
    coll = rasteret.as_collection(out)
    for entry in (e for e in entries if e.name in ids[:2]):
        aoi = aoi_in_4326(entry)
        pixels = coll.where(ds.field("id") == entry.name).get_numpy(aoi, [BAND])
        np.testing.assert_array_equal(pixels[0], oracle_mask(entry, aoi), err_msg=entry.name)
    with pytest.raises(
        ValueError, match=r"record '.+', band 'B1' is missing fields: \['image_height'"
    ):
        add_band_metadata_columns(bare, [BAND], [{**items[0], "height": None}])


def test_documented_metadata_of_big_endian_files_reads_right_pixels(cog_corpus, http_server):
    """Columns built from the documented ``{band}_metadata`` fields alone carry no byte order:
    the read finds it in each file's header (one request per file) instead of decoding a
    big-endian file's samples as little-endian."""
    import pyarrow.dataset as ds
    from rasteret.ingest.enrich import add_band_metadata_columns
    from support.corpus_collection import (
        BAND,
        aoi_in_4326,
        oracle_mask,
    )

    names = ("be_deflate_pred2_u16.tif", "be_lzw_pred2_i32.tif", "be_zstd_pred3_f64.tif")
    entries = sorted((e for e in cog_corpus.entries if e.name in names), key=lambda e: e.name)
    assert [e.name for e in entries] == sorted(names)
    enriched, items = _enriched_and_documented_items(entries, http_server)
    bare = enriched.drop_columns([f"{BAND}_metadata"])
    documented = add_band_metadata_columns(bare, [BAND], items)
    assert "little_endian" not in documented.schema.field(f"{BAND}_metadata").type.names
    coll = rasteret.as_collection(documented)
    for entry in entries:
        aoi = aoi_in_4326(entry)
        pixels = coll.where(ds.field("id") == entry.name).get_numpy(aoi, [BAND])
        np.testing.assert_array_equal(pixels[0], oracle_mask(entry, aoi), err_msg=entry.name)


def test_parquet_encodes_record_columns_not_tile_tables(cog_corpus, http_server, tmp_path):
    """The written collection keeps dictionary encoding and statistics on the record columns
    (``bbox`` statistics prune row groups on spatial filters) and leaves both out for the
    ``*_metadata`` tile tables, whose values hardly repeat."""
    entries = _single_band(cog_corpus, 3)
    table = _footprint_table(entries, [http_server.url(e.path.name) for e in entries])
    rasteret.build_from_table(
        table,
        name="enc",
        workspace_dir=tmp_path,
        column_map={"fid": "id", "geom": "geometry"},
        href_column="path",
        band_index_map={"B1": 0},
        enrich_cog=True,
    )
    parts = sorted((tmp_path / "enc_records").rglob("*.parquet"))
    assert parts
    columns = {}
    for part in parts:
        group = pq.ParquetFile(part).metadata.row_group(0)
        for i in range(group.num_columns):
            column = group.column(i)
            columns[column.path_in_schema] = column
    tiles = [p for p in columns if p.startswith("B1_metadata.")]
    assert "B1_metadata.tile_offsets.list.element" in tiles
    for path in tiles:
        assert not columns[path].is_stats_set and "RLE_DICTIONARY" not in columns[path].encodings
    for path in ("id", "bbox.xmin", "bbox.ymax"):
        assert columns[path].is_stats_set and "RLE_DICTIONARY" in columns[path].encodings, path
