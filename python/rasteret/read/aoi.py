"""Polygon-AOI reads over a collection: plan every (record, geometry, band) window, read them
all through the Rust core in one call per memory budget, then mask like ``rasterio.mask``.

The result equals ``rasterio.mask.mask(crop=True, filled=True)``: window =
``geometry_window`` (floor/ceil, no tolerance) clipped to the raster, mask =
``geometry_mask(all_touched=...)`` (GDAL's rules, reimplemented in the Rust core), fill =
nodata or 0 in the native dtype; a geometry that covers its whole window masks nothing.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import (
    BandResolutionError,
    CogReadError,
    ReadFailedError,
    UnsupportedGeometryError,
)
from rasteret.geo.geometry import to_shapely, transform_geometry
from rasteret.read.band_source import BandSource, band_source
from rasteret.read.grid import geometry_window, window_transform
from rasteret.read.layouts import layout_column, planning_dicts
from rasteret.read.mask import window_masks
from rasteret.read.progress import TileProgress

logger = logging.getLogger(__name__)

#: Output bytes handed to the Rust core per call; larger requests are streamed in chunks.
OUTPUT_BUDGET_BYTES = 256 * 1024 * 1024


@dataclass
class AoiRead:
    """One (record, geometry, band) result: a 2-D array in the native dtype."""

    record_index: int
    record_id: str
    datetime: Any
    cloud_cover: float | None
    collection: str | None
    crs: int | str | None
    geometry_index: int
    band: str
    data: np.ndarray
    transform: Any  # affine.Affine
    nodata: Any


@dataclass
class _Job:
    record: int
    geometry_index: int
    band: str
    url: str
    band_index: int
    window: tuple[int, int, int, int]
    transform: tuple[float, float, float, float]
    dtype: np.dtype
    fill: Any
    geometry: Any  # in the record CRS
    has_mask: bool = False  # the file has an internal (GDAL) transparency mask
    # a part of a planned window (a lazy read's chunk): the whole window's transform,
    # height and width, and this part's row and column offsets in it; its geometry mask is
    # that part of the whole window's mask
    mask_window: tuple[tuple[float, float, float, float], int, int, int, int] | None = None


class AoiReadResult:
    """All results of one call, plus the inputs needed to shape the outputs."""

    def __init__(self, reads: list[AoiRead], plan: Any, output_crs: Any) -> None:
        self.reads = reads
        self.plan = plan
        self.output_crs = output_crs


def aoi_columns(names: list[str], bands: list[str]) -> list[str]:
    """The record columns :func:`read_aoi` reads, of those in ``names``."""
    wanted = ["id", "assets"] + [
        c for c in ("datetime", "eo:cloud_cover", "collection", "proj:epsg") if c in names
    ]
    return wanted + [f"{b}_metadata" for b in bands if f"{b}_metadata" in names]


def read_aoi(
    table: pa.Table,
    plan: Any,
    bands: list[str],
    *,
    data_source: str,
    target_crs: int | None,
    all_touched: bool,
    max_concurrent: int,
    backend: Any = None,
    progress: bool = False,
    record_ids: list[str | None] | None = None,
    copy_arrays: bool = True,
) -> AoiReadResult:
    """Plan, read and mask every (record of ``table``, geometry of ``plan``, band) window.

    ``table`` holds the records of the query (the columns of :func:`aoi_columns`); ``plan``
    is the AOI input plan (``rasteret.core.aoi.GeometryInputPlan``: GeoArrow ``geometries``
    and their ``geometry_crs``);
    ``data_source`` resolves band names; ``backend`` is any ``backend=`` value (None: default
    routing of the Rust core). With ``record_ids`` (one record id per geometry), geometry
    ``k`` is read from record ``record_ids[k]`` only, and the reads follow geometry order.
    Without ``copy_arrays``, each result is a view into the buffer its chunk was read into
    (for a caller that copies them into its own output at once).
    """
    from rasteret._backends import io_options

    meta_cols = [f"{b}_metadata" for b in bands if f"{b}_metadata" in table.column_names]
    jobs, errors = plan_jobs(table, plan, bands, data_source, meta_cols, record_ids)
    options = io_options(backend, max_concurrent=max_concurrent)
    with TileProgress(progress, "Reading AOIs") as bar:
        reads, failed = execute_jobs(table, jobs, bands, all_touched, options, bar, copy_arrays)
    errors.update(failed)
    reads = reproject_reads(reads, target_crs)
    if record_ids is not None:
        band_order = {b: n for n, b in enumerate(bands)}
        reads.sort(key=lambda r: (r.geometry_index, band_order[r.band]))
    report_failures(table, reads, errors)
    output_crs = target_crs if target_crs is not None else _common_crs(reads)
    return AoiReadResult(reads, plan, output_crs)


def _common_crs(reads: list[AoiRead]) -> Any:
    codes = {r.crs for r in reads}
    return codes.pop() if len(codes) == 1 else None


def plan_jobs(
    table: pa.Table,
    plan: Any,
    bands: list[str],
    source: str,
    meta_cols: list[str],
    record_ids: list[str | None] | None = None,
) -> tuple[list[_Job], dict[int, list[BaseException]]]:
    ids = table.column("id").to_pylist()
    assets = table.column("assets").to_pylist()
    epsgs = (
        table.column("proj:epsg").to_pylist()
        if "proj:epsg" in table.column_names
        else [None] * len(ids)
    )
    metas = {c: planning_dicts(table.column(c)) for c in meta_cols}
    shapes = to_shapely(plan.geometries)
    in_crs: dict[tuple[int, Any], Any] = {}  # (geometry, record CRS) -> geometry in that CRS
    jobs: list[_Job] = []
    errors: dict[int, list[BaseException]] = {}
    every = range(len(shapes))
    paired: dict[Any, list[int]] = {}
    for k, rid in enumerate(record_ids or []):
        paired.setdefault(rid, []).append(k)
    sources: dict[str, BandSource | None | BaseException] = {}
    for i, rid in enumerate(ids):
        record_assets = dict(assets[i] or {})
        epsg = epsgs[i]
        sources.clear()  # (band) -> this record's band source, or why it has none
        for k in every if record_ids is None else paired.get(str(rid), []):
            geom = shapes[k]
            if geom is None or geom.is_empty:  # a null/empty AOI covers no pixel
                continue
            try:
                in_record_crs = in_crs.get((k, epsg))
                if in_record_crs is None:
                    in_record_crs = _geometry_for_record(geom, plan.geometry_crs, epsg, rid)
                    if epsg is not None:
                        in_crs[(k, epsg)] = in_record_crs
            except (ValueError, UnsupportedGeometryError) as exc:
                errors.setdefault(i, []).append(exc)
                continue
            bounds = in_record_crs.bounds
            placed: dict[Any, Any] = {}  # the bands of a record mostly share one grid
            for band in bands:
                if band not in sources:
                    try:
                        sources[band] = band_source(i, band, rid, record_assets, metas, source)
                    except (BandResolutionError, ValueError, NotImplementedError) as exc:
                        sources[band] = exc
                src = sources[band]
                if isinstance(src, BaseException):
                    errors.setdefault(i, []).append(src)
                    continue
                job = _job_for(i, k, band, src, in_record_crs, bounds, placed)
                if job is not None:
                    jobs.append(job)
    return jobs, errors


def _geometry_for_record(geom: Any, geom_crs: Any, epsg: int | None, rid: str) -> Any:
    if geom_crs is None:
        return geom
    if epsg is None:
        minx, miny, maxx, maxy = geom.bounds
        if geom_crs == 4326 and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
            raise ValueError(
                f"Record CRS is missing (proj:epsg) so Rasteret cannot transform the WGS84 "
                f"query geometry into the raster CRS (record_id={rid!r})."
            )
        return geom
    return transform_geometry(geom, geom_crs, int(epsg))


def _job_for(
    i: int,
    k: int,
    band: str,
    src: BandSource | None,
    geom: Any,
    bounds: tuple[float, float, float, float],
    placed: dict[Any, Any],
) -> _Job | None:
    """The window of geometry ``k`` (of ``bounds``) in (record ``i``, ``band``); None when it
    misses it. ``placed`` keeps the window and its transform per grid, for the other bands."""
    if src is None:
        return None
    grid = (src.transform, src.width, src.height)
    if grid not in placed:
        window = geometry_window(bounds, src.transform, src.width, src.height)
        placed[grid] = None if window is None else (
            window, window_transform(src.transform, window[0], window[1])
        )  # fmt: skip
    if placed[grid] is None:
        return None
    window, transform = placed[grid]
    return _Job(
        record=i,
        geometry_index=k,
        band=band,
        url=src.url,
        band_index=src.band_index,
        window=window,
        transform=transform,
        dtype=src.dtype,
        fill=src.fill,
        has_mask=src.has_mask,
        geometry=geom,
    )


def _run_jobs(
    table: pa.Table,
    jobs: list[_Job],
    options: dict[str, Any],
    bar: TileProgress,
    failures: dict[int, BaseException],
    tile_cache: Any = None,
) -> list[np.ndarray]:
    """Read every job's window in one call; failed windows go to ``failures`` (job index)."""
    from rasteret.read import engine as _read

    return _read.read_flat(
        [j.url for j in jobs],
        layout_column(table, [(j.band, j.record) for j in jobs]),
        [j.band_index for j in jobs],
        [j.window for j in jobs],
        [j.dtype for j in jobs],
        [j.fill for j in jobs],
        options=options,
        progress=bar.callback(),
        failures=failures,
        tile_cache=tile_cache,
    )


