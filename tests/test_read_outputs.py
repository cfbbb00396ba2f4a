"""Output shaping of pixel reads: xarray ``combine_first`` keeps integer dtypes and nodata,
progress bars follow the options switch, failures name record/band/URL."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import rasteret
import rasterio
import rasterio.mask
import shapely
from rasteret import _core
from rasterio.warp import transform_geom
from shapely.geometry import mapping
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)


def _pair(entries):
    first = next(e for e in entries if e.name.startswith("deflate_pred2_u16_t256"))
    second = next(e for e in entries if e.name.startswith("lzw_pred2_u16_t256"))
    return first, second


def _inner_aoi(entry):
    """A triangle well inside both rasters of the pair, in EPSG:4326."""
    with rasterio.open(entry.path) as src:
        t, crs = src.transform, src.crs
    x0, y0 = t.c + 30.3 * t.a, t.f + 20.6 * t.e
    x1, y1 = t.c + 250.7 * t.a, t.f + 230.2 * t.e
    tri = shapely.Polygon([(x0, y0), (x1, y0 + 0.3 * (y1 - y0)), (x0 + 0.4 * (x1 - x0), y1)])
    return shapely.geometry.shape(transform_geom(crs, "EPSG:4326", mapping(tri)))


def _mask(entry, aoi):
    with rasterio.open(entry.path) as src:
        geom = transform_geom("EPSG:4326", src.crs, mapping(aoi))
        data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=0, indexes=1)
    return data


def _pair_collection(coll, names, same_datetime):
    table = coll.to_table()
    table = table.filter(pc.is_in(table.column("id"), pa.array(names)))
    if same_datetime:
        idx = table.schema.get_field_index("datetime")
        when = pa.array([dt.datetime(2024, 5, 1)] * table.num_rows, table.schema.field(idx).type)
        table = table.set_column(idx, table.schema.field(idx), when)
    return rasteret.as_collection(table, name="pair")


def _when(coll, record_id):
    table = coll.to_table(columns=["id", "datetime"])
    ids = [str(v) for v in table.column("id").to_pylist()]
    return table.column("datetime")[ids.index(record_id)].as_py().replace(tzinfo=None)


def test_combine_first_keeps_integer_dtype_and_fill(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    first, second = _pair(entries)
    aoi = _inner_aoi(first)
    a, b = _mask(first, aoi), _mask(second, aoi)
    assert a.shape == b.shape and (a == 0).any() and (b[a == 0] != 0).any()

    # two dates: outer alignment on time pads with the fill value, not NaN
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=False)
    xds = pair.get_xarray(aoi, [BAND])
    var = xds[BAND]
    assert var.dtype == np.uint16
    assert var.attrs["_FillValue"] == 0
    assert var.dims == ("time", "geometry", "y", "x")
    assert var.shape == (2, 1, *a.shape)
    values = [var.values[0, 0], var.values[1, 0]]
    expected = [a, b] if xds["time"].values[0] == np.datetime64(_when(pair, first.name)) else [b, a]
    np.testing.assert_array_equal(values[0], expected[0])
    np.testing.assert_array_equal(values[1], expected[1])

    # one date: the first record wins except where it holds the fill value
    same = _pair_collection(coll, [first.name, second.name], same_datetime=True)
    order = [str(v) for v in same.to_table(columns=["id"]).column("id").to_pylist()]
    primary, other = (a, b) if order[0] == first.name else (b, a)
    merged = same.get_xarray(aoi, [BAND])[BAND]
    assert merged.dtype == np.uint16 and merged.shape == (1, 1, *a.shape)
    np.testing.assert_array_equal(merged.values[0, 0], np.where(primary != 0, primary, other))

    # the other strategies still work on the same reads
    assert same.get_xarray(aoi, [BAND], xr_combine="merge_override")[BAND].shape[-2:] == a.shape
    with pytest.raises(ValueError, match="Unknown xr_combine strategy 'nope'"):
        same.get_xarray(aoi, [BAND], xr_combine="nope")


def test_progress_bars_follow_the_options_switch(aoi_collection, capsys):  # noqa: F811
    coll, entries = aoi_collection
    first, _ = _pair(entries)
    aoi = _inner_aoi(first)
    one = coll.where(pc.field("id") == first.name)
    point = shapely.Point(aoi.centroid.x, aoi.centroid.y)
    expected = one.get_numpy(aoi, [BAND])
    assert capsys.readouterr().err == ""  # default: no bar
    with rasteret.options(progress=True):
        got = one.get_numpy(aoi, [BAND])
        err = capsys.readouterr().err
        assert "Reading AOIs" in err and "tile" in err
        one.get_numpy(aoi, [BAND], progress=False)  # an explicit False wins
        assert capsys.readouterr().err == ""
        one.sample_points(point, [BAND])
        assert "Sampling points" in capsys.readouterr().err
        with rasterio.open(first.path) as src:
            t = src.transform
        one.read_window(
            record_ids=[first.name],
            bounds=(t.c, t.f - 100 * t.a, t.c + 100 * t.a, t.f),
            res=t.a,
            bands=[BAND],
        )
        assert "Reading windows" in capsys.readouterr().err
    np.testing.assert_array_equal(got, expected)
    one.get_gdf(aoi, [BAND], progress=True)
    err = capsys.readouterr().err
    assert "Reading AOIs" in err and "100%" in err


def test_dictionary_layout_plan_matches_struct_plan(aoi_collection):  # noqa: F811
    """read_windows parses a dictionary-encoded layout column once per distinct layout; pixels
    equal the plain struct plan, and a null layout names the URL."""
    from rasteret.read import engine as _read

    coll, entries = aoi_collection
    first, _ = _pair(entries)
    table = coll.to_table(columns=["id", "assets", f"{BAND}_metadata"])
    row = [str(v) for v in table.column("id").to_pylist()].index(first.name)
    layout = table.column(f"{BAND}_metadata").combine_chunks().slice(row, 1)
    url = table.column("assets")[row].as_py()[BAND]["href"]
    n = 50
    rng = np.random.default_rng(3)
    cols, rows = rng.integers(-2, 330, n), rng.integers(-2, 275, n)
    struct_layouts = layout.take(pa.array(np.zeros(n, dtype=np.int64)))
    dict_layouts = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), layout)
    args = ([url] * n, None, np.zeros(n), cols, rows, 3, np.dtype("uint16"), 0)
    plain = _read.read_blocks(args[0], struct_layouts, *args[2:])
    encoded = _read.read_blocks(args[0], dict_layouts, *args[2:])
    np.testing.assert_array_equal(plain, encoded)
    with rasterio.open(first.path) as src:
        data = src.read(1)
    inside = 0
    for i in range(n):
        r, c = int(rows[i]), int(cols[i])
        if 0 <= r and 0 <= c and r + 3 <= data.shape[0] and c + 3 <= data.shape[1]:
            np.testing.assert_array_equal(encoded[i], data[r : r + 3, c : c + 3])
            inside += 1
    assert inside >= 40
    # a sliced (offset) struct layout reads the same pixels
    sliced = pa.concat_arrays([layout, layout]).slice(1, 1)
    assert sliced.offset == 1
    u16 = np.dtype("uint16")
    one = _read.read_blocks([url], sliced, np.zeros(1), cols[:1], rows[:1], 3, u16, 0)
    np.testing.assert_array_equal(one[0], plain[0])
    # arrow-rs panics importing a dictionary of sliced structs: the core turns that into a
    # ValueError (never a PanicException); _read hands it unsliced copies, as above
    plan = _read._plan([url], layout, [0], cols[:1], rows[:1], [3], [3], [0], [6])
    sliced_dict = pa.DictionaryArray.from_arrays(pa.array([0], pa.int32()), sliced)
    bad = pa.RecordBatch.from_arrays(
        [sliced_dict if name == "layout" else plan.column(name) for name in plan.schema.names],
        names=plan.schema.names,
    )
    with pytest.raises(ValueError, match="Arrow C interface"):
        _core.read_windows(bad, np.zeros(18, np.uint8))
    null_keys = pa.DictionaryArray.from_arrays(pa.array([0, None], pa.int32()), layout)
    with pytest.raises(ValueError, match="no tile layout"):
        _read.read_blocks(
            [url, url], null_keys, np.zeros(2), cols[:2], rows[:2], 3, np.dtype("uint16"), 0
        )


def _record_dataset(name_values, time, geometry, y0, x0, shape):
    import xarray as xr

    h, w = shape
    coords = {
        "time": [np.datetime64(time, "ns")],
        "geometry": [geometry],
        "y": 1000.0 - (np.arange(y0, y0 + h) + 0.5) * 10.0,
        "x": 500.0 + (np.arange(x0, x0 + w) + 0.5) * 10.0,
    }
    variables = {
        name: (("time", "geometry", "y", "x"), values.reshape(1, 1, h, w), {"_FillValue": 0})
        for name, values in name_values.items()
    }
    return xr.Dataset(variables, coords=coords, attrs={"record_id": f"r{time}{y0}{x0}"})


def _reference_combine_first(datasets, fills):
    """The xarray way: outer-align every dataset with the fill, then earlier wins unless it
    holds the fill (one full-cube ``where`` per dataset)."""
    import xarray as xr

    aligned = xr.align(*datasets, join="outer", fill_value=fills)
    out = aligned[0].copy()
    for ds in aligned[1:]:
        for name in ds.data_vars:
            if name not in out.data_vars:
                out[name] = ds[name]
                continue
            attrs = dict(out[name].attrs)
            merged = out[name].where(out[name] != fills[name], ds[name])
            out[name] = merged.astype(np.result_type(out[name].dtype, ds[name].dtype))
            out[name].attrs.update(attrs)
    return out


def test_combine_first_assembles_overlaps_like_xarray_align_and_where():
    import xarray as xr
    from rasteret.core.xarray_cube import combine_first

    rng = np.random.default_rng(7)

    def values(shape, dtype):
        v = rng.integers(0, 5, shape).astype(dtype)  # about a fifth of the pixels hold the fill
        return v

    datasets = [
        _record_dataset({"B1": values((6, 8), np.uint16)}, "2024-01-02", 1, 0, 0, (6, 8)),
        # same date and geometry, shifted: overlaps the first (merged pixel by pixel)
        _record_dataset(
            {"B1": values((5, 7), np.uint8), "B2": values((5, 7), np.uint8)},
            "2024-01-02",
            1,
            3,
            4,
            (5, 7),
        ),
        # another date, another geometry, a grid that leaves a gap in the union
        _record_dataset({"B1": values((4, 4), np.uint16)}, "2024-01-01", 2, 12, 1, (4, 4)),
        _record_dataset({"B2": values((3, 9), np.uint8)}, "2024-01-02", 1, 1, 2, (3, 9)),
    ]
    fills = {"B1": 0, "B2": 0}
    expected = _reference_combine_first(datasets, fills)
    got = combine_first(datasets)
    xr.testing.assert_identical(got, expected)
    assert got["B1"].dtype == np.uint16 and got["B2"].dtype == np.uint8
    assert got["B1"].attrs["_FillValue"] == 0 and got.attrs["record_id"] == "r2024-01-0200"


def test_get_numpy_returns_the_read_buffer_when_it_is_in_output_order(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    first, second = _pair(entries)
    aoi = _inner_aoi(first)
    pair = _pair_collection(coll, [first.name, second.name], same_datetime=False)
    arr = pair.get_numpy(aoi, [BAND])
    # no copy: the array is the buffer the core read into (one record after the other)
    assert arr.base is not None and arr.base.dtype == np.uint8 and arr.flags.writeable
    order = [str(v) for v in pair.to_table(columns=["id"]).column("id").to_pylist()]
    expected = {first.name: _mask(first, aoi), second.name: _mask(second, aoi)}
    for k, rid in enumerate(order):
        np.testing.assert_array_equal(arr[k], expected[rid])
    # the same band twice is not in buffer order: copied into its own output, same pixels
    twice = pair.get_numpy(aoi, [BAND, BAND])
    assert twice.base is None and twice.shape == (2, 2, *arr.shape[1:])
    np.testing.assert_array_equal(twice[:, 0], arr)
    np.testing.assert_array_equal(twice[:, 1], arr)


def _aoi_read(record, when, geometry, band, y0, x0, values, nodata=0):
    from affine import Affine
    from rasteret.read.aoi import AoiRead

    return AoiRead(
        record_index=record,
        record_id=f"r{record}",
        datetime=when,
        cloud_cover=None,
        collection="c",
        crs=32633,
        geometry_index=geometry,
        band=band,
        data=values,
        transform=Affine(10.0, 0.0, 500.0 + x0 * 10.0, 0.0, -10.0, 1000.0 - y0 * 10.0),
        nodata=nodata,
    )


def _slow_dataset(reads):
    """The per-record way: one Dataset per (record, geometry), combined, then sorted."""
    from rasteret.core.xarray_cube import combine_first, record_dataset

    groups: dict = {}
    for r in reads:
        groups.setdefault((r.record_index, r.geometry_index), []).append(r)
    out = combine_first([record_dataset(g) for g in groups.values()])
    return out.sortby("time").sortby("y", ascending=False)


@pytest.mark.parametrize("case", ["one-grid", "shifted-grids"])
def test_cube_assembly_equals_the_per_record_datasets(case):
    from rasteret.core.xarray_cube import cube_from_reads

    rng = np.random.default_rng(11)

    def values(h, w, dtype=np.uint16):
        return rng.integers(0, 4, (h, w)).astype(dtype)  # a quarter of the pixels hold the fill

    day = [dt.datetime(2024, 1, d) for d in (3, 1, 2)]
    if case == "one-grid":  # records out of date order; two records share a date (overlap)
        spots = [(0, day[0], 0, 0, 0), (1, day[1], 0, 0, 0), (2, day[0], 0, 0, 0)]
        shape = {k: (6, 8) for k in range(3)}
    else:  # two geometries on shifted grids, one of them partly overlapping another record
        spots = [(0, day[0], 0, 0, 0), (1, day[2], 1, 9, 3), (2, day[0], 0, 2, 5)]
        shape = {0: (6, 8), 1: (4, 4), 2: (5, 7)}
    reads = [
        _aoi_read(rec, when, geom, band, y0, x0, values(*shape[rec], dtype))
        for rec, when, geom, y0, x0 in spots
        for band, dtype in (("B1", np.uint16), ("B2", np.uint8 if rec == 2 else np.uint16))
    ]
    fast = cube_from_reads(reads)
    assert fast is not None
    xr_testing = pytest.importorskip("xarray").testing
    xr_testing.assert_identical(fast, _slow_dataset(reads))
    assert fast["B1"].dtype == np.uint16 and fast["B2"].dtype == np.uint16
    assert list(fast["time"].values) == sorted(fast["time"].values)
    # the shared date: the earlier record wins, the later one fills its fill-valued pixels
    a, c = reads[0].data, reads[4].data
    if case == "one-grid":
        t = list(fast["time"].values).index(np.datetime64(day[0], "ns"))
        np.testing.assert_array_equal(fast["B1"].values[t, 0], np.where(a != 0, a, c))

    # float bands (numeric, NaN or no nodata) are padded and merged with NaN, as xarray's
    # combine_first does: the direct assembly equals the per-record way
    def float_values(h, w):
        v = values(h, w, np.float32)
        v[v == 3] = np.nan  # NaN pixels a later record fills; 0 (the nodata) counts as data
        return v

    for nodata in (0, -9999.0, None):
        floats = [
            _aoi_read(rec, when, geom, "B1", y0, x0, float_values(*shape[rec]), nodata=nodata)
            for rec, when, geom, y0, x0 in spots
        ]
        fast = cube_from_reads(floats)
        assert fast is not None and fast["B1"].dtype == np.float32
        xr_testing.assert_identical(fast, _slow_dataset(floats))


@pytest.mark.parametrize("dates_in_order", [True, False])
def test_cube_uses_the_read_buffer_when_reads_lie_in_slot_order(dates_in_order):
    """Reads that are views of one buffer in (time, geometry, band) order become strided
    views of it (no copy); in another order they are copied. Same Dataset either way."""
    from rasteret.core.xarray_cube import cube_from_reads

    rng = np.random.default_rng(5)
    buffer = rng.integers(0, 4, 3 * 2 * 5 * 6).astype(np.uint16)  # 3 records x 2 bands, 5x6
    windows = buffer.reshape(3, 2, 5, 6)
    days = [1, 2, 3] if dates_in_order else [2, 1, 3]
    reads = [
        _aoi_read(rec, dt.datetime(2024, 1, days[rec]), 0, band, 0, 0, windows[rec, b])
        for rec in range(3)
        for b, band in enumerate(("B1", "B2"))
    ]
    fast = cube_from_reads(reads)
    pytest.importorskip("xarray").testing.assert_identical(fast, _slow_dataset(reads))
    for b, band in enumerate(("B1", "B2")):
        assert np.shares_memory(fast[band].values, buffer) == dates_in_order
        order = np.argsort(days)
        np.testing.assert_array_equal(fast[band].values[:, 0], windows[order, b])
