"""``get_xarray(..., chunks=...)``: the ``(time, geometry, y, x)`` cube as a lazy Dataset.

The graph is built from the index alone, without a request: every (record, geometry, band)
window is planned as the eager read plans it (:func:`rasteret.read.aoi.plan_jobs`), and the
cube's coordinates, dtypes, fills and attributes come from that plan through the same
:func:`rasteret.core.xarray_cube.cube_layout` the eager cube uses. Each pair's window is then
binned to the output chunks it overlaps: a chunk some window overlaps is one task, which
carries the Arrow rows of its records (only the columns the read needs) and the windows
cropped to the chunk, reads them in one call into the Rust core, masks them with their
geometry and places them with the eager cube's rule (earlier records win unless they hold the
fill value). A chunk no window overlaps is filled without a read. A worker never reads a
header; a tile that a chunk edge cuts is decoded once per worker process that runs a chunk
next to the cut while it stays in that process's tile cache
(:func:`rasteret.read.tile_cache.chunk_tile_cache`).

The lazy cube covers what the eager cube assembles directly: ``xr_combine="combine_first"``,
integer bands with one fill value each or float bands (padded and merged with NaN, as
xarray's ``combine_first`` does); records in another CRS than ``target_crs`` are warped onto
the grid the eager read computes for them (each chunk task reads and warps such a pair's
whole window, then keeps its part). Other reads (integer and float bands in one cube, e.g.
records of which only some are warped) raise ``NotImplementedError`` (read them with
``chunks=None``). A record whose read fails fails its chunks' tasks (the eager read
drops it with a warning).
"""

from __future__ import annotations

import dataclasses
import operator
import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret._backends import io_options
from rasteret.core.xarray_cube import DIMS, CubeLayout, SlotCube, cube_layout
from rasteret.read.aoi import (
    AoiRead,
    execute_jobs,
    needs_reprojection,
    plan_jobs,
    report_failures,
    reproject_reads,
    reprojected_grid,
)
from rasteret.read.grid import warped_dtype
from rasteret.read.progress import TileProgress
from rasteret.read.record_shards import RecordShards, gather_rows
from rasteret.read.tile_cache import chunk_tile_cache
from rasteret.read.window_chunks import AUTO_PIXELS, split_axis

__all__ = ["cube_chunk_sizes", "lazy_cube", "read_cube_chunk"]


