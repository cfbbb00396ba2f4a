"""``Collection.read_window``: records resampled onto one output grid (bounds + resolution).

The grid is ``rasterio.merge.merge``'s: ``bounds = (left, bottom, right, top)`` and
``res = (xres, yres)`` give the transform ``Affine(xres, 0, left, 0, -yres, top)`` and the shape
``(round((top - bottom) / yres), round((right - left) / xres))`` (``MergeGrid``). Every
(record, band) equals
``rasterio.merge.merge([src], bounds=bounds, res=res, indexes=[band], resampling=...)`` with
nearest resampling for integer bands and bilinear for float bands, and, across CRSs,
``rasterio.warp.reproject`` of the source onto the grid. Tiles are read by the Rust core in ONE
call for every (record, band); GDAL (rasterio) only resamples the small crops that are not on
the grid already.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret._backends import io_options
from rasteret.read.grid import (
    TOLERANCE,
    MergeGrid,
    fill_value,
    normalize_transform,
    rasterio_crs,
    same_crs,
    whole,
)
from rasteret.read.layouts import planning_dicts
from rasteret.read.progress import TileProgress
from rasteret.records.bands import asset_url, resolve_asset_key, unresolved_band

__all__ = [
    "WindowPlan",
    "first_fills",
    "output_crs",
    "output_dtype",
    "output_slots",
    "plan_sources",
    "plan_window",
    "read_records_window",
    "record_rows",
    "window_columns",
]


@dataclass
class _Source:
    """One (record, band): where it is, its grid, and the source window to read."""

    slot: int  # record position in record_ids order
    band: int  # band position
    record_id: str
    url: str
    band_index: int
    dtype: np.dtype
    fill: Any
    nodata: float | None
    transform: tuple[float, float, float, float]  # a, c, e, f of the full image
    width: int
    height: int
    crs: Any
    window: tuple[int, int, int, int]  # col_off, row_off, width, height (may pass the edge)
    aligned: bool  # window == output grid: a plain copy, no resampling


def _plan_source(
    slot: int,
    band_pos: int,
    band: str,
    rid: str,
    assets: dict[str, Any],
    meta: dict[str, Any] | None,
    source: str,
    epsg: Any,
    out_crs: Any,
    grid: MergeGrid,
) -> _Source | None:
    """The window of one (record, band) that covers the grid (None: no overlap)."""
    key = resolve_asset_key(assets, band, source)
    url = asset_url(assets.get(key)) if key is not None else None
    if key is None or meta is None or url is None:
        raise unresolved_band(band, rid, assets, source)
    asset = assets.get(key)
    band_index = int((asset.get("band_index") if isinstance(asset, dict) else None) or 0)
    if meta.get("transform") is None:
        raise ValueError(f"Record {rid!r} band {band!r} has no geotransform ({url})")
    if not meta.get("tile_offsets"):
        raise ValueError(
            f"Rasteret's tile reader requires a tiled GeoTIFF with tile tables (band {band!r}, "
            f"record {rid!r})."
        )
    a, c, e, f = normalize_transform(meta["transform"])
    w, h = int(meta["image_width"]), int(meta["image_height"])
    dtype = np.dtype(meta["dtype"])
    nodata = meta.get("nodata")
    on_grid_crs = same_crs(out_crs, None if epsg is None else int(epsg))
    if on_grid_crs:
        left, bottom, right, top = grid.bounds
    else:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds(
            rasterio_crs(out_crs), rasterio_crs(int(epsg)), *grid.bounds
        )
    cols = sorted(((left - c) / a, (right - c) / a))
    rows = sorted(((top - f) / e, (bottom - f) / e))
    fill = fill_value(meta, dtype)
    nodata_ok = nodata is None or (dtype.kind == "f" or (not math.isnan(nodata) and fill == nodata))
    height, width = grid.shape
    aligned = (
        on_grid_crs
        and dtype.kind != "f"  # float bands are resampled bilinearly
        and nodata_ok
        and a > 0
        and e < 0
        and abs(a - grid.res[0]) < TOLERANCE * max(1.0, a)
        and abs(-e - grid.res[1]) < TOLERANCE * max(1.0, a)
        and whole(cols[0]) is not None
        and whole(rows[0]) is not None
    )
    if aligned:
        window = (round(cols[0]), round(rows[0]), width, height)
    else:
        # the source pixels under the grid plus a margin for the resampling kernel, clipped
        margin = 2 + math.ceil(max(grid.res[0] / abs(a), grid.res[1] / abs(e)))
        col0 = max(math.floor(cols[0]) - margin, 0)
        row0 = max(math.floor(rows[0]) - margin, 0)
        col1 = min(math.ceil(cols[1]) + margin, w)
        row1 = min(math.ceil(rows[1]) + margin, h)
        if col1 <= col0 or row1 <= row0:
            return None
        window = (col0, row0, col1 - col0, row1 - row0)
    if window[0] >= w or window[1] >= h or window[0] + window[2] <= 0 or window[1] + window[3] <= 0:
        return None
    return _Source(
        slot=slot,
        band=band_pos,
        record_id=rid,
        url=url,
        band_index=band_index,
        dtype=dtype,
        fill=fill,
        nodata=None if nodata is None else float(nodata),
        transform=(a, c, e, f),
        width=w,
        height=h,
        crs=None if epsg is None else int(epsg),
        window=window,
        aligned=aligned,
    )


def _valid(src: _Source, data: np.ndarray) -> np.ndarray:
    """Pixels of an aligned read that hold data: inside the image and not nodata."""
    col0, row0, width, height = src.window
    valid = np.zeros((height, width), dtype=bool)
    r0, r1 = max(-row0, 0), min(src.height - row0, height)
    c0, c1 = max(-col0, 0), min(src.width - col0, width)
    if r1 > r0 and c1 > c0:
        valid[r0:r1, c0:c1] = True
    if src.nodata is not None:
        valid &= ~(np.isnan(data) if math.isnan(src.nodata) else data == src.nodata)
    return valid


def _memory_dataset(src: _Source, crop: np.ndarray, stack: Any) -> Any:
    """A rasterio dataset (in memory) of a crop, north-up, with the source's nodata."""
    from affine import Affine
    from rasterio.io import MemoryFile

    a, c, e, f = src.transform
    col0, row0, width, height = src.window
    t = Affine(a, 0.0, c + col0 * a, 0.0, e, f + row0 * e)
    if e > 0:  # south-up: flip to north-up (no resampling), as a WarpedVRT does
        crop = crop[::-1]
        t = Affine(a, 0.0, t.c, 0.0, -e, t.f + height * e)
    nodata = src.nodata
    if nodata is not None and math.isnan(nodata) and src.dtype.kind != "f":
        nodata = None
    mem = stack.enter_context(MemoryFile())
    ds_ = stack.enter_context(
        mem.open(
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype=src.dtype,
            crs=rasterio_crs(src.crs) if src.crs is not None else None,
            transform=t,
            nodata=nodata,
        )
    )
    ds_.write(np.ascontiguousarray(crop), 1)
    return ds_


