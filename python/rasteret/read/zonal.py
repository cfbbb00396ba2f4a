"""Zonal statistics over records: count, sum, mean, min, max and std of the pixels each
polygon covers, per (geometry, record, band), reduced in the Rust core as tiles are decoded.

The result equals ``rasterstats.zonal_stats`` on the same file and band: the polygon is
rasterized (GDAL's rules, pixel centres or ``all_touched``) on the grid of its bounds
window (floor starts, ceil stops, as rasterstats reads it), and a pixel counts when it is
burnt, lies inside the image, is not NaN, does not equal the nodata value (the file's, or
``nodata=``) and is valid in the file's internal mask. ``std`` is the population standard
deviation (``ddof=0``). A row whose polygon covers no valid pixel has ``count`` 0 and null
statistics. Unlike rasterstats on a file without nodata, pixels outside the image never
count (rasterstats reads them as 0 there).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import BandResolutionError, ReadFailedError
from rasteret.geo.geometry import to_shapely, transform_geometry
from rasteret.read.aoi import read_failure
from rasteret.read.band_source import band_layout
from rasteret.read.grid import normalize_transform
from rasteret.records.bands import unresolved_band

__all__ = ["STATS", "check_stats", "zonal_columns", "zonal_stats"]

#: The statistics a zonal read computes, in their output order.
STATS = ("count", "sum", "mean", "min", "max", "std")

#: A window wider/taller than its image by more than this many pixels is cut to the image
#: before rasterizing (bounding the mask of a polygon far larger than the raster).
_MAX_OVERHANG = 4096


def check_stats(stats: str | Sequence[str]) -> list[str]:
    """``stats`` as a list of known statistic names (a single name or a space-separated
    string is accepted, as rasterstats does).

    Raises
    ------
    ValueError
        An unknown name (the message lists the valid ones), or no name at all.
    """
    names = stats.split() if isinstance(stats, str) else list(stats)
    unknown = [s for s in names if s not in STATS]
    if unknown or not names:
        raise ValueError(
            f"Unknown statistic(s) {unknown}; valid names are {list(STATS)}"
            if unknown
            else f"No statistic asked for; valid names are {list(STATS)}"
        )
    return list(dict.fromkeys(names))


def zonal_columns(names: list[str], bands: list[str]) -> list[str]:
    """The record columns :func:`zonal_stats` reads, of those in ``names``."""
    wanted = ["id", "assets"] + [c for c in ("datetime", "proj:epsg") if c in names]
    metadata = [f"{b}_metadata" for b in dict.fromkeys(bands) if f"{b}_metadata" in names]
    return wanted + metadata


class _Rows:
    """The plan rows of one call, gathered per (record, band) as arrays."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.urls: list[str] = []
        self.columns: dict[str, int] = {}  # metadata column name -> slot

    def add(self, **arrays: Any) -> None:
        self.parts.append({k: np.asarray(v) for k, v in arrays.items()})

    def stacked(self) -> dict[str, np.ndarray]:
        keys = self.parts[0].keys() if self.parts else ()
        return {k: np.concatenate([p[k] for p in self.parts]) for k in keys}


def _in_record_crs(shapes: np.ndarray, geometry_crs: Any, epsg: Any, rid: Any) -> np.ndarray:
    """The geometries in the CRS of a record (unchanged without a CRS on either side)."""
    if geometry_crs is None:
        return shapes
    if epsg is None:
        if geometry_crs == 4326:
            raise ValueError(
                "Record CRS is missing (proj:epsg) so Rasteret cannot transform the WGS84 "
                f"query geometries into the raster CRS (record_id={rid!r})."
            )
        return shapes
    return transform_geometry(shapes, geometry_crs, int(epsg))


