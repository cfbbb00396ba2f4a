"""Issue 4 acceptance gaps: every AOI input kind x both ``all_touched`` values through every
polygon read method, AOIs in another CRS, south-up xarray output, a collection registered in
DuckDB with AOIs selected in SQL, and failures reported with record id, band and URL
(oracle: ``rasterio.mask.mask``)."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import rasteret
import rasterio
import rasterio.mask
import shapely
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from test_aoi_reads import BAND, _aoi_in_4326, _oracle, aoi_collection  # noqa: F401

_CRS84 = b'{"crs": "OGC:CRS84"}'


def _wkb_table(aoi, crs_meta=_CRS84):
    field = pa.field(
        "geom",
        pa.binary(),
        metadata={
            b"ARROW:extension:name": b"geoarrow.wkb",
            b"ARROW:extension:metadata": crs_meta,
        },
    )
    return pa.table({"name": ["a"], "geom": pa.array([aoi.wkb])}).cast(
        pa.schema([pa.field("name", pa.string()), field])
    )


def _inputs(aoi):
    """Every accepted AOI input kind holding the one AOI (EPSG:4326)."""
    import geoarrow.pyarrow as ga
    import geopandas as gpd
    import polars as pl

    table = _wkb_table(aoi)
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[aoi], crs="EPSG:4326")
    return {
        "tuple_bbox": None,  # covered separately: a bbox is a different AOI
        "shapely": aoi,
        "shapely_list": [aoi],
        "multipolygon": shapely.MultiPolygon([aoi]),
        "wkb": aoi.wkb,
        "wkb_list": [aoi.wkb],
        "geojson": mapping(aoi),
        "geojson_list": [mapping(aoi)],
        "arrow_wkb": pa.array([aoi.wkb]),
        "arrow_chunked_wkb": pa.chunked_array([pa.array([aoi.wkb])]),
        "geoarrow_wkb": ga.as_wkb(pa.array([aoi.wkb])),
        "geoarrow_native": ga.as_geoarrow(pa.array([aoi.wkb])),
        "table": table,
        "record_batch": table.to_batches()[0],
        # a reader is consumed by one read: a fresh one per call
        "reader": lambda: pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        "dataset": ds.dataset(table),
        "polars": pl.from_arrow(table.drop_columns(["geom"])).with_columns(
            pl.Series("geom", [aoi.wkb])
        ),
        "geopandas_to_arrow": gdf.to_arrow(geometry_encoding="WKB"),
        "geodataframe": gdf,
        "geoseries": gdf.geometry,
    }


def _entry(entries, prefix="deflate_pred2_u16_t256"):
    return next(e for e in entries if e.name.startswith(prefix))


@pytest.mark.parametrize("all_touched", [False, True])
def test_every_input_kind_every_method(aoi_collection, all_touched):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries)
    one = coll.where(ds.field("id") == entry.name)
    aoi = _aoi_in_4326(entry)
    expected, transform = _oracle(entry, aoi, all_touched)
    checked = []
    for kind, value in _inputs(aoi).items():
        if value is None:
            continue
        kw = {"all_touched": all_touched}
        if kind == "polars":  # Polars drops the Arrow extension metadata: name the column
            kw.update(geometry_column="geom", geometry_crs=4326)

        def fresh(v=value):
            return v() if callable(v) else v

        arr = one.get_numpy(fresh(), [BAND], **kw)
        np.testing.assert_array_equal(arr[0], expected, err_msg=kind)
        gdf = one.get_gdf(fresh(), [BAND], **kw)
        np.testing.assert_array_equal(gdf["data"].iloc[0], expected, err_msg=kind)
        assert tuple(gdf["transform"].iloc[0])[:6] == pytest.approx(tuple(transform)[:6])
        if kind in ("table", "polars", "geopandas_to_arrow", "dataset", "reader"):
            assert list(gdf["name"]) == ["a"], kind
        xds = one.get_xarray(fresh(), [BAND], **kw)
        np.testing.assert_array_equal(xds[BAND].values[0, 0], expected, err_msg=kind)
        checked.append(kind)
    assert len(checked) == 19


@pytest.mark.parametrize("all_touched", [False, True])
def test_bbox_tuple_input(aoi_collection, all_touched):  # noqa: F811
    coll, entries = aoi_collection
    entry = _entry(entries)
    one = coll.where(ds.field("id") == entry.name)
    box = _aoi_in_4326(entry).bounds
    expected, _ = _oracle(entry, shapely.box(*box), all_touched)
    got = one.get_numpy(box, [BAND], all_touched=all_touched)
    np.testing.assert_array_equal(got[0], expected)


@pytest.mark.parametrize("all_touched", [False, True])
def test_aoi_in_another_crs(aoi_collection, all_touched):  # noqa: F811
    """AOIs given in EPSG:3857 (explicitly and through GeoArrow metadata) are moved into each
    raster's CRS (cross-CRS), for UTM and geographic rasters."""
    from pyproj import Transformer

    coll, entries = aoi_collection
    to_3857 = Transformer.from_crs(4326, 3857, always_xy=True)
    picked = [_entry(entries), next(e for e in entries if "epsg4326" in e.tags)]
    for entry in picked:
        one = coll.where(ds.field("id") == entry.name)
        aoi = _aoi_in_4326(entry)
        aoi_3857 = shapely.transform(aoi, lambda xy: np.column_stack(to_3857.transform(*xy.T)))
        with rasterio.open(entry.path) as src:
            geom = transform_geom("EPSG:3857", src.crs, mapping(aoi_3857))
            fill = src.nodata if src.nodata is not None else 0
            expected, _ = rasterio.mask.mask(
                src,
                [geom],
                crop=True,
                filled=True,
                nodata=fill,
                all_touched=all_touched,
                indexes=1,
            )
        got = one.get_numpy(aoi_3857, [BAND], geometry_crs=3857, all_touched=all_touched)
        np.testing.assert_array_equal(got[0], expected, err_msg=entry.name)
        meta = b'{"crs": "EPSG:3857"}'
        gdf = one.get_gdf(_wkb_table(aoi_3857, meta), [BAND], all_touched=all_touched)
        np.testing.assert_array_equal(gdf["data"].iloc[0], expected, err_msg=entry.name)
        assert gdf.crs.to_epsg() == 3857


