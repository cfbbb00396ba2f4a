"""``record_id_column``: a table of AOIs naming, per geometry, the one record to read it from
(label polygons, sampled chips) is read in one call, each pair equal to rasterio's
``mask(crop=True, filled=True)`` of that record's file, slices in geometry order."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pytest
import shapely
from test_aoi_reads import BAND, _aoi_in_4326, _oracle, aoi_collection  # noqa: F401


def _pairs_table(pairs):
    """A GeoArrow (WKB) table of ``(record id, polygon in EPSG:4326)`` pairs."""
    frame = gpd.GeoDataFrame(
        {"scene": [rid for rid, _ in pairs], "label": list(range(len(pairs)))},
        geometry=[geom for _, geom in pairs],
        crs="EPSG:4326",
    )
    return pa.table(frame.to_arrow(geometry_encoding="WKB"))


def test_pairs_read_each_geometry_from_its_record_in_geometry_order(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    picked = [e for e in entries if e.name.startswith(("deflate", "lzw", "zstd"))][:4]
    assert len(picked) == 4
    # two polygons inside each file, each paired with its file
    pairs = [(e.name, _aoi_in_4326(e, shrink=s)) for e in picked for s in (0.2, 0.3)]
    pairs.reverse()  # geometry order differs from record order
    table = _pairs_table(pairs)
    gdf = coll.get_gdf(table, [BAND], record_id_column="scene")
    assert list(gdf["record_id"]) == [rid for rid, _ in pairs]
    assert list(gdf["geometry_id"]) == list(range(1, len(pairs) + 1))
    assert list(gdf["label"]) == list(range(len(pairs)))
    by_name = {e.name: e for e in picked}
    for (rid, geom), data in zip(pairs, gdf["data"], strict=True):
        expected, _ = _oracle(by_name[rid], geom)
        np.testing.assert_array_equal(np.asarray(data), expected, err_msg=rid)

    # get_numpy of pairs with one shape: one slice per geometry, in geometry order
    entry = picked[0]
    aoi = _aoi_in_4326(entry)
    shifted = shapely.affinity.translate(aoi, xoff=1e-9)
    same = _pairs_table([(entry.name, aoi), (entry.name, shifted)])
    arr = coll.get_numpy(same, [BAND, BAND], record_id_column="scene")
    expected, _ = _oracle(entry, aoi)
    assert arr.shape == (2, 2, *expected.shape)
    np.testing.assert_array_equal(arr[0, 0], expected)
    np.testing.assert_array_equal(arr[0, 1], expected)


def test_bad_pairs_raise_clear_errors(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = entries[0]
    aoi = _aoi_in_4326(entry)
    table = _pairs_table([(entry.name, aoi), ("no-such-scene", aoi)])
    with pytest.raises(ValueError, match="record id.*'no-such-scene'"):
        coll.get_numpy(table, [BAND], record_id_column="scene")
    with pytest.raises(ValueError, match="'scen' is not a column"):
        coll.get_numpy(table, [BAND], record_id_column="scen")
    with pytest.raises(TypeError, match="needs a tabular geometries input"):
        coll.get_numpy(aoi, [BAND], record_id_column="scene")