def _resampling(dtype: np.dtype) -> Any:
    from rasterio.enums import Resampling

    return Resampling.bilinear if dtype.kind == "f" else Resampling.nearest


def _merge(sources: list[_Source], crops: list[np.ndarray], grid: MergeGrid) -> np.ndarray:
    """``rasterio.merge.merge`` of the crops (first source wins) onto the grid."""
    from contextlib import ExitStack

    from rasterio.merge import merge

    with ExitStack() as stack:
        datasets = [_memory_dataset(s, c, stack) for s, c in zip(sources, crops, strict=True)]
        # nodata comes from the first dataset (the source's, when representable): the same
        # default as merging the source files themselves
        out, _ = merge(
            datasets,
            bounds=grid.bounds,
            res=grid.res,
            indexes=[1],
            resampling=_resampling(sources[0].dtype),
        )
    return out[0]


def _warp(src: _Source, crop: np.ndarray, grid: MergeGrid, out_crs: Any, fill: Any) -> np.ndarray:
    """``rasterio.warp.reproject`` of a crop onto the grid in another CRS."""
    from affine import Affine
    from rasterio.warp import reproject

    a, c, e, f = src.transform
    col0, row0, _, _ = src.window
    out = np.full(grid.shape, fill, dtype=src.dtype)
    nodata = src.nodata
    if nodata is not None and math.isnan(nodata) and src.dtype.kind != "f":
        nodata = None
    reproject(
        source=crop,
        destination=out,
        src_transform=Affine(a, 0.0, c + col0 * a, 0.0, e, f + row0 * e),
        src_crs=rasterio_crs(src.crs),
        src_nodata=nodata,
        dst_transform=grid.transform,
        dst_crs=rasterio_crs(out_crs),
        dst_nodata=fill,
        resampling=_resampling(src.dtype),
    )
    return out