def cube_chunk_sizes(
    chunks: Any, shape: tuple[int, ...], tile: tuple[int, int] | None
) -> tuple[tuple[int, ...], ...]:
    """Dask chunk sizes of a ``(time, geometry, y, x)`` cube.

    ``chunks`` is ``"auto"`` or a dict of ``time``, ``geometry``, ``y``, ``x`` sizes (a
    positive int, ``-1`` for the whole dimension, or ``"auto"``); missing keys: one time, one
    geometry, ``"auto"`` rows and columns (whole COG tiles up to 2048 pixels).

    Raises
    ------
    ValueError
        A malformed ``chunks``.
    """
    wanted: dict[str, Any] = {"time": 1, "geometry": 1, "y": "auto", "x": "auto"}
    if isinstance(chunks, dict):
        unknown = sorted(set(map(str, chunks)) - set(DIMS))
        if unknown:
            raise ValueError(f"Unknown chunks key(s) {unknown}; use {list(DIMS)}")
        wanted.update(chunks)
    elif chunks != "auto":
        raise ValueError(f"chunks must be 'auto' or a dict of {list(DIMS)} sizes, got {chunks!r}")
    sizes = []
    for axis, (dim, length) in enumerate(zip(DIMS, shape, strict=True)):
        size = wanted[dim]
        if size == "auto":
            if axis < 2:
                size = 1
            else:
                step = tile[axis - 2] if tile else AUTO_PIXELS
                size = max(1, AUTO_PIXELS // step) * step
        if not (isinstance(size, int | np.integer) and (size > 0 or size == -1)):
            raise ValueError(f"chunk sizes must be positive ints, -1 or 'auto', got {chunks!r}")
        sizes.append(split_axis(length, int(size)))
    return tuple(sizes)


def _planned_reads(table: pa.Table, jobs: list[Any], bands: list[str]) -> list[AoiRead]:
    """One :class:`AoiRead` per job with a zero-stride stand-in for its pixels (only its
    shape, dtype, transform and fill are looked at), in the eager read's order."""
    from affine import Affine

    def column(name: str) -> list[Any]:
        if name in table.column_names:
            return table.column(name).to_pylist()
        return [None] * table.num_rows

    ids, datetimes, clouds = column("id"), column("datetime"), column("eo:cloud_cover")
    collections, epsgs = column("collection"), column("proj:epsg")
    band_order = {b: n for n, b in enumerate(bands)}
    stand_ins: dict[tuple[Any, int, int], np.ndarray] = {}  # one per dtype and window shape
    reads = []
    for j in sorted(jobs, key=lambda j: (j.record, j.geometry_index, band_order[j.band])):
        a, c, e, f = j.transform
        key = (j.dtype, j.window[3], j.window[2])
        if key not in stand_ins:
            stand_ins[key] = np.broadcast_to(np.zeros((), j.dtype), key[1:])
        reads.append(
            AoiRead(
                record_index=j.record,
                record_id=str(ids[j.record]),
                datetime=datetimes[j.record],
                cloud_cover=clouds[j.record],
                collection=collections[j.record],
                crs=epsgs[j.record],
                geometry_index=j.geometry_index,
                band=j.band,
                data=stand_ins[key],
                transform=Affine(a, 0.0, c, 0.0, e, f),
                nodata=j.fill,
            )
        )
    return reads


def _warped(planned: list[AoiRead], target_crs: Any) -> list[AoiRead]:
    """``planned`` as :func:`rasteret.read.aoi.reproject_reads` leaves them: a read whose
    record is in another CRS than ``target_crs`` on its warped grid, float (float32 for
    integer bands), NaN fill."""
    if target_crs is None:
        return planned
    out = []
    for r in planned:
        if not needs_reprojection(r, target_crs):
            out.append(r)
            continue
        transform, shape = reprojected_grid(r, target_crs)
        data = np.broadcast_to(np.zeros((), warped_dtype(r.data.dtype)), shape)
        out.append(
            dataclasses.replace(
                r, data=data, transform=transform, crs=int(target_crs), nodata=np.nan
            )
        )
    return out


def _check_supported(xr_combine: str) -> None:
    if xr_combine != "combine_first":
        raise NotImplementedError(
            f"get_xarray(chunks=...) merges records with 'combine_first' only, not "
            f"{xr_combine!r}; read with chunks=None"
        )


def _crop(job: Any, rows: slice, cols: slice, record: int) -> Any:
    """``job`` limited to window rows ``rows`` and columns ``cols``, as row ``record``; its
    geometry mask stays that part of the whole window's mask (the same pixels as the eager
    read, even where an edge passes exactly through pixel centres)."""
    col0, row0 = job.window[0], job.window[1]
    a, c, e, f = job.transform
    return dataclasses.replace(
        job,
        record=record,
        mask_window=(job.transform, job.window[3], job.window[2], rows.start, cols.start),
        window=(
            col0 + cols.start,
            row0 + rows.start,
            cols.stop - cols.start,
            rows.stop - rows.start,
        ),
        transform=(a, c + cols.start * a, e, f + rows.start * e),
    )


def _local_span(positions: np.ndarray, lo: int, hi: int) -> tuple[slice, np.ndarray] | None:
    """The window rows (or columns) whose cube positions lie in ``[lo, hi)`` (consecutive:
    a window's positions are monotonic in the cube's sorted coordinates), and their chunk
    positions."""
    inside = np.nonzero((positions >= lo) & (positions < hi))[0]
    if len(inside) == 0:
        return None
    span = slice(int(inside[0]), int(inside[-1]) + 1)
    return span, positions[span] - lo


def read_cube_chunk(
    parts: list[list[Any]],
    pieces: list[
        tuple[list[Any], int, int, int, tuple[slice, np.ndarray], tuple[slice, np.ndarray], bool]
    ],
    bands: list[str],
    dtypes: list[Any],
    fills: list[Any],
    shape: tuple[int, int, int, int],
    all_touched: bool,
    settings: dict[str, Any],
) -> tuple[np.ndarray, ...]:
    """One chunk of every band (the task a worker runs).

    ``parts`` gathers the chunk's record rows from the record shards. ``pieces`` are the
    pairs overlapping the chunk in the eager read's order: their jobs (whole windows), the
    pair's row in the gathered table, its (time, geometry) slot in the chunk, and for rows
    and columns the window's span inside the chunk with its chunk positions, and whether
    the pair is warped to ``settings["target_crs"]``. The windows are cropped here, on the
    worker, so building the graph costs no work per pair and chunk; a warped pair is read and
    warped whole (as the eager read warps it) and its part in the chunk cut out.

    Raises
    ------
    RuntimeError
        A window of the chunk could not be read (names the record, band and URL).
    """
    table = gather_rows(parts)
    cropped = []
    for jobs, row, t, g, (rspan, rpos), (cspan, cpos), warp in pieces:
        if warp:  # warped from the whole window, as the eager read does, then cut
            mine = [dataclasses.replace(j, record=row) for j in jobs]
            cropped.append((mine, t, g, rpos, cpos, (rspan, cspan)))
        else:
            mine = [_crop(j, rspan, cspan, row) for j in jobs]
            cropped.append((mine, t, g, rpos, cpos, None))
    jobs = [j for piece in cropped for j in piece[0]]
    options = io_options(settings["backend"], max_concurrent=settings["max_concurrent"])
    with TileProgress(False, "") as bar:
        reads, errors = execute_jobs(
            table, jobs, bands, all_touched, options, bar, False, chunk_tile_cache()
        )
    if errors:
        raise next(iter(errors.values()))[0]
    reads = reproject_reads(reads, settings["target_crs"])
    data = {(r.record_index, r.geometry_index, r.band): r.data for r in reads}
    cubes = [SlotCube(shape, dtype, fill) for dtype, fill in zip(dtypes, fills, strict=True)]
    for piece_jobs, t, g, rows, cols, cut in cropped:
        for j in piece_jobs:
            block = data.get((j.record, j.geometry_index, j.band))
            if block is not None:
                block = block if cut is None else block[cut]
                cubes[bands.index(j.band)].place(t, g, rows, cols, block)
    return tuple(cube.finish() for cube in cubes)


def fill_cube_chunk(shape: tuple[int, ...], fill: Any, dtype: Any) -> np.ndarray:
    """A chunk no window overlaps."""
    return np.full(shape, fill, dtype=dtype)


def _edges(sizes: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def _chunk_range(edges: np.ndarray, positions: np.ndarray) -> range:
    """The chunks (along one dimension) that ``positions`` fall in, first to last."""
    first, last = (
        int(np.searchsorted(edges, v, side="right")) - 1 for v in (positions.min(), positions.max())
    )
    return range(first, last + 1)


def _spans(positions: np.ndarray, edges: np.ndarray) -> list[tuple[int, tuple[slice, np.ndarray]]]:
    """The chunks (along one dimension) a window's cube ``positions`` fall in, with the
    window's rows (or columns) in each and their chunk positions."""
    out = []
    for chunk in _chunk_range(edges, positions):
        span = _local_span(positions, int(edges[chunk]), int(edges[chunk + 1]))
        if span is not None:
            out.append((chunk, span))
    return out


def _bin_pairs(
    layout: CubeLayout, edges: list[np.ndarray]
) -> dict[tuple[int, ...], list[tuple[Any, ...]]]:
    """Per chunk index, the pairs overlapping it, in read order: (record, geometry, (t, g)
    in the chunk, (window rows, their chunk rows), (window columns, their chunk columns))."""
    idx = layout.indexes
    times = idx["time"].get_indexer([t for t, _ in layout.slots])
    geoms = idx["geometry"].get_indexer([g for _, g in layout.slots])
    time_chunks = np.searchsorted(edges[0], times, side="right") - 1
    geom_chunks = np.searchsorted(edges[1], geoms, side="right") - 1
    # pairs on one grid share their centre arrays (cube_layout), hence their spans
    spans: dict[tuple[str, int], list[Any]] = {}
    binned: dict[tuple[int, ...], list[Any]] = {}
    for p, (group, (ys, xs)) in enumerate(zip(layout.groups, layout.centres, strict=True)):
        y_key, x_key = ("y", id(ys)), ("x", id(xs))
        if y_key not in spans:
            spans[y_key] = _spans(idx["y"].get_indexer(ys), edges[2])
        if x_key not in spans:
            spans[x_key] = _spans(idx["x"].get_indexer(xs), edges[3])
        tc, gc = int(time_chunks[p]), int(geom_chunks[p])
        local = (int(times[p] - edges[0][tc]), int(geoms[p] - edges[1][gc]))
        head = group[0]
        for yc, row_span in spans[y_key]:
            for xc, col_span in spans[x_key]:
                binned.setdefault((tc, gc, yc, xc), []).append(
                    (head.record_index, head.geometry_index, local, row_span, col_span)
                )
    return binned


def lazy_cube(
    table: pa.Table,
    plan: Any,
    bands: list[str],
    *,
    data_source: str,
    target_crs: Any,
    backend: Any,
    record_ids: list[Any] | None,
    all_touched: bool,
    max_concurrent: int,
    xr_combine: str,
    chunks: Any,
) -> Any:
    """The eager ``get_xarray`` Dataset as Dask arrays (see the module doc).

    Raises
    ------
    ValueError
        As the eager read's planning (no data, unresolvable bands), a malformed ``chunks``.
    NotImplementedError
        A read the lazy cube does not cover (see the module doc).
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    meta_cols = [f"{b}_metadata" for b in bands if f"{b}_metadata" in table.column_names]
    _check_supported(xr_combine)
    jobs, errors = plan_jobs(table, plan, bands, data_source, meta_cols, record_ids)
    planned = _planned_reads(table, jobs, bands)
    report_failures(table, planned, errors)
    # pairs whose record is in another CRS: warped onto a target_crs grid
    warp = {
        (r.record_index, r.geometry_index) for r in planned if needs_reprojection(r, target_crs)
    }
    planned = _warped(planned, target_crs)
    layout = cube_layout(planned)
    if layout is None:
        raise NotImplementedError(
            "get_xarray(chunks=...) needs integer bands with one nodata value each (or only "
            "float bands), every band of a record on one grid; read with chunks=None"
        )
    jobs_of: dict[tuple[int, int], list[Any]] = {}
    for j in jobs:
        jobs_of.setdefault((j.record, j.geometry_index), []).append(j)
    first = layout.groups[0][0]
    tile = _tile_of(table, first.record_index, first.band)
    sizes = cube_chunk_sizes(chunks, layout.shape, tile)
    edges = [_edges(s) for s in sizes]
    binned = _bin_pairs(layout, edges)
    band_names = list(layout.dtypes)
    dtypes = [layout.dtypes[b] for b in band_names]
    fills = [layout.fills[b] for b in band_names]
    settings = {"backend": backend, "max_concurrent": max_concurrent, "target_crs": target_crs}
    shards = RecordShards(table, tasks=len(binned))
    token = uuid.uuid4().hex
    read_name = f"rasteret-cube-read-{token}"
    names = {b: f"rasteret-cube-{b}-{token}" for b in band_names}
    reads: dict[Any, Any] = {}
    per_band: dict[str, dict[Any, Any]] = {b: {} for b in band_names}
    for index in np.ndindex(*[len(e) - 1 for e in edges]):
        shape = tuple(int(edges[d][index[d] + 1] - edges[d][index[d]]) for d in range(4))
        members = binned.get(index)
        if not members:
            for b, dtype, fill in zip(band_names, dtypes, fills, strict=True):
                per_band[b][(names[b], *index)] = (fill_cube_chunk, shape, fill, dtype)
            continue
        records = sorted({m[0] for m in members})
        task = len(reads)
        row_of = {r: k for k, r in enumerate(records)}
        pieces = [
            (
                jobs_of[(record, geometry)],
                row_of[record],
                t,
                g,
                rows,
                cols,
                (record, geometry) in warp,
            )
            for record, geometry, (t, g), rows, cols in members
        ]
        reads[(read_name, *index)] = (
            read_cube_chunk, shards.parts(records, task), pieces, band_names, dtypes, fills, shape,
            all_touched, settings,
        )  # fmt: skip
        for k, b in enumerate(band_names):
            per_band[b][(names[b], *index)] = (operator.getitem, (read_name, *index), k)
    layers: dict[str, Any] = {shards.name: shards.layer(), read_name: reads}
    dependencies: dict[str, set[str]] = {shards.name: set(), read_name: {shards.name}}
    for b in band_names:
        layers[names[b]] = per_band[b]
        dependencies[names[b]] = {read_name}
    graph = HighLevelGraph(layers, dependencies)
    arrays = {
        b: da.Array(graph, names[b], chunks=sizes, dtype=dtype, meta=np.empty((0,) * 4, dtype))
        for b, dtype in zip(band_names, dtypes, strict=True)
    }
    return layout.dataset(arrays)


def _tile_of(table: pa.Table, row: int, band: str) -> tuple[int, int] | None:
    name = f"{band}_metadata"
    if name not in table.column_names:
        return None
    meta = table.column(name)[row].as_py() or {}
    th, tw = meta.get("tile_height"), meta.get("tile_width")
    return (int(th), int(tw)) if th and tw else None
