"""Point sampling of a table of records: ``rasterio.sample`` values (floor of the inverse affine)
at every point of every matching record, with an optional nearest-valid-pixel fallback.

Every (point, record, band) sample is a small window read: all of them go to the Rust core in
one call per dtype (layouts dictionary-encoded: each image's layout is parsed once), so a tile
shared by many points is fetched and decoded once.
Planning and output are vectorised (NumPy / Arrow): one segment per (record, band) holds the
arrays of its points, so 100,000 points cost a few array operations, not 100,000 dicts.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import ReadFailedError
from rasteret.geo.geometry import transform_xy
from rasteret.read.grid import normalize_transform
from rasteret.read.progress import TileProgress
from rasteret.records.bands import asset_url, resolve_asset_key

__all__ = ["empty_samples", "point_columns", "sample_records"]

#: the ``return_neighbourhood`` modes
MODES = ("off", "always", "if_center_nodata")


def _ring_cells(r: int) -> list[tuple[int, int]]:
    """(dy, dx) of Chebyshev ring r: top row L->R, bottom row L->R, left col T->B, right col."""
    cells = [(-r, dx) for dx in range(-r, r + 1)]
    cells += [(r, dx) for dx in range(-r, r + 1)]
    cells += [(dy, -r) for dy in range(-r + 1, r)]
    cells += [(dy, r) for dy in range(-r + 1, r)]
    return cells


def _is_nodata(v: np.ndarray, nodata: np.ndarray) -> np.ndarray:
    """``isnan(v) or v == nodata`` elementwise (``nodata`` is NaN where the image has none)."""
    return np.isnan(v) | (v == nodata)


@dataclass
class _Segment:
    """The points one (record, band) samples, as arrays, plus that image's grid."""

    record: int
    band: str
    url: str
    band_index: int
    dtype: np.dtype
    nodata: float  # NaN when the image has none
    transform: tuple[float, float, float, float]  # a, c, e, f
    width: int
    height: int
    points: np.ndarray  # int64 indices into the input points
    cols: np.ndarray  # int64 pixel column of each point
    rows: np.ndarray  # int64 pixel row of each point
    px: np.ndarray  # point x in the record CRS
    py: np.ndarray  # point y in the record CRS


def point_columns(names: list[str], bands: list[str]) -> list[str]:
    """The record columns :func:`sample_records` reads, of those in ``names``."""
    cols = ["id", "assets", "bbox"] + [
        c for c in ("datetime", "collection", "proj:epsg") if c in names
    ]
    return cols + [f"{b}_metadata" for b in bands if f"{b}_metadata" in names]


def sample_records(
    table: pa.Table,
    *,
    x: np.ndarray,
    y: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    crs: int | None,
    bands: list[str],
    data_source: str,
    match: str,
    max_distance_pixels: int,
    return_neighbourhood: str,
    max_concurrent: int,
    progress: bool,
    backend: Any,
    schema: pa.Schema,
) -> pa.Table:
    """Sample ``bands`` at the points ``(x, y)`` (in ``crs``; ``lon``/``lat`` in EPSG:4326) of
    every record of ``table`` (the columns of :func:`point_columns`): ``schema`` rows, one
    per (point, record, band) with a value (``match="latest"``: the newest record only).

    All reads go to the Rust core in one call per dtype. A record whose reads fail is left
    out with a ``RuntimeWarning``.

    Raises
    ------
    ValueError
        Every record failed.
    """
    from rasteret._backends import io_options

    source = data_source
    records = _RecordColumns(table, source)
    segments = _plan_segments(table, records, bands, source, lon, lat, x, y, crs, match)
    radius = int(max_distance_pixels)
    options = io_options(backend, max_concurrent=max(1, int(max_concurrent)))
    parts: list[pa.Table] = []
    failures: list[tuple[int, BaseException]] = []
    groups: dict[tuple[str, str], list[_Segment]] = {}
    for seg in segments:
        groups.setdefault((seg.dtype.str, seg.band), []).append(seg)
    # ONE Rust call per dtype (every band and record together; bands whose metadata columns
    # differ in type are read apart, their layouts cannot share one column); rows are still
    # emitted per (band, dtype) group in plan order
    by_dtype: dict[tuple[str, pa.DataType], list[_Segment]] = {}
    for (dtype_key, band), group in groups.items():
        layout_type = table.schema.field(f"{band}_metadata").type
        by_dtype.setdefault((dtype_key, layout_type), []).extend(group)
    blocks_of: dict[int, np.ndarray] = {}
    with TileProgress(progress, "Sampling points") as bar:
        for same_dtype in by_dtype.values():
            for segs, blocks in _read_segments(table, same_dtype, radius, options, failures, bar):
                start = 0
                for seg in segs:
                    blocks_of[id(seg)] = blocks[start : start + len(seg.points)]
                    start += len(seg.points)
    for group in groups.values():
        ok = [seg for seg in group if id(seg) in blocks_of]
        if not ok:
            continue
        blocks = np.concatenate([blocks_of[id(seg)] for seg in ok])
        parts.append(
            _group_table(ok, blocks, radius, return_neighbourhood, records, x, y, crs, schema)
        )
    if failures:
        n = len(failures)
        record, first = failures[0]
        where = f"first failure in record '{records.ids[record]}': {first}"
        if not parts:
            n_records = len({r for r, _ in failures})
            raise ReadFailedError(
                f"No point samples resolved. {n_records} record(s) failed; {where}"
            ) from first
        warnings.warn(
            f"Some records failed during point sampling ({n} failure(s)); {where}",
            RuntimeWarning,
            stacklevel=4,
        )
    out = pa.concat_tables(parts).cast(schema) if parts else schema.empty_table()
    return out