def _apply_internal_masks(
    table: pa.Table,
    jobs: list[_Job],
    arrays: dict[int, np.ndarray],
    options: dict[str, Any],
    errors: dict[int, list[BaseException]],
) -> None:
    """Set pixels the file's internal mask marks invalid to the fill value (as GDAL does);
    a job whose mask cannot be read is dropped from ``arrays`` and its failure recorded."""
    from rasteret.read import engine as _read

    masked = [j for j in jobs if j.has_mask and id(j) in arrays]
    if not masked:
        return
    ids = table.column("id").to_pylist()
    by_band: dict[str, list[_Job]] = {}
    for j in masked:
        by_band.setdefault(j.band, []).append(j)
    for band, group in by_band.items():
        column = table.column(f"{band}_metadata").combine_chunks()
        layouts = column.field("mask").take(pa.array([j.record for j in group]))
        failures: dict[int, BaseException] = {}
        masks = _read.read_flat(
            [j.url for j in group],
            layouts,
            [0] * len(group),
            [j.window for j in group],
            [np.dtype("uint8")] * len(group),
            [255] * len(group),
            options=options,
            failures=failures,
        )
        for k, (j, m) in enumerate(zip(group, masks, strict=True)):
            if k in failures:
                del arrays[id(j)]
                errors.setdefault(j.record, []).append(_wrap(failures[k], j, ids))
            else:
                arrays[id(j)][m == 0] = j.fill


