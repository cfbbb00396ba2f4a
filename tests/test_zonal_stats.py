"""Collection.zonal_stats against rasterstats.zonal_stats on the same GDAL-written files.

Oracle: ``rasterstats.zonal_stats(geom in the raster CRS, path, stats=..., all_touched=...)``
(it reads the file through rasterio); the collection reads the same files over the HTTP
Range server. Where rasterstats cannot be the oracle (south-up grids, pixels outside a file
without nodata), rasterio reads and ``geometry_mask`` on the same window are.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import rasteret
import rasterio
import shapely
from rasterio.features import geometry_mask
from rasterio.warp import transform_geom
from rasterio.windows import Window
from shapely.geometry import mapping

rasterstats = pytest.importorskip("rasterstats")

BAND = "B1"
STATS = ["count", "sum", "mean", "min", "max", "std"]


def _eligible(cog_corpus):
    return [
        e
        for e in cog_corpus.entries
        if e.count == 1
        and not e.lossy
        and "striped" not in e.tags
        and "custom_crs" not in e.tags
        and any(t.startswith("epsg") for t in e.tags)
    ]


@pytest.fixture(scope="module")
def zonal_collection(cog_corpus, http_server):
    entries = _eligible(cog_corpus)
    assert len(entries) >= 20
    footprints = []
    for e in entries:
        with rasterio.open(e.path) as src:
            box = shapely.box(*src.bounds)
            footprints.append(
                shapely.geometry.shape(transform_geom(src.crs, "EPSG:4326", mapping(box)))
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
    return coll, {e.name: e for e in entries}


def _shapes(src, *, outside: bool = True):
    """Polygons in the raster's CRS: a triangle, a polygon with a hole, a multipolygon, a
    polygon reaching past the image's corner (``outside``), and a sliver between pixel
    centres; vertices at fractional pixel positions."""
    t = src.transform
    w, h = src.width, src.height

    def px(col, row):
        return t * (col, row)

    tri = shapely.Polygon([px(0.37 * w, 0.21 * h), px(0.83 * w, 0.47 * h), px(0.29 * w, 0.91 * h)])
    outer = shapely.Polygon(
        [
            px(0.11 * w, 0.13 * h),
            px(0.61 * w, 0.12 * h),
            px(0.58 * w, 0.63 * h),
            px(0.09 * w, 0.59 * h),
        ]
    )
    hole = shapely.Polygon(
        [
            px(0.23 * w, 0.27 * h),
            px(0.41 * w, 0.25 * h),
            px(0.39 * w, 0.44 * h),
            px(0.22 * w, 0.41 * h),
        ]
    )
    holed = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    multi = shapely.MultiPolygon(
        [
            shapely.Polygon([px(0.61, 0.43), px(6.33, 1.17), px(3.71, 7.89)]),
            shapely.Polygon(
                [px(0.71 * w, 0.73 * h), px(0.93 * w, 0.69 * h), px(0.87 * w, 0.94 * h)]
            ),
        ]
    )
    sliver = shapely.Polygon([px(2.6, 2.6), px(2.9, 2.62), px(2.7, 2.9)])
    shapes = [tri, holed, multi, sliver]
    if outside:
        shapes.append(shapely.Polygon([px(-3.3, -2.7), px(0.33 * w, -1.9), px(0.21 * w, 0.29 * h)]))
    return shapes


def _query(coll, entry, shapes, **kw):
    with rasterio.open(entry.path) as src:
        epsg = src.crs.to_epsg()
    one = coll.where(ds.field("id") == entry.name)
    return one.zonal_stats(shapes, [BAND], geometry_crs=epsg, **kw)


def _close(got, want, name, entry, float_band):
    if want is None:
        assert got is None, (entry, name, got)
        return
    if name in ("count", "min", "max") or (name == "sum" and not float_band):
        assert got == want, (entry, name, got, want)
    else:
        rel = 2e-5 if float_band else 1e-9
        assert got == pytest.approx(want, rel=rel, abs=1e-9), (entry, name, got, want)


@pytest.mark.parametrize("all_touched", [False, True])
def test_zonal_stats_match_rasterstats(zonal_collection, all_touched):
    coll, entries = zonal_collection
    checked = 0
    for entry in entries.values():
        if "south_up" in entry.tags:  # rasterstats' bounds window is empty on south-up grids
            continue
        with rasterio.open(entry.path) as src:
            shapes = _shapes(src, outside=src.nodata is not None)
            float_band = src.dtypes[0].startswith("float")
            src_dtype = src.dtypes[0]
            # rasterstats takes -999 as nodata for a file without one: give it a value no
            # pixel holds instead
            no_nodata = None if src.nodata is not None else 1e30
        got = _query(coll, entry, shapes, all_touched=all_touched)
        assert got.column_names == ["geometry_index", "record_id", "datetime", "band", *STATS]
        assert got.column("geometry_index").to_pylist() == list(range(len(shapes)))
        assert set(got.column("record_id").to_pylist()) == {entry.name}
        with warnings.catch_warnings():  # rasterstats warns on files without nodata
            warnings.simplefilter("ignore")
            want = rasterstats.zonal_stats(
                shapes, str(entry.path), stats=STATS, all_touched=all_touched, nodata=no_nodata
            )
        wide = src_dtype in ("uint64", "int64")  # rasterstats' int64 sums overflow there
        for k, row in enumerate(got.to_pylist()):
            oracle = _rasterio_oracle(entry.path, shapes[k], all_touched) if wide else {}
            for name in STATS:
                if wide and name in ("sum", "mean", "std"):
                    want_wide = oracle[name]
                    assert row[name] == (want_wide and pytest.approx(want_wide, rel=1e-12))
                    continue
                _close(row[name], want[k][name], name, f"{entry.name}#{k}", float_band)
        assert got.column("count")[3].as_py() == 0 or all_touched  # the sliver: no centre
        checked += 1
    assert checked >= 20


def _rasterio_oracle(path, geom, all_touched, nodata=None):
    """Stats of the pixels ``geom`` covers, from rasterio: the bounds window (floor/ceil),
    read clipped to the image, masked with ``geometry_mask`` on the whole window's grid."""
    with rasterio.open(path) as src:
        t = src.transform
        minx, miny, maxx, maxy = geom.bounds  # the window as rasterstats computes it
        xs = [(minx - t.c) / t.a, (maxx - t.c) / t.a]
        ys = [(miny - t.f) / t.e, (maxy - t.f) / t.e]
        col0, col1 = math.floor(min(xs)), math.ceil(max(xs))
        row0, row1 = math.floor(min(ys)), math.ceil(max(ys))
        grid = t * rasterio.Affine.translation(col0, row0)
        burnt = geometry_mask(
            [geom], (row1 - row0, col1 - col0), grid, all_touched=all_touched, invert=True
        )
        c0, r0 = max(col0, 0), max(row0, 0)
        c1, r1 = min(col1, src.width), min(row1, src.height)
        data = src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0)).astype(np.float64)
        valid = src.read_masks(1, window=Window(c0, r0, c1 - c0, r1 - r0)) > 0
        nd = src.nodata if nodata is None else nodata
    inside = burnt[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] & valid & ~np.isnan(data)
    if nd is not None:
        inside &= data != nd
    values = data[inside]
    if not values.size:
        return {"count": 0, "sum": None, "mean": None, "min": None, "max": None, "std": None}
    return {
        "count": int(values.size),
        "sum": float(values.sum()),
        "mean": float(values.mean()),
        "min": float(values.min()),
        "max": float(values.max()),
        "std": float(values.std()),
    }