def test_south_up_xarray_and_numpy(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    for entry in [e for e in entries if "south_up" in e.tags]:
        one = coll.where(ds.field("id") == entry.name)
        aoi = _aoi_in_4326(entry)
        expected, transform = _oracle(entry, aoi)
        assert transform.e > 0
        xds = one.get_xarray(aoi, [BAND])
        ys = xds["y"].values
        assert (np.diff(ys) > 0).all()  # GeoTransform e > 0: y increasing
        np.testing.assert_array_equal(xds[BAND].values[0, 0], expected, err_msg=entry.name)
        assert ys[0] == pytest.approx(transform.f + 0.5 * transform.e)
        np.testing.assert_array_equal(one.get_numpy(aoi, [BAND])[0], expected)


def test_duckdb_registered_collection_selects_aois(aoi_collection):  # noqa: F811
    """Register the collection and an AOI table in DuckDB, pick AOIs with SQL (a join on the
    collection's records), pass the relation to get_gdf(geometries=..., geometry_column=...)."""
    import duckdb

    coll, entries = aoi_collection
    names = [e.name for e in entries if e.name.startswith(("deflate_pred2_u16", "lzw_pred2"))]
    aois = pa.table(
        {
            "record": [e.name for e in entries],
            "site": [f"site-{i}" for i in range(len(entries))],
            "wkb": [_aoi_in_4326(e).wkb for e in entries],
        }
    )
    con = duckdb.connect()
    con.register("records", coll.to_table(columns=["id", "datetime", "bbox"]))
    con.register("aois", aois)
    rel = con.sql(
        "select a.site, a.wkb as geom from aois a join records r on a.record = r.id "
        f"where r.id in ({', '.join(repr(n) for n in names)}) order by a.site"
    )
    picked = coll.where(ds.field("id").isin(names))
    gdf = picked.get_gdf(rel, [BAND], geometry_column="geom", geometry_crs=4326)
    assert len(names) >= 2
    site_of = {f"site-{i}": e for i, e in enumerate(entries)}
    matched = 0
    for _, row in gdf.iterrows():
        entry = site_of[row["site"]]
        if row["record_id"] != entry.name:
            continue  # an AOI may also touch the other record; only check its own
        expected, _ = _oracle(entry, _aoi_in_4326(entry))
        np.testing.assert_array_equal(row["data"], expected, err_msg=entry.name)
        matched += 1
    assert matched == len(names)


def _with_broken_record(coll, entries, http_server, broken_name):
    table = coll.to_table()
    ids = [str(v) for v in table.column("id").to_pylist()]
    assets = table.column("assets").to_pylist()
    bad_url = http_server.url("missing-" + broken_name)
    row = ids.index(broken_name)
    assets[row] = {k: {**v, "href": bad_url} for k, v in assets[row].items()}
    idx = table.schema.get_field_index("assets")
    table = table.set_column(idx, "assets", pa.array(assets, table.schema.field(idx).type))
    return rasteret.as_collection(table, name="broken"), bad_url


def test_failures_name_record_band_and_url(aoi_collection, http_server):  # noqa: F811
    coll, entries = aoi_collection
    good, bad = _entry(entries), _entry(entries, "lzw_pred2_u16_t256")
    broken, bad_url = _with_broken_record(coll, entries, http_server, bad.name)
    aoi = _aoi_in_4326(good)
    pair = broken.where(ds.field("id").isin([good.name, bad.name]))
    # some records fail: data from the others plus a RuntimeWarning naming the failure
    with pytest.warns(RuntimeWarning, match="Some records failed to load") as caught:
        gdf = pair.get_gdf(aoi, [BAND])
    message = str(caught[0].message)
    assert f"record '{bad.name}'" in message and f"band '{BAND}'" in message
    assert bad_url in message
    assert set(gdf["record_id"]) == {good.name}
    # every record fails: ValueError chained to the RuntimeError of the read
    only_bad = broken.where(ds.field("id") == bad.name)
    with pytest.raises(ValueError, match="No valid data found. 1 record\\(s\\) failed") as info:
        only_bad.get_numpy(aoi, [BAND])
    assert bad_url in str(info.value) and f"band '{BAND}'" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "COG read failed" in str(info.value.__cause__)
    # point sampling reports the same way
    x, y = aoi.centroid.x, aoi.centroid.y
    with pytest.warns(RuntimeWarning, match="Some records failed during point sampling") as c2:
        table = pair.sample_points(shapely.Point(x, y), [BAND])
    assert bad_url in str(c2[0].message) and f"record '{bad.name}'" in str(c2[0].message)
    assert set(table.column("record_id").to_pylist()) == {good.name}
    with pytest.raises(ValueError, match="No point samples resolved") as info2:
        only_bad.sample_points(shapely.Point(x, y), [BAND])
    assert bad_url in str(info2.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pair.where(ds.field("id") == good.name).get_numpy(aoi, [BAND])  # no warning


def test_a_failed_record_is_read_once(aoi_collection, http_server):  # noqa: F811
    """A broken record among good ones: its failure comes back with the one read, so no file
    is requested a second time (no retry round record by record): the good record costs the
    requests it costs alone, the broken one the requests its own failed read costs."""
    coll, entries = aoi_collection
    good, bad = _entry(entries), _entry(entries, "lzw_pred2_u16_t256")
    broken, _ = _with_broken_record(coll, entries, http_server, bad.name)
    aoi = _aoi_in_4326(good)
    point = shapely.Point(aoi.centroid.x, aoi.centroid.y)
    pair = broken.where(ds.field("id").isin([good.name, bad.name]))
    only_good = broken.where(ds.field("id") == good.name)
    only_bad = broken.where(ds.field("id") == bad.name)
    bad_path = "missing-" + bad.name

    def requests(read) -> tuple[int, int]:
        http_server.reset_log()
        read()
        return http_server.count(good.path.name), http_server.count(bad_path)

    def raises(read):
        def run():
            with pytest.raises(ValueError, match="No"):
                read()

        return run

    def warns(read):
        def run():
            with pytest.warns(RuntimeWarning, match="Some records failed"):
                read()

        return run

    for read_pair, read_good, read_bad in [
        (
            lambda: pair.get_gdf(aoi, [BAND]),
            lambda: only_good.get_gdf(aoi, [BAND]),
            lambda: only_bad.get_gdf(aoi, [BAND]),
        ),
        (
            lambda: pair.sample_points(point, [BAND]),
            lambda: only_good.sample_points(point, [BAND]),
            lambda: only_bad.sample_points(point, [BAND]),
        ),
    ]:
        good_alone, _ = requests(read_good)
        _, bad_alone = requests(raises(read_bad))
        assert good_alone > 0 and bad_alone > 0
        assert requests(warns(read_pair)) == (good_alone, bad_alone)


def test_sample_points_match_latest_takes_newest_record(aoi_collection):  # noqa: F811
    """Two records on one grid (same origin): match='latest' returns only the newest record's
    pixel, even where it is nodata (decided from metadata only); match='all' returns both."""
    import datetime as dt

    import pyarrow.compute as pc
    from rasterio.warp import transform as warp_transform

    coll, entries = aoi_collection
    old, new = _entry(entries), _entry(entries, "lzw_pred2_u16_t256")
    table = coll.to_table()
    table = table.filter(pc.is_in(table.column("id"), pa.array([old.name, new.name])))
    ids = [str(v) for v in table.column("id").to_pylist()]
    idx = table.schema.get_field_index("datetime")
    when = [dt.datetime(2024, 1, 1) if i == old.name else dt.datetime(2024, 6, 1) for i in ids]
    table = table.set_column(idx, table.schema.field(idx), pa.array(when, table.field(idx).type))
    pair = rasteret.as_collection(table, name="pair")
    with rasterio.open(new.path) as src:
        data_new = src.read(1)
        rows, cols = np.nonzero(data_new == 0)  # nodata pixels of the newest record
        rng = np.random.default_rng(9)
        r = np.concatenate([rng.integers(0, 260, 300), rows[:20]])
        c = np.concatenate([rng.integers(0, 300, 300), cols[:20]])
        xs, ys = src.xy(r, c)
        lon, lat = warp_transform(src.crs, "EPSG:4326", xs, ys)
    with rasterio.open(old.path) as src:
        data_old = src.read(1)
    pts = pa.table({"lon": lon, "lat": lat})
    latest = pair.sample_points(pts, [BAND], geometry_crs=4326, match="latest")
    assert set(latest.column("record_id").to_pylist()) == {new.name}
    order = np.argsort(latest.column("point_index").to_numpy())
    got = latest.column("value").to_numpy()[order]
    np.testing.assert_array_equal(got, data_new[r, c].astype(np.float64))
    assert (got[-20:] == 0).all() and (data_old[r[-20:], c[-20:]] != 0).any()
    both = pair.sample_points(pts, [BAND], geometry_crs=4326, match="all")
    assert both.num_rows == 2 * len(r)


def test_get_xarray_auto_reprojects_multi_crs(aoi_collection, caplog):  # noqa: F811
    """Records in EPSG:32633 and EPSG:4326: without target_crs, get_xarray picks the most
    common CRS, logs it, and reprojects the others (float output, NaN where nothing maps)."""
    coll, entries = aoi_collection
    utm = _entry(entries)
    geo = next(e for e in entries if "epsg4326" in e.tags and e.dtype == "uint8")
    two = coll.where(ds.field("id").isin([utm.name, geo.name]))
    aois = [_aoi_in_4326(utm), _aoi_in_4326(geo)]
    with caplog.at_level("WARNING"):
        xds = two.get_xarray(aois, [BAND])
    assert "auto-reprojecting to EPSG:" in caplog.text
    chosen = xds.attrs["crs"]
    assert chosen in (32633, 4326)
    kept = utm if chosen == 32633 else geo
    expected, transform = _oracle(kept, aois[0] if kept is utm else aois[1])
    var = xds[BAND]
    assert var.dtype.kind == "f"
    assert var.sizes["time"] == 2 and var.sizes["geometry"] == 2
    # the record already in the chosen CRS keeps its pixels and grid
    sub = var.sel(geometry=1 if kept is utm else 2).dropna("time", how="all")
    window = sub.sel(
        x=slice(transform.c, transform.c + expected.shape[1] * transform.a),
        y=slice(transform.f, transform.f + expected.shape[0] * transform.e),
    )
    values = window.values.reshape(-1, *window.shape[-2:])
    np.testing.assert_array_equal(values[0], expected.astype(var.dtype))
    other = var.sel(geometry=2 if kept is utm else 1).values
    assert np.isfinite(other).any()