def _chunks(jobs: list[_Job]) -> list[list[_Job]]:
    out: list[list[_Job]] = []
    current: list[_Job] = []
    size = 0
    for j in jobs:
        nbytes = j.window[2] * j.window[3] * j.dtype.itemsize
        if current and size + nbytes > OUTPUT_BUDGET_BYTES:
            out.append(current)
            current, size = [], 0
        current.append(j)
        size += nbytes
    if current:
        out.append(current)
    return out


def execute_jobs(
    table: pa.Table,
    jobs: list[_Job],
    bands: list[str],
    all_touched: bool,
    options: dict[str, Any],
    bar: TileProgress,
    copy_arrays: bool = True,
    tile_cache: Any = None,
) -> tuple[list[AoiRead], dict[int, list[BaseException]]]:
    """Read ``jobs`` (from :func:`plan_jobs`), masked: the reads and each record's errors.
    With ``tile_cache`` (:class:`rasteret.read.engine.TileCache`) decoded tiles are reused
    and kept: a lazy cube's neighbouring chunks on one worker decode a shared tile once."""
    from affine import Affine

    ids = table.column("id").to_pylist()

    def column(name: str) -> list[Any]:
        return table.column(name).to_pylist() if name in table.column_names else [None] * len(ids)

    datetimes, clouds = column("datetime"), column("eo:cloud_cover")
    collections, epsgs = column("collection"), column("proj:epsg")
    arrays: dict[int, np.ndarray] = {}
    errors: dict[int, list[BaseException]] = {}
    for chunk in _chunks(jobs):
        _read_chunk(table, chunk, options, bar, ids, arrays, errors, tile_cache)
    try:
        _apply_internal_masks(table, jobs, arrays, options, errors)
    except (OSError, RuntimeError, ValueError) as exc:
        for j in jobs:
            if j.has_mask and arrays.pop(id(j), None) is not None:
                errors.setdefault(j.record, []).append(_wrap(exc, j, ids))
    masks = _masks([j for j in jobs if id(j) in arrays], all_touched)
    reads: list[AoiRead] = []
    band_order = {b: n for n, b in enumerate(bands)}
    for j in sorted(jobs, key=lambda j: (j.record, j.geometry_index, band_order[j.band])):
        arr = arrays.get(id(j))
        if arr is None:
            continue
        a, c, e, f = j.transform
        affine = Affine(a, 0.0, c, 0.0, e, f)
        mask = masks[_mask_key(j)]
        data = np.array(arr, copy=True) if copy_arrays else arr
        if mask is not None:  # None: the geometry covers the whole window
            data[~mask] = j.fill
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
                data=data,
                transform=affine,
                nodata=j.fill,
            )
        )
    return reads, errors


