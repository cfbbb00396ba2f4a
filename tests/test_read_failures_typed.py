"""A read whose every request fails raises a ``RasteretError``, not a bare ``ValueError``.

Found by the soak run (``benches/soak.py``): during a short outage of one file (every request
answered 503, as a server in trouble does) ``get_numpy``, ``sample_points`` and TorchGeo chip
reads gave up with a plain ``ValueError`` ("No valid data found ...", "No point samples
resolved ...", "All 1 COG read request(s) failed ...") chained to a plain ``RuntimeError``,
so ``except rasteret.errors.RasteretError`` missed them. They are now a
``ReadFailedError`` (still a ``ValueError``) chained to a ``CogReadError`` (still a
``RuntimeError``) chained to the ``RemoteIOError`` of the transfer.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
import rasteret
import rasterio
import shapely
from rasteret import errors
from rasterio.warp import transform_geom
from shapely.geometry import mapping


@pytest.fixture(scope="module")
def entry(cog_corpus):
    return next(
        e
        for e in cog_corpus.entries
        if e.path.name.startswith("deflate_pred2_u16") and "overviews" not in e.tags
    )


def _collection(entry, url: str):
    with rasterio.open(entry.path) as src:
        footprint = shapely.geometry.shape(
            transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
        )
    table = pa.table(
        {
            "id": ["scene"],
            "datetime": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us")),
            "geometry": [footprint.wkb],
            "assets": [{"B1": {"href": url}}],
        }
    )
    return rasteret.build_from_table(table, enrich_cog=True), footprint


def _assert_typed_chain(exc: BaseException) -> None:
    assert isinstance(exc, errors.ReadFailedError)
    assert isinstance(exc, errors.RasteretError) and isinstance(exc, ValueError)
    cause = exc.__cause__
    assert isinstance(cause, errors.CogReadError) and isinstance(cause, RuntimeError)
    assert "COG read failed for band 'B1' in record 'scene'" in str(cause)
    assert isinstance(cause.__cause__, errors.RemoteIOError)
    assert "503" in str(cause.__cause__)


@pytest.mark.parametrize("call", ["get_numpy", "sample_points"])
def test_outage_raises_read_failed_error(http_server, entry, call):
    # a query string of its own: no tile of this URL is in any cache of the session
    url = http_server.url(entry.path.name) + f"?typed-{call}"
    coll, footprint = _collection(entry, url)
    http_server.inject(entry.path.name, status=503, times=1000)
    try:
        with pytest.raises(errors.RasteretError) as info:
            if call == "get_numpy":
                coll.get_numpy(footprint.centroid.buffer(0.0005), ["B1"])
            else:
                coll.sample_points(footprint.centroid, ["B1"], geometry_crs=4326)
    finally:
        http_server.clear_faults()
    _assert_typed_chain(info.value)
    message = "No valid data found" if call == "get_numpy" else "No point samples resolved"
    assert message in str(info.value)


@pytest.mark.filterwarnings("ignore:uint16 pixels are returned as int32:UserWarning")
def test_outage_raises_read_failed_error_from_torchgeo_chips(http_server, entry):
    pytest.importorskip("torchgeo")
    url = http_server.url(entry.path.name) + "?typed-chips"
    coll, _ = _collection(entry, url)
    dataset = coll.to_torchgeo_dataset(bands=["B1"])
    x, y, t = dataset.bounds
    res = dataset.res[0]
    query = (slice(x.start, x.start + 32 * res, res), slice(y.stop - 32 * res, y.stop, res), t)
    http_server.inject(entry.path.name, status=503, times=1000)
    try:
        with pytest.raises(errors.ReadFailedError, match="All 1 COG read request") as info:
            dataset[query]
    finally:
        http_server.clear_faults()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, errors.RemoteIOError)
    sample = dataset[query]  # the server is back: the same chip reads
    assert tuple(sample["image"].shape) == (1, 32, 32)
