"""Collection table API: normalise, export/load round-trip, filters, properties, Arrow interop."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import rasteret
import shapely
from rasteret.core.collection import Collection
from rasteret.ingest.normalize import (
    build_collection_from_table,
    normalize_crs_code,
    normalize_raster_crs_sidecars,
    parse_epsg,
)

LAYOUT = pa.struct(
    [
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
        ("tile_width", pa.int32()),
        ("tile_height", pa.int32()),
        ("dtype", pa.string()),
        ("transform", pa.list_(pa.float64())),
        ("tile_offsets", pa.list_(pa.int64())),
        ("tile_byte_counts", pa.list_(pa.int64())),
    ]
)


def _records(n: int = 6) -> pa.Table:
    boxes = [shapely.box(10 + i, 45, 10.5 + i, 45.5) for i in range(n)]
    layout = {
        "image_width": 512,
        "image_height": 512,
        "tile_width": 256,
        "tile_height": 256,
        "dtype": "uint16",
        "transform": [10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0],
        "tile_offsets": [1, 2, 3, 4],
        "tile_byte_counts": [5, 6, 7, 8],
    }
    return pa.table(
        {
            "id": [f"scene-{i}" for i in range(n)],
            "datetime": pa.array(
                [dt.datetime(2024, 1 + i, 15, 10, 30) for i in range(n)], pa.timestamp("us")
            ),
            "geometry": pa.array([b.wkb for b in boxes], pa.binary()),
            "assets": [{"B04": {"href": f"https://h/{i}/B04.tif"}} for i in range(n)],
            "eo:cloud_cover": [float(10 * i) for i in range(n)],
            "proj:epsg": [32632 if i % 2 else 32633 for i in range(n)],
            "split": ["train", "train", "val", "test", "train", "val"][:n],
            "B04_metadata": pa.array([layout] * n, LAYOUT),
        }
    )


@pytest.fixture
def coll() -> Collection:
    return build_collection_from_table(
        _records(),
        name="demo",
        data_source="sentinel-2-l2a",
        date_range=("2024-01-01", "2024-06-30"),
    )


def test_normalised_schema(coll):
    t = coll.to_table()
    for c in ("bbox", "year", "month", "crs"):
        assert c in t.column_names
    assert t.schema.field("proj:epsg").type == pa.int32()
    assert t.column("crs").to_pylist()[:2] == ["EPSG:32633", "EPSG:32632"]
    assert t.column("bbox")[0].as_py() == {"xmin": 10.0, "ymin": 45.0, "xmax": 10.5, "ymax": 45.5}
    assert t.column("month").to_pylist() == [1, 2, 3, 4, 5, 6]
    meta = t.schema.field("geometry").metadata
    assert meta[b"ARROW:extension:name"] == b"geoarrow.wkb"
    assert "CRS84" in meta[b"ARROW:extension:metadata"].decode()


def test_missing_columns_rejected():
    with pytest.raises(ValueError, match="Table is missing required columns"):
        build_collection_from_table(_records().drop_columns(["assets"]))


def test_properties(coll):
    assert len(coll) == 6
    assert coll.bands == ["B04"]
    assert coll.bounds == (10.0, 45.0, 15.5, 45.5)
    assert coll.epsg == [32632, 32633]
    assert coll.crs == ["EPSG:32632", "EPSG:32633"]
    r = repr(coll)
    assert r.startswith("Collection('demo', source='sentinel-2-l2a', bands=1, records=6")
    assert r.endswith("2024-01-01..2024-06-30)")
    d = coll.describe()
    assert d["records"] == 6 and d["crs"] == [32632, 32633] and "Bounds" in str(d)
    assert "<table>" in d._repr_html_()
    cmp = coll.compare_to_catalog()
    assert cmp["catalog"]["name"] == "Sentinel-2 Level-2A"
    assert "(1/13)" in str(cmp)


def test_filters(coll):
    assert [r for r in coll.subset(cloud_cover_lt=25).to_table().column("id").to_pylist()] == [
        "scene-0",
        "scene-1",
        "scene-2",
    ]
    assert len(coll.subset(date_range=("2024-02-01", "2024-04-15"))) == 2
    # a date-only end means midnight: the 2024-04-15 10:30 record is excluded (spec quirk)
    assert len(coll.subset(bbox=(12.5, 44.0, 13.0, 46.0))) == 2  # touching counts
    assert len(coll.subset(geometries=[shapely.box(10.1, 45.1, 10.2, 45.2)])) == 1
    assert len(coll.select_split(["val", "test"])) == 3
    assert len(coll.subset(split="train", cloud_cover_lt=30)) == 2
    assert len(coll.where(ds.field("proj:epsg") == 32632)) == 3
    sub = coll.subset(split="val")
    assert sub.name == "demo" and sub.data_source == "sentinel-2-l2a" and len(coll) == 6
    assert coll.head(2, columns=["id"]).column("id").to_pylist() == ["scene-0", "scene-1"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "No filters provided"),
        ({"cloud_cover_lt": 120}, "must be between 0 and 100"),
        ({"date_range": ("2024-05-01", "2024-01-01")}, "Invalid date range"),
        ({"bbox": (1, 2, 3)}, "Invalid bbox format"),
        ({"bbox": (3, 2, 1, 4)}, "Invalid bbox coordinates"),
        ({"split": "x", "split_column": "fold"}, "Collection has no split column: 'fold'"),
        ({"split": []}, "Invalid split filter"),
    ],
)
def test_filter_errors(coll, kwargs, message):
    with pytest.raises(ValueError, match=message):
        coll.subset(**kwargs)


def test_head_negative(coll):
    with pytest.raises(ValueError, match="head\\(\\) requires n >= 0"):
        coll.head(-1)


def test_arrow_interop(coll):
    via_stream = pa.RecordBatchReader.from_stream(coll).read_all()
    assert via_stream.num_rows == 6
    # rasteret registers the GeoArrow types, so the consumer sees a geoarrow.wkb column
    assert via_stream.schema.field("geometry").type.extension_name == "geoarrow.wkb"
    assert pa.record_batch(coll).num_rows == 6
    assert pa.schema(coll).names == coll.to_table().schema.names
    assert sum(b.num_rows for b in coll) == 6
    with pytest.raises(NotImplementedError, match="cannot fulfill"):
        coll.__arrow_c_stream__(pa.schema([("id", pa.int64())]).__arrow_c_schema__())


def test_export_and_load_roundtrip(coll, tmp_path):
    root = tmp_path / "ws" / "demo_202401-06_sentinel_stac"
    coll.export(root)
    assert sorted(p.name for p in root.iterdir()) == ["year=2024"]
    part = next(root.rglob("part-0.parquet"))
    md = pq.read_schema(part).metadata
    geo = json.loads(md[b"geo"])
    assert geo["columns"]["geometry"]["geometry_types"] == ["Polygon"]
    assert geo["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert md[b"rasteret_collection_version"] == b"1"
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temp dir left
    loaded = rasteret.load(root)
    assert loaded.name == "demo" and loaded.data_source == "sentinel-2-l2a"
    assert loaded.start_date == dt.datetime(2024, 1, 1) and len(loaded) == 6
    assert loaded.subset(cloud_cover_lt=5).to_table().column("id").to_pylist() == ["scene-0"]
    listed = Collection.list_collections(tmp_path / "ws")
    assert listed[0]["name"] == "demo_202401-06_sentinel" and listed[0]["kind"] == "stac"
    assert listed[0]["size"] == 6 and listed[0]["date_range"] == ("2024-01-15", "2024-06-15")
    assert listed[0]["data_source"] == "sentinel-2-l2a"


def test_load_scans_the_directory_when_the_metadata_sidecar_has_no_file_paths(coll, tmp_path):
    root = tmp_path / "sidecar"
    coll.export(root)
    parts = sorted(root.rglob("*.parquet"))
    ids = [f"scene-{i}" for i in range(6)]
    schema = pq.read_schema(parts[0])
    # row groups collected without set_file_path: pyarrow's default, they name no part file
    collected = [pq.read_metadata(p) for p in parts]
    sidecars = {
        "row groups without file paths": lambda path: pq.write_metadata(
            schema, path, metadata_collector=collected
        ),
        "schema only": lambda path: pq.write_metadata(schema, path),
    }
    for label, write in sidecars.items():
        write(root / "_metadata")
        loaded = rasteret.load(root)
        assert loaded.name == "demo" and len(loaded) == 6, label
        assert sorted(loaded.to_table().column("id").to_pylist()) == ids, label
        assert sorted(loaded.dataset.files) == [str(p) for p in parts], label


def test_from_parquet_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Parquet not found at"):
        Collection.from_parquet(tmp_path / "nope")
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="Parquet is missing required columns"):
        Collection.from_parquet(tmp_path / "bad.parquet")


def test_as_collection(coll):
    table = coll.to_table()
    c = rasteret.as_collection(table, name="x")
    assert len(c) == 6 and c.bands == ["B04"]
    with pytest.raises(ValueError, match="missing required columns for as_collection"):
        rasteret.as_collection(table.drop_columns(["bbox"]))
    with pytest.raises(ValueError, match="No '\\*_metadata' columns found"):
        rasteret.as_collection(table.drop_columns(["B04_metadata"]))
    with pytest.raises(TypeError):
        rasteret.as_collection(table, start_date="2024-01-01")
    assert rasteret.Collection.from_arrow(table.to_reader()).bands == ["B04"]


def test_constructor_checks():
    with pytest.raises(TypeError, match="Expected pyarrow.dataset.Dataset"):
        Collection(dataset=pa.table({"a": [1]}))
    assert len(Collection()) == 0 and Collection().bands == []
    assert not [n for n in dir(Collection()) if n.startswith("_") and not n.startswith("__")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("sentinel-2-l2a", "demo_202401-01_sentinel"),
        ("field-survey-2024", "demo_202401-01_field-survey-2024"),
        ("custom/my source@v1", "demo_202401-01_custom-my-source-v1"),
    ],
)
def test_create_name(source, expected):
    assert Collection.create_name("demo", ("2024-01-01", "2024-01-31"), source) == expected


def test_names_roundtrip():
    name = Collection.create_name("My Field_Trip!", ("2023-11-01", "2024-02-01"), "landsat-c2-l2")
    assert name == "my-field-trip_202311-202402_landsat"
    assert Collection.parse_name(name + "_stac") == {
        "custom_name": "my-field-trip",
        "data_source": "landsat",
        "name": name,
    }
    assert Collection.parse_name("odd")["data_source"] is None


def test_crs_helpers():
    assert parse_epsg("EPSG:32633") == 32633 and parse_epsg(4326) == 4326
    assert parse_epsg("32633") == 32633 and parse_epsg(None) is None
    assert normalize_crs_code("epsg:3857") == "EPSG:3857"
    t = normalize_raster_crs_sidecars(
        pa.table({"proj:code": [None, "EPSG:4326"], "proj:epsg": [32611, None]})
    )
    assert t.column("proj:epsg").to_pylist() == [32611, 4326]
    assert t.column("crs").to_pylist() == ["EPSG:32611", "EPSG:4326"]


def test_footprints_and_native_res(coll):
    gdf = coll.footprints()
    assert list(gdf["id"]) == [f"scene-{i}" for i in range(6)]
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry[0].bounds == (10.0, 45.0, 10.5, 45.5)
    raster = coll.footprints(band="B04", crs=32633)
    assert raster.crs.to_epsg() == 32633
    # scene-0 is EPSG:32633 with a 512 x 512 grid of 10 m pixels at (500000, 5000000)
    np_bounds = raster.geometry[0].bounds
    assert abs(np_bounds[0] - 500000) < 1e-6 and abs(np_bounds[3] - 5000000) < 1e-6
    assert abs(np_bounds[2] - 505120) < 1e-6
    assert coll.native_res() == (10.0, 10.0) and coll.native_res("B04") == (10.0, 10.0)
    with pytest.raises(ValueError, match="Band\\(s\\) not found"):
        coll.native_res("B99")


def test_duckdb_polars_geopandas_read_collections(coll, tmp_path):
    import duckdb
    import geopandas as gpd
    import polars as pl

    rows = duckdb.sql('select id from coll where "eo:cloud_cover" < 25 order by id').fetchall()
    assert [r[0] for r in rows] == ["scene-0", "scene-1", "scene-2"]
    frame = pl.from_arrow(coll.to_table())
    assert frame.height == 6 and "B04_metadata" in frame.columns
    root = tmp_path / "exported"
    coll.export(root)
    n = duckdb.sql(f"select count(*) from read_parquet('{root}/**/*.parquet')").fetchall()[0][0]
    assert n == 6
    gdf = gpd.read_parquet(next(root.rglob("*.parquet")))
    assert gdf.geometry.iloc[0].geom_type == "Polygon" and gdf.crs.to_string() == "OGC:CRS84"
    # record tables from DuckDB and Polars build collections
    built = rasteret.build_from_table(duckdb.sql("select * from coll"), name="")
    assert len(built) == 6
    built = rasteret.build_from_table(pl.from_arrow(coll.to_table().drop_columns(["crs"])))
    assert len(built) == 6 and built.crs == ["EPSG:32632", "EPSG:32633"]


def test_small_collections_are_written_as_write_to_dataset_writes_them(tmp_path):
    """A one-row-group table is written partition by partition (no dataset writer): the same
    files, schemas (metadata included) and rows as ``pq.write_to_dataset``."""
    from rasteret.records.persistence import write_collection

    table = pa.table(
        {
            "id": [f"r{i}" for i in range(9)],
            "value": list(range(9)),
            "year": pa.array([2023] * 3 + [2024] * 6, pa.int32()),
            "month": pa.array([12] * 3 + [1] * 2 + [2] * 4, pa.int32()),
        }
    ).replace_schema_metadata({b"geo": b'{"version": "1.1.0"}'})
    write_collection(table, tmp_path / "ours", ("year", "month"))
    pq.write_to_dataset(
        table,
        root_path=str(tmp_path / "theirs"),
        partition_cols=["year", "month"],
        compression="zstd",
        compression_level=3,
        basename_template="part-{i}.parquet",
    )
    files = sorted(p.relative_to(tmp_path / "ours") for p in (tmp_path / "ours").rglob("*.parquet"))
    assert files == sorted(
        p.relative_to(tmp_path / "theirs") for p in (tmp_path / "theirs").rglob("*.parquet")
    )
    assert len(files) == 3
    for f in files:
        ours, theirs = pq.read_table(tmp_path / "ours" / f), pq.read_table(tmp_path / "theirs" / f)
        assert ours.schema.equals(theirs.schema, check_metadata=True)
        assert ours.equals(theirs)
        assert (
            pq.ParquetFile(tmp_path / "ours" / f).metadata.row_group(0).column(0).compression
            == "ZSTD"
        )
