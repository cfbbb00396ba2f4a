"""The real :class:`RasteretGeoDataset` (imported only when torch and torchgeo import)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import get_worker_info
from torchgeo.datasets import GeoDataset

from rasteret._backends import implicit_backend, io_options
from rasteret.errors import ReadFailedError
from rasteret.integrations._malloc_tuning import keep_freed_memory
from rasteret.integrations._torchgeo_index import IndexPlan, build_index, read_table
from rasteret.integrations._torchgeo_tensor import (
    coerce_label_value,
    image_tensor,
    tensor_dtype,
)
from rasteret.read.chips import ChipReader, Placed
from rasteret.read.grid import MergeGrid
from rasteret.read.shared_tiles import (
    new_shared_dir,
    owner_alive,
    remove_if_owned,
)
from rasteret.read.tile_cache import DEFAULT_TILE_CACHE_BYTES, TileCache, new_tile_cache

__all__ = ["RasteretGeoDataset"]


class RasteretGeoDataset(GeoDataset):
    """A TorchGeo ``GeoDataset`` reading a rasteret collection's COGs through the Rust core.

    Parameters
    ----------
    collection
        The (filtered) collection to index.
    bands
        Band codes to read, in channel order.
    chip_size
        Sampler hint only (``self.chip_size``); samples take the query's shape.
    is_image
        ``True`` -> ``sample["image"]`` ``[C, H, W]``; ``False`` -> ``sample["mask"]`` (channel
        dim squeezed when ``C == 1``).
    allow_resample
        Allow bands of different resolutions (resampled to the first band's resolution).
    label_field
        Collection column whose value (of the first selected record) becomes ``sample["label"]``.
    geometries, geometries_crs
        Restrict the index to footprints intersecting the envelope of these AOIs.
    transforms
        Called on every sample dict.
    cloud_config, backend
        Storage configuration: a ``create_backend`` result or any ``StorageBackend``; None
        uses the auto backend implied by ``cloud_config`` or the collection's data source. The
        backend must pickle for DataLoader workers started with ``spawn``.
    max_concurrent
        Requests in flight per sample.
    time_series
        Return every matching record as ``[T, C, H, W]`` instead of mosaicking them.
    target_crs
        EPSG code to reproject every record into (float32 chips, NaN where nothing maps).

    Examples
    --------
    >>> ds = collection.to_torchgeo_dataset(bands=["B04", "B03", "B02"])  # doctest: +SKIP
    >>> sampler = RandomGeoSampler(ds, size=256, length=100)  # doctest: +SKIP
    >>> loader = DataLoader(ds, sampler=sampler, collate_fn=stack_samples)  # doctest: +SKIP
    """

    #: Budget of decoded tiles kept per process (0 disables the cache); like GDAL's block
    #: cache for TorchGeo's own reader, it serves overlapping chips and revisited scenes.
    tile_cache_bytes: int = DEFAULT_TILE_CACHE_BYTES
    #: DataLoader workers (``num_workers > 0``) of this dataset also share the tiles they
    #: decode through files on ``/dev/shm`` (at most ``tile_cache_bytes`` in all), so a tile
    #: one worker read is not fetched again by the others. The main process does not use it.
    share_tiles_between_workers: bool = True
    #: Each process that reads samples keeps the memory of freed samples for the next ones
    #: (glibc's mmap threshold raised to 32 MiB and trim threshold to 512 MiB, once per
    #: process; see ``rasteret.integrations._malloc_tuning``), instead of faulting fresh
    #: pages in for every batch. Set to False before the first read to leave glibc as it is.
    keep_freed_sample_memory: bool = True

    def __init__(
        self,
        collection: Any,
        bands: Sequence[str],
        chip_size: int | None = None,
        is_image: bool = True,
        allow_resample: bool = False,
        label_field: str | None = None,
        geometries: Any = None,
        geometries_crs: int = 4326,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        cloud_config: Any = None,
        max_concurrent: int = 50,
        backend: Any = None,
        time_series: bool = False,
        target_crs: int | None = None,
    ) -> None:
        bands = list(bands)
        if not bands:
            raise ValueError("At least one band is required")
        if getattr(collection, "_hf", None) is not None:
            raise ValueError(
                "TorchGeo integration requires a dataset-backed collection scan. Hugging Face "
                "streaming collections (hf://) cannot be indexed for random access: "
                "materialise the records first, e.g. rasteret.build_from_table('hf://...')."
            )
        table, meta_cols, data_source = read_table(collection, bands, label_field)
        plan = build_index(
            table,
            meta_cols,
            bands,
            data_source=data_source,
            label_field=label_field,
            target_crs=target_crs,
            allow_resample=allow_resample,
        )
        self.bands = bands
        self.chip_size = chip_size
        self.is_image = is_image
        self.allow_resample = allow_resample
        self.label_field = label_field
        self.transforms = transforms
        self.cloud_config = cloud_config
        self.backend = implicit_backend(backend, cloud_config, data_source)
        self.max_concurrent = int(max_concurrent)
        self.time_series = time_series
        self.target_crs = target_crs
        self.epsg = plan.epsg
        self.data_source = plan.data_source
        self._plan: IndexPlan = plan
        self._res = plan.res
        self.paths: list[str] = []
        self._warned_dtypes: set[tuple[str, str]] = set()
        self._warned_partial = False
        self._select_cache: tuple[Any, ...] | None = None
        self._tile_cache: TileCache | None = None
        self._tiles_shared_in: int | None = None  # pid of the process whose cache shares
        self._shared_tiles_dir: str | None = new_shared_dir(self)
        self.index = self._build_geo_index(plan)
        if geometries is not None:
            self._restrict_to(geometries, geometries_crs)

    # -- index ----------------------------------------------------------------------------

    @staticmethod
    def _build_geo_index(plan: IndexPlan) -> Any:
        import geopandas as gpd
        from pyproj import CRS

        times = pd.DatetimeIndex(plan.datetimes)
        interval = pd.IntervalIndex.from_arrays(times, times, closed="both", name="datetime")
        return gpd.GeoDataFrame(
            {"rid": np.arange(len(plan.records))},
            index=interval,
            geometry=plan.footprints,
            crs=CRS.from_epsg(plan.epsg),
        )

    def _restrict_to(self, geometries: Any, geometries_crs: int) -> None:
        import shapely

        from rasteret.geo.geometry import total_bounds, transform_bbox
        from rasteret.read.inputs import prepare_geometry_input

        plan = prepare_geometry_input(geometries, geometry_crs=geometries_crs)
        env = total_bounds(plan.geometries)
        if env is None:
            return
        src = plan.geometry_crs if plan.geometry_crs is not None else self.epsg
        box = shapely.box(*transform_bbox(env, src, self.epsg))
        self.index = self.index[self.index.geometry.intersects(box)]

    @property
    def crs(self) -> Any:
        """The dataset CRS (``pyproj.CRS``); TorchGeo's ``&``/``|`` may set it."""
        return self._index_facts()[0]

    @property
    def bounds(self) -> tuple[slice, slice, slice]:
        """TorchGeo's ``GeoDataset.bounds`` (x, y and t slices of the index), computed once per
        index rather than on every query (TorchGeo resolves each query against it)."""
        _, total, tmin, tmax = self._index_facts()
        xres, yres = self.res
        return (
            slice(total[0], total[2], xres),
            slice(total[1], total[3], yres),
            slice(tmin, tmax, 1),
        )

    def _index_facts(self) -> tuple[Any, Any, Any, Any]:
        """(crs, total_bounds, first start, last end) of the current index, cached until the
        index object is replaced (filters, ``crs=``, TorchGeo's ``&``/``|`` assign a new one)."""
        cached = self.__dict__.get("_facts")
        index = self.index
        if cached is None or cached[0] is not index:
            cached = (
                index,
                (
                    index.crs,
                    index.total_bounds,
                    index.index.left.min(),
                    index.index.right.max(),
                ),
            )
            self.__dict__["_facts"] = cached
        return cached[1]

    @crs.setter
    def crs(self, new_crs: Any) -> None:
        """Re-target the dataset: the index is reprojected and every read is warped into
        ``new_crs`` (float32 chips, like ``target_crs=``)."""
        from pyproj import CRS

        new = CRS.from_user_input(new_crs)
        if new == self.crs:
            return
        epsg = new.to_epsg()
        if epsg is None:
            raise ValueError(f"RasteretGeoDataset needs an EPSG CRS, got {new.to_string()!r}")
        self.index = self.index.to_crs(new)
        self.epsg = self._plan.epsg = int(epsg)
        self._plan.multi_crs = True

    # -- pickling (DataLoader workers) ----------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Plain data only: no runtime, pool or open handle crosses a process boundary."""
        state = dict(self.__dict__)
        state["_select_cache"] = None
        state.pop("_facts", None)
        state["_tile_cache"] = None
        state["_tiles_shared_in"] = None
        return state

    def close(self) -> None:
        """Drop the decoded-tile cache, and the workers' shared tiles when called in the
        process that created the dataset (the Rust runtime is per process and shared)."""
        self._tile_cache = None
        remove_if_owned(self._shared_tiles_dir)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # A spawned DataLoader worker shares the tiles of the process that created the
        # dataset; once that process is gone, whoever unpickles it owns a directory of its own.
        if not owner_alive(getattr(self, "_shared_tiles_dir", None)):
            self._shared_tiles_dir = new_shared_dir(self)

    def _tiles(self) -> TileCache | None:
        """This process's decoded-tile cache (None when ``tile_cache_bytes`` is 0); in a
        DataLoader worker it also reads and writes the workers' shared tiles."""
        if self.tile_cache_bytes <= 0:
            return None
        if self._tile_cache is None:
            # a dataset whose decoded tiles fit in half the cache is read a tile row at a time
            self._tile_cache = new_tile_cache(self.tile_cache_bytes, self._plan.layouts)
        cache = self._tile_cache
        # a forked worker's cache starts empty and unshared (the core gives each process its
        # own): share once per process
        if (
            self._tiles_shared_in != os.getpid()
            and self.share_tiles_between_workers
            and self._shared_tiles_dir is not None
            and get_worker_info() is not None
        ):
            cache.share(self._shared_tiles_dir, self.tile_cache_bytes)
            self._tiles_shared_in = os.getpid()
        return cache

    # -- reads ----------------------------------------------------------------------------

    def _select(self, x: slice, y: slice, t: slice) -> list[int]:
        """``rid`` of the records a query selects, in index order:
        interval overlap in time, every ``t.step``-th, then positive-area overlap in space."""
        import shapely

        cache = self._select_cache
        if cache is None or cache[0] is not self.index:
            geoms = np.asarray(self.index.geometry, dtype=object)
            cache = (
                self.index,
                np.asarray(self.index.index.left, dtype="datetime64[ns]"),
                np.asarray(self.index.index.right, dtype="datetime64[ns]"),
                geoms,
                shapely.bounds(geoms),
                self.index["rid"].to_numpy(),
            )
            self._select_cache = cache
        _, left, right, geoms, bounds, rids = cache
        start = pd.Timestamp(t.start).to_datetime64().astype("datetime64[ns]")
        stop = pd.Timestamp(t.stop).to_datetime64().astype("datetime64[ns]")
        if start == stop:  # a closed point interval [t, t]
            in_time = (left <= stop) & (right >= start)
        else:  # pandas' default right-closed (start, stop]
            in_time = (left <= stop) & (right > start)
        pos = np.flatnonzero(in_time)[:: t.step or 1]
        b = bounds[pos]
        touching = (b[:, 0] <= x.stop) & (b[:, 2] >= x.start)
        touching &= (b[:, 1] <= y.stop) & (b[:, 3] >= y.start)
        pos = pos[touching]
        if len(pos):
            box = shapely.box(x.start, y.start, x.stop, y.stop)
            pos = pos[shapely.area(shapely.intersection(geoms[pos], box)) > 0]
        return [int(r) for r in rids[pos]]

    def __getitem__(self, query: Any) -> dict[str, Any]:
        """The sample of ``query`` (a TorchGeo ``GeoSlice``: x, y and t slices).

        Raises
        ------
        IndexError
            No record overlaps the query (with positive area).
        rasteret.errors.ReadFailedError
            Every read of the chip failed (a ``ValueError``; the first failure is chained).
        """
        if self.keep_freed_sample_memory:
            keep_freed_memory()
        chip = self._resolve(query)
        placed, failures = self._reader().read_chip(chip.records, chip.bbox, chip.grid)
        return self._sample(chip, placed, failures)

    def __getitems__(self, queries: list[Any]) -> list[dict[str, Any]]:
        """The samples of a batch of queries (PyTorch's ``DataLoader`` calls this with each
        batch's indices): the tiles all of them still need are fetched and decoded in ONE call
        into the Rust core, so a batch costs one round of requests, not one per chip; the
        samples whose tiles are all cached are built while those tiles are fetched. Samples
        are exactly those of :meth:`__getitem__`.
        """
        if self.keep_freed_sample_memory:
            keep_freed_memory()
        chips = [self._resolve(q) for q in queries]
        samples = self._reader().read_chips(
            [(c.records, c.bbox, c.grid) for c in chips],
            lambda i, placed, failures: self._sample(chips[i], placed, failures, False),
        )
        if self.transforms is not None:  # in batch order, whatever order samples were built
            samples = [self.transforms(s) for s in samples]
        return samples

    def _reader(self) -> ChipReader:
        return ChipReader(
            epsg=self.epsg,
            multi_crs=self._plan.multi_crs,
            layouts=self._plan.layouts,
            mask_layouts=self._plan.mask_layouts,
            options=io_options(self.backend, max_concurrent=self.max_concurrent),
            tile_cache=self._tiles(),
        )

    def _resolve(self, query: Any) -> _Chip:
        """The records and output grid of ``query`` (IndexError when none overlaps)."""
        x, y, t = self._disambiguate_slice(query)
        rids = self._select(x, y, t)
        if not rids:
            raise IndexError(f"index: {query} not found in dataset with bounds: {self.bounds}")
        bbox = (float(x.start), float(y.start), float(x.stop), float(y.stop))
        grid = MergeGrid(bounds=bbox, res=(abs(float(x.step)), abs(float(y.step))))
        records = [self._plan.records[r] for r in rids]
        return _Chip(query, x, y, bbox, grid, records)

    def _sample(
        self,
        chip: _Chip,
        placed: dict[tuple[int, int], Placed],
        failures: list[tuple[int, BaseException]],
        transform: bool = True,
    ) -> dict[str, Any]:
        records, grid, bbox, x, y = chip.records, chip.grid, chip.bbox, chip.x, chip.y
        if self.time_series:
            data = self._stack_time(records, placed, failures, grid)
        else:
            data = self._mosaic(records, placed, failures, grid)
        tensor = image_tensor(data)  # already the tensor dtype
        sample: dict[str, Any] = {"bounds": self._bounds_value(chip.query)}
        if not hasattr(self, "_slice_to_tensor"):  # TorchGeo 0.8: keys of its RasterDataset
            sample = {"crs": self.crs, **sample}
        sample["transform"] = torch.tensor(
            [float(x.step), 0.0, bbox[0], 0.0, -float(y.step), bbox[3]], dtype=torch.float32
        )
        if self.is_image:
            sample["image"] = tensor
        else:
            sample["mask"] = tensor.squeeze(-3) if tensor.shape[-3] == 1 else tensor
        if self.label_field is not None:
            label = coerce_label_value(records[0].label)
            if label is not None:
                sample["label"] = label
        if transform and self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _bounds_value(self, query: Any) -> Any:
        to_tensor = getattr(self, "_slice_to_tensor", None)
        return to_tensor(query) if to_tensor is not None else query

    def _dtype(self, records: list[Any]) -> np.dtype:
        if self._plan.multi_crs:
            return np.dtype("float32")
        return np.result_type(*[b.dtype for r in records for b in r.bands])

    def _fill(self, dtype: np.dtype, records: list[Any], band: int) -> Any:
        from rasteret.read.grid import representable_fill

        if dtype.kind == "f" and self._plan.multi_crs:
            return np.nan
        return representable_fill(records[0].bands[band].nodata, dtype)[0]

    def _mosaic(
        self,
        records: list[Any],
        placed: dict[tuple[int, int], Placed],
        failures: list[tuple[int, BaseException]],
        grid: MergeGrid,
    ) -> np.ndarray:
        n_requests = len(records)
        failed = {r for r, _ in failures}
        if len(failed) == n_requests:
            raise ReadFailedError(
                f"All {n_requests} COG read request(s) failed for the requested chip."
            ) from failures[0][1]
        if failed:
            self._warn_partial(failures)
        dtype = self._dtype(records)
        store = tensor_dtype(dtype, self._warned_dtypes)  # uint16 pixels go straight to int32
        out = np.empty((len(self.bands), *grid.shape), dtype=store)
        for b in range(len(self.bands)):
            fill = self._fill(dtype, records, b)
            only = placed.get((0, b)) if len(records) == 1 else None
            if (
                only is not None
                and only.exact_fill is not None
                and only.data.dtype == dtype
                and _same_value(only.exact_fill, fill)
            ):
                # One record read straight onto the grid, with the reader's fill where it has
                # no valid pixel: what merge() writes, without building the valid mask.
                out[b] = only.data
                continue
            out[b] = fill
            empty = np.ones(grid.shape, dtype=bool)
            for r in range(len(records)):
                p = placed.get((r, b))
                if p is None:
                    continue
                take = empty & p.valid
                np.copyto(out[b], p.data, where=take, casting="unsafe")
                empty &= ~take
                if not empty.any():
                    break
        return out

    def _stack_time(
        self,
        records: list[Any],
        placed: dict[tuple[int, int], Placed],
        failures: list[tuple[int, BaseException]],
        grid: MergeGrid,
    ) -> np.ndarray:
        n = len(records) * len(self.bands)
        if failures:
            failed = len({r for r, _ in failures}) * len(self.bands)
            if failed >= n:
                raise ReadFailedError(
                    f"All COG reads failed for time series sample ({n} reads)"
                ) from failures[0][1]
            raise ValueError(
                f"{failed} of {n} COG reads failed for time series sample: {failures[0][1]}"
            ) from failures[0][1]
        dtype = self._dtype(records)
        store = tensor_dtype(dtype, self._warned_dtypes)  # uint16 pixels go straight to int32
        out = np.empty((len(records), len(self.bands), *grid.shape), dtype=store)
        for r in range(len(records)):
            for b in range(len(self.bands)):
                p = placed.get((r, b))
                if p is None:
                    out[r, b] = self._fill(dtype, records, b)
                else:
                    out[r, b] = p.data
        return out

    def _warn_partial(self, failures: list[tuple[int, BaseException]]) -> None:
        if self._warned_partial:
            return
        self._warned_partial = True
        warnings.warn(
            f"RasteretGeoDataset skipped failed COG reads ({len(failures)} record(s) in this "
            f"chip; first error: {failures[0][1]}). Further partial failures are not reported.",
            RuntimeWarning,
            stacklevel=3,
        )


def _same_value(a: Any, b: Any) -> bool:
    """Equal fill values (NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


@dataclass(frozen=True)
class _Chip:
    """One resolved query: its slices, bounding box, output grid and records."""

    query: Any
    x: slice
    y: slice
    bbox: tuple[float, float, float, float]
    grid: MergeGrid
    records: list[Any]
