"""Spatial sorting of a Dask frame of points or AOIs before a partitioned read.

A partitioned read (``sample_points`` / ``get_gdf`` of a Dask frame) runs one task per
partition, and a task reads every COG tile its rows fall in. A tile holding rows of several
partitions is therefore read once per partition. :func:`spatially_sorted` regroups the rows
first so that each tile's rows land in one partition:

1. the **reference tile grid** is the most common tile grid of the records to read (CRS,
   tile footprint and origin of the first requested band);
2. each row's **sort key** is the Hilbert-curve distance of the grid tile holding it (a
   point's coordinates, an AOI's bounding-box centre, transformed to the grid's CRS), so
   rows of one tile share a key and nearby tiles get nearby keys;
3. the keys are counted (one pass over the input; no raster request) and cut into at most
   the input's number of partitions of about equal row counts, at key boundaries only;
4. the frame is shuffled by key range into those partitions (``set_index`` with the computed
   divisions) and each row gets its original index label back.

Rows of records on the reference grid (and of records whose tiles align with it) are thus
read by one partition per tile; records on other grids are read by few partitions per tile.
Within a partition, rows are ordered by sort key, then by index label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.geo.geometry import bbox_array, transform_xy
from rasteret.read.grid import normalize_transform
from rasteret.read.inputs import prepare_geometry_input, prepare_point_coords

__all__ = [
    "TileGrid",
    "aoi_centres",
    "balanced_divisions",
    "hilbert_distance",
    "point_positions",
    "sorter",
    "spatially_sorted",
    "tile_grid",
    "tile_keys",
]

#: Hilbert curve order: tile columns and rows are clipped to ``[0, 2**ORDER)``, centred on
#: the grid origin (65,536 tiles a side: the globe in 256-pixel tiles of 0.0001 degree).
ORDER = 16
#: The key of a row without finite coordinates (after every tile).
NO_TILE = 1 << (2 * ORDER)
#: Column names the sort adds while it runs (removed from the result).
SORT_KEY = "__rasteret_sort_key"
LABEL = "__rasteret_index_label"
#: Records looked at to find the reference grid.
GRID_SAMPLE = 10_000

#: ``(x, y, crs)`` of the rows of a pandas partition.
Positions = Callable[[Any], tuple[np.ndarray, np.ndarray, Any]]


@dataclass(frozen=True)
class TileGrid:
    """A tile grid: its CRS (EPSG int, WKT, or None for "as the input"), the corner of one
    tile (``x0``, ``y0``) and a tile's footprint in CRS units."""

    crs: int | str | None
    x0: float
    y0: float
    width: float
    height: float


def tile_grid(records: pa.Table, bands: list[str]) -> TileGrid | None:
    """The most common tile grid of ``records`` for the first of ``bands`` that has layout
    metadata (the first :data:`GRID_SAMPLE` records), or None when no record has one."""
    head = records.slice(0, GRID_SAMPLE)
    epsgs = (
        head.column("proj:epsg").to_pylist()
        if "proj:epsg" in head.column_names
        else [None] * head.num_rows
    )
    for band in bands:
        column = f"{band}_metadata"
        if column not in head.column_names:
            continue
        # the grid fields only: the structs' tile tables are the bulk of the records
        metas = head.column(column).combine_chunks()
        if not pa.types.is_struct(metas.type):
            continue
        fields = [
            metas.field(name).to_pylist() if metas.type.get_field_index(name) >= 0 else None
            for name in ("transform", "tile_width", "tile_height")
        ]
        if any(values is None for values in fields):
            continue
        grids: list[TileGrid] = []
        for epsg, valid, transform, tile_width, tile_height in zip(
            epsgs, metas.is_valid().to_pylist(), *fields, strict=True
        ):
            grid = _grid_of(epsg, transform, tile_width, tile_height) if valid else None
            if grid is not None:
                grids.append(grid)
        if grids:
            counts = Counter(_alignment(g) for g in grids)
            best = counts.most_common(1)[0][0]
            return next(g for g in grids if _alignment(g) == best)
    return None


def _grid_of(epsg: Any, transform: Any, tile_width: Any, tile_height: Any) -> TileGrid | None:
    """The tile grid of one record's band (None when incomplete or rotated)."""
    if not tile_width or not tile_height:
        return None
    try:
        a, c, e, f = normalize_transform(transform)
    except (TypeError, ValueError):
        return None
    width, height = abs(a) * int(tile_width), abs(e) * int(tile_height)
    if not (width > 0 and height > 0 and np.isfinite([c, f, width, height]).all()):
        return None
    return TileGrid(None if epsg is None else int(epsg), float(c), float(f), width, height)


def _alignment(grid: TileGrid) -> tuple[Any, ...]:
    """What two grids share when their tiles coincide: CRS, footprint, origin modulo it."""
    return (
        grid.crs,
        round(grid.width, 9),
        round(grid.height, 9),
        round(grid.x0 % grid.width, 6),
        round(grid.y0 % grid.height, 6),
    )


def hilbert_distance(col: np.ndarray, row: np.ndarray, order: int = ORDER) -> np.ndarray:
    """The distance along a Hilbert curve of order ``order`` of the cells ``(col, row)``
    (non-negative ints below ``2**order``), as int64: neighbouring distances are
    neighbouring cells."""
    x = np.asarray(col, dtype=np.int64).copy()
    y = np.asarray(row, dtype=np.int64).copy()
    distance = np.zeros(x.shape, dtype=np.int64)
    last = (1 << order) - 1
    s = 1 << (order - 1)
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        distance += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        # rotate the quadrant so that the curve inside it starts and ends where it should
        flip = ~ry & rx
        x[flip] = last - x[flip]
        y[flip] = last - y[flip]
        swap = ~ry
        x[swap], y[swap] = y[swap], x[swap].copy()
        s >>= 1
    return distance