def _mask_key(job: _Job) -> tuple[Any, ...]:
    """The bands of one (record, geometry) read share its window, hence one mask."""
    return (job.record, job.geometry_index, job.window, job.transform)


def _masks(jobs: list[_Job], all_touched: bool) -> dict[tuple[Any, ...], np.ndarray | None]:
    """The mask of each distinct job window, rasterized in one call (None: nothing to mask)."""
    unique: dict[tuple[Any, ...], _Job] = {}
    for j in jobs:
        unique.setdefault(_mask_key(j), j)
    owners = list(unique.values())
    grids = [_mask_grid(j) for j in owners]
    a_c_e_f, shapes, parts = zip(*grids, strict=True) if grids else ((), (), ())
    masks = window_masks(
        [j.geometry for j in owners],
        [(a, 0.0, c, 0.0, e, f) for a, c, e, f in a_c_e_f],
        list(shapes),
        all_touched=all_touched,
        windows=list(parts),
    )
    return dict(zip(unique, masks, strict=True))


def _mask_grid(
    job: _Job,
) -> tuple[tuple[float, ...], tuple[int, int], tuple[int, int, int, int]]:
    """The grid a job's mask is computed on (transform, shape) and the part the job reads."""
    height, width = job.window[3], job.window[2]
    if job.mask_window is None:
        return job.transform, (height, width), (0, 0, height, width)
    transform, whole_h, whole_w, row_off, col_off = job.mask_window
    return transform, (whole_h, whole_w), (row_off, col_off, height, width)


def _read_chunk(
    table: pa.Table,
    chunk: list[_Job],
    options: dict[str, Any],
    bar: TileProgress,
    ids: list[Any],
    arrays: dict[int, np.ndarray],
    errors: dict[int, list[BaseException]],
    tile_cache: Any = None,
) -> None:
    """Read ``chunk`` in one call into ``arrays`` (by job id). A record with a failed window
    contributes no array of this chunk and one error (its first failed window); an error
    of the whole call (a bad plan) fails every record of the chunk."""
    failures: dict[int, BaseException] = {}
    try:
        got = _run_jobs(table, chunk, options, bar, failures, tile_cache)
    except (OSError, RuntimeError, ValueError, NotImplementedError) as exc:
        got = []
        failures = dict.fromkeys(range(len(chunk)), exc)
    failed: dict[int, tuple[BaseException, _Job]] = {}
    for k in sorted(failures):
        failed.setdefault(chunk[k].record, (failures[k], chunk[k]))
    for record, (cause, job) in failed.items():
        errors.setdefault(record, []).append(_wrap(cause, job, ids))
    for j, arr in zip(chunk, got, strict=True):
        if j.record not in failed:
            arrays[id(j)] = arr


