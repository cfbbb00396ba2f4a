"""sample_points against rasterio's sample on the same GDAL-written files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import rasterio
import shapely
from rasterio.warp import transform as warp_transform
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)


def _random_points(entry, n, seed):
    rng = np.random.default_rng(seed)
    with rasterio.open(entry.path) as src:
        left, bottom, right, top = src.bounds
        xs = rng.uniform(left, right, n)
        ys = rng.uniform(bottom, top, n)
        lon, lat = warp_transform(src.crs, "EPSG:4326", xs, ys)
        # the oracle samples at the point transformed back, like our read does
        bx, by = warp_transform("EPSG:4326", src.crs, lon, lat)
        expected = np.array([v[0] for v in src.sample(zip(bx, by, strict=True), indexes=1)])
    return np.asarray(lon), np.asarray(lat), expected.astype(np.float64)


def test_points_match_rasterio_sample(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    checked = 0
    for k, entry in enumerate(entries[:8]):
        one = coll.where(ds.field("id") == entry.name)
        lon, lat, expected = _random_points(entry, 200, k)
        pts = [shapely.Point(x, y) for x, y in zip(lon, lat, strict=True)]
        out = one.sample_points(pts, [BAND])
        assert out.schema.names[:10] == [
            "point_index",
            "point_x",
            "point_y",
            "point_crs",
            "record_id",
            "datetime",
            "collection",
            "band",
            "value",
            "raster_crs",
        ]
        order = np.argsort(out.column("point_index").to_numpy())
        got = out.column("value").to_numpy()[order]
        idx = out.column("point_index").to_numpy()[order]
        np.testing.assert_array_equal(got, expected[idx], err_msg=entry.name)
        assert len(idx) >= 190  # points on the very edge may round outside
        checked += 1
    assert checked == 8


def test_xy_table_input_carries_columns(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    lon, lat, expected = _random_points(entry, 50, 7)
    table = pa.table({"lon": lon, "lat": lat, "site": [f"s{i}" for i in range(50)]})
    with pytest.raises(ValueError, match="missing GeoArrow CRS metadata"):
        one.sample_points(table, [BAND])
    out = one.sample_points(table, [BAND], geometry_crs=4326)
    assert out.column_names[-3:] == ["lon", "lat", "site"]
    got = dict(zip(out.column("site").to_pylist(), out.column("value").to_pylist(), strict=True))
    assert got["s3"] == expected[3]


def test_nodata_fallback_and_neighbourhood(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = next(
        e
        for e in entries
        if "nodata" in e.tags and e.nodata not in (None,) and e.nodata == e.nodata
    )
    one = coll.where(ds.field("id") == entry.name)
    with rasterio.open(entry.path) as src:
        data = src.read(1)
        rows, cols = np.nonzero(data == src.nodata)
        assert len(rows), "corpus nodata file has no nodata pixels"
        r, c = int(rows[0]), int(cols[0])
        x, y = src.xy(r, c)
        lon, lat = warp_transform(src.crs, "EPSG:4326", [x], [y])
    out = one.sample_points(
        shapely.Point(lon[0], lat[0]), [BAND], max_distance_pixels=2, return_neighbourhood="always"
    )
    nb = out.column("neighbourhood_values").to_pylist()[0]
    assert len(nb) == 25
    value = out.column("value").to_pylist()[0]
    window = data[max(r - 2, 0) : r + 3, max(c - 2, 0) : c + 3]
    valid = window[window != entry.nodata]
    if len(valid):
        assert value != entry.nodata and value in set(valid.tolist())
    else:
        assert value == entry.nodata


def test_point_errors(aoi_collection):  # noqa: F811
    coll, _ = aoi_collection
    with pytest.raises(ValueError, match="match must be either"):
        coll.sample_points(shapely.Point(0, 0), [BAND], match="first")
    with pytest.raises(ValueError, match="must be > 0 when return_neighbourhood"):
        coll.sample_points(shapely.Point(0, 0), [BAND], return_neighbourhood="always")
    with pytest.raises(TypeError, match="tabular"):
        coll.sample_points(shapely.Point(0, 0), [BAND], x_column="x")
    from rasteret.errors import UnsupportedGeometryError

    with pytest.raises(UnsupportedGeometryError, match="requires Point geometries"):
        coll.sample_points(shapely.box(0, 0, 1, 1), [BAND])
    empty = coll.sample_points(shapely.Point(-170, -80), [BAND])
    assert empty.num_rows == 0


def test_points_at_scale_match_rasterio_sample(aoi_collection):  # noqa: F811
    """5,000 points over 10 rasters (UTM, geographic, south-up, nodata) in ONE call, given as a
    GeoArrow point column, against ``rasterio.sample`` at each point."""
    import geoarrow.pyarrow as ga

    coll, entries = aoi_collection
    picked = [e for e in entries if "south_up" in e.tags][:1]
    picked += [e for e in entries if e not in picked][: 10 - len(picked)]
    rng = np.random.default_rng(2026)
    lons, lats, owners = [], [], []
    for k, entry in enumerate(picked):
        with rasterio.open(entry.path) as src:
            left, bottom, right, top = src.bounds
            xs = rng.uniform(min(left, right), max(left, right), 500)
            ys = rng.uniform(min(bottom, top), max(bottom, top), 500)
            lon, lat = warp_transform(src.crs, "EPSG:4326", xs, ys)
        lons.append(lon)
        lats.append(lat)
        owners += [k] * 500
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    wkb = shapely.to_wkb(shapely.points(lon, lat))
    points = ga.as_geoarrow(pa.array(wkb.tolist(), pa.binary()))
    table = pa.table({"geometry": ga.with_crs(points, "OGC:CRS84"), "owner": owners})
    names = [e.name for e in picked]
    out = coll.where(ds.field("id").isin(names)).sample_points(table, [BAND])
    rid = out.column("record_id").to_pylist()
    pidx = out.column("point_index").to_numpy()
    value = out.column("value").to_numpy()
    owner = out.column("owner").to_numpy()
    checked = 0
    for k, entry in enumerate(picked):
        mine = np.array([r == entry.name for r in rid]) & (owner == k)
        idx = pidx[mine]
        assert len(idx) >= 490, entry.name  # points on the very edge may round outside
        with rasterio.open(entry.path) as src:
            bx, by = warp_transform("EPSG:4326", src.crs, lon[idx], lat[idx])
            expected = np.array([v[0] for v in src.sample(zip(bx, by, strict=True), indexes=1)])
        np.testing.assert_array_equal(value[mine], expected.astype(np.float64), err_msg=entry.name)
        checked += len(idx)
    assert checked >= 4_900