class _RecordColumns:
    """Per-record values of the output columns, as Python lists (a few per record)."""

    def __init__(self, table: pa.Table, source: str) -> None:
        n = table.num_rows

        def column(name: str) -> list[Any]:
            return table.column(name).to_pylist() if name in table.column_names else [None] * n

        self.ids = [str(v) for v in table.column("id").to_pylist()]
        self.datetimes = column("datetime")
        self.collections = [(c or source) or "" for c in column("collection")]
        self.epsgs = column("proj:epsg")


def _plan_segments(
    table: pa.Table,
    records: _RecordColumns,
    bands: list[str],
    source: str,
    lon: np.ndarray,
    lat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    crs: Any,
    match: str,
) -> list[_Segment]:
    """One segment per (record, band) with the points whose pixel lies in that image.

    ``match="latest"``: records newest first; a (point, band) is taken by the first record
    whose bbox holds the point, whose band metadata is usable and whose image holds the pixel.
    """
    assets = table.column("assets").to_pylist()
    bboxes = table.column("bbox").to_pylist()
    n = len(assets)
    metas = {
        b: _planning_metadata(table.column(f"{b}_metadata"))
        for b in bands
        if f"{b}_metadata" in table.column_names
    }
    no_meta = [None] * n
    order = list(range(n))
    if match == "latest":
        dts = records.datetimes
        order.sort(key=lambda i: (dts[i] is not None, dts[i] or 0), reverse=True)
    taken = {b: np.zeros(len(lon), dtype=bool) for b in bands}
    segments: list[_Segment] = []
    for i in order:
        bb = bboxes[i]
        if not bb:
            continue
        inside = np.nonzero(
            (lon >= bb["xmin"]) & (lon <= bb["xmax"]) & (lat >= bb["ymin"]) & (lat <= bb["ymax"])
        )[0]
        if len(inside) == 0:
            continue
        record_assets = dict(assets[i] or {})
        px, py = transform_xy(x[inside], y[inside], crs, records.epsgs[i])
        for band in bands:
            meta = metas.get(band, no_meta)[i]
            key = resolve_asset_key(record_assets, band, source)
            url = asset_url(record_assets.get(key)) if key else None
            if meta is None or url is None or meta.get("transform") is None:
                continue
            asset = record_assets.get(key)
            band_index = int(asset.get("band_index") or 0) if isinstance(asset, dict) else 0
            a, c, e, f = normalize_transform(meta["transform"])
            cols = np.floor((px - c) / a).astype(np.int64)
            rows = np.floor((py - f) / e).astype(np.int64)
            w, h = int(meta["image_width"]), int(meta["image_height"])
            keep = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
            if match == "latest":
                keep &= ~taken[band][inside]
                taken[band][inside[keep]] = True
            if not keep.any():
                continue
            nodata = meta.get("nodata")
            segments.append(
                _Segment(
                    record=i,
                    band=band,
                    url=url,
                    band_index=band_index,
                    dtype=np.dtype(meta["dtype"]),
                    nodata=math.nan if nodata is None else float(nodata),
                    transform=(a, c, e, f),
                    width=w,
                    height=h,
                    points=inside[keep].astype(np.int64),
                    cols=cols[keep],
                    rows=rows[keep],
                    px=px[keep],
                    py=py[keep],
                )
            )
    return segments


#: The ``{band}_metadata`` fields point planning reads (tile offsets and byte counts, the
#: bulk of the struct, stay in Arrow and go to the Rust core as layouts).
_PLANNING_FIELDS = ("transform", "image_width", "image_height", "dtype", "nodata")


