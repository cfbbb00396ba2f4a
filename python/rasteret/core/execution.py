"""Collection-level polygon reads: NumPy stacks, GeoDataFrames and xarray Datasets
(API contract §2.9–2.11), built on :mod:`rasteret.read.aoi`."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np

from rasteret.read.aoi import AoiRead, AoiReadResult, read_aoi

logger = logging.getLogger(__name__)

__all__ = ["get_collection_gdf", "get_collection_numpy", "get_collection_xarray"]


def _read(collection: Any, geometries: Any, bands: list[str], **kw: Any) -> AoiReadResult:
    from rasteret._backends import implicit_backend
    from rasteret.read.progress import resolve_progress

    subset_keys = ("cloud_cover_lt", "date_range", "bbox", "geometries", "split", "split_column")
    filters = {k: kw.pop(k) for k in subset_keys if k in kw}
    kw["progress"] = resolve_progress(kw.get("progress"))
    source = kw.get("data_source") or getattr(collection, "data_source", None) or ""
    backend = implicit_backend(kw.pop("backend", None), kw.pop("cloud_config", None), source)
    return read_aoi(collection, geometries, bands, filters=filters, backend=backend, **kw)


def get_collection_numpy(collection: Any, geometries: Any, bands: list[str], **kw: Any) -> Any:
    """``[N, H, W]`` (one band) or ``[N, C, H, W]`` arrays of every (record, geometry)."""
    unique = list(dict.fromkeys(bands))
    result = _read(collection, geometries, unique, **kw)
    per_band: dict[str, list[np.ndarray]] = {b: [] for b in unique}
    for r in result.reads:
        per_band[r.band].append(r.data)
    stacks = []
    reference = None
    counts = {b: len(v) for b, v in per_band.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"Inconsistent sample count for band(s): {counts}")
    for band in bands:
        arrays = per_band[band]
        if not arrays:
            raise ValueError(f"No data resolved for band '{band}'.")
        shapes = sorted({a.shape for a in arrays})
        if len(shapes) > 1:
            raise ValueError(
                f"Ragged shapes for band '{band}': {shapes}. Use get_gdf() when variable output "
                "shapes are expected."
            )
        stack = np.stack(arrays)
        if reference is None:
            reference = stack.shape
        elif stack.shape != reference:
            raise ValueError(
                f"Band '{band}' shape {stack.shape} does not match reference shape {reference}"
            )
        stacks.append(stack)
    return stacks[0] if len(stacks) == 1 else np.stack(stacks, axis=1)


def _output_geometries(result: AoiReadResult, target_crs: Any) -> tuple[np.ndarray, Any]:
    from rasteret.read.aoi import _reproject_geometry

    geoms = result.plan.geometries
    crs = result.plan.crs
    if target_crs is not None and crs is not None and target_crs != crs:
        geoms = np.array([_reproject_geometry(g, crs, target_crs) for g in geoms], dtype=object)
        crs = target_crs
    return geoms, crs


def get_collection_gdf(collection: Any, geometries: Any, bands: list[str], **kw: Any) -> Any:
    """One GeoDataFrame row per (record, geometry, band) with the pixel array and transform."""
    import geopandas as gpd
    import pandas as pd

    target_crs = kw.get("target_crs")
    result = _read(collection, geometries, bands, **kw)
    geoms, crs = _output_geometries(result, target_crs)
    crs_text = None if crs is None else (f"EPSG:{crs}" if isinstance(crs, int) else crs)
    meta = result.plan.metadata
    if meta is not None:
        outputs = {
            "record_id",
            "datetime",
            "cloud_cover",
            "collection",
            "geometry",
            "band",
            "data",
            "transform",
        }
        if "geometry_id" in meta.column_names:
            raise ValueError(
                "Input metadata column 'geometry_id' collides with Rasteret's output column; "
                "rename it before reading."
            )
        clash = sorted(outputs & set(meta.column_names))
        if clash:
            raise ValueError(
                f"Input metadata columns collide with Rasteret output columns: {clash}"
            )
    rows = {
        "record_id": [r.record_id for r in result.reads],
        "datetime": [r.datetime for r in result.reads],
        "cloud_cover": [r.cloud_cover for r in result.reads],
        "collection": [r.collection for r in result.reads],
        "geometry_id": [r.geometry_index + 1 for r in result.reads],
        "band": [r.band for r in result.reads],
        "data": [r.data for r in result.reads],
        "transform": [r.transform for r in result.reads],
    }
    frame = pd.DataFrame(rows)
    geometry = [geoms[r.geometry_index] for r in result.reads]
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=crs_text)
    gdf = gdf[
        [
            "record_id",
            "datetime",
            "cloud_cover",
            "collection",
            "geometry_id",
            "geometry",
            "band",
            "data",
            "transform",
        ]
    ]
    if meta is not None and meta.num_columns:
        extra = meta.to_pandas()
        extra["geometry_id"] = np.arange(1, len(extra) + 1)
        gdf = gdf.merge(extra, on="geometry_id", how="left")
        gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs_text)
    return gdf


def _spatial_ref_attrs(crs: Any, transform: Any) -> dict[str, Any]:
    from pyproj import CRS

    c = CRS.from_epsg(crs) if isinstance(crs, int) else CRS.from_user_input(crs)
    attrs = dict(c.to_cf())
    attrs["crs_wkt"] = c.to_wkt("WKT2_2019")
    attrs["projjson"] = c.to_json()
    t = transform
    attrs["GeoTransform"] = f"{t.c} {t.a} {t.b} {t.f} {t.d} {t.e}"
    return attrs


def _dataset_for(reads: list[AoiRead], crs: Any) -> Any:
    import xarray as xr

    first = reads[0]
    arrays = {}
    for r in reads:
        h, w = r.data.shape
        t = r.transform
        x = t.c + (np.arange(w) + 0.5) * t.a
        y = t.f + (np.arange(h) + 0.5) * t.e
        da = xr.DataArray(r.data, dims=("y", "x"), coords={"x": x, "y": y}, name=r.band)
        da.attrs["_FillValue"] = r.nodata
        da = da.assign_coords(spatial_ref=xr.DataArray(0, attrs=_spatial_ref_attrs(crs, t)))
        da.encoding["grid_mapping"] = "spatial_ref"
        arrays[r.band] = da
    ds = xr.merge(list(arrays.values()), compat="override", join="outer", combine_attrs="drop")
    ds = ds.assign_coords(
        spatial_ref=xr.DataArray(0, attrs=_spatial_ref_attrs(crs, first.transform))
    )
    when = first.datetime
    if when is not None and getattr(when, "tzinfo", None) is not None:
        when = when.replace(tzinfo=None)
    ds = ds.expand_dims(geometry=[first.geometry_index + 1])
    ds = ds.expand_dims(
        time=[np.datetime64(when, "ns") if when is not None else np.datetime64("NaT")]
    )
    for name, da in arrays.items():
        ds[name].attrs.update(da.attrs)
        ds[name].encoding["grid_mapping"] = "spatial_ref"
    ds.attrs.update(
        {
            "crs": crs if isinstance(crs, int) else str(crs),
            "geometry_id": first.geometry_index + 1,
            "record_id": first.record_id,
            "datetime": str(first.datetime),
            "cloud_cover": first.cloud_cover if first.cloud_cover is not None else 0,
            "collection": first.collection or "",
        }
    )
    return ds


def _combine_first(datasets: list[Any]) -> Any:
    """Earlier datasets win; integer variables keep their dtype and ``_FillValue``.

    When every variable is integer and all arrays of a variable share one ``_FillValue``, the
    datasets are outer-aligned with that fill (no NaN, so no float promotion) and a later
    dataset only fills pixels where the earlier ones hold the fill value. Otherwise chained
    ``Dataset.combine_first`` (which may promote to float with NaN).
    """
    import xarray as xr

    names = list(dict.fromkeys(n for ds in datasets for n in ds.data_vars))
    fills: dict[str, Any] = {}
    keep = True
    for name in names:
        arrays = [ds[name] for ds in datasets if name in ds.data_vars]
        values = {a.attrs.get("_FillValue") for a in arrays}
        if len(values) != 1 or not all(np.issubdtype(a.dtype, np.integer) for a in arrays):
            keep = False
            break
        fills[name] = values.pop()
    if not keep or any(v is None for v in fills.values()):
        out = datasets[0]
        for ds in datasets[1:]:
            out = out.combine_first(ds)
        return out
    aligned = xr.align(*datasets, join="outer", fill_value=fills)
    out = aligned[0].copy()
    for ds in aligned[1:]:
        for name in names:
            if name not in ds.data_vars:
                continue
            if name not in out.data_vars:
                out[name] = ds[name]
                continue
            attrs = dict(out[name].attrs)
            encoding = dict(out[name].encoding)
            merged = out[name].where(out[name] != fills[name], ds[name])
            out[name] = merged.astype(np.result_type(out[name].dtype, ds[name].dtype))
            out[name].attrs.update(attrs)
            out[name].encoding.update(encoding)
    return out


def get_collection_xarray(
    collection: Any,
    geometries: Any,
    bands: list[str],
    *,
    xr_combine: str = "combine_first",
    **kw: Any,
) -> Any:
    """An xarray Dataset with one variable per band, dims ``(time, geometry, y, x)``."""
    import xarray as xr

    if xr_combine not in ("combine_first", "merge", "merge_override"):
        raise ValueError(
            f"Unknown xr_combine strategy '{xr_combine}'. Use 'combine_first', 'merge', or "
            "'merge_override'."
        )
    if kw.get("target_crs") is None:
        epsgs = collection.epsg
        if len(epsgs) > 1:
            counts = Counter(
                v
                for v in collection.to_table(columns=["proj:epsg"]).column("proj:epsg").to_pylist()
                if v is not None
            )
            chosen = counts.most_common(1)[0][0]
            logger.warning(
                "Query spans %d CRS zones %s; auto-reprojecting to EPSG:%d. Pass target_crs= "
                "explicitly to override.",
                len(epsgs),
                epsgs,
                chosen,
            )
            kw["target_crs"] = chosen
    result = _read(collection, geometries, bands, **kw)
    groups: dict[tuple[int, int], list[AoiRead]] = {}
    for r in result.reads:
        groups.setdefault((r.record_index, r.geometry_index), []).append(r)
    datasets = [
        _dataset_for(g, g[0].crs if g[0].crs is not None else 4326) for g in groups.values()
    ]
    if xr_combine == "merge":
        out = xr.merge(datasets, join="outer")
    elif xr_combine == "merge_override":
        out = xr.merge(datasets, join="outer", compat="override")
    else:
        out = _combine_first(datasets)
    if "time" in out.dims:
        out = out.sortby("time")
    t = datasets[0][bands[0]].coords["spatial_ref"].attrs.get("GeoTransform", "")
    parts = t.split()
    if len(parts) == 6 and "y" in out.dims:
        out = out.sortby("y", ascending=float(parts[5]) > 0)
    return out
