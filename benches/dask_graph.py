"""Time to build lazy Dask graphs from a large synthetic index (no I/O at all).

    python benches/dask_graph.py                 # 10,000 records, 1,000 chunks
    python benches/dask_graph.py --records 2000

One GDAL-written COG (2048² uint16, 512-px tiles) is indexed once; its record is repeated
under ``--records`` ids (one date each) into an in-memory collection: a synthetic index with
real tile tables. Then, with every import done first, it times building (not computing):

- ``read_window(record_ids=all, bounds=1024² on the grid, chunks={"record": N/1000})``:
  1,000 chunks;
- ``get_xarray(aoi, chunks={"time": N/1000})`` of a 1024² box: 1,000 time chunks.

It prints the seconds per graph, the chunk and task counts (tasks that read: one per
chunk a record touches) and checks that no request was made (the COG is only reachable
through a server this script stops before timing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import rasteret
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.warp import transform_geom
from shapely.geometry import mapping


def _write_cog(path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(1, 4000, (2048, 2048), dtype=np.uint16)
    profile = dict(
        driver="GTiff", width=2048, height=2048, count=1, dtype="uint16", crs="EPSG:32633",
        transform=from_origin(500000, 5000000, 10, 10), tiled=True, blockxsize=512,
        blockysize=512, compress="deflate", predictor=2, nodata=0,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def _synthetic(path: Path, n: int):
    with rasterio.open(path) as src:
        footprint = shapely.geometry.shape(
            transform_geom(src.crs, "EPSG:4326", mapping(shapely.box(*src.bounds)))
        )
    one = rasteret.build_from_table(
        pa.table(
            {
                "id": ["r0"],
                "datetime": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us")),
                "geometry": [footprint.wkb],
                "url": [str(path)],
            }
        ),
        href_column="url",
        band_index_map={"B1": 0},
        enrich_cog=True,
    ).to_table()
    table = one.take(np.zeros(n, dtype=np.int64))
    ids = pa.array([f"r{i}" for i in range(n)])
    when = pa.array(
        [dt.datetime(2000, 1, 1) + dt.timedelta(days=i) for i in range(n)],
        table.schema.field("datetime").type,
    )
    table = table.set_column(table.schema.get_field_index("id"), "id", ids)
    at = table.schema.get_field_index("datetime")
    table = table.set_column(at, table.schema.field(at), when)
    return rasteret.as_collection(table, name="synthetic"), footprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    import dask.array  # noqa: F401  (imports before timing)
    import xarray  # noqa: F401

    n = args.records
    per_chunk = max(1, n // 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene.tif"
        _write_cog(path)
        coll, _ = _synthetic(path, n)
        ids = [f"r{i}" for i in range(n)]
        bounds = (500000 + 5120, 5000000 - 15360, 500000 + 15360, 5000000 - 5120)
        aoi_utm = shapely.box(*bounds)
        with rasterio.open(path) as src:
            aoi = shapely.geometry.shape(transform_geom(src.crs, "EPSG:4326", mapping(aoi_utm)))
        path.unlink()  # a read (or a header request) would now fail: graphs need none

        def window():
            return coll.read_window(
                record_ids=ids, bounds=bounds, res=10, bands=["B1"], chunks={"record": per_chunk}
            )

        def cube():
            return coll.get_xarray(aoi, ["B1"], chunks={"time": per_chunk})

        window(), cube()  # warm: first-use imports
        for name, build in (("read_window", window), ("get_xarray", cube)):
            times = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                out = build()
                times.append(time.perf_counter() - t0)
            arr = out if name == "read_window" else out["B1"].data
            graph = dict(arr.__dask_graph__())
            chunks = int(np.prod(arr.numblocks))
            reads = sum(
                1
                for k in graph
                if isinstance(k, tuple) and ("read-window" in k[0] or "cube-read" in k[0])
            )
            print(
                f"{name:12s} {n} records  {chunks} chunks  {reads} read tasks  "
                f"graph built in {statistics.median(times):.3f} s "
                f"({min(times):.3f}-{max(times):.3f}, {args.reps} reps)"
            )


if __name__ == "__main__":
    main()
