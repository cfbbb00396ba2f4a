import os
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import shapely
from test_aoi_reads import BAND, aoi_collection  # noqa: F401
import rasterio
from rasterio.warp import transform as _wt


def _random_points(e, n, seed):
    rng = np.random.default_rng(seed)
    with rasterio.open(e.path) as src:
        l, b, r, t = src.bounds
        xs = rng.uniform(min(l, r), max(l, r), n)
        ys = rng.uniform(min(b, t), max(b, t), n)
        lon, lat = _wt(src.crs, "EPSG:4326", xs, ys)
    return np.asarray(lon), np.asarray(lat), None


OUT = "/tmp/wtr"


def _dump(name, t):
    path = f"{OUT}/{name}.arrow"
    if os.environ.get("WTR_COMPARE"):
        with pa.OSFile(path, "rb") as f:
            ref = pa.ipc.open_file(f).read_all()
        assert ref.schema.equals(t.schema), name
        assert ref.equals(t), name
        return
    with pa.OSFile(path, "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)


def test_dump(aoi_collection):  # noqa: F811
    coll, entries = aoi_collection
    lons, lats = [], []
    for k, e in enumerate(entries):
        lon, lat, _ = _random_points(e, 300, 100 + k)
        lons.append(lon)
        lats.append(lat)
    lon, lat = np.concatenate(lons), np.concatenate(lats)
    table = pa.table({"lon": lon, "lat": lat, "site": np.arange(len(lon))})
    for match in ("all", "latest"):
        _dump(f"all_{match}", coll.sample_points(table, [BAND], geometry_crs=4326, match=match))
        for mode in ("always", "if_center_nodata"):
            t = coll.sample_points(
                table,
                [BAND],
                geometry_crs=4326,
                match=match,
                max_distance_pixels=3,
                return_neighbourhood=mode,
            )
            _dump(f"nb_{match}_{mode}", t)
        _dump(
            f"r2_{match}",
            coll.sample_points(
                table, [BAND], geometry_crs=4326, match=match, max_distance_pixels=2
            ),
        )
    # dense nodata regions
    nod = [e for e in entries if "nodata" in e.tags]
    for k, e in enumerate(nod):
        import rasterio
        from rasterio.warp import transform as wt

        with rasterio.open(e.path) as src:
            data = src.read(1)
            rows, cols = (
                np.nonzero(data == src.nodata)
                if src.nodata is not None
                else (np.array([]), np.array([]))
            )
            xs, ys = src.xy(rows[:500], cols[:500]) if len(rows) else ([], [])
            if len(xs) == 0:
                continue
            lo, la = wt(src.crs, "EPSG:4326", xs, ys)
        one = coll.where(ds.field("id") == e.name)
        pts = [shapely.Point(a, b) for a, b in zip(lo, la)]
        _dump(
            f"nod_{k}",
            one.sample_points(
                pts, [BAND], max_distance_pixels=3, return_neighbourhood="if_center_nodata"
            ),
        )
