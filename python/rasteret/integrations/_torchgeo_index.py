"""Build the spatiotemporal index and per-record read plan of a TorchGeo dataset.

Everything kept here is plain data (numbers, strings, Arrow arrays): it pickles into
DataLoader workers without any live runtime or connection.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.read.chip_sources import BandSource, ChipRecord
from rasteret.read.grid import normalize_transform
from rasteret.records.bands import asset_url, resolve_asset_key

logger = logging.getLogger(__name__)

_REQUIRED = ("id", "datetime", "assets", "proj:epsg")
_OPTIONAL = ("collection", "start_datetime", "end_datetime")


@dataclass
class IndexPlan:
    """Result of :func:`build_index`."""

    epsg: int
    res: tuple[float, float]
    multi_crs: bool
    records: list[ChipRecord]
    footprints: list[Any]
    datetimes: list[Any]
    layouts: pa.Array
    mask_layouts: pa.Array | None
    data_source: str
    extra: dict[str, Any] = field(default_factory=dict)


def _metadata_column(names: list[str], band: str, data_source: str) -> str | None:
    from rasteret.constants import BandRegistry

    if f"{band}_metadata" in names:
        return f"{band}_metadata"
    mapped = (BandRegistry.get(data_source) if data_source else {}).get(band)
    if mapped and f"{mapped}_metadata" in names:
        return f"{mapped}_metadata"
    return None


def read_table(
    collection: Any, bands: list[str], label_field: str | None
) -> tuple[pa.Table, list[str], str]:
    """The record columns the dataset needs: ``(table, metadata column per band, source)``."""
    from rasteret.records.summary import infer_data_source

    dataset = collection._records_dataset()
    if dataset is None:
        raise ValueError(
            "TorchGeo integration requires a dataset-backed collection scan. "
            "Load or build the collection from Parquet/Arrow records first."
        )
    names = list(dataset.schema.names)
    data_source = collection.data_source or infer_data_source(collection)
    meta_cols = [_metadata_column(names, b, data_source) for b in bands]
    missing = [c for c in _REQUIRED if c not in names]
    missing += [f"{b}_metadata" for b, c in zip(bands, meta_cols, strict=True) if c is None]
    if label_field is not None and label_field not in names:
        missing.append(label_field)
    if missing:
        raise ValueError(f"Collection is missing required columns: {missing}")
    cols = list(_REQUIRED) + [c for c in _OPTIONAL if c in names]
    if label_field is not None and label_field not in cols:
        cols.append(label_field)
    cols += [c for c in dict.fromkeys(meta_cols) if c is not None]
    table = dataset.to_table(columns=cols)
    if table.num_rows == 0:
        raise ValueError("Collection is empty")
    if not data_source and "collection" in table.column_names:
        data_source = next((str(v) for v in table.column("collection").to_pylist() if v), "")
    return table, [c for c in meta_cols if c is not None], data_source


def _choose_crs(epsgs: list[Any], target_crs: int | None) -> tuple[int, list[bool], bool]:
    """``(epsg, keep mask, multi_crs)`` of the records: ``target_crs`` keeps every record
    (reprojected); without it the first record's CRS is the dataset's and records in other
    CRSs are dropped with a warning."""
    known = [int(e) for e in epsgs if e is not None]
    if not known:
        raise ValueError("Collection records are missing 'proj:epsg'")
    if target_crs is not None:
        return int(target_crs), [e is not None for e in epsgs], True
    epsg = known[0]
    keep = [e is not None and int(e) == epsg for e in epsgs]
    dropped = len(epsgs) - sum(keep)
    if dropped:
        zones = len(set(known))
        warnings.warn(
            f"{dropped} of {len(epsgs)} records dropped (CRS != EPSG:{epsg}). Collection "
            f"spans {zones} CRS zones. Pass target_crs= to reproject instead of dropping.",
            UserWarning,
            stacklevel=4,
        )
    if not any(keep):
        raise ValueError(f"No records with EPSG:{epsg}")
    return epsg, keep, False


def _target_res(meta: dict[str, Any], src_epsg: int, dst_epsg: int) -> tuple[float, float]:
    """GDAL's suggested resolution of a raster in ``dst_epsg`` (``calculate_default_transform``)."""
    from rasterio.crs import CRS
    from rasterio.warp import calculate_default_transform

    a, c, e, f = normalize_transform(meta["transform"])
    w, h = int(meta["image_width"]), int(meta["image_height"])
    xs, ys = (c, c + w * a), (f, f + h * e)
    t, _, _ = calculate_default_transform(
        CRS.from_epsg(src_epsg),
        CRS.from_epsg(dst_epsg),
        w,
        h,
        left=min(xs),
        bottom=min(ys),
        right=max(xs),
        top=max(ys),
    )
    return abs(t.a), abs(t.e)


