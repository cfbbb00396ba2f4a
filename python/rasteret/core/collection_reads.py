"""Pixel reads of a :class:`~rasteret.core.collection.Collection`: record iteration,
``get_numpy`` / ``get_gdf`` / ``get_xarray``, ``sample_points``, ``read_window`` and
``to_torchgeo_dataset``.

A mixin: ``Collection`` inherits these methods; each one plans its reads from the collection's
table and hands them to the Rust core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

__all__ = ["CollectionReads"]

logger = logging.getLogger("rasteret.core.collection")


class CollectionReads:
    """Pixel-read methods of ``Collection`` (see the class for the table API)."""

    # -- record iteration --------------------------------------------------------------------

    async def iterate_rasters(
        self, data_source: str | None = None, bands: list[str] | None = None
    ) -> Any:
        """Yield a :class:`~rasteret.core.raster_accessor.RasterAccessor` per record."""
        from rasteret.core.raster_accessor import RasterAccessor

        schema = self._schema()
        if schema is None:
            return
        names = schema.names
        required = {"id", "datetime", "geometry", "assets", "bbox"}
        missing = required - set(names)
        if missing:
            raise ValueError(f"Missing required fields: {missing}")
        meta_cols = [n for n in names if n.endswith("_metadata")]
        if bands:
            meta_cols = [f"{b}_metadata" for b in bands if f"{b}_metadata" in names]
        optional = [c for c in ("proj:epsg", "eo:cloud_cover", "collection") if c in names]
        columns = ["id", "datetime", "geometry", "assets", "bbox", *optional, *meta_cols]
        source = data_source or self.data_source or ""
        for batch in self._scan_batches(columns, batch_size=1024):
            for i, row in enumerate(batch.to_pylist()):
                try:
                    bbox = row["bbox"]
                    if isinstance(bbox, dict):
                        bbox = [bbox["xmin"], bbox["ymin"], bbox["xmax"], bbox["ymax"]]
                    accessor = RasterAccessor(
                        id=str(row["id"]),
                        datetime=row["datetime"],
                        bbox=list(bbox) if bbox else [],
                        footprint=row["geometry"],
                        crs=row.get("proj:epsg"),
                        cloud_cover=row.get("eo:cloud_cover") or 0,
                        assets=dict(row["assets"] or {}),
                        band_metadata={c: row[c] for c in meta_cols if row.get(c) is not None},
                        collection=row.get("collection") or source,
                        data_source=source,
                    )
                    accessor._row = batch.slice(i, 1)
                except (KeyError, TypeError, ValueError) as exc:
                    logger.warning("skipping record %r: %s", row.get("id"), exc)
                    continue
                yield accessor

    async def get_first_raster(self) -> Any:
        """The first record as a :class:`~rasteret.core.raster_accessor.RasterAccessor`."""
        async for accessor in self.iterate_rasters():
            return accessor
        raise ValueError("No raster records found in collection")

    # -- pixel reads -------------------------------------------------------------------------

    def _io_settings(
        self, progress: bool | None, cloud_config: Any, data_source: str | None, backend: Any
    ) -> dict[str, Any]:
        """``progress`` (None: the global option) and ``backend`` (None: the auto backend of
        ``cloud_config`` or of the data source's registered cloud settings, if any)."""
        from rasteret._backends import implicit_backend
        from rasteret.core.progress import resolve_progress

        source = data_source or self.data_source or ""
        return {
            "progress": resolve_progress(progress),
            "backend": implicit_backend(backend, cloud_config, source),
        }

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
        from rasteret.core.execution import get_collection_numpy

        return get_collection_numpy(
            collection=self,
            geometries=geometries,
            bands=list(bands),
            max_concurrent=max_concurrent,
            data_source=data_source,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            geometry_column=geometry_column,
            all_touched=all_touched,
            **self._io_settings(progress, cloud_config, data_source, backend),
            **filters,
        )

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
        **filters: Any,
    ) -> Any:
        """A GeoDataFrame with one row per (record, AOI, band): pixel array and transform."""
        from rasteret.core.execution import get_collection_gdf

        return get_collection_gdf(
            collection=self,
            geometries=geometries,
            bands=list(bands),
            max_concurrent=max_concurrent,
            data_source=data_source,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            geometry_column=geometry_column,
            all_touched=all_touched,
            **self._io_settings(progress, cloud_config, data_source, backend),
            **filters,
        )

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
        **filters: Any,
    ) -> Any:
        """An xarray Dataset (one variable per band, dims ``time, geometry, y, x``).

        Takes the parameters of :meth:`get_numpy`. Coordinates are pixel centres; each
        variable carries ``_FillValue`` and a CF ``spatial_ref`` (WKT2, PROJJSON,
        ``GeoTransform``). ``xr_combine`` merges records: ``"combine_first"`` (earlier records
        win except where they hold the fill value), ``"merge"`` or ``"merge_override"``.
        Queries spanning several CRSs are reprojected to the most common one unless
        ``target_crs`` is given.

        Examples
        --------
        >>> ds = coll.get_xarray((13.57, 52.29, 13.62, 52.31), ["B04", "B08"])
        >>> ndvi = (ds.B08 - ds.B04) / (ds.B08 + ds.B04)  # doctest: +SKIP
        """
        from rasteret.core.execution import get_collection_xarray

        return get_collection_xarray(
            collection=self,
            geometries=geometries,
            bands=list(bands),
            xr_combine=xr_combine,
            max_concurrent=max_concurrent,
            data_source=data_source,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            geometry_column=geometry_column,
            all_touched=all_touched,
            **self._io_settings(progress, cloud_config, data_source, backend),
            **filters,
        )

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
            ``longitude``/``latitude``, ``lng``/``lat``, or ``x_column``/``y_column``).
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
        from rasteret.core.point_sampling import get_collection_point_samples

        return get_collection_point_samples(
            collection=self,
            points=points,
            bands=list(bands),
            geometry_column=geometry_column,
            x_column=x_column,
            y_column=y_column,
            max_concurrent=max_concurrent,
            data_source=data_source,
            geometry_crs=geometry_crs,
            match=match,
            max_distance_pixels=max_distance_pixels,
            return_neighbourhood=return_neighbourhood,
            **self._io_settings(progress, cloud_config, data_source, backend),
            **filters,
        )

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

        Returns
        -------
        numpy.ndarray
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
        from rasteret._backends import implicit_backend
        from rasteret.core.progress import resolve_progress
        from rasteret.core.window_read import read_collection_window

        backend = implicit_backend(backend, None, self.data_source or "")
        return read_collection_window(
            self,
            record_ids=record_ids,
            bounds=bounds,
            res=res,
            bands=list(bands),
            target_crs=target_crs,
            max_concurrent=max_concurrent,
            group_by=group_by,
            progress=resolve_progress(None),
            backend=backend,
        )

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
        from rasteret.integrations._torchgeo_entry import to_torchgeo_dataset

        return to_torchgeo_dataset(
            self,
            bands=list(bands),
            chip_size=chip_size,
            is_image=is_image,
            allow_resample=allow_resample,
            cloud_cover_lt=cloud_cover_lt,
            date_range=date_range,
            bbox=bbox,
            split=split,
            split_column=split_column,
            label_field=label_field,
            geometries=geometries,
            geometries_crs=geometries_crs,
            transforms=transforms,
            max_concurrent=max_concurrent,
            cloud_config=cloud_config,
            backend=backend,
            time_series=time_series,
            target_crs=target_crs,
        )