def window_columns(names: Sequence[str], bands: Sequence[str], group_by: str | None) -> list[str]:
    """Record columns :func:`read_records_window` needs, of those in ``names``.

    Raises
    ------
    ValueError
        ``group_by`` is not a column.
    """
    if group_by is not None and group_by not in names:
        raise ValueError(f"group_by column {group_by!r} not found. Available columns: {names}")
    wanted = ["id", "assets"] + [c for c in ("proj:epsg",) if c in names]
    if group_by is not None and group_by not in wanted:
        wanted.append(group_by)
    return wanted + [f"{b}_metadata" for b in dict.fromkeys(bands) if f"{b}_metadata" in names]


@dataclass
class WindowPlan:
    """A ``read_window`` planned from the records' rows alone (no I/O): the output grid, each
    id's table row, the output CRS, one source per (record, band) with data on the grid, each
    record's output slot, the number of slots, the stack's dtype and each plane's fill."""

    grid: MergeGrid
    rows: list[int]
    out_crs: Any
    sources: list[_Source]
    slot_of: list[int]
    n_out: int
    dtype: np.dtype
    fills: np.ndarray


def plan_window(
    table: pa.Table,
    record_ids: list[str],
    bounds: Any,
    res: Any,
    bands: list[str],
    data_source: str,
    target_crs: int | None,
    group_by: str | None,
) -> WindowPlan:
    """Plan :func:`read_records_window` (same arguments; raises its ``ValueError``s)."""
    grid = MergeGrid.parse(bounds, res)
    rows = record_rows(table, record_ids)
    epsgs = (
        table.column("proj:epsg").to_pylist()
        if "proj:epsg" in table.column_names
        else [None] * table.num_rows
    )
    out_crs = output_crs([epsgs[r] for r in rows], target_crs)
    sources = plan_sources(
        table, rows, record_ids, bands, data_source, epsgs, target_crs, out_crs, grid
    )
    slot_of, n_out = output_slots(table, rows, group_by)
    dtype = output_dtype(sources, len(bands))
    fills = first_fills(sources, slot_of, n_out, len(bands))
    return WindowPlan(grid, rows, out_crs, sources, slot_of, n_out, dtype, fills)


def read_records_window(
    table: pa.Table,
    *,
    record_ids: list[str],
    bounds: Any,
    res: Any,
    bands: list[str],
    data_source: str,
    target_crs: int | None = None,
    max_concurrent: int = 50,
    group_by: str | None = None,
    progress: bool = False,
    backend: Any = None,
    plane_fills: np.ndarray | None = None,
) -> np.ndarray:
    """Read ``bands`` of ``record_ids`` on the grid of ``bounds`` at ``res`` (see module doc).

    ``table`` holds the records (columns of :func:`window_columns`); ``record_ids`` gives the
    output order. Returns ``[N, C, H, W]``: N = records or groups of ``group_by`` values
    (first-appearance order; first record of a group wins where it has data). ``backend`` is
    any resolved ``backend=`` value (None: default routing). ``plane_fills`` (``[N, C]``)
    overrides the value of each output plane where no record has data (default: the fill of
    the plane's first record, or 0 when no record covers the grid); a chunk of a larger grid
    passes the larger grid's fills, so that its pixels equal the larger read's.

    Raises
    ------
    ValueError
        Unknown ids, bad bounds/res, records in several CRS without ``target_crs``.
    """
    plan = plan_window(table, record_ids, bounds, res, bands, data_source, target_crs, group_by)
    grid, rows, out_crs, plans = plan.grid, plan.rows, plan.out_crs, plan.sources
    slot_of, n_out, dtype = plan.slot_of, plan.n_out, plan.dtype
    options = io_options(backend, max_concurrent=max(1, int(max_concurrent)))
    height, width = grid.shape
    out = np.empty((n_out, len(bands), height, width), dtype=dtype)
    if plane_fills is None:
        plane_fills = plan.fills
    targets = _direct_targets(plans, slot_of, len(bands), dtype)
    with TileProgress(progress, "Reading windows") as bar:
        if targets is not None:
            _read_into(
                table, rows, bands, plans, targets, out, plane_fills, options, bar.callback()
            )
            return out
        crops = _read_sources(table, rows, bands, plans, options, bar.callback())
    members: dict[tuple[int, int], list[tuple[_Source, np.ndarray]]] = {}
    for p, crop in zip(plans, crops, strict=True):
        members.setdefault((slot_of[p.slot], p.band), []).append((p, crop))
    for o in range(n_out):
        for b in range(len(bands)):
            out[o, b] = _mosaic(members.get((o, b), []), grid, out_crs, plane_fills[o, b])
    return out