def _planning_metadata(column: pa.ChunkedArray) -> list[dict[str, Any] | None]:
    """Per record, the planning fields of one band's metadata struct (None for null rows)."""
    import pyarrow.compute as pc

    names = {f.name for f in column.type}
    present = [f for f in _PLANNING_FIELDS if f in names]
    values = {f: pc.struct_field(column, f).to_pylist() for f in present}
    valid = column.is_valid().to_pylist()
    return [{f: values[f][i] for f in present} if ok else None for i, ok in enumerate(valid)]


def _read_segments(
    table: pa.Table,
    segments: list[_Segment],
    radius: int,
    options: dict[str, Any],
    failures: list[tuple[int, BaseException]],
    bar: TileProgress,
) -> list[tuple[list[_Segment], np.ndarray]]:
    """Read the ``(2r+1)^2`` block around every sample of ``segments`` (one dtype) in one
    Rust call; returns ``(segments, blocks)`` pairs, blocks in segment then point order.

    A (record, band) segment with a failed window is left out of the result and reported in
    ``failures`` (its record, and the error with id, band and URL); the others still return
    samples. An error of the whole call (a bad plan) fails every segment.
    """
    from rasteret.read import engine as _read

    counts = np.array([len(s.points) for s in segments])
    slot = np.repeat(np.arange(len(segments)), counts)
    columns = {s.band: table.column(f"{s.band}_metadata") for s in segments}
    window_failures: dict[int, BaseException] = {}
    try:
        layouts = pa.concat_arrays(
            [columns[s.band].take(pa.array([s.record])).combine_chunks() for s in segments]
        )
        dtype = segments[0].dtype
        blocks = _read.read_blocks(
            pa.array([s.url for s in segments], pa.string()).take(pa.array(slot)),
            pa.DictionaryArray.from_arrays(pa.array(slot, pa.int32()), layouts),
            np.repeat([s.band_index for s in segments], counts),
            np.concatenate([s.cols for s in segments]) - radius,
            np.concatenate([s.rows for s in segments]) - radius,
            2 * radius + 1,
            dtype,
            np.nan if dtype.kind == "f" else 0,
            options=options,
            progress=bar.callback(),
            failures=window_failures,
        )
    except (OSError, RuntimeError, ValueError, TypeError, pa.ArrowException) as exc:
        failures.extend((seg.record, _wrap(exc, seg, table)) for seg in segments)
        return []
    first_failure: dict[int, BaseException] = {}
    for row in sorted(window_failures):
        first_failure.setdefault(int(slot[row]), window_failures[row])
    if not first_failure:
        return [(segments, blocks)]
    for k, cause in first_failure.items():
        failures.append((segments[k].record, _wrap(cause, segments[k], table)))
    kept = [k for k in range(len(segments)) if k not in first_failure]
    if not kept:
        return []
    return [([segments[k] for k in kept], blocks[np.isin(slot, kept)])]


def _wrap(exc: BaseException, seg: _Segment, table: pa.Table) -> RuntimeError:
    from rasteret.read.aoi import read_failure

    rid = str(table.column("id")[seg.record].as_py())
    return read_failure(exc, seg.band, rid, seg.url)


def _group_table(
    segs: list[_Segment],
    blocks: np.ndarray,
    radius: int,
    mode: str,
    records: _RecordColumns,
    x: np.ndarray,
    y: np.ndarray,
    crs: Any,
    schema: pa.Schema,
) -> pa.Table:
    """The output rows of one read (segment order, then point order)."""
    counts = np.array([len(s.points) for s in segs])
    slot = pa.array(np.repeat(np.arange(len(segs)), counts))
    points = np.concatenate([s.points for s in segs])
    values = blocks.astype(np.float64)
    n = len(points)

    def per_segment(vals: list[Any], typ: pa.DataType) -> pa.Array:
        return pa.array(vals, type=typ).take(slot)

    columns: dict[str, pa.Array] = {
        "point_index": pa.array(points, pa.int64()),
        "point_x": pa.array(x[points], pa.float64()),
        "point_y": pa.array(y[points], pa.float64()),
        "point_crs": pa.array(np.full(n, crs, dtype=np.int32), pa.int32())
        if crs is not None
        else pa.nulls(n, pa.int32()),
        "record_id": per_segment([records.ids[s.record] for s in segs], pa.string()),
        "datetime": per_segment(
            [records.datetimes[s.record] for s in segs], schema.field("datetime").type
        ),
        "collection": per_segment([records.collections[s.record] for s in segs], pa.string()),
        "band": per_segment([s.band for s in segs], pa.string()),
    }
    if radius == 0:
        columns["value"] = pa.array(values[:, 0, 0], pa.float64())
    else:
        value, neighbourhood = _resolve_neighbourhood(segs, counts, values, radius, mode)
        columns["value"] = pa.array(value, pa.float64())
        if neighbourhood is not None:
            columns["neighbourhood_values"] = neighbourhood
    columns["raster_crs"] = per_segment([records.epsgs[s.record] for s in segs], pa.int32())
    names = [name for name in schema.names if name in columns]
    return pa.table([columns[name] for name in names], names=names)


