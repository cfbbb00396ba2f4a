"""``read_window(..., chunks=...)``: the ``[N, C, H, W]`` stack as a lazy Dask array.

The graph is built from the records' Arrow rows alone, without a request: the read is planned
as the eager read plans it (:mod:`rasteret.read.window`), the output is cut into chunks, and
every chunk that some record's image touches becomes one task. A task carries the Arrow rows
of its chunk's records (the columns the read needs, tile tables included, so a worker never
reads a header) and runs the eager read of the chunk's bounds: one call into the Rust core.
A chunk no image touches is made from its planes' fill values, without a read.

Pixels equal the eager read's. The chunks of a read on the records' own grid are exact slices
of it (tiles are copied, not resampled). A read that resamples or warps is chunked over
records and bands only, each chunk holding the whole grid, because resampling near a chunk's
edge would need its neighbours' pixels.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.read.record_shards import RecordShards, gather_rows
from rasteret.read.window import plan_window, read_records_window

__all__ = ["AUTO_PIXELS", "lazy_records_window", "split_axis", "window_chunk_sizes"]

#: Pixels per side that an ``"auto"`` spatial chunk aims at (a whole number of COG tiles).
AUTO_PIXELS = 2048

#: Chunk keys and the output axis each one names.
_AXES = {"record": 0, "time": 0, "band": 1, "y": 2, "x": 3}


def _axis_requests(chunks: Any) -> list[Any]:
    """Per axis (N, C, H, W): an int, -1 (whole axis) or ``"auto"``."""
    wanted: list[Any] = [1, -1, "auto", "auto"]
    if isinstance(chunks, str):
        if chunks != "auto":
            raise ValueError(f"chunks must be 'auto', a dict or 4 sizes, got {chunks!r}")
        return wanted
    if isinstance(chunks, dict):
        unknown = sorted(set(map(str, chunks)) - set(_AXES))
        if unknown:
            raise ValueError(
                f"Unknown chunks key(s) {unknown}; use {sorted(_AXES)} (record and time both "
                "name the first axis)"
            )
        for key, size in chunks.items():
            wanted[_AXES[key]] = size
    elif isinstance(chunks, tuple | list) and len(chunks) == 4:
        wanted = list(chunks)
    else:
        raise ValueError(f"chunks must be 'auto', a dict or 4 sizes (N, C, H, W), got {chunks!r}")
    for size in wanted:
        ok = size == "auto" or (isinstance(size, int | np.integer) and (size > 0 or size == -1))
        if not ok:
            raise ValueError(f"chunk sizes must be positive ints, -1 or 'auto', got {chunks!r}")
    return wanted


def split_axis(length: int, size: int, first: int = 0) -> tuple[int, ...]:
    """``length`` cut into ``size`` pieces, the first one ``first`` long when nonzero."""
    if size == -1 or size >= length and not first:
        return (length,)
    pieces = [min(first, length)] if first else []
    done = sum(pieces)
    while done < length:
        pieces.append(min(size, length - done))
        done += pieces[-1]
    return tuple(pieces)


def window_chunk_sizes(
    chunks: Any,
    shape: tuple[int, int, int, int],
    tile: tuple[int, int] | None = None,
    tile_phase: tuple[int, int] = (0, 0),
    spatial: bool = True,
) -> tuple[tuple[int, ...], ...]:
    """Dask chunk sizes of a ``[N, C, H, W]`` read.

    Parameters
    ----------
    chunks
        ``"auto"``, a dict of ``record`` (or ``time``), ``band``, ``y``, ``x`` sizes, or four
        sizes; a size is a positive int, ``-1`` (the whole axis) or ``"auto"``. Missing keys:
        one record, every band, ``"auto"`` rows and columns.
    shape
        The output's shape.
    tile
        ``(height, width)`` of the records' COG tiles: an ``"auto"`` spatial chunk is the
        largest whole number of tiles up to 2048 pixels (2048 without tiles).
    tile_phase
        Grid rows/columns before the first tile edge: ``"auto"`` chunks start on tile edges.
    spatial
        False: every chunk holds the whole grid (resampled reads).

    Raises
    ------
    ValueError
        A malformed ``chunks``.
    """
    wanted = _axis_requests(chunks)
    sizes: list[tuple[int, ...]] = []
    for axis, (size, length) in enumerate(zip(wanted, shape, strict=True)):
        if axis >= 2 and not spatial:
            sizes.append((length,))
        elif size == "auto" and axis >= 2:
            step = tile[axis - 2] if tile else AUTO_PIXELS
            step = max(1, AUTO_PIXELS // step) * step
            sizes.append(split_axis(length, step, tile_phase[axis - 2] if tile else 0))
        elif size == "auto":
            sizes.append(split_axis(length, 1 if axis == 0 else -1))
        else:
            sizes.append(split_axis(length, int(size)))
    return tuple(sizes)


def _edges(sizes: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(sizes)])


def _tile_of(table: pa.Table, row: int, band: str) -> tuple[int, int] | None:
    meta = table.column(f"{band}_metadata")[row].as_py() or {}
    th, tw = meta.get("tile_height"), meta.get("tile_width")
    return (int(th), int(tw)) if th and tw else None


def _touched(
    plans: list[Any],
    slot_of: list[int],
    edges: list[np.ndarray],
) -> np.ndarray:
    """Per chunk, whether some planned record image lies in it (boolean, chunk-grid shape)."""
    touched = np.zeros([len(e) - 1 for e in edges], dtype=bool)
    height, width = int(edges[2][-1]), int(edges[3][-1])
    for p in plans:
        n = int(np.searchsorted(edges[0], slot_of[p.slot], side="right")) - 1
        c = int(np.searchsorted(edges[1], p.band, side="right")) - 1
        if not p.aligned:
            touched[n, c] = True
            continue
        col0, row0 = p.window[0], p.window[1]
        r0, r1 = max(-row0, 0), min(p.height - row0, height)
        c0, c1 = max(-col0, 0), min(p.width - col0, width)
        if r1 <= r0 or c1 <= c0:
            continue
        ya = int(np.searchsorted(edges[2], r0, side="right")) - 1
        yb = int(np.searchsorted(edges[2], r1 - 1, side="right")) - 1
        xa = int(np.searchsorted(edges[3], c0, side="right")) - 1
        xb = int(np.searchsorted(edges[3], c1 - 1, side="right")) - 1
        touched[n, c, ya : yb + 1, xa : xb + 1] = True
    return touched


def read_chunk(
    parts: list[list[Any]],
    record_ids: list[str],
    bounds: tuple[float, float, float, float],
    res: tuple[float, float],
    bands: list[str],
    settings: dict[str, Any],
    plane_fills: np.ndarray,
    dtype: np.dtype,
) -> np.ndarray:
    """One chunk: the eager read of ``bounds`` for ``record_ids`` (the task a worker runs),
    whose rows ``parts`` gathers from the record shards."""
    out = read_records_window(
        gather_rows(parts),
        record_ids=record_ids,
        bounds=bounds,
        res=res,
        bands=bands,
        plane_fills=plane_fills,
        **settings,
    )
    return out.astype(dtype, copy=False)


def fill_chunk(shape: tuple[int, ...], plane_fills: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A chunk no record image touches: each plane holds its fill."""
    out = np.empty(shape, dtype=dtype)
    for (n, c), fill in np.ndenumerate(plane_fills):
        out[n, c] = fill
    return out


