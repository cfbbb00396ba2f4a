"""Polygon-AOI reads (get_numpy / get_gdf / get_xarray) pixel-for-pixel against rasterio.mask.

Oracle: ``rasterio.mask.mask(src, [geom in src.crs], crop=True,
filled=True, nodata=src.nodata or 0, all_touched=...)`` on the same GDAL-written file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import rasteret
import rasterio
import rasterio.mask
import shapely
from rasteret.errors import UnsupportedGeometryError
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from support.aoi_oracle import aoi_in_4326

BAND = "B1"


# vertices at fractional pixel positions: an AOI edge exactly on a pixel boundary would make
# floor/ceil depend on the last bit of the reprojection (pyproj vs GDAL)
_aoi_in_4326 = aoi_in_4326


def _oracle(entry, geom_4326, all_touched=False):
    with rasterio.open(entry.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(geom_4326))
        fill = src.nodata if src.nodata is not None else 0
        data, transform = rasterio.mask.mask(
            src, [geom], crop=True, filled=True, nodata=fill, all_touched=all_touched, indexes=1
        )
    return data, transform


def _eligible(cog_corpus):
    out = []
    for e in cog_corpus.entries:
        if e.count != 1 or e.lossy or "custom_crs" in e.tags or "striped" in e.tags:
            continue
        if not any(t.startswith("epsg") for t in e.tags):
            continue
        out.append(e)
    return out


@pytest.fixture(scope="module")
def aoi_collection(cog_corpus, http_server):
    entries = _eligible(cog_corpus)
    assert len(entries) >= 10
    footprints = []
    for e in entries:
        with rasterio.open(e.path) as src:
            footprints.append(
                shapely.geometry.shape(
                    transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
                )
            )
    table = pa.table(
        {
            "id": [e.name for e in entries],
            "datetime": pa.array(
                [dt.datetime(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(entries))],
                pa.timestamp("us"),
            ),
            "geometry": [f.wkb for f in footprints],
            "url": [http_server.url(e.path.name) for e in entries],
        }
    )
    coll = rasteret.build_from_table(
        table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    return coll, entries


@pytest.mark.parametrize("all_touched", [False, True])
def test_get_gdf_matches_rasterio_mask(aoi_collection, all_touched):
    coll, entries = aoi_collection
    checked = 0
    for entry in entries:
        aoi = _aoi_in_4326(entry)
        one = coll.where(ds.field("id") == entry.name)
        gdf = one.get_gdf(aoi, [BAND], all_touched=all_touched)
        assert len(gdf) == 1, entry.name
        expected, transform = _oracle(entry, aoi, all_touched)
        got = gdf["data"].iloc[0]
        if "float16" in entry.tags:  # GDAL 3.10 exposes half floats (NBITS=16) as float32
            assert got.dtype == np.float16
            got = got.astype(np.float32)
        assert got.dtype == expected.dtype, entry.name
        assert got.shape == expected.shape, (entry.name, got.shape, expected.shape)
        np.testing.assert_array_equal(got, expected, err_msg=entry.name)
        assert tuple(gdf["transform"].iloc[0])[:6] == pytest.approx(tuple(transform)[:6])
        checked += 1
    assert checked == len(entries)


def test_south_up_is_covered(aoi_collection):
    _, entries = aoi_collection
    assert any("south_up" in e.tags for e in entries)


def test_get_numpy_shapes_and_values(aoi_collection):
    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    aoi = _aoi_in_4326(entry)
    arr = one.get_numpy([aoi, aoi], [BAND])
    expected, _ = _oracle(entry, aoi)
    assert arr.shape == (2, *expected.shape)
    np.testing.assert_array_equal(arr[0], expected)
    both = one.get_numpy(aoi, [BAND, BAND])
    assert both.shape == (1, 2, *expected.shape)


def test_aoi_input_kinds_agree(aoi_collection):
    import duckdb
    import geopandas as gpd

    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    aoi = _aoi_in_4326(entry)
    expected, _ = _oracle(entry, aoi)
    wkb_field = pa.field(
        "geom",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"geoarrow.wkb",
            b"ARROW:extension:metadata": b'{"crs": "OGC:CRS84"}',
        },
    )
    table = pa.table({"name": ["a"], "geom": pa.array([aoi.wkb])}).cast(
        pa.schema([pa.field("name", pa.string()), wkb_field])
    )
    inputs = {
        "shapely": aoi,
        "list": [aoi],
        "wkb": aoi.wkb,
        "geojson": mapping(aoi),
        "arrow_wkb": pa.array([aoi.wkb]),
        "table": table,
        "geodataframe": gpd.GeoDataFrame({"name": ["a"]}, geometry=[aoi], crs="EPSG:4326"),
    }
    for kind, value in inputs.items():
        got = one.get_numpy(value, [BAND])
        np.testing.assert_array_equal(got[0], expected, err_msg=kind)
    rel = duckdb.sql(f"select 'a' as name, '{aoi.wkb.hex()}' as h").query(
        "rel", "select name, from_hex(h) as geom from rel"
    )
    gdf = one.get_gdf(rel, [BAND], geometry_column="geom", geometry_crs=4326)
    assert list(gdf["name"]) == ["a"]
    np.testing.assert_array_equal(gdf["data"].iloc[0], expected)


def test_get_xarray_coordinates(aoi_collection):
    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    aoi = _aoi_in_4326(entry)
    xds = one.get_xarray(aoi, [BAND])
    expected, transform = _oracle(entry, aoi)
    values = xds[BAND].values.squeeze()
    np.testing.assert_array_equal(values, expected)
    assert xds["x"].values[0] == pytest.approx(transform.c + 0.5 * transform.a)
    assert xds[BAND].dims == ("time", "geometry", "y", "x")
    assert "GeoTransform" in xds["spatial_ref"].attrs


def test_errors(aoi_collection):
    coll, _ = aoi_collection
    with pytest.raises(ValueError, match="Band\\(s\\) not found"):
        coll.get_numpy((10, 45, 11, 46), ["nope"])
    with pytest.raises(UnsupportedGeometryError, match="sample_points"):
        coll.get_numpy(shapely.Point(10, 45), [BAND])
    with pytest.raises(ValueError, match="No valid data found"):
        coll.get_numpy((-170, -80, -169, -79), [BAND])
    with pytest.raises(TypeError, match="Unsupported geometry type"):
        coll.get_numpy(object(), [BAND])


def test_iterate_rasters_and_accessor_reads(aoi_collection):
    import asyncio

    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)

    async def collect():
        return [r async for r in coll.iterate_rasters()], await one.get_first_raster()

    accessors, first = asyncio.run(collect())
    assert len(accessors) == len(coll) and first.id == entry.name
    meta, url, band_index = first.try_get_band_cog_metadata(BAND)
    assert url.endswith(entry.path.name) and band_index == 0
    assert (meta.width, meta.height) == (entry.width, entry.height)
    assert first.try_get_band_cog_metadata("nope") == (None, None, None)
    aoi = _aoi_in_4326(entry)
    arr = asyncio.run(first.load_bands(aoi, [BAND], for_numpy=True))
    expected, _ = _oracle(entry, aoi)
    np.testing.assert_array_equal(arr[0], expected)
    with pytest.raises(ValueError, match="No raster records found"):
        asyncio.run(coll.where(ds.field("id") == "none").get_first_raster())


def test_accessor_sample_points_keeps_given_point_indices(aoi_collection):
    import asyncio

    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    first = asyncio.run(coll.where(ds.field("id") == entry.name).get_first_raster())
    with rasterio.open(entry.path) as src:
        xy = [src.xy(row, col) for row, col in ((3, 5), (40, 17), (100, 99))]
        expected = [float(v[0]) for v in src.sample(xy, indexes=1)]
        epsg = src.crs.to_epsg()
    points = [shapely.Point(x, y) for x, y in xy]
    plain = asyncio.run(first.sample_points(points=points, band_codes=[BAND], geometry_crs=epsg))
    assert sorted(plain.column("point_index").to_pylist()) == [0, 1, 2]
    got = asyncio.run(
        first.sample_points(
            points=points, band_codes=[BAND], geometry_crs=epsg, point_indices=[70, 71, 72]
        )
    )
    by_index = dict(
        zip(got.column("point_index").to_pylist(), got.column("value").to_pylist(), strict=True)
    )
    assert by_index == {70: expected[0], 71: expected[1], 72: expected[2]}