@pytest.mark.parametrize("all_touched", [False, True])
def test_south_up_and_outside_pixels_match_rasterio(zonal_collection, all_touched):
    coll, entries = zonal_collection
    picked = [e for e in entries.values() if "south_up" in e.tags]
    picked.append(entries["deflate_u8_t256.tif"])  # no nodata: outside pixels must not count
    assert len(picked) >= 3
    for entry in picked:
        with rasterio.open(entry.path) as src:
            shapes = _shapes(src)
        got = _query(coll, entry, shapes, all_touched=all_touched).to_pylist()
        assert len(got) == len(shapes)
        for k, row in enumerate(got):
            want = _rasterio_oracle(entry.path, shapes[k], all_touched)
            for name in STATS:
                _close(row[name], want[name], name, f"{entry.name}#{k}", False)


def test_internal_masks_are_honoured(zonal_collection):
    coll, entries = zonal_collection
    masked = [e for e in entries.values() if "mask" in e.tags]
    assert masked
    for entry in masked:
        with rasterio.open(entry.path) as src:
            shapes = _shapes(src, outside=False)
            assert (src.read_masks(1) == 0).any(), entry.name  # the mask hides some pixels
        got = _query(coll, entry, shapes).to_pylist()
        for k, row in enumerate(got):
            want = _rasterio_oracle(entry.path, shapes[k], False)
            for name in STATS:
                _close(row[name], want[name], name, f"{entry.name}#{k}", False)


