"""Point sampling over a collection (API contract §2.12, oracle §9.3).

Every (point, record, band) sample is a small window read: all of them go to the Rust core in
one call per band dtype, so a tile shared by many points is fetched and decoded once.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.core.aoi import AUTO_CRS, resolve_geometry_column
from rasteret.core.raster_accessor import asset_url, resolve_asset_key
from rasteret.core.windows import normalize_transform
from rasteret.errors import UnsupportedGeometryError
from rasteret.types import POINT_SAMPLES_NEIGHBORHOOD_SCHEMA, POINT_SAMPLES_SCHEMA

__all__ = ["get_collection_point_samples"]

_XY_PAIRS = (("x", "y"), ("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"))
_MODES = ("off", "always", "if_center_nodata")


def _points_from_input(
    points: Any,
    geometry_column: str | None,
    x_column: str | None,
    y_column: str | None,
    geometry_crs: Any,
) -> tuple[np.ndarray, np.ndarray, Any, pa.Table | None]:
    """``(x, y, crs, metadata table)`` of the input points."""
    import shapely

    from rasteret.core.aoi import _arrow_geometries, _crs_from_user, _field_crs, _single
    from rasteret.core.arrow_interop import as_table_or_none

    table = None
    if not isinstance(points, pa.Array | pa.ChunkedArray):
        table = as_table_or_none(points)
    if table is None:
        if geometry_column or x_column or y_column:
            raise TypeError(
                "geometry_column / x_column / y_column need a tabular (Arrow-native) input"
            )
        if isinstance(points, pa.Array | pa.ChunkedArray):
            geoms = _arrow_geometries(points)
        elif isinstance(points, list | tuple):
            geoms = np.array([_single(p) for p in points], dtype=object)
        else:
            geoms = np.array([_single(points)], dtype=object)
        crs = 4326 if geometry_crs == AUTO_CRS else _crs_from_user(geometry_crs)
        meta = None
    else:
        xy = None
        if geometry_column is None and (x_column or y_column):
            xy = (x_column, y_column)
        elif geometry_column is None:
            try:
                resolve_geometry_column(table, None)
            except TypeError:
                names = set(table.column_names)
                xy = next(((x, y) for x, y in _XY_PAIRS if x in names and y in names), None)
                if xy is None:
                    raise TypeError(
                        "Unsupported table input for point sampling. Provide geometry_column "
                        "(a GeoArrow/WKB point column) or x_column/y_column."
                    ) from None
        if xy is not None:
            missing = [c for c in xy if c is None or c not in table.column_names]
            if missing:
                raise ValueError(f"Missing point coordinate columns: {missing}")
            if geometry_crs == AUTO_CRS:
                raise ValueError(
                    "Tabular Arrow geometry input is missing GeoArrow CRS metadata. Pass "
                    "geometry_crs=... explicitly for x/y columns."
                )
            x = np.asarray(table.column(xy[0]).cast(pa.float64()).to_numpy(), dtype=float)
            y = np.asarray(table.column(xy[1]).cast(pa.float64()).to_numpy(), dtype=float)
            return x, y, _crs_from_user(geometry_crs), table
        col = resolve_geometry_column(table, geometry_column)
        geoms = _arrow_geometries(table.column(col))
        field_crs = _field_crs(table.schema.field(col))
        if geometry_crs == AUTO_CRS:
            if field_crs is None:
                raise ValueError(
                    "Tabular Arrow geometry input is missing GeoArrow CRS metadata. Pass "
                    "geometry_crs=... explicitly, or attach CRS metadata to the geometry field."
                )
            crs = field_crs
        else:
            crs = _crs_from_user(geometry_crs)
        meta = table.drop_columns([col])
    kinds = set(shapely.get_type_id(geoms).tolist()) if len(geoms) else set()
    if kinds - {0}:
        raise UnsupportedGeometryError(
            "Point sampling requires Point geometries. Use get_xarray/get_numpy/get_gdf for "
            "Polygon/MultiPolygon AOIs."
        )
    coords = shapely.get_coordinates(geoms)
    return coords[:, 0].astype(float), coords[:, 1].astype(float), crs, meta


def _transform_xy(x: np.ndarray, y: np.ndarray, src: Any, dst: Any) -> tuple[Any, Any]:
    if src is None or dst is None or src == dst:
        return x, y
    from rasteret.core.aoi_read import _transformer

    return _transformer(src, dst).transform(x, y)


def _ring_cells(r: int) -> list[tuple[int, int]]:
    """(dy, dx) of Chebyshev ring r: top row L->R, bottom row L->R, left col T->B, right col."""
    cells = [(-r, dx) for dx in range(-r, r + 1)]
    cells += [(r, dx) for dx in range(-r, r + 1)]
    cells += [(dy, -r) for dy in range(-r + 1, r)]
    cells += [(dy, r) for dy in range(-r + 1, r)]
    return cells


def _is_nodata(v: float, nodata: float | None) -> bool:
    if math.isnan(v):
        return True
    return nodata is not None and not math.isnan(nodata) and v == nodata


def get_collection_point_samples(
    collection: Any,
    points: Any,
    bands: list[str],
    *,
    geometry_column: str | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    max_concurrent: int = 50,
    data_source: str | None = None,
    geometry_crs: Any = AUTO_CRS,
    match: str = "all",
    max_distance_pixels: int = 0,
    return_neighbourhood: str = "off",
    filters: dict[str, Any] | None = None,
    backend: Any = None,
) -> pa.Table:
    """Sample every band at every point of every matching record (see the API contract).

    ``backend`` is any ``backend=`` value, already resolved (None: default routing).
    """
    from rasteret.core import _read
    from rasteret.core.utils import infer_data_source

    available = collection.bands
    missing = [b for b in bands if b not in available]
    if available and missing:
        raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")
    if match not in ("all", "latest"):
        raise ValueError("match must be either 'all' or 'latest'")
    if max_distance_pixels < 0:
        raise ValueError("max_distance_pixels must be >= 0")
    if return_neighbourhood not in _MODES:
        raise ValueError(f"return_neighbourhood must be one of {list(_MODES)}")
    if return_neighbourhood != "off" and max_distance_pixels <= 0:
        raise ValueError("max_distance_pixels must be > 0 when return_neighbourhood is enabled")
    x, y, crs, meta = _points_from_input(points, geometry_column, x_column, y_column, geometry_crs)
    if crs is not None and not isinstance(crs, int):
        raise ValueError(
            "Point sampling output stores point_crs as an EPSG integer. Pass geometry_crs as "
            "an EPSG code."
        )
    schema = (
        POINT_SAMPLES_SCHEMA
        if return_neighbourhood == "off"
        else (POINT_SAMPLES_NEIGHBORHOOD_SCHEMA)
    )
    if meta is not None:
        clash = sorted(set(meta.column_names) & set(schema.names))
        if clash:
            raise ValueError(f"Input point columns collide with output columns: {clash}")
    lon, lat = _transform_xy(x, y, crs, 4326)
    lon, lat = np.asarray(lon), np.asarray(lat)
    filters = dict(filters or {})
    if len(lon):
        env = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        ub = filters.pop("bbox", None)
        if ub is not None:
            env = (max(env[0], ub[0]), max(env[1], ub[1]), min(env[2], ub[2]), min(env[3], ub[3]))
            if env[0] > env[2] or env[1] > env[3]:
                return _empty(schema, meta)
        view = collection.subset(bbox=env, **filters)
    else:
        return _empty(schema, meta)
    source = data_source or infer_data_source(collection)
    view_schema = view._schema()
    if view_schema is None:
        return _empty(schema, meta)
    names = view_schema.names
    cols = ["id", "assets", "bbox"] + [
        c for c in ("datetime", "collection", "proj:epsg") if c in names
    ]
    meta_cols = [f"{b}_metadata" for b in bands if f"{b}_metadata" in names]
    table = view._scan_table(cols + meta_cols)
    radius = int(max_distance_pixels)
    size = 2 * radius + 1
    from rasteret._backends import io_options

    options = io_options(backend, max_concurrent=max(1, int(max_concurrent)))
    samples = _plan_samples(table, bands, source, lon, lat, x, y, crs, match)
    rows: dict[str, list[Any]] = {n: [] for n in schema.names}
    errors: list[BaseException] = []
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for smp in samples:
        by_group.setdefault((smp["dtype"].str, smp["band"]), []).append(smp)
    for (_, band), group in by_group.items():
        dtype = group[0]["dtype"]
        fill = np.nan if dtype.kind == "f" else 0
        layouts = (
            table.column(f"{band}_metadata")
            .take(pa.array([smp["record"] for smp in group]))
            .combine_chunks()
        )
        try:
            blocks = _read.read_blocks(
                [smp["url"] for smp in group],
                layouts,
                np.array([smp["band_index"] for smp in group]),
                np.array([smp["col"] - radius for smp in group]),
                np.array([smp["row"] - radius for smp in group]),
                size,
                dtype,
                fill,
                options=options,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            errors.append(exc)
            continue
        values = blocks.astype(np.float64)
        if radius == 0:
            _emit_centres(rows, group, values[:, 0, 0])
            continue
        for smp, block in zip(group, values, strict=True):
            _emit(rows, smp, block, radius, return_neighbourhood)
    if errors and not rows["point_index"]:
        raise ValueError(f"No point samples resolved. First failure: {errors[0]}") from errors[0]
    if errors:
        warnings.warn(
            f"Some records failed during point sampling ({len(errors)} failure(s)): {errors[0]}",
            RuntimeWarning,
            stacklevel=3,
        )
    out = pa.table({n: pa.array(rows[n], type=schema.field(n).type) for n in schema.names})
    out = out.cast(schema)
    if meta is not None and meta.num_columns:
        idx = pa.array(rows["point_index"], pa.int64())
        for name in meta.column_names:
            out = out.append_column(name, meta.column(name).take(idx))
    return out


def _empty(schema: pa.Schema, meta: pa.Table | None) -> pa.Table:
    out = schema.empty_table()
    if meta is not None:
        for name in meta.column_names:
            out = out.append_column(
                meta.schema.field(name), pa.nulls(0, meta.schema.field(name).type)
            )
    return out


def _plan_samples(
    table: pa.Table,
    bands: list[str],
    source: str,
    lon: np.ndarray,
    lat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    crs: Any,
    match: str,
) -> list[dict[str, Any]]:
    ids = table.column("id").to_pylist()
    assets = table.column("assets").to_pylist()
    bboxes = table.column("bbox").to_pylist()
    n = len(ids)
    datetimes = (
        table.column("datetime").to_pylist() if "datetime" in table.column_names else [None] * n
    )
    colls = (
        table.column("collection").to_pylist() if "collection" in table.column_names else [None] * n
    )
    epsgs = (
        table.column("proj:epsg").to_pylist() if "proj:epsg" in table.column_names else [None] * n
    )
    metas = {
        b: table.column(f"{b}_metadata").to_pylist()
        for b in bands
        if f"{b}_metadata" in table.column_names
    }
    order = list(range(n))
    if match == "latest":
        order.sort(key=lambda i: (datetimes[i] is not None, datetimes[i] or 0), reverse=True)
    taken: set[tuple[int, str]] = set()
    samples: list[dict[str, Any]] = []
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
        px, py = _transform_xy(x[inside], y[inside], crs, epsgs[i])
        px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
        for band in bands:
            meta = metas.get(band, [None] * n)[i]
            key = resolve_asset_key(record_assets, band, source)
            url = asset_url(record_assets.get(key)) if key else None
            if meta is None or url is None or meta.get("transform") is None:
                continue
            asset = record_assets.get(key)
            band_index = int(asset.get("band_index") or 0) if isinstance(asset, dict) else 0
            a, c, e, f = normalize_transform(meta["transform"])
            cols = np.floor((px - c) / a).astype(np.int64)
            rows_ = np.floor((py - f) / e).astype(np.int64)
            w, h = int(meta["image_width"]), int(meta["image_height"])
            ok = (cols >= 0) & (cols < w) & (rows_ >= 0) & (rows_ < h)
            nodata = meta.get("nodata")
            for j in np.nonzero(ok)[0]:
                p = int(inside[j])
                if match == "latest":
                    if (p, band) in taken:
                        continue
                    taken.add((p, band))
                samples.append(
                    {
                        "record": i,
                        "band": band,
                        "url": url,
                        "band_index": band_index,
                        "col": int(cols[j]),
                        "row": int(rows_[j]),
                        "dtype": np.dtype(meta["dtype"]),
                        "nodata": nodata,
                        "point": p,
                        "px": float(px[j]),
                        "py": float(py[j]),
                        "a": a,
                        "c": c,
                        "e": e,
                        "f": f,
                        "w": w,
                        "h": h,
                        "x": float(x[p]),
                        "y": float(y[p]),
                        "point_crs": crs,
                        "record_id": str(ids[i]),
                        "datetime": datetimes[i],
                        "collection": colls[i] or source,
                        "raster_crs": epsgs[i],
                    }
                )
    return samples


_SAMPLE_FIELDS = (
    ("point_index", "point"),
    ("point_x", "x"),
    ("point_y", "y"),
    ("point_crs", "point_crs"),
    ("record_id", "record_id"),
    ("datetime", "datetime"),
    ("collection", "collection"),
    ("band", "band"),
    ("raster_crs", "raster_crs"),
)


def _emit_centres(
    rows: dict[str, list[Any]], group: list[dict[str, Any]], values: np.ndarray
) -> None:
    """Rows of centre-pixel samples (no neighbourhood search)."""
    for out, key in _SAMPLE_FIELDS:
        rows[out].extend(smp[key] for smp in group)
    rows["value"].extend(values.tolist())


def _emit(
    rows: dict[str, list[Any]], s: dict[str, Any], block: np.ndarray, r: int, mode: str
) -> None:
    nodata = s["nodata"]
    centre = float(block[r, r])
    # cells outside the raster are NaN in the neighbourhood and never candidates
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            rr, cc = s["row"] + dy, s["col"] + dx
            if not (0 <= rr < s["h"] and 0 <= cc < s["w"]):
                block[dy + r, dx + r] = np.nan
    centre_nodata = _is_nodata(centre, nodata)
    value = centre
    if centre_nodata and r > 0:
        a, e = abs(s["a"]), abs(s["e"])
        # point position in pixel units relative to the centre pixel's top-left corner
        fx = (s["px"] - s["c"]) / s["a"] - s["col"]
        fy = (s["py"] - s["f"]) / s["e"] - s["row"]
        for ring in range(1, r + 1):
            best, best_d = None, math.inf
            for dy, dx in _ring_cells(ring):
                v = float(block[dy + r, dx + r])
                if _is_nodata(v, nodata):
                    continue
                ddx = max(dx - fx, 0.0, fx - (dx + 1)) * a
                ddy = max(dy - fy, 0.0, fy - (dy + 1)) * e
                d = ddx * ddx + ddy * ddy
                if d < best_d:
                    best, best_d = v, d
            if best is not None:
                value = best
                break
    rows["point_index"].append(s["point"])
    rows["point_x"].append(s["x"])
    rows["point_y"].append(s["y"])
    rows["point_crs"].append(s["point_crs"])
    rows["record_id"].append(s["record_id"])
    rows["datetime"].append(s["datetime"])
    rows["collection"].append(s["collection"] or "")
    rows["band"].append(s["band"])
    rows["value"].append(value)
    rows["raster_crs"].append(s["raster_crs"])
    if "neighbourhood_values" in rows:
        if mode == "always" or (mode == "if_center_nodata" and centre_nodata):
            rows["neighbourhood_values"].append(block.reshape(-1).tolist())
        else:
            rows["neighbourhood_values"].append(None)
