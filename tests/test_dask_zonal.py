"""``Collection.zonal_stats`` of a Dask GeoDataFrame on a real ``distributed.LocalCluster``.

The lazy table must equal the eager one row for row (and the eager one equals
``rasterstats.zonal_stats``, see test_zonal_stats.py, checked again here on one file); the
workers read tiles only, never a header.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyarrow.dataset as ds
import pytest
import rasterio
from test_dask_window import dask_client  # noqa: F401  (module fixture)
from test_zonal_stats import BAND, STATS, _query, _shapes, zonal_collection  # noqa: F401

dd = pytest.importorskip("dask.dataframe")
rasterstats = pytest.importorskip("rasterstats")


@pytest.mark.parametrize("all_touched", [False, True])
def test_lazy_zonal_stats_equal_eager_and_rasterstats(
    zonal_collection,  # noqa: F811
    dask_client,  # noqa: F811
    http_server,
    all_touched,
):
    coll, entries = zonal_collection
    entry = next(e for name, e in entries.items() if name.startswith("deflate_pred2_u16"))
    with rasterio.open(entry.path) as src:
        shapes = _shapes(src, outside=src.nodata is not None)
        epsg = src.crs.to_epsg()
    frame = gpd.GeoDataFrame({"field": [f"f{i}" for i in range(len(shapes))]}, geometry=shapes)
    frame = frame.set_crs(epsg)
    eager = _query(coll, entry, shapes, all_touched=all_touched).to_pandas()
    oracle = rasterstats.zonal_stats(shapes, str(entry.path), stats=STATS, all_touched=all_touched)
    assert eager["count"].tolist() == [o["count"] for o in oracle]

    one = coll.where(ds.field("id") == entry.name)
    start = len(http_server.requests)
    lazy = one.zonal_stats(
        dd.from_pandas(frame, npartitions=2),
        [BAND],
        all_touched=all_touched,
        id_column="field",
    )
    assert isinstance(lazy, dd.DataFrame)
    assert len(http_server.requests) == start, "building the graph made requests"
    got = lazy.compute().reset_index(drop=True)
    log = http_server.requests[start:]
    assert log and all(r.range and not r.range.startswith("bytes=0-") for r in log)
    assert got["field"].tolist() == [f"f{i}" for i in got["geometry_index"]]
    pd.testing.assert_frame_equal(got.drop(columns="field"), eager)