def test_nodata_override_and_stat_selection(zonal_collection):
    coll, entries = zonal_collection
    entry = entries["deflate_u8_t256.tif"]
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src, outside=False)[:2]
        common = int(np.bincount(src.read(1).ravel()).argmax())
    got = _query(coll, entry, shapes, stats="mean count", nodata=common)
    assert got.column_names == ["geometry_index", "record_id", "datetime", "band", "mean", "count"]
    for k, row in enumerate(got.to_pylist()):
        want = _rasterio_oracle(entry.path, shapes[k], False, nodata=common)
        assert row["count"] == want["count"]
        assert row["mean"] == pytest.approx(want["mean"], rel=1e-12)
    plain = _query(coll, entry, shapes, stats=["count"])
    assert all(
        a > b for a, b in zip(plain["count"].to_pylist(), got["count"].to_pylist(), strict=True)
    )


def test_geometries_in_4326_are_reprojected_and_ids_kept(zonal_collection):
    coll, entries = zonal_collection
    entry = entries["deflate_pred2_u16_t256.tif"]
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src, outside=False)[:3]
        crs = src.crs
    from pyproj import Transformer

    to_4326 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    back = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    in_4326 = [shapely.ops.transform(to_4326.transform, s) for s in shapes]
    aois = pa.table({"name": ["a", "b", "c"], "geometry": shapely.to_wkb(in_4326).tolist()})
    one = coll.where(ds.field("id") == entry.name)
    got = one.zonal_stats(
        aois, [BAND], geometry_crs=4326, geometry_column="geometry", id_column="name"
    )
    assert got.column("name").to_pylist() == ["a", "b", "c"]
    # the oracle measures the geometries as rasteret sees them: moved back with pyproj
    moved = [
        shapely.transform(g, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))
        for g in in_4326
    ]
    want = rasterstats.zonal_stats(moved, str(entry.path), stats=STATS)
    for k, row in enumerate(got.to_pylist()):
        for name in STATS:
            _close(row[name], want[k][name], name, k, False)


def test_rows_only_where_a_window_meets_the_image(zonal_collection):
    coll, entries = zonal_collection
    entry = entries["deflate_pred2_i16_t256.tif"]
    with rasterio.open(entry.path) as src:
        far = shapely.box(*(v + 1e6 for v in src.bounds))
        inside = _shapes(src, outside=False)[0]
    got = _query(coll, entry, [far, inside])
    assert got.column("geometry_index").to_pylist() == [1]
    empty = _query(coll, entry, [far])
    assert empty.num_rows == 0
    assert empty.column_names == ["geometry_index", "record_id", "datetime", "band", *STATS]


