"""``get_xarray``'s Dataset from the (record, geometry, band) reads of one call.

The result has one variable per band with dims ``(time, geometry, y, x)``: each (record,
geometry) pair is one ``(time, geometry)`` slot of the outer union of every pair's pixel-centre
coordinates, ``time`` ascending and ``y`` in the direction of the first record's grid.

Two ways build it, with the same result:

- :func:`cube_from_reads` (the usual case: integer bands with one fill value per band, or
  float bands, padded and merged with NaN; every band of a pair on one grid;
  ``xr_combine="combine_first"``) allocates each variable once, in its
  final order, and copies every read into its slot; only a slot that an earlier pair already
  wrote (two records of one date) is merged pixel by pixel ("earlier wins unless it holds the
  fill value").
- Otherwise one Dataset per pair (:func:`record_dataset`) combined by ``xarray`` (``merge``,
  ``merge_override``, or ``combine_first`` with float promotion), then sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from rasteret.read.aoi import AoiRead
from rasteret.read.buffers import evenly_spaced

__all__ = [
    "CubeLayout",
    "SlotCube",
    "combine_first",
    "cube_from_reads",
    "cube_layout",
    "dataset_from_reads",
    "pixel_centres",
    "record_dataset",
]

DIMS = ("time", "geometry", "y", "x")


@lru_cache(maxsize=64)
def _crs_attrs(crs: int | str) -> dict[str, Any]:
    from pyproj import CRS

    c = CRS.from_epsg(crs) if isinstance(crs, int) else CRS.from_user_input(crs)
    attrs = dict(c.to_cf())
    attrs["crs_wkt"] = c.to_wkt("WKT2_2019")
    attrs["projjson"] = c.to_json()
    return attrs


def spatial_ref_attrs(crs: Any, transform: Any) -> dict[str, Any]:
    """CF grid-mapping attributes of ``crs`` plus GDAL's ``GeoTransform`` of ``transform``."""
    attrs = dict(_crs_attrs(crs))
    t = transform
    attrs["GeoTransform"] = f"{t.c} {t.a} {t.b} {t.f} {t.d} {t.e}"
    return attrs


def _pair_crs(read: AoiRead) -> Any:
    return read.crs if read.crs is not None else 4326


def _time_of(read: AoiRead) -> np.datetime64:
    when = read.datetime
    if when is not None and getattr(when, "tzinfo", None) is not None:
        when = when.replace(tzinfo=None)
    return np.datetime64(when, "ns") if when is not None else np.datetime64("NaT")


def pixel_centres(read: AoiRead) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) pixel-centre coordinates of ``read``'s array."""
    h, w = read.data.shape
    t = read.transform
    return t.f + (np.arange(h) + 0.5) * t.e, t.c + (np.arange(w) + 0.5) * t.a


def _dataset_attrs(first: AoiRead) -> dict[str, Any]:
    crs = _pair_crs(first)
    return {
        "crs": crs if isinstance(crs, int) else str(crs),
        "geometry_id": first.geometry_index + 1,
        "record_id": first.record_id,
        "datetime": str(first.datetime),
        "cloud_cover": first.cloud_cover if first.cloud_cover is not None else 0,
        "collection": first.collection or "",
    }


def record_dataset(reads: list[AoiRead]) -> Any:
    """The Dataset of one (record, geometry) pair: one variable per band, a time and a
    geometry dimension of length 1, the pair's attributes."""
    import xarray as xr

    first = reads[0]
    crs = _pair_crs(first)
    arrays = {}
    for r in reads:
        y, x = pixel_centres(r)
        da = xr.DataArray(r.data, dims=("y", "x"), coords={"x": x, "y": y}, name=r.band)
        da.attrs["_FillValue"] = r.nodata
        da = da.assign_coords(
            spatial_ref=xr.DataArray(0, attrs=spatial_ref_attrs(crs, r.transform))
        )
        da.encoding["grid_mapping"] = "spatial_ref"
        arrays[r.band] = da
    ds = xr.merge(list(arrays.values()), compat="override", join="outer", combine_attrs="drop")
    ds = ds.assign_coords(
        spatial_ref=xr.DataArray(0, attrs=spatial_ref_attrs(crs, first.transform))
    )
    ds = ds.expand_dims(geometry=[first.geometry_index + 1])
    ds = ds.expand_dims(time=[_time_of(first)])
    for name, da in arrays.items():
        ds[name].attrs.update(da.attrs)
        ds[name].encoding["grid_mapping"] = "spatial_ref"
    ds.attrs.update(_dataset_attrs(first))
    return ds