def lazy_records_window(
    table: pa.Table,
    *,
    record_ids: list[str],
    bounds: Any,
    res: Any,
    bands: list[str],
    data_source: str,
    chunks: Any,
    target_crs: int | None = None,
    max_concurrent: int = 50,
    group_by: str | None = None,
    backend: Any = None,
) -> Any:
    """:func:`rasteret.read.window.read_records_window` as a ``dask.array.Array`` (see the
    module doc); ``chunks`` as in :func:`window_chunk_sizes`.

    Raises
    ------
    ValueError
        As the eager read, and for a malformed ``chunks``.
    """
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    plan = plan_window(table, record_ids, bounds, res, bands, data_source, target_crs, group_by)
    grid, rows, plans, slot_of = plan.grid, plan.rows, plan.sources, plan.slot_of
    n_out, dtype, fills = plan.n_out, plan.dtype, plan.fills
    shape = (n_out, len(bands), *grid.shape)
    aligned = [p for p in plans if p.aligned]
    first = aligned[0] if aligned else None
    tile = _tile_of(table, rows[first.slot], bands[first.band]) if first else None
    phase = (-first.window[1] % tile[0], -first.window[0] % tile[1]) if first and tile else (0, 0)
    sizes = window_chunk_sizes(chunks, shape, tile, phase, spatial=len(aligned) == len(plans))
    edges = [_edges(s) for s in sizes]
    touched = _touched(plans, slot_of, edges)

    ids_of_slot: list[list[str]] = [[] for _ in range(n_out)]
    rows_of_slot: list[list[int]] = [[] for _ in range(n_out)]
    for k, rid in enumerate(record_ids):
        ids_of_slot[slot_of[k]].append(rid)
        rows_of_slot[slot_of[k]].append(rows[k])
    settings = {
        "data_source": data_source,
        "target_crs": target_crs,
        "max_concurrent": max_concurrent,
        "group_by": group_by,
        "backend": backend,
    }
    shards = RecordShards(table, tasks=len(edges[0]) - 1)
    left, _, _, top = grid.bounds
    xres, yres = grid.res
    name = f"rasteret-read-window-{uuid.uuid4().hex}"
    graph: dict[Any, Any] = {}
    for n, (n0, n1) in enumerate(zip(edges[0][:-1], edges[0][1:], strict=True)):
        ids = [rid for s in range(n0, n1) for rid in ids_of_slot[s]]
        part = shards.parts(sorted({r for s in range(n0, n1) for r in rows_of_slot[s]}), n)
        for index in np.ndindex(*touched.shape[1:]):
            c, y, x = index
            c0, c1 = int(edges[1][c]), int(edges[1][c + 1])
            y0, y1 = int(edges[2][y]), int(edges[2][y + 1])
            x0, x1 = int(edges[3][x]), int(edges[3][x + 1])
            plane_fills = fills[n0:n1, c0:c1]
            key = (name, n, c, y, x)
            if not touched[n, c, y, x]:
                shape_ = (int(n1 - n0), c1 - c0, y1 - y0, x1 - x0)
                graph[key] = (fill_chunk, shape_, plane_fills, dtype)
                continue
            sub_bounds = (left + x0 * xres, top - y1 * yres, left + x1 * xres, top - y0 * yres)
            graph[key] = (
                read_chunk, part, ids, sub_bounds, (xres, yres), bands[c0:c1], settings,
                plane_fills, dtype,
            )  # fmt: skip
    hlg = HighLevelGraph(
        {shards.name: shards.layer(), name: graph}, {shards.name: set(), name: {shards.name}}
    )
    return da.Array(hlg, name, chunks=sizes, dtype=dtype, meta=np.empty((0,) * 4, dtype=dtype))
