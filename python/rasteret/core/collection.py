"""``Collection``: a filtered view over the records of COG scenes and their tile layouts.

The facade of rasteret: it holds one :class:`~rasteret.records.source.RecordSource` (a
Parquet dataset, a record index planning a wide collection, or a Hugging Face stream) and
the collection's labels. Filters return new views over new sources (pushed down into the
Parquet scan, nothing read or copied); pixel reads hand the filtered records to the read
functions of :mod:`rasteret.core.execution`, :mod:`rasteret.core.point_sampling`,
:mod:`rasteret.read.window` and the TorchGeo integration.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds

from rasteret._backends import implicit_backend
from rasteret.core.display import DescribeResult, build_catalog_comparison, build_describe_result
from rasteret.core.execution import get_collection_gdf, get_collection_numpy, get_collection_xarray
from rasteret.core.point_partitions import sample_points_any
from rasteret.core.raster_accessor import accessor_columns, accessors_of_batch
from rasteret.core.window_reads import read_collection_window
from rasteret.core.zonal import ZonalStatsMethod
from rasteret.read.progress import resolve_progress
from rasteret.records.opening import (
    arrow_source,
    cached_source,
    hf_source,
    parquet_source,
    record_index_arguments,
    source_of,
)
from rasteret.records.schema import CollectionLabels
from rasteret.records.source import DatasetSource
from rasteret.records.view import RecordView

__all__ = ["Collection"]

logger = logging.getLogger(__name__)


class Collection(RecordView, ZonalStatsMethod):
    """Records of COG assets with their tile layouts, filterable as a table.

    Parameters
    ----------
    dataset
        The records as a ``pyarrow.dataset.Dataset``.
    hf_streaming
        A :class:`~rasteret.integrations.huggingface.HFStreamingSource` to stream records
        from instead (``load("hf://datasets/...")``).
    collection_path
        Path of the (wide) collection Parquet, opened on first use when ``dataset`` is None.
    record_index_path, record_index_field_roles, record_index_column_map, \
    record_index_href_column, record_index_band_index_map, \
    record_index_url_rewrite_patterns, record_index_filesystem
        A narrow record index planning this collection: its location, ``field_roles`` /
        ``column_map`` to canonical names, ``href_column`` + ``band_index_map`` + URL rewrites
        to rebuild ``assets``, and a pyarrow filesystem. Listing, counting and filtering then
        run on the index; the wide Parquet is opened only when records are read.
    surface_fields, filter_capabilities
        What each surface (``index``, ``collection``) holds and can filter on.
    record_index_filter_expr, wide_filter_expr
        Filters of this view over the index and over the wide collection.
    name, description, data_source
        Labels; ``data_source`` selects band maps and cloud configs (e.g. ``sentinel-2-l2a``).
    start_date, end_date
        The build's date range, when known.

    Examples
    --------
    >>> coll = rasteret.load("~/rasteret_workspace/s2_202401-06_sentinel_stac")  # doctest: +SKIP
    >>> coll.subset(cloud_cover_lt=20, bbox=(11.0, 46.0, 11.5, 46.5))  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: ds.Dataset | None = None,
        hf_streaming: Any | None = None,
        collection_path: str | None = None,
        record_index_path: str | None = None,
        record_index_field_roles: dict[str, str] | None = None,
        record_index_column_map: dict[str, str] | None = None,
        record_index_href_column: str | None = None,
        record_index_band_index_map: dict[str, int] | None = None,
        record_index_url_rewrite_patterns: dict[str, str] | None = None,
        record_index_filesystem: Any | None = None,
        surface_fields: dict[str, list[str]] | None = None,
        filter_capabilities: dict[str, list[str]] | None = None,
        record_index_filter_expr: ds.Expression | None = None,
        wide_filter_expr: ds.Expression | None = None,
        name: str = "",
        description: str = "",
        data_source: str = "",
        start_date: _dt.datetime | None = None,
        end_date: _dt.datetime | None = None,
    ) -> None:
        index_kwargs = record_index_arguments(locals())
        self._source = source_of(
            dataset,
            hf_streaming,
            collection_path,
            index_kwargs,
            record_index_filter_expr,
            wide_filter_expr,
        )
        self._assign(CollectionLabels(name, description, data_source, start_date, end_date))

    def __dir__(self) -> list[str]:
        return sorted(
            n
            for n in {*super().__dir__(), "dataset"}
            if not n.startswith("_") or (n.startswith("__") and n.endswith("__"))
        )

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_parquet(
        cls,
        path: str | os.PathLike[str],
        name: str = "",
        *,
        data_source: str = "",
        defer_dataset_open: bool = False,
        record_index_path: str | None = None,
        record_index_field_roles: dict[str, str] | None = None,
        record_index_column_map: dict[str, str] | None = None,
        record_index_href_column: str | None = None,
        record_index_band_index_map: dict[str, int] | None = None,
        record_index_url_rewrite_patterns: dict[str, str] | None = None,
        record_index_filesystem: Any | None = None,
        surface_fields: dict[str, list[str]] | None = None,
        filter_capabilities: dict[str, list[str]] | None = None,
    ) -> Collection:
        """Open a collection written by :meth:`export` (or any conforming GeoParquet).

        Raises
        ------
        FileNotFoundError
            The path does not exist or cannot be opened as Parquet.
        ValueError
            Required columns (``id, datetime, geometry, assets``, ``bbox`` struct) are missing.
        """
        spath = str(path)
        if spath.startswith("hf://"):
            if record_index_path is not None:
                raise NotImplementedError(
                    f"A separate record index ({record_index_path}) for the Hugging Face "
                    f"collection {spath} is not supported; load the collection URI alone."
                )
            stem = Path(spath.rstrip("/")).stem
            return cls._of(*hf_source(spath, name=name or stem, data_source=data_source))
        index_kwargs = record_index_arguments(locals() | {"collection_path": spath})
        source, labels = parquet_source(
            spath,
            name=name,
            data_source=data_source,
            defer=defer_dataset_open,
            index_kwargs=index_kwargs,
        )
        return cls._of(source, labels)

    @classmethod
    def _load_cached(cls, path: str | os.PathLike[str]) -> Collection:
        """Open a workspace collection without contract validation (cache hits, CLI)."""
        return cls._of(*cached_source(str(path)))

    @classmethod
    def from_arrow(cls, data: Any, **kwargs: Any) -> Collection:
        """Wrap Arrow data already in the collection schema (:func:`rasteret.as_collection`,
        whose keyword arguments ``kwargs`` are: ``name``, ``data_source``, ``description``,
        ``start_date``, ``end_date``, ``require_band_metadata``).

        Raises
        ------
        ValueError
            Missing contract columns or band metadata fields.
        TypeError
            ``start_date``/``end_date`` are not ``datetime`` objects, or an unknown keyword.
        """
        return cls._of(*arrow_source(data, **kwargs))

    def describe(self) -> DescribeResult:
        """A summary table: records, bands, CRS, bounds, dates, source.

        ``records`` is ``"?"`` for a Hugging Face streaming collection: counting would scan the
        whole remote dataset.
        """
        return build_describe_result(**self._summary())

    def _summary(self) -> dict[str, Any]:
        count = self._source.count()
        return {
            "name": self.name,
            "records": "?" if count is None else count,
            "bands": self.bands,
            "bounds": self.bounds,
            "crs": self.epsg,
            "dates": self._date_strings(),
            "source": self.data_source,
        }

    def compare_to_catalog(self) -> DescribeResult:
        """:meth:`describe` checked against this collection's catalog descriptor."""
        from rasteret.catalog import DatasetRegistry

        descriptor = DatasetRegistry.get(self.data_source) or next(
            (d for d in DatasetRegistry.list() if d.stac_collection == self.data_source), None
        )
        if descriptor is None:
            raise ValueError(f"No catalog entry found for data_source={self.data_source!r}")
        return build_catalog_comparison(
            **self._summary(),
            catalog_name=descriptor.name,
            catalog_bands=list((descriptor.band_map or descriptor.band_index_map or {}).keys()),
            catalog_temporal=descriptor.temporal_range,
            catalog_coverage=descriptor.spatial_coverage,
            catalog_auth=descriptor.requires_auth,
            catalog_license=descriptor.license,
        )

    # -- records one by one ------------------------------------------------------------------

    def _record_view(self, row: pa.RecordBatch) -> Callable[[], Collection]:
        return lambda: self._view(DatasetSource(ds.dataset(pa.Table.from_batches([row]))))

    def _resolve_io(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """``arguments`` with ``cloud_config`` folded into ``backend`` (the data source's
        cloud settings when no backend is given) and ``progress=None`` as the global option."""
        cloud_config = arguments.pop("cloud_config", None)
        source = arguments.get("data_source") or self.data_source or ""
        arguments["backend"] = implicit_backend(arguments.get("backend"), cloud_config, source)
        arguments["progress"] = resolve_progress(arguments.get("progress"))
        return arguments

    async def iterate_rasters(
        self, data_source: str | None = None, bands: list[str] | None = None
    ) -> Any:
        """Yield a :class:`~rasteret.core.raster_accessor.RasterAccessor` per record."""
        schema = self._source.schema
        if schema is None:
            return
        columns = accessor_columns(schema, bands)
        source = data_source or self.data_source or ""
        for batch in self._source.batches(columns, batch_size=1024):
            for accessor in accessors_of_batch(batch, source, self._record_view):
                yield accessor

    async def get_first_raster(self) -> Any:
        """The first record as a :class:`~rasteret.core.raster_accessor.RasterAccessor`."""
        async for accessor in self.iterate_rasters():
            return accessor
        raise ValueError("No raster records found in collection")

    # -- pixel reads -------------------------------------------------------------------------

    def get_numpy(
        self,
        geometries: Any,
        bands: list[str],
        *,
        max_concurrent: int = 50,
        progress: bool | None = None,
        cloud_config: Any = None,
        data_source: str | None = None,
        backend: Any = None,
        target_crs: int | None = None,
        geometry_crs: Any = "auto",
        geometry_column: str | None = None,
        all_touched: bool = False,
        record_id_column: str | None = None,
        **filters: Any,
    ) -> Any:
        """Pixels of every (record, AOI) pair as ``[N, H, W]`` or ``[N, C, H, W]``.

        Each AOI is read like ``rasterio.mask.mask(crop=True, filled=True)``: the window of
        the geometry's bounds, pixels outside the polygon set to nodata (or 0), native dtype.
        ``**filters`` are :meth:`subset` criteria applied first.

        Parameters
        ----------
        geometries
            Polygon AOIs: a ``(minx, miny, maxx, maxy)`` tuple, shapely (Multi)Polygons, WKB,
            GeoJSON dicts, GeoArrow/WKB arrays, or a table (pyarrow, DuckDB relation, Polars,
            GeoPandas ``to_arrow()``) with a geometry column.
        bands
            Band codes to read, e.g. ``["B04", "B08"]``; one band gives ``[N, H, W]``.
        max_concurrent
            Most requests in flight at once.
        progress
            Show a progress bar (``None``: the global option).
        cloud_config, data_source, backend
            Where band names and cloud settings come from; ``backend`` is a
            :func:`rasteret.create_backend` result or any ``StorageBackend``.
        target_crs
            Reproject every result to this EPSG code (bilinear, float32 with NaN).
        geometry_crs
            CRS of ``geometries``: ``"auto"`` (GeoArrow metadata of tables, else EPSG:4326),
            an EPSG int, a CRS string, or ``None`` for the raster CRS.
        geometry_column
            Geometry column of a tabular input (found automatically when GeoArrow-typed).
        all_touched
            Include every pixel the polygon touches (rasterio's ``all_touched``).
        record_id_column
            Column of a tabular ``geometries`` input naming, per geometry, the record ``id``
            to read it from (label polygons of a training set, sampled chips): each pair is
            read, all in one call, and slices follow the geometries' order.
        **filters
            :meth:`subset` criteria (``cloud_cover_lt``, ``date_range``, ``bbox``...).

        Returns
        -------
        numpy.ndarray
            One slice per (record, AOI), records in collection order.

        Raises
        ------
        ValueError
            Unknown band, no data for the AOIs, or AOIs of different shapes across records
            (use :meth:`get_gdf` or :meth:`get_xarray` then).

        Examples
        --------
        >>> arr = coll.get_numpy((13.57, 52.29, 13.62, 52.31), ["B04", "B08"])
        >>> arr.shape  # records, bands, rows, columns
        (4, 2, 230, 347)
        """
        return get_collection_numpy(collection=self, **self._resolve_io(_arguments(locals())))

    def get_gdf(
        self,
        geometries: Any,
        bands: list[str],
        *,
        max_concurrent: int = 50,
        progress: bool | None = None,
        cloud_config: Any = None,
        data_source: str | None = None,
        backend: Any = None,
        target_crs: int | None = None,
        geometry_crs: Any = "auto",
        geometry_column: str | None = None,
        all_touched: bool = False,
        record_id_column: str | None = None,
        spatial_sort: bool = True,
        **filters: Any,
    ) -> Any:
        """A GeoDataFrame with one row per (record, AOI, band): pixel array and transform. A
        Dask frame of AOIs gives a lazy Dask DataFrame (``geometry_id`` = index label + 1),
        its AOIs regrouped by tile first unless ``spatial_sort=False`` (as ``sample_points``)."""
        return get_collection_gdf(collection=self, **self._resolve_io(_arguments(locals())))

    def get_xarray(
        self,
        geometries: Any,
        bands: list[str],
        *,
        max_concurrent: int = 50,
        progress: bool | None = None,
        cloud_config: Any = None,
        data_source: str | None = None,
        backend: Any = None,
        target_crs: int | None = None,
        geometry_crs: Any = "auto",
        geometry_column: str | None = None,
        all_touched: bool = False,
        xr_combine: str = "combine_first",
        record_id_column: str | None = None,
        chunks: Any = None,
        **filters: Any,
    ) -> Any:
        """An xarray Dataset (one variable per band, dims ``time, geometry, y, x``).

        Takes the parameters of :meth:`get_numpy`. Coordinates are pixel centres; each
        variable carries ``_FillValue`` and a CF ``spatial_ref`` (WKT2, PROJJSON,
        ``GeoTransform``). ``xr_combine`` merges records: ``"combine_first"`` (earlier records
        win except where they hold the fill value), ``"merge"`` or ``"merge_override"``.
        Queries spanning several CRSs are reprojected to the most common one unless
        ``target_crs`` is given.

        ``chunks`` (None: read now) returns the same Dataset backed by Dask arrays: ``"auto"``
        (one time, one geometry, whole COG tiles up to 2048 pixels) or a dict of ``time``,
        ``geometry``, ``y``, ``x`` sizes. The graph is built from the index without a request;
        each chunk a window overlaps is one task reading only its records' tiles (no header
        on a worker), the others are fill. Covers ``"combine_first"`` of integer bands on the
        records' own grid; other reads raise ``NotImplementedError``.

        Examples
        --------
        >>> ds = coll.get_xarray((13.57, 52.29, 13.62, 52.31), ["B04", "B08"])
        >>> ndvi = (ds.B08 - ds.B04) / (ds.B08 + ds.B04)  # doctest: +SKIP
        """
        return get_collection_xarray(collection=self, **self._resolve_io(_arguments(locals())))

    def sample_points(
        self,
        points: Any,
        bands: list[str],
        *,
        geometry_column: str | None = None,
        x_column: str | None = None,
        y_column: str | None = None,
        max_concurrent: int = 50,
        progress: bool | None = None,
        cloud_config: Any = None,
        data_source: str | None = None,
        backend: Any = None,
        geometry_crs: Any = "auto",
        match: str = "all",
        max_distance_pixels: int = 0,
        return_neighbourhood: str = "off",
        spatial_sort: bool = True,
        **filters: Any,
    ) -> pa.Table:
        """Pixel values of ``bands`` at ``points`` for every matching record (Arrow table).

        Values equal ``rasterio``'s ``sample`` (floor of the inverse affine), as float64;
        ``match="latest"`` keeps only the newest record per point and band;
        ``max_distance_pixels`` replaces nodata centres by the nearest valid pixel.

        Parameters
        ----------
        points
            Shapely Points, WKB, GeoJSON points, a GeoArrow point array, or a table with a
            point geometry column or x/y columns (``x``/``y``, ``lon``/``lat``,
            ``longitude``/``latitude``, ``lng``/``lat``, or ``x_column``/``y_column``). A Dask
            (or dask-geopandas) frame gives a lazy Dask DataFrame: one task per partition,
            ``point_index`` = the frame's (integer) index label.
        bands
            Band codes to sample.
        geometry_crs
            CRS of the points; x/y columns need it explicitly (an EPSG int).
        match
            ``"all"``: a row per matching record; ``"latest"``: the newest record only.
        max_distance_pixels
            Search radius (Chebyshev rings) for a valid pixel when the centre is nodata.
        return_neighbourhood
            ``"off"``, ``"always"`` or ``"if_center_nodata"``: add the ``(2r+1)^2`` window
            around each point as ``neighbourhood_values``.
        spatial_sort
            Dask frames: regroup the points by COG tile first (Hilbert order; one pass over
            the points) so each tile is read by one partition. Rows come in tile order.
        **filters
            :meth:`subset` criteria applied first.

        Returns
        -------
        pyarrow.Table
            ``POINT_SAMPLES_SCHEMA`` (``point_index, point_x, point_y, point_crs, record_id,
            datetime, collection, band, value, raster_crs``) plus the input table's columns.

        Examples
        --------
        >>> import pyarrow as pa
        >>> plots = pa.table({"plot": [1, 2], "lon": [13.58, 13.60], "lat": [52.30, 52.31]})
        >>> coll.sample_points(plots, ["B04"], geometry_crs=4326).num_rows  # 2 points x 4 records
        8
        """
        arguments = self._resolve_io(_arguments(locals()))
        return sample_points_any(collection=self, **arguments)

    def read_window(
        self,
        *,
        record_ids: str | Sequence[str],
        bounds: tuple[float, float, float, float],
        res: float | tuple[float, float],
        bands: list[str],
        target_crs: int | None = None,
        max_concurrent: int = 50,
        backend: Any = None,
        group_by: str | None = None,
        chunks: Any = None,
    ) -> Any:
        """Records resampled onto one grid, like ``rasterio.merge.merge(bounds=, res=)``.

        Parameters
        ----------
        record_ids
            Record id(s) to read, in output order. Unknown ids raise ``ValueError``.
        bounds
            ``(left, bottom, right, top)`` of the output grid, in ``target_crs`` when given,
            else in the records' CRS (records of several CRS then need ``target_crs``).
        res
            Output pixel size ``xres`` or ``(xres, yres)``, in the same units.
        bands
            Band codes, in output order.
        target_crs
            EPSG code of the grid; records in another CRS are warped onto it
            (``rasterio.warp.reproject``).
        max_concurrent
            Requests in flight.
        backend
            A ``StorageBackend`` (``create_backend`` or a custom one); None: the default
            routing, or the data source's ``CloudConfig`` (as the other reads).
        group_by
            None: one output per record. A column name (e.g. ``"datetime"``): records with the
            same value are mosaicked into one output, the first record (``record_ids`` order)
            winning wherever it has data (``rasterio.merge.merge``'s ``method="first"``).
        chunks
            None: read now. Else a lazy ``dask.array.Array`` of the same values: ``"auto"``
            (one record, all bands, whole COG tiles up to 2048 px) or a dict of ``record``,
            ``band``, ``y``, ``x`` sizes (int, ``-1`` = whole axis, ``"auto"``). One task per
            chunk a record touches (no header read on workers); resampled reads are not
            chunked in space.

        Returns
        -------
        numpy.ndarray or dask.array.Array
            ``[N, C, H, W]``: N records (or groups, in first-appearance order), C bands,
            ``H = round((top - bottom) / yres)``, ``W = round((right - left) / xres)``; the
            grid's transform is ``Affine(xres, 0, left, 0, -yres, top)``. Pixels are those of
            ``rasterio.merge.merge([src], bounds=bounds, res=res, indexes=[band])`` with
            nearest resampling for integer bands and bilinear for float bands; where no record
            has data: nodata (when representable in the dtype) or 0. Integer bands keep their
            dtype; a window on the native grid is a plain tile copy (no GDAL involved).
            A progress bar is shown when ``rasteret.options(progress=True)`` is set.

        Raises
        ------
        ValueError
            Unknown record ids or bands, bad bounds/res, unknown ``group_by`` column, records
            in several CRS without ``target_crs``.
        Examples
        --------
        >>> arr = coll.read_window(record_ids=["S2A_1"], bounds=(500000, 4990000, 505120,
        ...                        4995120), res=10, bands=["B04"])  # doctest: +SKIP
        >>> arr.shape  # doctest: +SKIP
        (1, 1, 512, 512)
        """
        return read_collection_window(self, **_arguments(locals()))

    # -- machine learning --------------------------------------------------------------------

    def to_torchgeo_dataset(
        self,
        *,
        bands: list[str],
        chip_size: int | None = None,
        is_image: bool = True,
        allow_resample: bool = False,
        cloud_cover_lt: float | None = None,
        date_range: tuple[str, str] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        split: str | Sequence[str] | None = None,
        split_column: str = "split",
        label_field: str | None = None,
        geometries: Any = None,
        geometries_crs: int = 4326,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        max_concurrent: int = 50,
        cloud_config: Any = None,
        backend: Any = None,
        time_series: bool = False,
        target_crs: int | None = None,
    ) -> Any:
        """A TorchGeo ``GeoDataset`` (:class:`~rasteret.integrations.torchgeo.RasteretGeoDataset`)
        over the records matching the given filters.

        Chips are read through the Rust core and placed like ``rasterio.merge.merge`` (native
        dtype; ``target_crs`` reprojects to float32). ``time_series=True`` yields
        ``[T, C, H, W]`` samples. Needs the ``rasteret[torchgeo]`` extra.

        Raises
        ------
        ValueError
            Unknown bands, an empty collection, or records without a usable CRS/transform.
        ImportError
            torch or torchgeo is not installed.

        Examples
        --------
        >>> from torchgeo.samplers import RandomGeoSampler  # doctest: +SKIP
        >>> ds = coll.to_torchgeo_dataset(bands=["B04", "B08"], chip_size=256)  # doctest: +SKIP
        >>> sample = ds[next(iter(RandomGeoSampler(ds, size=256, length=1)))]  # doctest: +SKIP
        >>> sample["image"].shape  # doctest: +SKIP
        torch.Size([2, 256, 256])
        """
        arguments = _arguments(locals())
        from rasteret.integrations._torchgeo_entry import to_torchgeo_dataset

        return to_torchgeo_dataset(self, **arguments)


def _arguments(local_vars: dict[str, Any]) -> dict[str, Any]:
    """A method's arguments from its ``locals()`` (taken first thing in its body) as keyword
    arguments of the function it forwards to: ``self`` dropped, ``bands`` as a list and
    ``**filters`` spread out again."""
    arguments = {k: v for k, v in local_vars.items() if k not in ("self", "__class__")}
    if "bands" in arguments:
        arguments["bands"] = list(arguments["bands"])
    filters = arguments.pop("filters", {})
    return {**arguments, **filters}