def combine_first(datasets: list[Any]) -> Any:
    """Earlier datasets win; integer variables keep their dtype and ``_FillValue``.

    When every variable is integer and all arrays of a variable share one ``_FillValue``, the
    datasets are outer-aligned with that fill (no NaN, so no float promotion) and a later
    dataset only fills pixels where the earlier ones hold the fill value. Otherwise chained
    ``Dataset.combine_first`` (which may promote to float with NaN).
    """
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
    return _assemble_outer(datasets, names, fills)


def _assemble_outer(datasets: list[Any], names: list[str], fills: dict[str, Any]) -> Any:
    """``xr.align(join="outer", fill_value=fills)`` then "earlier wins unless it holds the
    fill", each variable allocated once on the union of the coordinates."""
    import xarray as xr

    frames = [xr.Dataset(coords={d: ds.indexes[d] for d in DIMS}) for ds in datasets]
    union = xr.align(*frames, join="outer")[0]
    indexes = {d: union.indexes[d] for d in DIMS}
    shape = tuple(len(indexes[d]) for d in DIMS)
    first = datasets[0]
    variables = {}
    for name in names:
        holders = [ds for ds in datasets if name in ds.data_vars]
        dtype = np.result_type(*(ds[name].dtype for ds in holders))
        cube = SlotCube(shape, dtype, fills[name])
        for ds in holders:
            source = ds[name].transpose(*DIMS).values
            at = [indexes[d].get_indexer(ds.indexes[d]) for d in DIMS]
            for ti, t in enumerate(at[0]):
                for gi, g in enumerate(at[1]):
                    cube.place(int(t), int(g), at[2], at[3], source[ti, gi])
        variable = xr.Variable(DIMS, cube.finish(), attrs=dict(holders[0][name].attrs))
        variable.encoding.update(holders[0][name].encoding)
        variables[name] = variable
    coords = {d: indexes[d] for d in DIMS}
    extra = {k: v for k, v in first.coords.items() if k not in DIMS}
    return xr.Dataset(variables, coords={**coords, **extra}, attrs=dict(first.attrs))