def _windows(
    bounds: np.ndarray, meta: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """Per geometry ``(col_off, row_off, width, height)`` of its bounds window (as
    rasterstats computes it: floor starts, ceil stops), whether it overlaps the image, and
    the image transform ``(a, c, e, f)``."""
    a, c, e, f = normalize_transform(meta["transform"])
    width, height = int(meta["image_width"]), int(meta["image_height"])
    with np.errstate(invalid="ignore"):
        xs = (bounds[:, [0, 2]] - c) / a
        ys = (bounds[:, [1, 3]] - f) / e
        col0, col1 = np.floor(xs.min(axis=1)), np.ceil(xs.max(axis=1))
        row0, row1 = np.floor(ys.min(axis=1)), np.ceil(ys.max(axis=1))
    finite = np.isfinite(bounds).all(axis=1)
    col0, col1, row0, row1 = (
        np.where(finite, v, 0).astype(np.int64) for v in (col0, col1, row0, row1)
    )
    overlaps = finite & (col0 < width) & (col1 > 0) & (row0 < height) & (row1 > 0)
    # a window overhanging its image by far is cut to the image (bounded masks)
    far = (col1 - col0 > width + _MAX_OVERHANG) | (row1 - row0 > height + _MAX_OVERHANG)
    col0 = np.where(far, np.maximum(col0, 0), col0)
    row0 = np.where(far, np.maximum(row0, 0), row0)
    col1 = np.where(far, np.minimum(col1, width), col1)
    row1 = np.where(far, np.minimum(row1, height), row1)
    windows = np.stack([col0, row0, col1 - col0, row1 - row0], axis=1)
    return windows, overlaps, (a, c, e, f)


def _band_layout(
    record: int,
    band: str,
    rid: Any,
    assets: dict[str, Any],
    metas: dict[str, list[Any]],
    source: str,
) -> tuple[str, str, int, dict[str, Any]]:
    """``(metadata column, url, band index, metadata)`` of ``band`` in a record (one with a
    geotransform)."""
    column, url, band_index, meta = band_layout(record, band, rid, assets, metas, source)
    if meta.get("transform") is None:
        raise unresolved_band(band, rid, assets, source)
    return column, url, int(band_index or 0), meta


def _plan(
    table: pa.Table,
    shapes: np.ndarray,
    geometry_crs: Any,
    bands: list[str],
    source: str,
    nodata: float | None,
) -> tuple[_Rows, list[bytes], dict[int, list[BaseException]]]:
    """Every (geometry, record, band) plan row whose window overlaps the image, the WKB of
    the geometries in each record CRS, and per record the errors that stop it."""
    import shapely

    ids = table.column("id").to_pylist()
    assets = table.column("assets").to_pylist()
    names = table.column_names
    epsgs = table.column("proj:epsg").to_pylist() if "proj:epsg" in names else [None] * len(ids)
    metas = {c: table.column(c).to_pylist() for c in names if c.endswith("_metadata")}
    present = np.array([s is not None and not s.is_empty for s in shapes], dtype=bool)
    empty = shapely.Polygon()
    rows, wkb, errors = _Rows(), [], {}
    variants: dict[Any, tuple[int, np.ndarray]] = {}  # record CRS -> (WKB base, bounds)
    for i, rid in enumerate(ids):
        record_assets = dict(assets[i] or {})
        try:
            if epsgs[i] not in variants:
                moved = _in_record_crs(shapes, geometry_crs, epsgs[i], rid)
                filled = np.where(present, moved, empty)
                variants[epsgs[i]] = (len(wkb), shapely.bounds(filled))
                wkb.extend(shapely.to_wkb(filled, output_dimension=2).tolist())
        except ValueError as exc:
            errors.setdefault(i, []).append(exc)
            continue
        base, bounds = variants[epsgs[i]]
        for b, band in enumerate(bands):
            try:
                column, url, band_index, meta = _band_layout(
                    i, band, rid, record_assets, metas, source
                )
            except BandResolutionError as exc:
                errors.setdefault(i, []).append(exc)
                continue
            windows, overlaps, (a, c, e, f) = _windows(bounds, meta)
            keep = np.flatnonzero(overlaps & present)
            if not len(keep):
                continue
            win = windows[keep]
            slot = rows.columns.setdefault(column, len(rows.columns))
            value = meta.get("nodata") if nodata is None else nodata
            rows.add(
                record=np.full(len(keep), i),
                band=np.full(len(keep), b),
                url=np.full(len(keep), len(rows.urls)),
                layout=np.full(len(keep), slot),
                band_index=np.full(len(keep), band_index),
                geometry=keep,
                wkb=base + keep,
                window=win,
                transform=np.column_stack(
                    [
                        np.full(len(keep), a),
                        np.zeros(len(keep)),
                        c + win[:, 0] * a,
                        np.zeros(len(keep)),
                        np.full(len(keep), e),
                        f + win[:, 1] * e,
                    ]
                ),
                nodata=np.full(len(keep), np.nan if value is None else float(value)),
                has_nodata=np.full(len(keep), value is not None),
                has_mask=np.full(len(keep), meta.get("mask") is not None),
            )
            rows.urls.append(url)
    return rows, wkb, errors


def _layout_column(table: pa.Table, rows: _Rows, slot: np.ndarray, record: np.ndarray) -> Any:
    """The plan's ``layout`` column: a dictionary over the metadata columns it uses."""
    names = sorted(rows.columns, key=rows.columns.__getitem__)
    parts = [pa.concat_arrays(table.column(n).chunks) for n in names]
    if len({p.type for p in parts}) > 1:
        raise ValueError("bands of one read have differently typed metadata columns")
    starts = np.cumsum([0] + [len(p) for p in parts])[:-1]
    indices = pa.array(starts[slot] + record, pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.concat_arrays(parts))


def _plan_batch(urls: list[str], layout: Any, cols: dict[str, np.ndarray]) -> pa.RecordBatch:
    """The read columns of a core plan (output offsets unused by zonal reads)."""
    n = len(cols["window"])
    win = cols["window"]
    zeros = pa.array(np.zeros(n, dtype=np.int64))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(np.asarray(urls, dtype=object)[cols["url"]], pa.string()),
            layout,
            pa.array(cols["band_index"].astype(np.int32)),
            *(pa.array(win[:, k].astype(np.int64)) for k in range(4)),
            zeros,
            zeros,
        ],
        names=[
            "url",
            "layout",
            "band_index",
            "col_off",
            "row_off",
            "width",
            "height",
            "out_offset",
            "out_row_stride",
        ],
    )