def output_dtype(plans: list[Any], n_bands: int) -> np.dtype:
    """The stack's dtype: every band's planned dtypes promoted together (uint8 when none)."""
    return np.result_type(
        *[
            np.result_type(*[p.dtype for p in plans if p.band == b] or [np.uint8])
            for b in range(n_bands)
        ]
    )


def first_fills(plans: list[Any], slot_of: list[int], n_out: int, n_bands: int) -> np.ndarray:
    """``[n_out, n_bands]`` (object): each output plane's fill where no record has data, the
    fill of its first planned source, else 0."""
    fills = np.zeros((n_out, n_bands), dtype=object)
    seen: set[tuple[int, int]] = set()
    for p in plans:
        plane = (slot_of[p.slot], p.band)
        if plane not in seen:
            seen.add(plane)
            fills[plane] = p.fill
    return fills


def record_rows(table: pa.Table, record_ids: list[str]) -> list[int]:
    """The table row of each id (its first row when repeated).

    Raises
    ------
    ValueError
        An id is not in the table.
    """
    row_of: dict[str, int] = {}
    for row, rid in enumerate(table.column("id").to_pylist()):
        row_of.setdefault(str(rid), row)
    missing = [i for i in record_ids if i not in row_of]
    if missing:
        raise ValueError(f"Record id(s) not found in the collection: {missing}")
    return [row_of[i] for i in record_ids]


def output_crs(epsgs: list[Any], target_crs: int | None) -> Any:
    """``target_crs``, else the records' one CRS (None when unknown).

    Raises
    ------
    ValueError
        The records span several CRSs and no ``target_crs`` is given.
    """
    record_crs = {e for e in epsgs if e is not None}
    if target_crs is None and len(record_crs) > 1:
        raise ValueError(
            f"Records span several CRS {sorted(record_crs)}; pass target_crs=... to read them "
            "onto one grid."
        )
    return target_crs if target_crs is not None else next(iter(record_crs), None)


def plan_sources(
    table: pa.Table,
    rows: list[int],
    ids: list[str],
    bands: list[str],
    data_source: str,
    epsgs: list[Any],
    target_crs: int | None,
    out_crs: Any,
    grid: MergeGrid,
) -> list[_Source]:
    """One :class:`_Source` per (record, band) with data on the grid, in slot/band order."""
    assets = table.column("assets").to_pylist()
    metas = {
        c: planning_dicts(table.column(c))
        for c in (f"{b}_metadata" for b in dict.fromkeys(bands))
        if c in table.column_names
    }
    plans: list[_Source] = []
    for slot, r in enumerate(rows):
        if target_crs is not None and epsgs[r] is None:
            raise ValueError(
                f"Record {ids[slot]!r} has no CRS (proj:epsg), so it cannot be reprojected "
                f"to EPSG:{target_crs}."
            )
        record_assets = dict(assets[r] or {})
        for band_pos, band in enumerate(bands):
            meta = metas[f"{band}_metadata"][r] if f"{band}_metadata" in metas else None
            src = _plan_source(
                slot, band_pos, band, ids[slot], record_assets, meta, data_source, epsgs[r],
                out_crs, grid,
            )  # fmt: skip
            if src is not None:
                plans.append(src)
    return plans


def _read_sources(
    table: pa.Table,
    rows: list[int],
    bands: list[str],
    plans: list[_Source],
    options: dict[str, Any],
    progress: Any,
) -> list[np.ndarray]:
    """The window of every planned source, read in one call into the Rust core."""
    from rasteret.read import engine

    if not plans:
        return []
    by_band = {b: table.column(f"{band}_metadata").combine_chunks() for b, band in enumerate(bands)}
    layouts = pa.concat_arrays([by_band[p.band].take(pa.array([rows[p.slot]])) for p in plans])
    return engine.read_flat(
        [p.url for p in plans],
        layouts,
        [p.band_index for p in plans],
        [p.window for p in plans],
        [p.dtype for p in plans],
        [p.fill for p in plans],
        options=options,
        progress=progress,
    )


