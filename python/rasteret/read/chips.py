"""Read TorchGeo chips (:class:`ChipReader`): every (record, band) window of a chip, or of a
whole DataLoader batch of chips, in one Rust call, then placement on the query grid with
``rasterio.merge.merge`` semantics.

Aligned reads (same resolution, whole-pixel offsets, north-up, single CRS) are read straight
onto the query grid, boundless, which is exactly what ``merge`` produces for them. Others read
the covering window and go through :func:`merge_semantic_resample_single_source` (single CRS)
or ``rasterio.warp.reproject`` (multi-CRS, float32 with NaN).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from rasteret.read import engine as _read
from rasteret.read.chip_sources import BandSource, ChipRecord
from rasteret.read.engine import TileCache
from rasteret.read.grid import (
    TOLERANCE,
    MergeGrid,
    merge_semantic_resample_single_source,
    representable_fill,
    whole,
)

T = TypeVar("T")


class Placed:
    """One (record, band) on the query grid: data and (computed on first use, mosaics only)
    the pixels it validly covers.

    ``exact_fill``: when not None, every pixel of ``data`` outside :attr:`valid` already
    holds this value (an integer read straight onto the grid whose nodata, if any, is the
    fill), so a mosaic of this placement alone is ``data`` itself.
    """

    def __init__(
        self, data: np.ndarray, valid: Callable[[], np.ndarray], exact_fill: Any = None
    ) -> None:
        self.data = data
        self._valid_fn: Callable[[], np.ndarray] | None = valid
        self._valid: np.ndarray | None = None
        self.exact_fill = exact_fill

    @property
    def valid(self) -> np.ndarray:
        if self._valid is None:
            assert self._valid_fn is not None
            self._valid, self._valid_fn = self._valid_fn(), None
        return self._valid


@dataclass
class _Job:
    slot: int  # position in the request list
    record: int  # position in the chip's record list
    band: int
    source: BandSource
    window: tuple[int, int, int, int]
    aligned: bool
    fill: Any


def _plan_job(
    slot: int,
    record: int,
    band: int,
    src: BandSource,
    bbox: tuple[float, float, float, float],
    grid: MergeGrid,
    reproject: bool,
) -> _Job | None:
    """The window to read for one (record, band); None when it misses the raster."""
    a, c, e, f = src.transform
    minx, miny, maxx, maxy = bbox
    fill, _ = representable_fill(src.nodata, src.dtype)
    if not reproject and a > 0 and e < 0:
        col, row = whole((minx - c) / a), whole((maxy - f) / e)
        same_res = abs(a - grid.res[0]) <= TOLERANCE and abs(-e - grid.res[1]) <= TOLERANCE
        if same_res and col is not None and row is not None:
            rows, cols = grid.shape
            if col >= src.width or row >= src.height or col + cols <= 0 or row + rows <= 0:
                return None
            return _Job(slot, record, band, src, (col, row, cols, rows), True, fill)
    cols_f = sorted(((minx - c) / a, (maxx - c) / a))
    rows_f = sorted(((miny - f) / e, (maxy - f) / e))
    pad = 1 if reproject or not (_same(a, grid.res[0]) and _same(-e, grid.res[1])) else 0
    c0 = max(math.floor(cols_f[0] + TOLERANCE) - pad, 0)
    r0 = max(math.floor(rows_f[0] + TOLERANCE) - pad, 0)
    c1 = min(math.ceil(cols_f[1] - TOLERANCE) + pad, src.width)
    r1 = min(math.ceil(rows_f[1] - TOLERANCE) + pad, src.height)
    if c1 <= c0 or r1 <= r0:
        return None
    return _Job(slot, record, band, src, (c0, r0, c1 - c0, r1 - r0), False, fill)


def _same(x: float, y: float) -> bool:
    return abs(abs(x) - abs(y)) <= TOLERANCE


def _source_bbox(bbox: tuple[float, float, float, float], dst: int, src: int) -> Any:
    if dst == src:
        return bbox
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    return transform_bounds(CRS.from_epsg(dst), CRS.from_epsg(src), *bbox, densify_pts=21)


def _plan_chip(
    records: list[ChipRecord],
    bbox: tuple[float, float, float, float],
    grid: MergeGrid,
    epsg: int,
    multi_crs: bool,
    first_slot: int = 0,
) -> list[_Job]:
    """Every (record, band) window one chip reads; slots numbered from ``first_slot``."""
    jobs: list[_Job] = []
    for r, rec in enumerate(records):
        src_bbox = _source_bbox(bbox, epsg, rec.epsg) if multi_crs else bbox
        for b, src in enumerate(rec.bands):
            job = _plan_job(first_slot + len(jobs), r, b, src, src_bbox, grid, multi_crs)
            if job is not None:
                jobs.append(job)
    return jobs


@dataclass
class ChipReader:
    """How one dataset reads chips: output CRS, layout columns, I/O options and caches.

    Windows refer to the plan's layout rows through a dictionary array (no copy of the
    nested tile tables per read; the core parses each distinct layout once). With
    ``tile_cache``, windows are assembled from cached decoded tiles and only missing tiles are
    read.
    """

    epsg: int
    multi_crs: bool
    layouts: pa.Array
    mask_layouts: pa.Array | None
    options: dict[str, Any]
    tile_cache: TileCache | None = None

    def read_chip(
        self,
        records: list[ChipRecord],
        bbox: tuple[float, float, float, float],
        grid: MergeGrid,
    ) -> tuple[dict[tuple[int, int], Placed], list[tuple[int, BaseException]]]:
        """All (record, band) placements of a chip, and the failures ``(record, error)``.

        Every window is read in one call into the Rust core; a record with a window that
        cannot be read (a broken file) is reported as failed and left out, the other records
        are placed.
        """
        jobs = _plan_chip(records, bbox, grid, self.epsg, self.multi_crs)
        arrays, failures = self._read_reporting(jobs)
        return self._place(jobs, arrays, records, grid), failures

    def read_chips(
        self,
        chips: list[tuple[list[ChipRecord], tuple[float, float, float, float], MergeGrid]],
        finish: Callable[[int, dict[tuple[int, int], Placed], list[tuple[int, BaseException]]], T],
    ) -> list[T]:
        """:meth:`read_chip` for several ``(records, bbox, grid)`` chips (a DataLoader batch),
        each result handed to ``finish(chip_index, placed, failures)``; returns what ``finish``
        returned, in chip order.

        The windows of all chips are read in ONE call into the Rust core (tiles they share
        fetched and decoded once, every missing tile in flight at the same time). With a tile
        cache, that call runs on a helper thread while the chips whose tiles are all cached are
        finished, so their work overlaps the round trip. Windows that cannot be read are
        reported per chip and record, as in :meth:`read_chip`.
        """
        plans: list[list[_Job]] = []
        every: list[_Job] = []
        for records, bbox, grid in chips:
            jobs = _plan_chip(records, bbox, grid, self.epsg, self.multi_crs, len(every))
            plans.append(jobs)
            every.extend(jobs)
        if _tiled(every, self.tile_cache) and not any(j.source.mask_row is not None for j in every):
            return self._read_chips_overlapped(chips, plans, every, finish)
        try:
            arrays, failed = self._read(every)
        except (OSError, RuntimeError, ValueError) as exc:
            arrays, failed = {}, dict.fromkeys((j.slot for j in every), exc)
        results = []
        for i, (jobs, (records, _, grid)) in enumerate(zip(plans, chips, strict=True)):
            kept, failures = _drop_failed(jobs, arrays, failed)
            results.append(finish(i, self._place(jobs, kept, records, grid), failures))
        return results

    def _read_chips_overlapped(
        self,
        chips: list[tuple[list[ChipRecord], tuple[float, float, float, float], MergeGrid]],
        plans: list[list[_Job]],
        every: list[_Job],
        finish: Callable[[int, dict[tuple[int, int], Placed], list[tuple[int, BaseException]]], T],
    ) -> list[T]:
        cache: TileCache = self.tile_cache  # type: ignore[assignment]
        # one call reads every window whose tiles are held (no I/O); the others are fetched
        # on a helper thread while the chips read in full are placed
        try:
            held_outs, held = _read.read_held(
                cache,
                [j.source.url for j in every],
                _layout_rows(self.layouts, every),
                [j.source.band_index for j in every],
                [j.window for j in every],
                [j.source.dtype for j in every],
                [j.fill for j in every],
                options=self.options,
            )
        except (OSError, RuntimeError, ValueError):
            held_outs, held = [], [False] * len(every)  # the fetch below reports the error
        cached = [all(held[j.slot] for j in jobs) for jobs in plans]
        fetched = [j for j in every if not held[j.slot]]  # job.slot is its position in every
        fetch_failed: dict[int, BaseException] = {}
        fetch_out: list[list[np.ndarray]] = []

        def fetch_missing() -> None:
            fetch_out.append(_read_cached(fetched, self.layouts, cache, self.options, fetch_failed))

        fetch = _Helper(fetch_missing) if fetched else None
        results: list[Any] = [None] * len(chips)
        arrays = {j.slot: held_outs[j.slot] for j in every if held[j.slot]}
        errors: dict[int, BaseException] = {}

        def place(i: int) -> T:
            kept, failures = _drop_failed(plans[i], arrays, errors)
            return finish(i, self._place(plans[i], kept, chips[i][0], chips[i][2]), failures)

        try:
            for i in range(len(chips)):
                if cached[i]:
                    results[i] = place(i)
            error = fetch.wait() if fetch is not None else None
            if error is not None and not isinstance(error, (OSError, RuntimeError, ValueError)):
                raise error
            if error is not None:
                errors.update(dict.fromkeys((j.slot for j in fetched), error))
            elif fetched:
                arrays.update(_by_slot(fetched, fetch_out[0], fetch_failed))
                errors.update({fetched[k].slot: exc for k, exc in fetch_failed.items()})
            for i in range(len(chips)):
                if not cached[i]:
                    results[i] = place(i)
        except KeyboardInterrupt:
            fetch = None  # Ctrl-C does not wait for the read: the helper ends on its own
            raise
        finally:
            if fetch is not None:
                fetch.wait()  # otherwise no thread is left filling the cache behind
        return results

    def _read_reporting(
        self, jobs: list[_Job]
    ) -> tuple[dict[int, np.ndarray], list[tuple[int, BaseException]]]:
        """:meth:`_read` with failures per record (an error of the whole call fails every
        record): the arrays of records that read in full, and ``(record, error)`` pairs."""
        try:
            arrays, failed = self._read(jobs)
        except (OSError, RuntimeError, ValueError) as exc:
            arrays, failed = {}, dict.fromkeys((j.slot for j in jobs), exc)
        return _drop_failed(jobs, arrays, failed)

    def _read(self, jobs: list[_Job]) -> tuple[dict[int, np.ndarray], dict[int, BaseException]]:
        return _read_jobs(jobs, self.layouts, self.mask_layouts, self.options, self.tile_cache)

    def _place(
        self,
        jobs: list[_Job],
        arrays: dict[int, np.ndarray],
        records: list[ChipRecord],
        grid: MergeGrid,
    ) -> dict[tuple[int, int], Placed]:
        placed: dict[tuple[int, int], Placed] = {}
        for j in jobs:
            arr = arrays.get(j.slot)
            if arr is not None:
                src_epsg = records[j.record].epsg
                placed[(j.record, j.band)] = _place(
                    j, arr, grid, src_epsg, self.epsg, self.multi_crs
                )
        return placed


def _read_jobs(
    jobs: list[_Job],
    layouts: pa.Array,
    mask_layouts: pa.Array | None,
    options: dict[str, Any],
    tile_cache: TileCache | None = None,
) -> tuple[dict[int, np.ndarray], dict[int, BaseException]]:
    """Read every job's window (and internal mask) in one call each: the arrays by slot of
    the windows read, and the exceptions by slot of those that failed."""
    if not jobs:
        return {}, {}

    failed: dict[int, BaseException] = {}  # by position in ``jobs``
    outs = _read_cached(
        jobs,
        layouts,
        tile_cache if _tiled(jobs, tile_cache) else None,
        options,
        failed,
    )
    errors = {jobs[k].slot: exc for k, exc in failed.items()}
    result = _by_slot(jobs, outs, failed)
    masked = [j for j in jobs if j.source.mask_row is not None and j.slot in result]
    if masked and mask_layouts is not None:
        mask_failed: dict[int, BaseException] = {}
        masks = _read.read_flat(
            [j.source.url for j in masked],
            mask_layouts.take(pa.array([j.source.mask_row for j in masked], pa.int64())),
            [0] * len(masked),
            [j.window for j in masked],
            [np.dtype("uint8")] * len(masked),
            [255] * len(masked),
            options=options,
            failures=mask_failed,
        )
        for k, (j, m) in enumerate(zip(masked, masks, strict=True)):
            if k in mask_failed:
                errors[j.slot] = mask_failed[k]
                del result[j.slot]
                continue
            result[j.slot] = result[j.slot].copy()
            result[j.slot][m == 0] = j.fill
    return result, errors


def _drop_failed(
    jobs: list[_Job], arrays: dict[int, np.ndarray], failed: dict[int, BaseException]
) -> tuple[dict[int, np.ndarray], list[tuple[int, BaseException]]]:
    """A record with a failed window is left out whole: the arrays (by slot) of the other
    records, and one ``(record, error)`` per failed record (its first failed window), in
    record order."""
    first: dict[int, BaseException] = {}
    for j in jobs:
        if j.slot in failed:
            first.setdefault(j.record, failed[j.slot])
    kept = {j.slot: arrays[j.slot] for j in jobs if j.slot in arrays and j.record not in first}
    return kept, sorted(first.items(), key=lambda item: item[0])


def _layout_rows(layouts: pa.Array, jobs: list[_Job]) -> pa.Array:
    """The layout column of ``jobs``: a dictionary array over the plan's layouts (nothing is
    copied; the core parses each distinct layout once)."""
    rows = pa.array([j.source.layout_row for j in jobs], pa.int32())
    return pa.DictionaryArray.from_arrays(rows, layouts)


def _tiled(jobs: list[_Job], tile_cache: TileCache | None) -> bool:
    """Whether ``jobs`` can be served through ``tile_cache`` (every source is tiled)."""
    return tile_cache is not None and bool(jobs) and all(j.source.tile_width > 0 for j in jobs)


def _read_cached(
    jobs: list[_Job],
    layouts: pa.Array,
    tile_cache: TileCache | None,
    options: dict[str, Any],
    failed: dict[int, BaseException],
) -> list[np.ndarray]:
    """Every job's window (``layouts``: the plan's layout column, which jobs' ``layout_row``
    index) in one call into the Rust core, through ``tile_cache`` when given. Failures go to
    ``failed`` by position in ``jobs``."""
    if not jobs:
        return []
    return _read.read_flat(
        [j.source.url for j in jobs],
        _layout_rows(layouts, jobs),
        [j.source.band_index for j in jobs],
        [j.window for j in jobs],
        [j.source.dtype for j in jobs],
        [j.fill for j in jobs],
        options=options,
        failures=failed,
        tile_cache=tile_cache,
    )


def _by_slot(
    jobs: list[_Job], outs: list[np.ndarray], failed: dict[int, BaseException]
) -> dict[int, np.ndarray]:
    """The arrays of the jobs that read (``failed`` by position in ``jobs``), by slot."""
    return {j.slot: o for k, (j, o) in enumerate(zip(jobs, outs, strict=True)) if k not in failed}


class _Helper:
    """``fn(*args)`` on a new daemon thread (the Rust core releases the GIL while it reads);
    :meth:`wait` joins it and returns the exception it raised, if any. A thread per call,
    not a pool: nothing to re-create after ``fork``."""

    def __init__(self, fn: Callable[..., object], *args: Any) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(fn, args), name="rasteret-tile-fetch", daemon=True
        )
        self._thread.start()

    def _run(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # handed to the waiting thread
            self._error = exc

    def wait(self) -> BaseException | None:
        while self._thread.is_alive():
            self._thread.join(0.1)  # in slices, so Ctrl-C is handled in between
        return self._error


def _coverage(job: _Job, shape: tuple[int, int]) -> np.ndarray:
    """Grid pixels of an aligned read that lie inside the raster."""
    col, row, cols, rows = job.window
    valid = np.zeros(shape, dtype=bool)
    r0, c0 = max(0, -row), max(0, -col)
    r1, c1 = min(rows, job.source.height - row), min(cols, job.source.width - col)
    if r1 > r0 and c1 > c0:
        valid[r0:r1, c0:c1] = True
    return valid


def _not_nodata(data: np.ndarray, nodata: float | None) -> np.ndarray:
    if data.dtype.kind == "f":
        finite = ~np.isnan(data)
        return finite if nodata is None or math.isnan(nodata) else finite & (data != nodata)
    if nodata is None:
        return np.ones(data.shape, dtype=bool)
    return data != nodata


def _place(
    job: _Job, arr: np.ndarray, grid: MergeGrid, src_epsg: int, epsg: int, multi_crs: bool
) -> Placed:
    from affine import Affine

    src = job.source
    if job.aligned:
        exact = None
        if arr.dtype.kind in "iu" and (src.nodata is None or src.nodata == job.fill):
            exact = job.fill  # outside the raster the reader wrote the fill
        return Placed(arr, lambda: _coverage(job, arr.shape) & _not_nodata(arr, src.nodata), exact)
    a, c, e, f = src.transform
    col, row, _, _ = job.window
    crop_t = Affine(a, 0.0, c + col * a, 0.0, e, f + row * e)
    if multi_crs:
        warped = _reproject(arr, crop_t, src, src_epsg, epsg, grid)
        return Placed(warped, lambda: ~np.isnan(warped))
    resampling = "bilinear" if src.dtype.kind == "f" else "nearest"
    data = merge_semantic_resample_single_source(
        arr,
        src_crop_transform=crop_t,
        src_full_transform=Affine(a, 0.0, c, 0.0, e, f),
        src_full_width=src.width,
        src_full_height=src.height,
        src_crs=src_epsg,
        grid=grid,
        resampling=resampling,
        src_nodata=src.nodata,
    )
    return Placed(data, lambda: _not_nodata(data, src.nodata) & _grid_inside(grid, src))


def _grid_inside(grid: MergeGrid, src: BandSource) -> np.ndarray:
    """Grid pixels ``rasterio.merge.merge`` writes for this raster (its ``win_align`` rule:
    offsets ``floor(x + 0.1)``, lengths ``floor(x + 0.5)``)."""
    a, c, e, f = src.transform
    xs = (c, c + src.width * a)
    ys = (f, f + src.height * e)
    left, bottom, right, top = grid.bounds
    int_w, int_e = max(min(xs), left), min(max(xs), right)
    int_s, int_n = max(min(ys), bottom), min(max(ys), top)
    valid = np.zeros(grid.shape, dtype=bool)
    if int_w >= int_e or int_s >= int_n:
        return valid
    xres, yres = grid.res
    col0 = math.floor((int_w - left) / xres + 0.1)
    row0 = math.floor((top - int_n) / yres + 0.1)
    cols = math.floor((int_e - int_w) / xres + 0.5)
    rows = math.floor((int_n - int_s) / yres + 0.5)
    valid[max(row0, 0) : max(row0 + rows, 0), max(col0, 0) : max(col0 + cols, 0)] = True
    return valid


def _reproject(
    arr: np.ndarray, crop_t: Any, src: BandSource, src_epsg: int, epsg: int, grid: MergeGrid
) -> np.ndarray:
    from rasterio.crs import CRS
    from rasterio.warp import Resampling, reproject

    dtype = arr.dtype if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4 else np.float32
    out = np.full(grid.shape, np.nan, dtype=dtype)
    reproject(
        source=arr.astype(dtype, copy=False),
        destination=out,
        src_transform=crop_t,
        src_crs=CRS.from_epsg(src_epsg),
        src_nodata=src.nodata,
        dst_transform=grid.transform,
        dst_crs=CRS.from_epsg(epsg),
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    return out