def _mask_plan(table: pa.Table, rows: _Rows, cols: dict[str, np.ndarray], urls: Any) -> Any:
    """The internal-mask windows of the rows whose file has one (None when none has)."""
    picked = np.flatnonzero(cols["has_mask"])
    if not len(picked):
        return None
    names = sorted(rows.columns, key=rows.columns.__getitem__)
    masks = [pa.concat_arrays(table.column(n).chunks).field("mask") for n in names]
    starts = np.cumsum([0] + [len(m) for m in masks])[:-1]
    indices = starts[cols["layout"][picked]] + cols["record"][picked]
    layout = pa.concat_arrays(masks).take(pa.array(indices))
    sub = {k: v[picked] for k, v in cols.items()}
    sub["band_index"] = np.zeros(len(picked), dtype=np.int32)
    batch = _plan_batch(urls, pa.concat_arrays([layout]), sub)
    return batch.append_column("row", pa.array(picked.astype(np.int64)))


def zonal_stats(
    table: pa.Table,
    plan: Any,
    bands: list[str],
    *,
    data_source: str,
    stats: list[str],
    all_touched: bool,
    nodata: float | None,
    options: dict[str, Any],
    id_column: str | None = None,
    tuning: dict[str, int] | None = None,
) -> pa.Table:
    """One row per (geometry, record, band) whose window overlaps the record's image:
    ``geometry_index`` (position in the input), the ``id_column`` values of a tabular input,
    ``record_id``, ``datetime`` (when the records have it), ``band``, then ``stats``.

    ``table`` holds the records (the columns of :func:`zonal_columns`), ``plan`` the input
    plan (``rasteret.core.aoi.GeometryInputPlan``); ``options`` is the core's I/O options
    dict; ``tuning`` may set the core's ``strip_bytes`` / ``batch_bytes``.

    Raises
    ------
    ValueError
        No record could be read (the message names the first failure, with its URL).

    Warns
    -----
    RuntimeWarning
        Some records failed (their rows are left out; the message names the first).
    """
    from rasteret._sigint import interruptible
    from rasteret.read import engine

    shapes = to_shapely(plan.geometries)
    rows, wkb, errors = _plan(table, shapes, plan.geometry_crs, bands, data_source, nodata)
    cols = rows.stacked()
    ids = table.column("id").to_pylist()
    if cols:
        order = np.lexsort(
            (
                cols["band"],
                cols["geometry"],
                cols["window"][:, 0],
                cols["window"][:, 1],
                cols["record"],
            )
        )
        cols = {k: v[order] for k, v in cols.items()}
        layout = _layout_column(table, rows, cols["layout"], cols["record"])
        batch = _plan_batch(rows.urls, layout, cols)
        t = cols["transform"]
        for k, name in enumerate("abcdef"):
            batch = batch.append_column(name, pa.array(t[:, k], pa.float64()))
        batch = batch.append_column("geometry", pa.array(cols["wkb"].astype(np.int64)))
        nd = pa.array(cols["nodata"], pa.float64(), mask=~cols["has_nodata"])
        batch = batch.append_column("nodata", nd)
        batch = engine.with_byte_order(batch, options)
        masks = _mask_plan(table, rows, cols, rows.urls)
        with interruptible():
            result, report = engine.zonal_stats(
                batch,
                wkb,
                mask_plan=None if masks is None else engine.with_byte_order(masks, options),
                all_touched=all_touched,
                options=options,
                **(tuning or {}),
            )
        failures = engine.window_errors(report)
    else:
        result, failures = None, {}
    urls = np.asarray(rows.urls, dtype=object)
    for row, exc in sorted(failures.items()):
        rec = int(cols["record"][row])
        band = bands[int(cols["band"][row])]
        url = str(urls[cols["url"][row]])
        errors.setdefault(rec, []).append(read_failure(exc, band, str(ids[rec]), url))
    keep = np.ones(len(cols.get("record", [])), dtype=bool)
    keep[list(failures)] = False
    out = _output(table, plan, cols, keep, result, bands, stats, id_column)
    _report(ids, errors, out.num_rows)
    return out


