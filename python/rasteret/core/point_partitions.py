"""``sample_points`` of a Dask (or dask-geopandas) frame: a lazy Dask DataFrame of samples.

The collection's records (the columns a point read needs, tile tables included) are scanned
once and put in the graph as one key that every partition's task depends on; a task samples
its partition's points with the eager sampler (one Rust call per dtype, each tile read once
per partition) and returns a pandas frame of the eager output's columns. No header is read
on a worker. ``point_index`` is the point's index label in the input frame (an integer
index), so it matches the eager ``point_index`` of the same frame computed with pandas.
Results can go straight to partitioned Parquet (``.to_parquet(path)``).

A task reads each tile its points fall in, so a tile shared by points of several partitions
is read once per partition. With ``spatial_sort=True`` (the default) the points are first
regrouped by tile along a Hilbert curve (:mod:`rasteret.core.spatial_sort`): each tile of the
records' common grid is then read by one partition.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from rasteret._backends import implicit_backend
from rasteret.core.dask_frames import check_integer_index, is_dask_frame, relabel, shared_records
from rasteret.core.point_sampling import get_collection_point_samples, sample_table_points
from rasteret.core.spatial_sort import point_positions, sorter, spatially_sorted, tile_grid
from rasteret.read.inputs import prepare_point_coords
from rasteret.read.points import point_columns
from rasteret.records.summary import infer_data_source

__all__ = ["sample_points_any", "sample_partition"]


def sample_partition(
    frame: Any,
    records: pa.Table,
    options: dict[str, Any],
) -> Any:
    """The samples of one partition's points (the task a worker runs), as pandas."""
    x, y, crs, meta = prepare_point_coords(
        frame,
        geometry_column=options["geometry_column"],
        x_column=options["x_column"],
        y_column=options["y_column"],
        geometry_crs=options["geometry_crs"],
        preserve_metadata=True,
    )
    out = sample_table_points(records, x=x, y=y, crs=crs, meta=meta, **options["read"])
    return relabel(out, "point_index", frame).to_pandas()


def sample_points_any(
    *, collection: Any, points: Any, spatial_sort: bool = True, **kwargs: Any
) -> Any:
    """``Collection.sample_points``: an Arrow table, or a Dask DataFrame for a Dask frame
    (``spatial_sort``: regroup its points by tile first; no effect on other inputs)."""
    if not is_dask_frame(points):
        return get_collection_point_samples(collection=collection, points=points, **kwargs)
    check_integer_index(points, "point_index")
    # the eager call on the empty frame validates every option and gives the output columns
    meta = get_collection_point_samples(collection=collection, points=points._meta, **kwargs)
    bands = list(dict.fromkeys(kwargs["bands"]))
    filters = {k: v for k, v in kwargs.items() if k not in _READ_KEYS}
    view = collection.subset(**filters) if filters else collection
    schema = view._schema()
    if schema is None:
        return points.map_partitions(lambda f: meta.to_pandas(), meta=meta.to_pandas())
    records = view._scan_table(point_columns(schema.names, bands))
    source = kwargs.get("data_source") or infer_data_source(collection)
    inputs = {
        "geometry_column": kwargs.get("geometry_column"),
        "x_column": kwargs.get("x_column"),
        "y_column": kwargs.get("y_column"),
        "geometry_crs": kwargs.get("geometry_crs", "auto"),
    }
    grid = tile_grid(records, bands) if spatial_sort and points.npartitions > 1 else None
    if grid is not None:
        points = spatially_sorted(points, sorter(point_positions, inputs), grid)
    options = {
        **inputs,
        "read": {
            "bands": bands,
            "data_source": source,
            "match": kwargs.get("match", "all"),
            "max_distance_pixels": kwargs.get("max_distance_pixels", 0),
            "return_neighbourhood": kwargs.get("return_neighbourhood", "off"),
            "max_concurrent": kwargs.get("max_concurrent", 50),
            "progress": False,
            "backend": implicit_backend(kwargs.get("backend"), None, source),
        },
    }
    return points.map_partitions(
        sample_partition,
        shared_records(records),
        options,
        meta=meta.to_pandas(),
        enforce_metadata=False,
    )


#: ``sample_points`` keywords that are not ``subset`` filters.
_READ_KEYS = {
    "bands",
    "geometry_column",
    "x_column",
    "y_column",
    "data_source",
    "max_concurrent",
    "progress",
    "backend",
    "geometry_crs",
    "match",
    "max_distance_pixels",
    "return_neighbourhood",
}