def test_several_records_and_bands(zonal_collection):
    coll, entries = zonal_collection
    names = ["deflate_pred2_u16_t256.tif", "lzw_pred2_u16_t256.tif", "zstd_pred2_u16_t256.tif"]
    with rasterio.open(entries[names[0]].path) as src:
        shapes = _shapes(src, outside=False)
        epsg = src.crs.to_epsg()
    sub = coll.where(ds.field("id").isin(names))
    got = sub.zonal_stats(shapes, [BAND, BAND], geometry_crs=epsg, stats=["sum", "count"])
    assert got.num_rows == len(shapes) * len(names) * 2
    rows = got.to_pylist()
    keys = [(r["geometry_index"], r["record_id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (k[0], names.index(k[1])))
    for r in rows:
        want = _rasterio_oracle(entries[r["record_id"]].path, shapes[r["geometry_index"]], False)
        assert (r["count"], r["sum"]) == (want["count"], want["sum"])


def test_strips_and_batches_do_not_change_results(zonal_collection):
    from rasteret.read.inputs import prepare_geometry_input
    from rasteret.read.zonal import zonal_columns, zonal_stats

    coll, entries = zonal_collection
    entry = entries["zstd_u16_t1024.tif"]
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src)
        epsg = src.crs.to_epsg()
    one = coll.where(ds.field("id") == entry.name)
    table = one._scan_table(zonal_columns(one._schema().names, [BAND]))
    plan = prepare_geometry_input(shapes, geometry_crs=epsg)

    def run(**tuning):
        return zonal_stats(
            table,
            plan,
            [BAND],
            data_source="",
            stats=STATS,
            all_touched=True,
            nodata=None,
            options={},
            tuning=tuning,
        )

    whole = run()
    tiny = run(strip_bytes=3000, batch_bytes=9000)  # strips of a row or two, many batches
    assert tiny.column("count").to_pylist() == whole.column("count").to_pylist()
    for name in ("sum", "min", "max"):
        assert tiny.column(name).to_pylist() == whole.column(name).to_pylist()
    for name in ("mean", "std"):
        np.testing.assert_allclose(
            np.array(tiny.column(name).to_pylist(), dtype=float),
            np.array(whole.column(name).to_pylist(), dtype=float),
            rtol=1e-12,
        )


def test_unknown_statistic_lists_the_valid_ones(zonal_collection):
    coll, entries = zonal_collection
    with pytest.raises(ValueError, match=r"'median'.*valid names are \['count', 'sum'"):
        coll.zonal_stats(shapely.box(0, 0, 1, 1), [BAND], stats=["mean", "median"])
    with pytest.raises(ValueError, match="Band"):
        coll.zonal_stats(shapely.box(0, 0, 1, 1), ["B99"])


def test_missing_file_names_the_url(cog_corpus, http_server):
    entry = next(e for e in _eligible(cog_corpus) if e.name == "deflate_pred2_u16_t256.tif")
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src, outside=False)[:1]
        epsg = src.crs.to_epsg()
        foot = shapely.geometry.shape(
            transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
        )
    table = pa.table(
        {
            "id": ["good", "gone"],
            "datetime": pa.array([dt.datetime(2024, 1, 1)] * 2, pa.timestamp("us")),
            "geometry": [foot.wkb, foot.wkb],
            "url": [http_server.url(entry.path.name)] * 2,
        }
    )
    coll = rasteret.build_from_table(
        table, href_column="url", band_index_map={BAND: 0}, enrich_cog=True
    )
    # the index was built; then one record's file moves away
    gone = http_server.url("no-such-file.tif")
    moved = coll.dataset.to_table()
    assets = moved.column("assets").to_pylist()
    assets[1] = {k: {**v, "href": gone} for k, v in assets[1].items()}
    moved = moved.set_column(moved.schema.get_field_index("assets"), "assets", pa.array(assets))
    broken = rasteret.Collection(ds.dataset(moved))
    with pytest.warns(RuntimeWarning, match="no-such-file.tif"):
        got = broken.zonal_stats(shapes, [BAND], geometry_crs=epsg)
    assert got.column("record_id").to_pylist() == ["good"]
    only_gone = broken.where(ds.field("id") == "gone")
    with pytest.raises(ValueError, match="no-such-file.tif"):
        only_gone.zonal_stats(shapes, [BAND], geometry_crs=epsg)


def test_exactextract_agrees_on_pixel_aligned_boxes_only(zonal_collection):
    """exactextract weights pixels by covered area: equal on boxes along pixel edges; on a
    triangle its count is fractional, and its min/max span every touched pixel."""
    exactextract = pytest.importorskip("exactextract")
    gpd = pytest.importorskip("geopandas")
    coll, entries = zonal_collection
    entry = entries["deflate_pred2_u16_t256.tif"]
    with rasterio.open(entry.path) as src:
        t = src.transform
        (x0, y0), (x1, y1) = t * (10, 30), t * (40, 12)
        box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        tri = _shapes(src, outside=False)[0]
        frame = gpd.GeoDataFrame(geometry=[box, tri], crs=src.crs)
        ee = exactextract.exact_extract(
            src, frame, ["count", "sum", "mean", "min", "max"], output="pandas"
        )
    for all_touched in (False, True):
        got = _query(coll, entry, [box, tri], all_touched=all_touched).to_pylist()
        assert got[0]["count"] == ee["count"][0] == 30 * 18
        assert got[0]["sum"] == ee["sum"][0]
        assert got[0]["mean"] == pytest.approx(ee["mean"][0], rel=1e-12)
        assert (got[0]["min"], got[0]["max"]) == (ee["min"][0], ee["max"][0])
        assert got[1]["count"] != ee["count"][1]  # fractional coverage
    touched = _query(coll, entry, [tri], all_touched=True).to_pylist()[0]
    assert (touched["min"], touched["max"]) == (ee["min"][1], ee["max"][1])