def _output(
    table: pa.Table,
    plan: Any,
    cols: dict[str, np.ndarray],
    keep: np.ndarray,
    result: pa.RecordBatch | None,
    bands: list[str],
    stats: list[str],
    id_column: str | None,
) -> pa.Table:
    """The result table, rows ordered by geometry, record, band."""
    picked = np.flatnonzero(keep)
    if len(picked):
        sub = {k: cols[k][picked] for k in ("geometry", "record", "band")}
        order = np.lexsort((sub["band"], sub["record"], sub["geometry"]))
        picked = picked[order]
    geometry = cols["geometry"][picked] if cols else np.zeros(0, dtype=np.int64)
    record = cols["record"][picked] if cols else np.zeros(0, dtype=np.int64)
    band = cols["band"][picked] if cols else np.zeros(0, dtype=np.int64)
    out: dict[str, Any] = {"geometry_index": pa.array(geometry.astype(np.int64))}
    if id_column is not None:
        source = plan.table if plan.table is not None else None
        if source is None or id_column not in source.column_names:
            raise ValueError(f"id_column {id_column!r} is not a column of the geometries table")
        out[id_column] = source.column(id_column).take(pa.array(geometry.astype(np.int64)))
    out["record_id"] = table.column("id").take(pa.array(record.astype(np.int64))).cast(pa.string())
    if "datetime" in table.column_names:
        out["datetime"] = table.column("datetime").take(pa.array(record.astype(np.int64)))
    out["band"] = pa.array(np.asarray(bands, dtype=object)[band] if len(band) else [], pa.string())
    taken = None if result is None else result.take(pa.array(picked.astype(np.int64)))
    for name in stats:
        if taken is None:
            out[name] = pa.array([], pa.int64() if name == "count" else pa.float64())
        else:
            out[name] = taken.column(name)
    return pa.table(out)


def _report(ids: list[Any], errors: dict[int, list[BaseException]], produced: int) -> None:
    """Warn about failed records, or raise when nothing could be read because of them."""
    if not errors:
        return
    first_record = min(errors)
    first = errors[first_record][0]
    count = sum(len(v) for v in errors.values())
    if produced:
        warnings.warn(
            f"Some records failed to load ({count} failure(s)); first failure in record "
            f"'{ids[first_record]}': {first}",
            RuntimeWarning,
            stacklevel=4,
        )
        return
    raise ReadFailedError(
        f"No valid data found. {len(errors)} record(s) failed; first failure in record "
        f"'{ids[first_record]}': {first}"
    ) from first