def tile_keys(x: np.ndarray, y: np.ndarray, crs: Any, grid: TileGrid) -> np.ndarray:
    """The sort key of each position ``(x, y)`` (in ``crs``): the Hilbert distance of the
    ``grid`` tile holding it (:data:`NO_TILE` for a position without finite coordinates)."""
    gx, gy = transform_xy(x, y, crs, grid.crs) if grid.crs is not None else (x, y)
    with np.errstate(invalid="ignore"):
        col = np.floor((gx - grid.x0) / grid.width)
        row = np.floor((grid.y0 - gy) / grid.height)
    finite = np.isfinite(col) & np.isfinite(row)
    half, top = 1 << (ORDER - 1), (1 << ORDER) - 1
    col = np.clip(np.where(finite, col, 0) + half, 0, top).astype(np.int64)
    row = np.clip(np.where(finite, row, 0) + half, 0, top).astype(np.int64)
    return np.where(finite, hilbert_distance(col, row), NO_TILE).astype(np.int64)


def point_positions(frame: Any, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any]:
    """``(x, y, crs)`` of a pandas partition of points (``options``: the input keywords of
    :func:`rasteret.read.inputs.prepare_point_coords`)."""
    x, y, crs, _ = prepare_point_coords(frame, **options)
    return x, y, crs


def aoi_centres(frame: Any, options: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any]:
    """``(x, y, crs)`` of the bounding-box centres of a pandas partition of AOIs
    (``options``: ``geometry_column`` and ``geometry_crs``)."""
    plan = prepare_geometry_input(frame, **options)
    if len(plan.geometries) == 0:
        return np.empty(0), np.empty(0), plan.geometry_crs
    xmin, ymin, xmax, ymax = (
        np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.float64)
        for a in bbox_array(plan.geometries)
    )
    return (xmin + xmax) / 2, (ymin + ymax) / 2, plan.geometry_crs


def balanced_divisions(keys: np.ndarray, counts: np.ndarray, npartitions: int) -> list[int]:
    """Dask divisions cutting the sorted distinct ``keys`` (with their row ``counts``) into at
    most ``npartitions`` ranges of about equal row counts; every key stays in one range."""
    keys = np.asarray(keys, dtype=np.int64)
    cumulative = np.cumsum(np.asarray(counts, dtype=np.int64))
    total = int(cumulative[-1])
    targets = total * np.arange(1, npartitions) / npartitions
    # a range ends after the key where the running count first reaches its target
    ends = np.unique(np.searchsorted(cumulative, targets, side="left"))
    starts = [int(keys[i + 1]) for i in ends if i + 1 < len(keys)]
    return [int(keys[0]), *starts, int(keys[-1])]


def spatially_sorted(frame: Any, positions: Positions, grid: TileGrid) -> Any:
    """The Dask ``frame`` regrouped by the ``grid`` tile of each row (``positions`` gives a
    partition's coordinates) into at most its number of partitions, with its index labels,
    columns and dtypes unchanged (see the module docstring for the order).

    Counting the keys computes them once (a pass over the input, no raster request); the
    frame itself is shuffled when the result is computed.
    """
    template = frame._meta
    keyed_meta = _with_key(template, positions, grid)
    keyed = frame.map_partitions(
        _with_key, positions, grid, meta=keyed_meta, enforce_metadata=False
    )
    # a tree reduction: there are far fewer tiles than rows
    counts = keyed[SORT_KEY].value_counts(split_out=1).compute().sort_index()
    if len(counts) == 0:
        return frame
    divisions = balanced_divisions(counts.index.to_numpy(), counts.to_numpy(), frame.npartitions)
    # a task-based shuffle: it runs on any scheduler (the graph may be computed with another
    # one than the default when it was built) and moves shapely geometries, which Dask's
    # peer-to-peer shuffle (Arrow batches) cannot
    shuffled = keyed.set_index(SORT_KEY, divisions=divisions, shuffle_method="tasks")
    return shuffled.map_partitions(
        _restored, template, meta=template, enforce_metadata=False, align_dataframes=False
    )


def sorter(positions: Callable[..., Any], options: dict[str, Any]) -> Positions:
    """``positions`` bound to its input ``options`` (a picklable callable of a partition)."""
    return partial(positions, options=options)


def _with_key(frame: Any, positions: Positions, grid: TileGrid) -> Any:
    """``frame`` plus its rows' sort keys and index labels as columns."""
    x, y, crs = positions(frame)
    return frame.assign(**{SORT_KEY: tile_keys(x, y, crs, grid), LABEL: np.asarray(frame.index)})


def _restored(frame: Any, template: Any) -> Any:
    """A shuffled partition back in the input's form: ordered by key then label, indexed by
    label, of the type, columns and (geo)metadata of ``template`` (the input's meta)."""
    frame = frame.reset_index().sort_values([SORT_KEY, LABEL], kind="stable")
    frame = frame.set_index(LABEL).drop(columns=[SORT_KEY])
    frame.index = frame.index.astype(template.index.dtype).rename(template.index.name)
    frame = frame[list(template.columns)]
    if type(frame) is not type(template) and hasattr(template, "geometry"):
        # a shuffle of GeoDataFrames without dask-geopandas gives pandas frames
        frame = type(template)(frame, geometry=template.geometry.name, crs=template.crs)
    return frame