def _resolve_neighbourhood(
    segs: list[_Segment], counts: np.ndarray, block: np.ndarray, r: int, mode: str
) -> tuple[np.ndarray, pa.Array | None]:
    """Nodata fallback (PostGIS ``ST_NearestValue``-style ring scan) and neighbourhood lists.

    ``block`` is ``(n, 2r+1, 2r+1)`` float64 around each sample's centre pixel. Cells outside
    the image become NaN (never candidates). In the first ring with a valid cell, the cell
    nearest to the point (exact distance to the pixel rectangle, in map units) wins; the first
    in ring order wins ties.
    """

    def rep(get: Any) -> np.ndarray:
        return np.repeat(np.array([get(s) for s in segs], dtype=float), counts)

    cols = np.concatenate([s.cols for s in segs])
    rows = np.concatenate([s.rows for s in segs])
    width, height = rep(lambda s: s.width), rep(lambda s: s.height)
    nodata = rep(lambda s: s.nodata)
    offsets = np.arange(-r, r + 1)
    rr = rows[:, None] + offsets
    cc = cols[:, None] + offsets
    row_in = (rr >= 0) & (rr < height[:, None])
    col_in = (cc >= 0) & (cc < width[:, None])
    block[~(row_in[:, :, None] & col_in[:, None, :])] = np.nan
    centre = block[:, r, r]
    centre_nodata = _is_nodata(centre, nodata)
    value = centre.copy()
    todo = np.nonzero(centre_nodata)[0]
    if len(todo):
        a = rep(lambda s: s.transform[0])[todo]
        c = rep(lambda s: s.transform[1])[todo]
        e = rep(lambda s: s.transform[2])[todo]
        f = rep(lambda s: s.transform[3])[todo]
        px = np.concatenate([s.px for s in segs])[todo]
        py = np.concatenate([s.py for s in segs])[todo]
        # point position in pixel units relative to the centre pixel's top-left corner
        fx = ((px - c) / a - cols[todo])[:, None]
        fy = ((py - f) / e - rows[todo])[:, None]
        sub = block[todo]
        nd = nodata[todo][:, None]
        open_ = np.ones(len(todo), dtype=bool)
        for ring in range(1, r + 1):
            cells = np.array(_ring_cells(ring))
            dy, dx = cells[:, 0][None, :], cells[:, 1][None, :]
            vals = sub[:, cells[:, 0] + r, cells[:, 1] + r]
            valid = ~_is_nodata(vals, nd)
            ddx = np.maximum(np.maximum(dx - fx, 0.0), fx - (dx + 1)) * np.abs(a)[:, None]
            ddy = np.maximum(np.maximum(dy - fy, 0.0), fy - (dy + 1)) * np.abs(e)[:, None]
            dist = np.where(valid, ddx * ddx + ddy * ddy, np.inf)
            best = np.argmin(dist, axis=1)
            found = open_ & valid.any(axis=1)
            picked = vals[np.arange(len(todo)), best]
            value[todo[found]] = picked[found]
            open_ &= ~found
            if not open_.any():
                break
    if mode == "off":
        return value, None
    keep = np.ones(len(value), dtype=bool) if mode == "always" else centre_nodata
    size = (2 * r + 1) ** 2
    lengths = np.where(keep, size, 0)
    offsets_arr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    flat = block[keep].reshape(-1)
    lists = pa.ListArray.from_arrays(
        pa.array(offsets_arr, pa.int32()),
        pa.array(flat, pa.float64()),
        type=pa.list_(pa.float64()),
        mask=pa.array(~keep),
    )
    return value, lists


def empty_samples(schema: pa.Schema, meta: pa.Table | None) -> pa.Table:
    """No samples: ``schema`` plus the input table's columns ``meta`` (after its index)."""
    out = schema.empty_table()
    if meta is not None:
        for name in meta.column_names[1:]:  # after its point_index
            out = out.append_column(
                meta.schema.field(name), pa.nulls(0, meta.schema.field(name).type)
            )
    return out