def _wrap(exc: BaseException, job: _Job, ids: list[Any]) -> RuntimeError:
    return read_failure(exc, job.band, str(ids[job.record]), job.url)


def read_failure(exc: BaseException, band: str, record_id: str, url: str) -> RuntimeError:
    """A ``CogReadError`` (``RuntimeError``) naming band, record and URL, chained to ``exc``."""
    hint = ""
    if url.startswith("s3://") or "amazonaws.com" in url:
        hint = " Check AWS credentials / requester-pays settings."
    elif url.startswith("gs://") or "storage.googleapis.com" in url:
        hint = " Check GCP credentials."
    elif "blob.core.windows.net" in url or url.startswith(("az://", "abfs://")):
        hint = " Azure Blob URLs need SAS signing."
    err = CogReadError(
        f"COG read failed for band '{band}' in record '{record_id}' from '{url}': {exc}.{hint}"
    )
    err.__cause__ = exc
    return err


def reprojected_grid(read: AoiRead, target_crs: int) -> tuple[Any, tuple[int, int]]:
    """The ``(transform, (height, width))`` a read is warped onto in ``target_crs`` (from
    its grid alone, so a lazy read can lay out its cube before any pixel). The bands of a
    (record, geometry) pair share it: it is computed once per grid."""
    h, w = read.data.shape
    return _warped_grid(int(read.crs), int(target_crs), w, h, tuple(read.transform)[:6])


@lru_cache(maxsize=4096)
def _warped_grid(
    src_crs: int, dst_crs: int, width: int, height: int, transform: tuple[float, ...]
) -> tuple[Any, tuple[int, int]]:
    from affine import Affine

    from rasteret.read.grid import array_bounds, compute_dst_grid_from_src

    bounds = array_bounds(height, width, Affine(*transform))
    dst_transform, shape = compute_dst_grid_from_src(src_crs, dst_crs, width, height, bounds)
    return dst_transform, (int(shape[0]), int(shape[1]))


def needs_reprojection(read: AoiRead, target_crs: int | None) -> bool:
    """Whether ``read`` is warped to ``target_crs`` (its record is in another CRS)."""
    return target_crs is not None and read.crs is not None and int(read.crs) != int(target_crs)


def reproject_reads(reads: list[AoiRead], target_crs: int | None) -> list[AoiRead]:
    """``reads`` warped to ``target_crs`` where their record is in another CRS (bilinear,
    fill pixels kept out of the interpolation; float output, NaN where nothing maps)."""
    if target_crs is None:
        return reads
    from rasteret.read.grid import reproject_array

    out = []
    for r in reads:
        if not needs_reprojection(r, target_crs):
            out.append(r)
            continue
        transform, shape = reprojected_grid(r, target_crs)
        # fill pixels (outside the AOI, or nodata) must not blend into their neighbours
        if r.nodata is None:
            source = r.data
        elif isinstance(r.nodata, float | np.floating) and np.isnan(r.nodata):
            source = np.ma.masked_invalid(r.data)
        else:
            source = np.ma.masked_equal(r.data, r.nodata)
        data = reproject_array(source, r.transform, int(r.crs), int(target_crs), transform, shape)
        out.append(
            AoiRead(
                **{
                    **r.__dict__,
                    "data": data,
                    "transform": transform,
                    "crs": int(target_crs),
                    "nodata": np.nan,
                }
            )
        )
    return out


def report_failures(
    table: pa.Table, reads: list[AoiRead], errors: dict[int, list[BaseException]]
) -> None:
    ids = table.column("id").to_pylist()
    for exc_list in errors.values():
        for exc in exc_list:
            if isinstance(exc, UnsupportedGeometryError):
                raise exc
    if not errors:
        if not reads:
            raise ValueError("No valid data found")
        return
    first_record = min(errors)
    first = errors[first_record][0]
    if reads:
        warnings.warn(
            f"Some records failed to load ({sum(len(v) for v in errors.values())} failure(s)); "
            f"first failure in record '{ids[first_record]}': {first}",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    raise ReadFailedError(
        f"No valid data found. {len(errors)} record(s) failed; first failure in record "
        f"'{ids[first_record]}': {first}"
    ) from first