class SlotCube:
    """One variable's ``(time, geometry, y, x)`` array, filled slot by slot: a block written
    into an empty slot is copied (the rest of the slot gets the fill value); one written into
    a slot that already holds data only replaces the pixels that hold the fill value."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, fill: Any) -> None:
        self.data = np.empty(shape, dtype=dtype)
        self.fill = fill
        self._nan_fill = _is_nan(fill)
        self.written = np.zeros(shape[:2], dtype=bool)
        self._full = (shape[2], shape[3])

    def place(self, t: int, g: int, rows: np.ndarray, cols: np.ndarray, block: Any) -> None:
        slot = self.data[t, g]
        r, c = _span(rows), _span(cols)
        if not self.written[t, g] and not (
            r is not None and c is not None and block.shape == self._full
        ):
            slot[...] = self.fill
        if r is None or c is None:  # coordinates not contiguous in the union
            where = np.ix_(rows, cols)
            if self.written[t, g]:
                target = slot[where]
                block = np.where(self._holds_fill(target), block, target)
            slot[where] = block
        elif self.written[t, g]:
            target = slot[r, c]
            np.copyto(target, block, where=self._holds_fill(target), casting="unsafe")
        else:
            slot[r, c] = block
        self.written[t, g] = True

    def _holds_fill(self, values: np.ndarray) -> np.ndarray:
        return np.isnan(values) if self._nan_fill else values == self.fill

    def finish(self) -> np.ndarray:
        """The array, with slots no block was written to set to the fill value."""
        self.data[~self.written] = self.fill
        return self.data


def _span(positions: np.ndarray) -> slice | None:
    """``positions`` as a slice when they are consecutive and ascending, else None."""
    if len(positions) == 0 or positions[0] < 0:
        return None
    start = int(positions[0])
    if positions[-1] - start + 1 == len(positions) and (
        len(positions) < 3 or np.array_equal(positions, np.arange(start, start + len(positions)))
    ):
        return slice(start, start + len(positions))
    return None


def _sorted_index(index: Any, ascending: bool) -> Any:
    """``index`` in the order ``Dataset.sortby`` gives (NaN/NaT last when descending)."""
    values = np.asarray(index)
    if ascending:
        return index[np.lexsort((values,))]
    notnull = ~np.isnat(values) if values.dtype.kind == "M" else ~np.isnan(values)
    return index[np.lexsort((values, notnull))[::-1]]


def _groups(reads: list[AoiRead]) -> list[list[AoiRead]]:
    """The reads of each (record, geometry) pair, pairs in read order."""
    groups: dict[tuple[int, int], list[AoiRead]] = {}
    for r in reads:
        groups.setdefault((r.record_index, r.geometry_index), []).append(r)
    return list(groups.values())


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _fills(groups: list[list[AoiRead]]) -> dict[str, Any] | None:
    """Each band's single fill value when the cube can be assembled directly, else None.

    Either every band is integer with one fill value, or every band is floating point: a
    float band's fill is NaN whatever its nodata, because xarray's ``combine_first`` pads
    the outer alignment with NaN (in the band's own dtype) and fills only NaN pixels, while
    a numeric nodata left by masking counts as data. A mix of integer and float bands
    (xarray promotes the integer ones) or an integer band without nodata takes the xarray
    path.
    """
    fills: dict[str, set[Any]] = {}
    kinds: set[bool] = set()  # is-floating of every band
    for group in groups:
        head = group[0]
        seen: set[str] = set()
        for r in group:
            if r.band in seen or r.transform != head.transform or r.data.shape != head.data.shape:
                return None
            floating = bool(np.issubdtype(r.data.dtype, np.floating))
            if not floating and (r.nodata is None or not np.issubdtype(r.data.dtype, np.integer)):
                return None
            kinds.add(floating)
            seen.add(r.band)
            fills.setdefault(r.band, set()).add("nan" if floating else r.nodata)
    if len(kinds) > 1 or any(len(v) != 1 for v in fills.values()):
        return None
    return {band: np.nan if v == {"nan"} else next(iter(v)) for band, v in fills.items()}


@dataclass
class CubeLayout:
    """Where each (record, geometry) pair of a ``combine_first`` cube goes, before any pixel.

    ``groups`` are the pairs' reads (read order), ``slots`` their ``(time, geometry id)``,
    ``centres`` their ``(y, x)`` pixel centres, ``indexes`` the cube's coordinate indexes by
    dimension, ``dtypes``/``fills``/``attrs`` per band.
    """

    groups: list[list[AoiRead]]
    slots: list[tuple[Any, int]]
    centres: list[tuple[np.ndarray, np.ndarray]]
    indexes: dict[str, Any]
    dtypes: dict[str, Any]
    fills: dict[str, Any]
    attrs: dict[str, dict[str, Any]]
    same_grid: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.indexes[d]) for d in DIMS)

    def coords(self) -> dict[str, Any]:
        """The Dataset's coordinates: the indexes plus the CF ``spatial_ref`` of the first pair."""
        import xarray as xr

        first = self.groups[0][0]
        attrs = spatial_ref_attrs(_pair_crs(first), first.transform)
        return {**self.indexes, "spatial_ref": xr.DataArray(0, attrs=attrs)}

    def dataset(self, arrays: dict[str, Any]) -> Any:
        """The Dataset of one array per band (NumPy or Dask), with the layout's coordinates."""
        import xarray as xr

        variables = {}
        for band, array in arrays.items():
            variable = xr.Variable(DIMS, array, attrs=self.attrs[band])
            variable.encoding["grid_mapping"] = "spatial_ref"
            variables[band] = variable
        return xr.Dataset(variables, coords=self.coords(), attrs=_dataset_attrs(self.groups[0][0]))


def cube_layout(reads: list[AoiRead]) -> CubeLayout | None:
    """The layout of the ``combine_first`` cube of ``reads`` (only their shapes, transforms,
    dtypes and fills are used), or None when it cannot be assembled directly: a band that is
    not integer or has several fill values, or a pair whose bands lie on different grids."""
    import xarray as xr

    groups = _groups(reads)
    fills = _fills(groups)
    if not groups or fills is None:
        return None
    by_grid: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}  # pairs share grids
    centres = []
    for g in groups:
        t = g[0].transform
        key = (t.a, t.b, t.c, t.d, t.e, t.f, *g[0].data.shape)
        if key not in by_grid:
            by_grid[key] = pixel_centres(g[0])
        centres.append(by_grid[key])
    slots = [(_time_of(g[0]), g[0].geometry_index + 1) for g in groups]
    same_grid = all(
        np.array_equal(y, centres[0][0]) and np.array_equal(x, centres[0][1])
        for y, x in by_grid.values()
    )
    first = groups[0][0]
    times = np.array([t for t, _ in slots])
    if same_grid and not np.isnat(times).any():
        # one grid: the outer union of the other dimensions is their sorted distinct values
        import pandas as pd

        indexes = {
            "time": pd.DatetimeIndex(np.unique(times)),
            "geometry": pd.Index(np.unique([g for _, g in slots])),
            "y": pd.Index(centres[0][0]),
            "x": pd.Index(centres[0][1]),
        }
    else:
        frames = [
            xr.Dataset(coords={"time": [t], "geometry": [g], "y": y, "x": x})
            for (t, g), (y, x) in zip(slots, centres, strict=True)
        ]
        union = xr.align(*frames, join="outer")[0]
        indexes = {d: union.indexes[d] for d in DIMS}
    indexes["time"] = _sorted_index(indexes["time"], True)
    indexes["y"] = _sorted_index(indexes["y"], first.transform.e > 0)
    bands = list(dict.fromkeys(r.band for g in groups for r in g))
    dtypes = {
        b: np.result_type(*(r.data.dtype for g in groups for r in g if r.band == b)) for b in bands
    }
    attrs = {r.band: {"_FillValue": r.nodata} for g in reversed(groups) for r in reversed(g)}
    return CubeLayout(groups, slots, centres, indexes, dtypes, fills, attrs, same_grid)


