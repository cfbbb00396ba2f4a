"""Geometry and grid helpers (rasteret.core.geometry, rasteret.core.utils), input planning
(rasteret.core.aoi), the collection-level read functions with subset filters, and the builder
base class, each against the library that defines the semantics (shapely, pyproj, rasterio)."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import rasteret
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasteret.core import geometry as geo
from rasteret.core.aoi import (
    fail_on_metadata_collisions,
    prepare_geometry_input,
    prepare_point_input,
)
from rasteret.core.utils import (
    compute_dst_grid,
    compute_dst_grid_from_src,
    normalize_transform,
    reproject_array,
    transform_polygon,
)
from rasteret.errors import UnsupportedGeometryError
from rasterio.features import geometry_mask
from rasterio.warp import calculate_default_transform
from shapely.geometry import mapping
from support.aoi_oracle import BAND, aoi_in_4326, oracle, record_table

POLY = shapely.Polygon([(13.57, 52.29), (13.62, 52.30), (13.60, 52.33), (13.57, 52.29)])
MULTI = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 4)])
UTM = 32633


def _wkb_field(name: str, crs: str | None) -> pa.Field:
    meta = {b"ARROW:extension:name": b"geoarrow.wkb"}
    if crs is not None:
        meta[b"ARROW:extension:metadata"] = json.dumps({"crs": crs}).encode()
    return pa.field(name, pa.binary(), metadata=meta)


# -- coercion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        POLY,
        [POLY, MULTI],
        POLY.wkb,
        [POLY.wkb, MULTI.wkb],
        mapping(POLY),
        [mapping(POLY), mapping(MULTI)],
        pa.array([POLY.wkb, MULTI.wkb]),
        pa.chunked_array([[POLY.wkb], [MULTI.wkb]]),
        pa.array([POLY.wkt, MULTI.wkt]),
        pa.array([POLY.wkb, MULTI.wkb], pa.binary_view()),
    ],
    ids=[
        "shapely",
        "shapely-list",
        "wkb",
        "wkb-list",
        "geojson",
        "geojson-list",
        "wkb-array",
        "wkb-chunked",
        "wkt-array",
        "binary-view",
    ],
)
def test_coerce_to_geoarrow_round_trips(value):
    import geoarrow.pyarrow as ga

    out = geo.coerce_to_geoarrow(value)
    assert isinstance(out.type, pa.ExtensionType)
    assert out.type.extension_name.startswith("geoarrow.")
    # a native (not serialized) GeoArrow type: coordinates are Arrow columns
    assert out.type.extension_name not in ("geoarrow.wkb", "geoarrow.wkt")
    expected = [POLY, MULTI][: len(out)]
    got = geo.to_shapely(out)
    assert [g.equals(e) for g, e in zip(got, expected, strict=True)] == [True] * len(expected)
    # native input is returned as is
    assert geo.coerce_to_geoarrow(out) is out
    assert ga.as_wkb(out).storage.to_pylist() == [g.wkb for g in got]


def test_coerce_bbox_tuple_and_errors():
    out = geo.coerce_to_geoarrow((1.0, 2.0, 3.0, 5.0))
    assert geo.to_shapely(out)[0].equals(shapely.box(1, 2, 3, 5))
    with pytest.raises(ValueError, match="Empty geometry list"):
        geo.coerce_to_geoarrow([])
    with pytest.raises(TypeError, match="Unsupported geometry type: object"):
        geo.coerce_to_geoarrow(object())
    with pytest.raises(TypeError, match="Unsupported geometry type"):
        geo.coerce_to_geoarrow((1, 2, 3))
    with pytest.raises(TypeError, match="OGC WKB"):
        geo.coerce_to_geoarrow(b"\x00\x01not-wkb")
    with pytest.raises(TypeError, match="ST_AsWKB"):
        geo.coerce_to_geoarrow(pa.array([b"\x07garbage"]))


def test_unsupported_geometry_error_is_the_documented_class():
    assert geo.UnsupportedGeometryError is UnsupportedGeometryError
    assert issubclass(geo.UnsupportedGeometryError, TypeError)


# -- envelopes --------------------------------------------------------------------------------


def test_bbox_array_single_and_total_match_shapely():
    geoms = [POLY, MULTI, shapely.box(-5, -6, -4, -2)]
    xmin, ymin, xmax, ymax = geo.bbox_array(pa.array([g.wkb for g in geoms]))
    got = np.column_stack([c.to_numpy() for c in (xmin, ymin, xmax, ymax)])
    np.testing.assert_allclose(got, [g.bounds for g in geoms], rtol=0, atol=1e-12)
    native = geo.coerce_to_geoarrow(geoms)
    assert geo.bbox_single(native, 1) == pytest.approx(MULTI.bounds)
    assert geo.total_bounds(native) == pytest.approx(shapely.total_bounds(geoms).tolist())


def test_bbox_predicates_use_closed_intervals():
    assert geo.bbox_intersects((0, 0, 1, 1), (1, 1, 2, 2))  # touching corners
    assert not geo.bbox_intersects((0, 0, 1, 1), (1.0001, 0, 2, 1))
    assert geo.intersect_bbox((0, 0, 2, 2), (1, 1, 3, 3)) == (1, 1, 2, 2)
    assert geo.intersect_bbox((0, 0, 1, 1), (1, 0, 2, 1)) == (1, 0, 1, 1)
    assert geo.intersect_bbox((0, 0, 1, 1), (2, 2, 3, 3)) is None
    assert geo.intersect_bbox(None, (2, 2, 3, 3)) == (2, 2, 3, 3)
    assert geo.intersect_bbox((0, 0, 1, 1), None) == (0, 0, 1, 1)


def test_bbox_from_geojson_coords_and_wkb():
    assert geo.bbox_from_geojson_coords(mapping(MULTI)) == MULTI.bounds
    assert geo.bbox_from_geojson_coords({"type": "Point", "coordinates": [3, 4]}) == (3, 4, 3, 4)
    with pytest.raises(ValueError, match="Empty geometry coordinates"):
        geo.bbox_from_geojson_coords({"type": "Polygon", "coordinates": []})
    wkb = geo.geojson_dicts_to_wkb([mapping(POLY), mapping(MULTI)])
    assert wkb.type == pa.binary()
    assert [
        shapely.from_wkb(b).equals(g) for b, g in zip(wkb.to_pylist(), [POLY, MULTI], strict=True)
    ] == [
        True,
        True,
    ]


# -- GeoJSON for rasterio, CRS transforms -----------------------------------------------------


def test_to_rasterio_geojson_feeds_geometry_mask():
    arr = geo.coerce_to_geoarrow([POLY, POLY.buffer(0.001)])
    transform = Affine(0.001, 0, 13.56, 0, -0.001, 52.34)
    gj = geo.to_rasterio_geojson(arr, 0)
    assert gj["type"] == "Polygon"
    got = geometry_mask([gj], out_shape=(60, 80), transform=transform, invert=True)
    expected = geometry_mask([POLY], out_shape=(60, 80), transform=transform, invert=True)
    assert got.sum() > 100
    np.testing.assert_array_equal(got, expected)
    # Polygons mixed with MultiPolygons share the GeoArrow multipolygon type
    mixed = geo.coerce_to_geoarrow([POLY, MULTI])
    multi = geo.to_rasterio_geojson(mixed, 1)
    assert multi["type"] == "MultiPolygon"
    assert shapely.geometry.shape(multi).equals(MULTI)
    assert shapely.geometry.shape(geo.to_rasterio_geojson(mixed, 0)).equals(POLY)


def test_to_rasterio_geojson_rejects_points_and_empties():
    with pytest.raises(UnsupportedGeometryError):
        geo.to_rasterio_geojson(pa.array([shapely.Point(1, 2).wkb]), 0)
    mixed = pa.array([POLY.wkb, shapely.Polygon().wkb])
    assert geo.to_rasterio_geojson(mixed, 0)["type"] == "Polygon"
    with pytest.raises(ValueError, match="Empty geometry"):
        geo.to_rasterio_geojson(mixed, 1)
    with pytest.raises(ValueError, match="Empty geometry"):
        geo.to_rasterio_geojson(pa.array([POLY.wkb, None], pa.binary()), 1)


def test_transform_coords_matches_pyproj_vertex_by_vertex():
    arr = geo.coerce_to_geoarrow(pa.array([POLY.wkb]))
    tf = Transformer.from_crs(4326, UTM, always_xy=True)
    out = geo.transform_coords(arr, 0, 4326, UTM)
    assert out["type"] == "Polygon"
    ring = np.asarray(out["coordinates"][0])
    xs, ys = tf.transform(*np.asarray(POLY.exterior.coords).T)
    np.testing.assert_allclose(ring, np.column_stack([xs, ys]), rtol=0, atol=1e-6)
    two = shapely.MultiPolygon([POLY, shapely.box(13.7, 52.4, 13.8, 52.5)])
    multi = geo.transform_coords([two], 0, 4326, UTM)
    assert multi["type"] == "MultiPolygon" and len(multi["coordinates"]) == 2
    second = np.asarray(multi["coordinates"][1][0])
    xs, ys = tf.transform(*np.asarray(two.geoms[1].exterior.coords).T)
    np.testing.assert_allclose(second, np.column_stack([xs, ys]), rtol=0, atol=1e-6)
    with pytest.raises(IndexError, match="out of range"):
        geo.transform_coords(arr, 1, 4326, UTM)
    with pytest.raises(UnsupportedGeometryError):
        geo.transform_coords(pa.array([shapely.Point(13.6, 52.3).wkb]), 0, 4326, UTM)


def test_transform_polygon_matches_pyproj():
    tf = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    out = transform_polygon(POLY, 4326, "EPSG:32633")
    xs, ys = tf.transform(*np.asarray(POLY.exterior.coords).T)
    np.testing.assert_allclose(
        np.asarray(out.exterior.coords), np.column_stack([xs, ys]), rtol=0, atol=1e-6
    )
    assert transform_polygon(POLY, 4326, 4326) is POLY


# -- points -----------------------------------------------------------------------------------


def test_resolve_xy_columns():
    assert geo.resolve_xy_columns(["a", "lat", "lon", "y"], None, None) == ("lon", "lat")
    assert geo.resolve_xy_columns(["x", "y", "lon", "lat"], None, None) == ("x", "y")
    assert geo.resolve_xy_columns(["lng", "lat"], None, None) == ("lng", "lat")
    assert geo.resolve_xy_columns(["a", "b"], None, None) is None
    assert geo.resolve_xy_columns(["e", "n"], "e", "n") == ("e", "n")
    with pytest.raises(ValueError, match="Missing point coordinate columns: \\['n'\\]"):
        geo.resolve_xy_columns(["e", "x", "y"], "e", "n")


def test_ensure_point_geoarrow_inputs():
    import polars as pl

    xs, ys = [13.58, 13.60, 13.61], [52.30, 52.31, 52.32]
    expected = [list(p) for p in zip(xs, ys, strict=True)]

    def coords(arr):
        x, y = geo.point_coords(arr)
        return np.column_stack([x, y]).tolist()

    points = [shapely.Point(x, y) for x, y in zip(xs, ys, strict=True)]
    assert coords(geo.ensure_point_geoarrow(points)) == expected
    assert coords(geo.ensure_point_geoarrow(pa.table({"lon": xs, "lat": ys}))) == expected
    decimals = pa.table({"e": pa.array(xs).cast(pa.decimal128(10, 4)), "n": ys})
    got = geo.ensure_point_geoarrow(decimals, x_column="e", y_column="n")
    np.testing.assert_allclose(coords(got), expected, rtol=0, atol=1e-9)
    assert coords(geo.ensure_point_geoarrow(pl.DataFrame({"x": xs, "y": ys}))) == expected
    geom_table = pa.table({"id": [1, 2, 3], "pt": [p.wkb for p in points]})
    assert coords(geo.ensure_point_geoarrow(geom_table, geometry_column="pt")) == expected
    assert len(geo.ensure_point_geoarrow([])) == 0
    with pytest.raises(TypeError, match="tabular"):
        geo.ensure_point_geoarrow(points[0], x_column="x")
    with pytest.raises(TypeError, match="Unsupported table input for point sampling"):
        geo.ensure_point_geoarrow(pa.table({"a": [1.0], "b": [2.0]}))


def test_transform_point_coords_matches_pyproj():
    xs, ys = np.array([13.58, 13.60, 14.1]), np.array([52.30, 52.31, 52.0])
    points = geo.ensure_point_geoarrow(pa.table({"x": xs, "y": ys}))
    ex, ey = Transformer.from_crs(4326, UTM, always_xy=True).transform(xs, ys)
    gx, gy = geo.transform_point_coords(points, geometry_crs=4326, target_crs=UTM)
    np.testing.assert_allclose(gx, ex, rtol=0, atol=1e-6)
    np.testing.assert_allclose(gy, ey, rtol=0, atol=1e-6)
    same_x, same_y = geo.transform_point_coords(points, geometry_crs=None, target_crs=UTM)
    np.testing.assert_array_equal(same_x, xs)
    np.testing.assert_array_equal(same_y, ys)


# -- input plans ------------------------------------------------------------------------------


def test_prepare_point_input_xy_table_keeps_metadata():
    table = pa.table({"plot": ["a", "b"], "e": [500000.0, 500100.0], "n": [5800000.0, 5800100]})
    with pytest.raises(ValueError, match="missing GeoArrow CRS metadata"):
        prepare_point_input(table, x_column="e", y_column="n")
    plan = prepare_point_input(
        table, x_column="e", y_column="n", geometry_crs="EPSG:32633", preserve_metadata=True
    )
    assert plan.geometry_crs == UTM and plan.geometry_column is None and plan.table is table
    x, y = geo.point_coords(plan.geometries)
    assert x.tolist() == [500000.0, 500100.0] and y.tolist() == [5800000.0, 5800100.0]
    assert plan.metadata.column_names == ["point_index", "plot", "e", "n"]
    assert plan.metadata.column("point_index").to_pylist() == [0, 1]
    assert prepare_point_input(table, x_column="e", y_column="n", geometry_crs=UTM).metadata is None


def test_prepare_point_input_geometry_column_crs_and_collisions():
    schema = pa.schema([pa.field("name", pa.string()), _wkb_field("geom", "EPSG:32633")])
    table = pa.table({"name": ["p"], "geom": [shapely.Point(500000, 5800000).wkb]}, schema=schema)
    plan = prepare_point_input(table, preserve_metadata=True)
    assert plan.geometry_crs == UTM and plan.geometry_column == "geom"
    assert plan.metadata.column_names == ["point_index", "name"]
    crs84 = pa.table(
        {"g": [shapely.Point(1, 2).wkb]}, schema=pa.schema([_wkb_field("g", "OGC:CRS84")])
    )
    assert prepare_point_input(crs84).geometry_crs == 4326
    clash = table.append_column("point_index", pa.array([7]))
    with pytest.raises(ValueError, match="'point_index' collides"):
        prepare_point_input(clash, preserve_metadata=True)
    with pytest.raises(TypeError, match="tabular"):
        prepare_point_input([shapely.Point(1, 2)], geometry_column="g")
    assert prepare_point_input([shapely.Point(1, 2)]).geometry_crs == 4326


def test_prepare_geometry_input_plan():
    table = pa.table(
        {"name": ["a", "b"], "geom": [POLY.wkb, MULTI.wkb]},
        schema=pa.schema([pa.field("name", pa.string()), _wkb_field("geom", "OGC:CRS84")]),
    )
    plan = prepare_geometry_input(table, preserve_metadata=True)
    assert plan.geometry_crs == 4326 and plan.geometry_column == "geom"
    assert plan.metadata.to_pydict() == {"geometry_id": [1, 2], "name": ["a", "b"]}
    assert [
        g.equals(e) for g, e in zip(geo.to_shapely(plan.geometries), [POLY, MULTI], strict=True)
    ] == [
        True,
        True,
    ]
    assert prepare_geometry_input(table).metadata is None
    assert len(prepare_geometry_input([]).geometries) == 0
    with pytest.raises(UnsupportedGeometryError, match="sample_points"):
        prepare_geometry_input([shapely.Point(1, 2)])


def test_fail_on_metadata_collisions():
    meta = pa.table({"geometry_id": [1], "band": ["x"], "data": [1], "site": ["s"]})
    with pytest.raises(ValueError, match="collide with Rasteret output columns: band, data"):
        fail_on_metadata_collisions(
            meta,
            output_columns={"geometry_id", "band", "data", "record_id"},
            join_column="geometry_id",
        )
    # the join column itself and non-output columns are fine
    fail_on_metadata_collisions(
        meta.select(["geometry_id", "site"]),
        output_columns={"geometry_id", "band"},
        join_column="geometry_id",
    )
    fail_on_metadata_collisions(None, output_columns={"band"}, join_column="geometry_id")


# -- grids ------------------------------------------------------------------------------------


def test_compute_dst_grid_covers_bounds_like_rasterio():
    bounds = (500000.0, 5799990.0, 500105.0, 5800100.0)
    transform, (height, width) = compute_dst_grid(bounds, (10.0, 20.0))
    assert (height, width) == (math.ceil(110 / 20), math.ceil(105 / 10)) == (6, 11)
    assert transform == rasterio.transform.from_origin(500000.0, 5800100.0, 10.0, 20.0)
    # the grid covers the bounds: its extent reaches past the requested right/bottom edges
    left, bottom, right, top = rasterio.transform.array_bounds(height, width, transform)
    assert left == bounds[0] and top == bounds[3]
    assert right >= bounds[2] and bottom <= bounds[1]


def test_compute_dst_grid_from_src_is_gdal_suggested_grid():
    bounds = (500000.0, 5800000.0, 505120.0, 5805120.0)
    transform, (height, width) = compute_dst_grid_from_src(UTM, 4326, 512, 512, bounds)
    expected, ew, eh = calculate_default_transform("EPSG:32633", "EPSG:4326", 512, 512, *bounds)
    assert (height, width) == (eh, ew)
    assert tuple(transform)[:6] == pytest.approx(tuple(expected)[:6], rel=0, abs=1e-12)
    assert 0 < transform.a < 0.01  # degrees, not metres


def test_normalize_transform_forms_and_errors():
    assert normalize_transform([10.0, 500000.0, -10.0, 5800000.0]) == (
        10.0,
        500000.0,
        -10.0,
        5800000.0,
    )
    assert normalize_transform((10, 0, 500000, 0, -10, 5800000)) == (10, 500000, -10, 5800000)
    with pytest.raises(ValueError, match="Transform is missing"):
        normalize_transform(None)
    with pytest.raises(TypeError):
        normalize_transform(3.5)
    with pytest.raises(ValueError, match="4 or 6 values"):
        normalize_transform([1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="Rotated/sheared"):
        normalize_transform([10, 0.5, 500000, 0, -10, 5800000])


def test_reproject_array_matches_rasterio_and_respects_masks():
    from rasterio.warp import Resampling, reproject

    rng = np.random.default_rng(3)
    data = rng.integers(1, 200, (40, 50)).astype(np.uint16)
    src_transform = Affine(10, 0, 500000, 0, -10, 5800400)
    left, bottom, right, top = rasterio.transform.array_bounds(40, 50, src_transform)
    dst_transform, shape = compute_dst_grid_from_src(UTM, 4326, 50, 40, (left, bottom, right, top))
    got = reproject_array(data, src_transform, UTM, 4326, dst_transform, shape)
    expected = np.full(shape, np.nan, np.float32)
    reproject(
        data.astype(np.float32),
        expected,
        src_transform=src_transform,
        src_crs="EPSG:32633",
        dst_transform=dst_transform,
        dst_crs="EPSG:4326",
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got).sum() > 1000
    # masked source pixels are nodata: none of their value leaks into the output
    masked = np.ma.masked_array(data, mask=np.zeros(data.shape, bool))
    masked[:, :25] = np.ma.masked
    masked.data[:, :25] = 60000
    out = reproject_array(masked, src_transform, UTM, 4326, dst_transform, shape)
    assert np.nanmax(out) < 200
    assert np.isnan(out).sum() > np.isnan(got).sum()


# -- collection-level reads with subset filters -----------------------------------------------

#: Three corpus files sharing their north-west corner: 3.0 km, 7.0 km and 11.0 km wide.
SMALL, MEDIUM, WIDE = "deflate_u8_t256.tif", "deflate_pred2_u16_t512.tif", "zstd_u16_t1024.tif"


def _utm_box_in_4326(left, bottom, right, top):
    from rasterio.warp import transform_bounds

    return transform_bounds("EPSG:32633", "EPSG:4326", left, bottom, right, top)


@pytest.fixture(scope="module")
def small_collection(cog_corpus, http_server):
    by_name = {e.name: e for e in cog_corpus.entries}
    entries = [by_name[SMALL], by_name[MEDIUM], by_name[WIDE]]
    table = record_table(entries, [http_server.url(e.path.name) for e in entries])
    coll = rasteret.build_from_table(
        table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    return coll, {e.name: e for e in entries}


def test_get_collection_numpy_with_bbox_filter_matches_get_numpy_and_rasterio(
    small_collection, http_server
):
    from rasteret.core.execution import get_collection_numpy

    coll, entries = small_collection
    wide = entries[WIDE]
    aoi = aoi_in_4326(wide)  # spans x = 402.2 .. 408.8 km: it touches all three files
    assert len(coll.get_gdf(aoi, [BAND])) == 3
    expected = oracle(wide, aoi)
    # a user bbox east of the two narrower files: only the wide record is read, whole AOI
    east = _utm_box_in_4326(408000, 5797000, 412000, 5801000)
    got = get_collection_numpy(collection=coll, geometries=aoi, bands=[BAND], bbox=east)
    assert got.dtype == expected.dtype and got.shape == (1, *expected.shape)
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(got, coll.get_numpy(aoi, [BAND], bbox=east))
    only_wide = coll.where(ds.field("id") == WIDE).get_numpy(aoi, [BAND])
    np.testing.assert_array_equal(got, only_wide)
    # other subset() keywords apply too (records are dated 2024-01-01 + position)
    dated = get_collection_numpy(
        collection=coll,
        geometries=aoi,
        bands=[BAND],
        date_range=("2024-01-03", "2024-01-03"),
    )
    np.testing.assert_array_equal(dated, got)
    # a bbox disjoint from the AOIs: no I/O at all
    minx, miny, maxx, maxy = aoi.bounds
    far = (maxx + 1.0, maxy + 1.0, maxx + 2.0, maxy + 2.0)
    http_server.reset_log()
    with pytest.raises(ValueError, match="No valid data found"):
        get_collection_numpy(collection=coll, geometries=aoi, bands=[BAND], bbox=far)
    with pytest.raises(ValueError, match="No valid data found"):
        coll.get_numpy(aoi, [BAND], bbox=far)
    assert http_server.count() == 0
    with pytest.raises(ValueError, match="Invalid bbox coordinates"):
        get_collection_numpy(collection=coll, geometries=aoi, bands=[BAND], bbox=(1, 1, 0, 0))


def test_gdf_xarray_and_points_take_filters(small_collection, http_server):
    from rasteret.core.execution import get_collection_gdf, get_collection_xarray
    from rasteret.core.point_sampling import get_collection_point_samples

    coll, entries = small_collection
    wide = entries[WIDE]
    aoi = aoi_in_4326(wide)
    expected = oracle(wide, aoi)
    east = _utm_box_in_4326(408000, 5797000, 412000, 5801000)
    table = pa.table(
        {"site": ["s1"], "geom": [aoi.wkb]},
        schema=pa.schema([pa.field("site", pa.string()), _wkb_field("geom", "OGC:CRS84")]),
    )
    gdf = get_collection_gdf(collection=coll, geometries=table, bands=[BAND], bbox=east)
    assert list(gdf["record_id"]) == [WIDE] and list(gdf["site"]) == ["s1"]
    assert list(gdf.columns[:9]) == [
        "record_id",
        "datetime",
        "cloud_cover",
        "collection",
        "geometry_id",
        "geometry",
        "band",
        "data",
        "transform",
    ]
    np.testing.assert_array_equal(gdf["data"].iloc[0], expected)
    with pytest.raises(ValueError, match="collide with Rasteret output columns: band"):
        get_collection_gdf(
            collection=coll, geometries=table.append_column("band", pa.array(["x"])), bands=[BAND]
        )
    xds = get_collection_xarray(collection=coll, geometries=aoi, bands=[BAND], bbox=east)
    np.testing.assert_array_equal(xds[BAND].values.squeeze(), expected)
    # a point in the medium and wide files (x = 404 km), sampled where the bbox allows
    lon, lat = Transformer.from_crs(UTM, 4326, always_xy=True).transform(404005.0, 5799005.0)
    point = shapely.Point(lon, lat)
    east_of_small = _utm_box_in_4326(403500, 5797000, 412000, 5801000)
    samples = get_collection_point_samples(
        collection=coll, points=[point], bands=[BAND], bbox=east_of_small
    )
    assert sorted(samples.column("record_id").to_pylist()) == sorted([MEDIUM, WIDE])
    for rid, value in zip(
        samples.column("record_id").to_pylist(), samples.column("value").to_pylist(), strict=True
    ):
        with rasterio.open(entries[rid].path) as src:
            x, y = rasterio.warp.transform("EPSG:4326", src.crs, [lon], [lat])
            assert value == float(next(src.sample([(x[0], y[0])], indexes=1))[0])
    latest_only = get_collection_point_samples(
        collection=coll, points=[point], bands=[BAND], date_range=("2024-01-02", "2024-01-02")
    )
    assert latest_only.column("record_id").to_pylist() == [MEDIUM]
    http_server.reset_log()
    empty = get_collection_point_samples(collection=coll, points=[point], bands=[BAND], bbox=east)
    assert empty.num_rows == 0 and empty.schema.names[0] == "point_index"
    assert http_server.count() == 0


# -- builders ---------------------------------------------------------------------------------


def test_ingest_exports_and_builder_base(tmp_path):
    import rasteret.ingest as ingest
    from rasteret.ingest import CollectionBuilder, RecordTableBuilder, StacCollectionBuilder
    from rasteret.ingest.enrich import enrich_table_with_cog_metadata
    from rasteret.ingest.normalize import build_collection_from_table

    assert ingest.build_collection_from_table is build_collection_from_table
    assert ingest.enrich_table_with_cog_metadata is enrich_table_with_cog_metadata
    assert set(ingest.__all__) <= set(dir(ingest))
    with pytest.raises(AttributeError):
        ingest.not_a_name  # noqa: B018
    with pytest.raises(TypeError):
        CollectionBuilder()  # abstract

    class Echo(CollectionBuilder):
        def build(self, **kwargs):
            return kwargs

    assert Echo(workspace_dir="s3://bucket/ws").workspace_dir == "s3://bucket/ws"
    assert Echo(workspace_dir=str(tmp_path)).workspace_dir == tmp_path
    assert Echo(workspace_dir=f"file://{tmp_path}").workspace_dir == tmp_path
    assert Echo().workspace_dir is None and Echo(name="n").name == "n"
    builder = RecordTableBuilder(tmp_path / "t.parquet", workspace_dir=str(tmp_path / "ws"))
    assert isinstance(builder, CollectionBuilder) and builder.workspace_dir == tmp_path / "ws"
    stac = StacCollectionBuilder("src", "https://example.invalid/stac", workspace_dir="gs://b/w")
    assert isinstance(stac, CollectionBuilder) and stac.workspace_dir == "gs://b/w"
    assert stac.data_source == "src"