def _same_res(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


def _footprint(meta: dict[str, Any], src_epsg: int, dst_epsg: int) -> Any:
    import shapely

    a, c, e, f = normalize_transform(meta["transform"])
    w, h = int(meta["image_width"]), int(meta["image_height"])
    xs, ys = (c, c + w * a), (f, f + h * e)
    box = shapely.box(min(xs), min(ys), max(xs), max(ys))
    if src_epsg == dst_epsg:
        return box
    from pyproj import Transformer

    tf = Transformer.from_crs(src_epsg, dst_epsg, always_xy=True)
    dense = shapely.segmentize(box, max_segment_length=max(abs(a) * w, abs(e) * h) / 20)
    return shapely.transform(dense, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


def _as_timestamp(value: Any) -> Any:
    import pandas as pd

    return None if value is None else pd.Timestamp(value)


def build_index(
    table: pa.Table,
    meta_cols: list[str],
    bands: list[str],
    *,
    data_source: str,
    label_field: str | None,
    target_crs: int | None,
    allow_resample: bool,
) -> IndexPlan:
    """Resolve CRS, resolution, footprints and per-band sources of every usable record."""
    epsg_values = table.column("proj:epsg").to_pylist()
    epsg, keep, multi = _choose_crs(epsg_values, target_crs)
    ids = table.column("id").to_pylist()
    assets = table.column("assets").to_pylist()
    times = {
        c: table.column(c).to_pylist() if c in table.column_names else [None] * len(ids)
        for c in ("datetime", "start_datetime", "end_datetime")
    }
    labels = table.column(label_field).to_pylist() if label_field else [None] * len(ids)
    col_of = {b: c for b, c in zip(bands, meta_cols, strict=True)}
    metas = {c: table.column(c).to_pylist() for c in dict.fromkeys(meta_cols)}
    res = _first_res(metas, col_of, bands, keep, epsg_values, epsg, multi, allow_resample)

    layout_arrays = {c: table.column(c).combine_chunks() for c in dict.fromkeys(meta_cols)}
    layout_offset: dict[str, int] = {}
    start = 0
    for c, arr in layout_arrays.items():
        layout_offset[c] = start
        start += len(arr)
    records: list[ChipRecord] = []
    footprints: list[Any] = []
    datetimes: list[Any] = []
    skipped: list[str] = []
    off_res = 0
    mask_rows: list[dict[str, Any]] = []
    for i, rid in enumerate(ids):
        if not keep[i]:
            continue
        when = times["datetime"][i] or times["start_datetime"][i] or times["end_datetime"][i]
        first = metas[col_of[bands[0]]][i]
        if when is None or not _usable(first):
            skipped.append(str(rid))
            continue
        src_epsg = int(epsg_values[i])
        sources = _band_sources(
            i, rid, bands, assets[i] or {}, metas, col_of, layout_offset, data_source, mask_rows
        )
        if sources is None:
            skipped.append(str(rid))
            continue
        a, _, e, _ = normalize_transform(first["transform"])
        native = (abs(a), abs(e)) if src_epsg == epsg else _target_res(first, src_epsg, epsg)
        if not _same_res(native, res):
            off_res += 1
        records.append(ChipRecord(str(rid), src_epsg, labels[i], tuple(sources)))
        footprints.append(_footprint(first, src_epsg, epsg))
        datetimes.append(_as_timestamp(when))
    if skipped:
        logger.warning(
            "Skipped %d record(s) without datetime or a usable first-band layout: %s",
            len(skipped),
            skipped[:10],
        )
    if off_res:
        warnings.warn(
            f"{off_res} record(s) have a native resolution different from the dataset "
            f"resolution {res}. Chips for those records will be resampled.",
            UserWarning,
            stacklevel=4,
        )
    if not records:
        raise ValueError(
            "No valid records found for TorchGeo dataset creation. Every record lacks a "
            "datetime or a valid transform/size for the first band."
        )
    layouts = pa.concat_arrays(list(layout_arrays.values()))
    mask_layouts = pa.array(mask_rows) if mask_rows else None
    if mask_layouts is not None:
        mask_type = layout_arrays[meta_cols[0]].type.field("mask").type
        mask_layouts = pa.array(mask_rows, type=mask_type)
    return IndexPlan(
        epsg=epsg,
        res=res,
        multi_crs=multi,
        records=records,
        footprints=footprints,
        datetimes=datetimes,
        layouts=layouts,
        mask_layouts=mask_layouts,
        data_source=data_source,
    )


def _usable(meta: dict[str, Any] | None) -> bool:
    if meta is None or meta.get("transform") is None:
        return False
    if not meta.get("image_width") or not meta.get("image_height"):
        return False
    try:
        normalize_transform(meta["transform"])
    except (TypeError, ValueError):
        return False
    return True


def _first_res(
    metas: dict[str, list[Any]],
    col_of: dict[str, str],
    bands: list[str],
    keep: list[bool],
    epsg_values: list[Any],
    epsg: int,
    multi: bool,
    allow_resample: bool,
) -> tuple[float, float]:
    """Dataset resolution from the first kept record's first band; checks the other bands."""
    first_i = next(
        (i for i, k in enumerate(keep) if k and _usable(metas[col_of[bands[0]]][i])), None
    )
    if first_i is None:
        raise ValueError(
            "No valid records found for TorchGeo dataset creation. Every record lacks a "
            "valid transform/size for the first band."
        )
    meta = metas[col_of[bands[0]]][first_i]
    a, _, e, _ = normalize_transform(meta["transform"])
    native = (abs(a), abs(e))
    src_epsg = int(epsg_values[first_i])
    res = _target_res(meta, src_epsg, epsg) if multi and src_epsg != epsg else native
    for band in bands[1:]:
        other = metas[col_of[band]][first_i]
        if not _usable(other):
            continue
        oa, _, oe, _ = normalize_transform(other["transform"])
        if not _same_res((abs(oa), abs(oe)), native) and not allow_resample:
            raise ValueError(
                "All requested bands must share the same resolution for TorchGeo sampling "
                f"(expected {native}, got {(abs(oa), abs(oe))} for band '{band}'). To opt into "
                "resampling, pass allow_resample=True (chips are then resampled to the "
                "first band's resolution)."
            )
    return float(res[0]), float(res[1])


def _band_sources(
    i: int,
    rid: Any,
    bands: list[str],
    assets: dict[str, Any],
    metas: dict[str, list[Any]],
    col_of: dict[str, str],
    layout_offset: dict[str, int],
    data_source: str,
    mask_rows: list[dict[str, Any]],
) -> list[BandSource] | None:
    out: list[BandSource] = []
    for band in bands:
        meta = metas[col_of[band]][i]
        key = resolve_asset_key(assets, band, data_source)
        url = asset_url(assets.get(key)) if key is not None else None
        if meta is None or url is None or not _usable(meta):
            logger.warning("record %r: band %r has no usable asset/metadata", rid, band)
            return None
        asset = assets.get(key)
        band_index = asset.get("band_index") if isinstance(asset, dict) else None
        mask_row = None
        if meta.get("mask") is not None:
            mask_row = len(mask_rows)
            mask_rows.append(meta["mask"])
        nodata = meta.get("nodata")
        out.append(
            BandSource(
                url=url,
                band_index=int(band_index or 0),
                layout_row=layout_offset[col_of[band]] + i,
                transform=normalize_transform(meta["transform"]),
                width=int(meta["image_width"]),
                height=int(meta["image_height"]),
                dtype=np.dtype(meta["dtype"]),
                nodata=None if nodata is None else float(nodata),
                mask_row=mask_row,
                tile_width=int(meta.get("tile_width") or 0),
                tile_height=int(meta.get("tile_height") or 0),
            )
        )
    return out