def cube_from_reads(reads: list[AoiRead]) -> Any | None:
    """The ``combine_first`` Dataset of ``reads`` assembled directly (see the module doc), or
    None when :func:`cube_layout` gives none."""
    layout = cube_layout(reads)
    if layout is None:
        return None
    groups, indexes, dtypes = layout.groups, layout.indexes, layout.dtypes
    shape = layout.shape
    # each pair's (time, geometry) position in the cube, looked up once for all pairs
    at = list(
        zip(
            indexes["time"].get_indexer([t for t, _ in layout.slots]).tolist(),
            indexes["geometry"].get_indexer([g for _, g in layout.slots]).tolist(),
            strict=True,
        )
    )
    in_place = None
    if layout.same_grid and len(set(at)) == len(groups) == shape[0] * shape[1]:
        in_place = _views_in_read_buffer(groups, at, indexes, shape, dtypes)
    if in_place is None:
        in_place = _placed(groups, at, layout.centres, indexes, shape, dtypes, layout.fills)
    return layout.dataset(in_place)


def _placed(
    groups: list[list[AoiRead]],
    at: list[tuple[int, int]],
    centres: list[tuple[np.ndarray, np.ndarray]],
    indexes: dict[str, Any],
    shape: tuple[int, ...],
    dtypes: dict[str, Any],
    fills: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Each band's array, allocated once, every read copied into its slot ``at`` (its time
    and geometry positions), in read order."""
    cubes = {b: SlotCube(shape, dtype, fills[b]) for b, dtype in dtypes.items()}
    positions: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # pairs on one grid share centres
    for group, (ti, gi), (y, x) in zip(groups, at, centres, strict=True):
        if id(y) not in positions:
            positions[id(y)] = (indexes["y"].get_indexer(y), indexes["x"].get_indexer(x))
        rows, cols = positions[id(y)]
        for r in group:
            cubes[r.band].place(ti, gi, rows, cols, r.data)
    return {b: cube.finish() for b, cube in cubes.items()}


def _views_in_read_buffer(
    groups: list[list[AoiRead]],
    at: list[tuple[int, int]],
    indexes: dict[str, Any],
    shape: tuple[int, ...],
    dtypes: dict[str, Any],
) -> dict[str, np.ndarray] | None:
    """Each band's array as a strided view of the buffer the reads were made into, when
    every (time, geometry) slot holds one read of every band on the full grid and the reads
    of a band lie at one constant stride, in slot order, in one buffer; else None."""
    n_t, n_g, h, w = shape
    if not (np.array_equal(indexes["y"].get_indexer(pixel_centres(groups[0][0])[0]), np.arange(h))):
        return None
    by_slot: dict[int, dict[str, np.ndarray]] = {}
    for group, (ti, gi) in zip(groups, at, strict=True):
        by_slot[ti * n_g + gi] = {r.band: r.data for r in group}
    views = {}
    for band, dtype in dtypes.items():
        spaced = evenly_spaced([by_slot[k].get(band) for k in range(n_t * n_g)], dtype)
        if spaced is None:
            return None
        root, offset, stride = spaced
        size = np.dtype(dtype).itemsize
        try:
            views[band] = np.ndarray(
                shape,
                dtype=dtype,
                buffer=root,
                offset=offset,
                strides=(n_g * stride, stride, w * size, size),
            )
        except (TypeError, ValueError):  # the buffer does not hold the whole view
            return None
    return views


def dataset_from_reads(reads: list[AoiRead], xr_combine: str) -> Any:
    """``get_xarray``'s Dataset: records merged by ``xr_combine`` (``"combine_first"``,
    ``"merge"`` or ``"merge_override"``), ``time`` ascending, ``y`` in grid order."""
    import xarray as xr

    if xr_combine == "combine_first":
        cube = cube_from_reads(reads)
        if cube is not None:
            return cube
    datasets = [record_dataset(g) for g in _groups(reads)]
    if xr_combine == "merge":
        out = xr.merge(datasets, join="outer")
    elif xr_combine == "merge_override":
        out = xr.merge(datasets, join="outer", compat="override")
    else:
        out = combine_first(datasets)
    if "time" in out.dims:
        out = out.sortby("time")
    t = reads[0].transform
    if "y" in out.dims:
        out = out.sortby("y", ascending=float(t.e) > 0)
    return out
