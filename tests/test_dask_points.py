"""``sample_points`` and ``get_gdf`` of Dask DataFrames on a real ``distributed.LocalCluster``.

The lazy result must hold exactly the eager rows (same ``point_index`` for a frame with a
default index) and the values equal ``rasterio``'s ``sample``; the workers read tiles only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from test_aoi_reads import BAND, aoi_collection  # noqa: F401  (module fixture)
from test_dask_window import dask_client  # noqa: F401  (module fixture)
from test_point_sampling import _random_points

dd = pytest.importorskip("dask.dataframe")

KEY = ["point_index", "record_id", "band"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def test_lazy_points_equal_eager_and_rasterio(
    aoi_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
    tmp_path,
):
    coll, entries = aoi_collection
    picked = [e for e in entries if e.name.startswith(("deflate_pred2_u16", "lzw_pred2_u16"))]
    two = coll.where(ds.field("id").isin([e.name for e in picked[:2]]))
    lon, lat, expected = _random_points(picked[0], 300, 11)
    frame = pd.DataFrame({"lon": lon, "lat": lat, "site": [f"s{i}" for i in range(len(lon))]})
    eager = two.sample_points(frame, [BAND], geometry_crs=4326).to_pandas()

    start = len(http_server.requests)
    lazy = two.sample_points(dd.from_pandas(frame, npartitions=3), [BAND], geometry_crs=4326)
    assert isinstance(lazy, dd.DataFrame)
    assert len(http_server.requests) == start, "building the graph made requests"
    assert list(lazy.columns) == list(eager.columns)
    got = lazy.compute()
    log = http_server.requests[start:]
    assert log and all(r.range and not r.range.startswith("bytes=0-") for r in log)
    pd.testing.assert_frame_equal(_sorted(got), _sorted(eager))

    # the first record's values are rasterio's
    first = got[got["record_id"] == picked[0].name].sort_values("point_index")
    idx = first["point_index"].to_numpy()
    assert len(idx) >= 290
    np.testing.assert_array_equal(first["value"].to_numpy(), expected[idx])

    # straight to partitioned Parquet
    lazy.to_parquet(tmp_path / "samples")
    back = pd.read_parquet(tmp_path / "samples")
    assert len(list((tmp_path / "samples").glob("*.parquet"))) == lazy.npartitions
    pd.testing.assert_frame_equal(
        _sorted(back[eager.columns.tolist()]), _sorted(eager), check_dtype=False
    )


def test_lazy_points_keep_index_labels_and_validate_early(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    lon, lat, _ = _random_points(entry, 40, 3)
    frame = pd.DataFrame({"lon": lon, "lat": lat}, index=np.arange(1000, 1000 + len(lon)))
    lazy = one.sample_points(dd.from_pandas(frame, npartitions=2), [BAND], geometry_crs=4326)
    got = lazy.compute(scheduler="sync")
    assert got["point_index"].min() >= 1000
    eager = one.sample_points(frame.reset_index(drop=True), [BAND], geometry_crs=4326)
    assert sorted(got["point_index"] - 1000) == sorted(eager.column("point_index").to_pylist())
    with pytest.raises(ValueError, match="Band"):
        one.sample_points(dd.from_pandas(frame, npartitions=2), ["NOPE"], geometry_crs=4326)
    with pytest.raises(ValueError, match="integer index"):
        one.sample_points(
            dd.from_pandas(frame.set_index(frame.index.astype(str)), npartitions=2),
            [BAND],
            geometry_crs=4326,
        )


def test_lazy_gdf_of_a_frame_of_aois_equals_eager(aoi_collection, dask_client):  # noqa: F811
    import geopandas as gpd
    import rasterio
    import shapely

    coll, entries = aoi_collection
    entry = next(e for e in entries if e.name.startswith("deflate_pred2_u16"))
    one = coll.where(ds.field("id") == entry.name)
    with rasterio.open(entry.path) as src:
        b, crs = src.bounds, src.crs.to_epsg()
    w, h = b.right - b.left, b.top - b.bottom
    boxes = [
        shapely.box(b.left + w * f, b.bottom + h * f, b.left + w * (f + 0.2), b.top - h * f)
        for f in (0.05, 0.2, 0.35, 0.5)
    ]
    frame = gpd.GeoDataFrame({"name": list("abcd")}, geometry=boxes, crs=crs)
    eager = one.get_gdf(frame, [BAND])
    lazy = one.get_gdf(dd.from_pandas(frame, npartitions=2), [BAND])
    assert list(lazy.columns) == list(eager.columns)
    got = lazy.compute().sort_values("geometry_id").reset_index(drop=True)
    want = eager.sort_values("geometry_id").reset_index(drop=True)
    assert got["geometry_id"].tolist() == want["geometry_id"].tolist() == [1, 2, 3, 4]
    assert got["name"].tolist() == list("abcd")
    assert got.crs == want.crs and got.geometry.equals(want.geometry)
    for a, e in zip(got["data"], want["data"], strict=True):
        np.testing.assert_array_equal(a, e)
    assert got["transform"].tolist() == want["transform"].tolist()