def _direct_targets(
    plans: list[_Source], slot_of: list[int], n_bands: int, dtype: np.dtype
) -> list[int] | None:
    """The output plane (``slot * n_bands + band``) of each source when every source lies on
    the grid in the output dtype and no two share a plane: they can be read straight into the
    output. None otherwise (mosaics, resampling, warps)."""
    targets = [slot_of[p.slot] * n_bands + p.band for p in plans]
    if len(set(targets)) != len(targets):
        return None
    if not all(p.aligned and p.dtype == dtype for p in plans):
        return None
    return targets


def _read_into(
    table: pa.Table,
    rows: list[int],
    bands: list[str],
    plans: list[_Source],
    targets: list[int],
    out: np.ndarray,
    plane_fills: np.ndarray,
    options: dict[str, Any],
    progress: Any,
) -> None:
    """Read every source into its plane of ``out`` in one call (see :func:`_direct_targets`);
    a plane no source covers, or the part of a window outside its image, holds the fill."""
    from rasteret.read import engine

    planes = out.reshape(-1, *out.shape[2:])
    covered = set(targets)
    for k, fill in enumerate(plane_fills.reshape(-1)):
        if k not in covered:
            planes[k] = fill
    for p, k in zip(plans, targets, strict=True):
        col0, row0, width, height = p.window
        if col0 < 0 or row0 < 0 or col0 + width > p.width or row0 + height > p.height:
            planes[k] = p.fill
    if not plans:
        return
    columns = [table.column(f"{band}_metadata").combine_chunks() for band in bands]
    if len({c.type for c in columns}) == 1:  # every band's layouts behind one dictionary
        keys = pa.array([p.band * table.num_rows + rows[p.slot] for p in plans], pa.int32())
        layouts = pa.DictionaryArray.from_arrays(keys, pa.concat_arrays(columns))
    else:
        layouts = pa.concat_arrays([columns[p.band].take(pa.array([rows[p.slot]])) for p in plans])
    engine.read_column_into(
        [p.url for p in plans],
        layouts,
        np.array([p.window for p in plans], dtype=np.int64),
        planes,
        slots=np.array(targets, dtype=np.int64),
        band_index=np.array([p.band_index for p in plans], dtype=np.int32),
        options=options,
        progress=progress,
    )


def output_slots(table: pa.Table, rows: list[int], group_by: str | None) -> tuple[list[int], int]:
    """The output slot of each record and the number of slots: one per record, or one per
    ``group_by`` value in first-appearance order."""
    if group_by is None:
        return list(range(len(rows))), len(rows)
    values = table.column(group_by).to_pylist()
    keys: dict[Any, int] = {}
    slots = [keys.setdefault(_key(values[r]), len(keys)) for r in rows]
    return slots, len(keys)


def _key(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _mosaic(
    group: list[tuple[_Source, np.ndarray]], grid: MergeGrid, out_crs: Any, fill: Any
) -> np.ndarray:
    """One (slot, band) on the grid: records in order, the first with data wins."""
    if not group:
        return np.full(grid.shape, fill)
    sources = [s for s, _ in group]
    crops = [c for _, c in group]
    if len(group) == 1 and sources[0].aligned:
        # one source on the grid: the read already holds the fill outside the image, and its
        # nodata pixels equal the fill (``aligned`` requires it)
        return crops[0]
    if all(s.aligned for s in sources):
        out = np.full(grid.shape, fill, dtype=sources[0].dtype)
        todo = np.ones(grid.shape, dtype=bool)
        for s, c in group:
            take = todo & _valid(s, c)
            out[take] = c[take]
            todo &= ~take
        return out
    if all(same_crs(s.crs, out_crs) for s in sources):
        return _merge(sources, crops, grid)
    out = np.full(grid.shape, fill, dtype=sources[0].dtype)
    todo = np.ones(grid.shape, dtype=bool)
    for s, c in group:
        if same_crs(s.crs, out_crs):
            warped = _merge([s], [c], grid)
        else:
            warped = _warp(s, c, grid, out_crs, fill)
        has = ~np.isnan(warped) if isinstance(fill, float) and math.isnan(fill) else warped != fill
        take = todo & has
        out[take] = warped[take]
        todo &= ~take
    return out
