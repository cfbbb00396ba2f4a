"""``Collection.zonal_stats``: per-polygon pixel statistics over the records of a collection,
built on :mod:`rasteret.read.zonal` (pixels are reduced in the Rust core as they are
decoded; no pixel array reaches Python).

The query is narrowed first, as for the AOI reads: ``**filters`` are ``Collection.subset()``
keywords and their ``bbox`` is intersected with the envelope of the geometries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from rasteret._backends import implicit_backend, io_options
from rasteret.core.dask_frames import check_integer_index, is_dask_frame, relabel, shared_records
from rasteret.core.spatial_sort import aoi_centres, sorter, spatially_sorted, tile_grid
from rasteret.read.inputs import (
    AUTO_CRS,
    narrow_query_filters,
    prepare_geometry_input,
    query_envelope,
)
from rasteret.read.zonal import STATS, check_stats, zonal_columns, zonal_stats
from rasteret.records.summary import infer_data_source

__all__ = ["ZonalStatsMethod", "get_collection_zonal_stats", "zonal_partition"]


def get_collection_zonal_stats(
    *,
    collection: Any,
    geometries: Any,
    bands: Sequence[str],
    stats: str | Sequence[str] = STATS,
    all_touched: bool = False,
    nodata: float | None = None,
    id_column: str | None = None,
    geometry_crs: Any = AUTO_CRS,
    geometry_column: str | None = None,
    max_concurrent: int = 50,
    cloud_config: Any = None,
    data_source: str | None = None,
    backend: Any = None,
    **filters: Any,
) -> pa.Table:
    """The table of :meth:`ZonalStatsMethod.zonal_stats` for ``collection``."""
    names = check_stats(stats)
    bands = list(bands)
    available = collection.bands
    missing = [b for b in bands if b not in available]
    if available and missing:
        raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")
    plan = prepare_geometry_input(
        geometries, geometry_column=geometry_column, geometry_crs=geometry_crs
    )
    if id_column is not None and (plan.table is None or id_column not in plan.table.column_names):
        raise ValueError(f"id_column {id_column!r} is not a column of the geometries table")
    source = data_source or infer_data_source(collection)
    options = io_options(
        implicit_backend(backend, cloud_config, source), max_concurrent=max_concurrent
    )
    narrowed = narrow_query_filters(filters, query_envelope(plan))
    view = collection if narrowed is None or not narrowed else collection.subset(**narrowed)
    schema = view._schema()
    if narrowed is None or schema is None:  # no record near the geometries: no rows
        table = pa.table({"id": pa.array([], pa.string()), "assets": pa.array([], pa.null())})
    else:
        table = view._scan_table(zonal_columns(schema.names, bands))
    return zonal_stats(
        table,
        plan,
        bands,
        data_source=source,
        stats=names,
        all_touched=all_touched,
        nodata=nodata,
        options=options,
        id_column=id_column,
    )


#: ``zonal_stats`` keywords that are not ``subset`` filters.
_READ_KEYS = {
    "bands", "stats", "all_touched", "nodata", "id_column", "geometry_crs", "geometry_column",
    "max_concurrent", "cloud_config", "data_source", "backend",
}  # fmt: skip


def zonal_partition(frame: Any, records: pa.Table, options: dict[str, Any]) -> Any:
    """The statistics of one partition's geometries (the task a worker runs), as pandas;
    ``geometry_index`` is the geometry's index label in the input frame."""
    plan = prepare_geometry_input(
        frame, geometry_column=options["geometry_column"], geometry_crs=options["geometry_crs"]
    )
    out = zonal_stats(records, plan, **options["read"])
    return relabel(out, "geometry_index", frame).to_pandas()


def _lazy_zonal_stats(
    collection: Any, geometries: Any, kwargs: dict[str, Any], spatial_sort: bool = True
) -> Any:
    """``zonal_stats`` of a Dask frame: a lazy Dask DataFrame, one task per partition over
    the collection's records (one graph key), with the eager result's columns; with
    ``spatial_sort`` the polygons are regrouped by the tile of their bounds' centre first."""
    check_integer_index(geometries, "geometry_index")
    # the eager call on the empty frame validates every option and gives the output columns
    meta = get_collection_zonal_stats(
        collection=collection, geometries=geometries._meta, **kwargs
    ).to_pandas()
    bands = list(kwargs["bands"])
    filters = {k: v for k, v in kwargs.items() if k not in _READ_KEYS}
    view = collection.subset(**filters) if filters else collection
    schema = view._schema()
    if schema is None:
        return geometries.map_partitions(lambda _: meta, meta=meta)
    source = kwargs.get("data_source") or infer_data_source(collection)
    backend = implicit_backend(kwargs.get("backend"), kwargs.get("cloud_config"), source)
    options = {
        "geometry_column": kwargs.get("geometry_column"),
        "geometry_crs": kwargs.get("geometry_crs", AUTO_CRS),
        "read": {
            "bands": bands,
            "data_source": source,
            "stats": check_stats(kwargs.get("stats", STATS)),
            "all_touched": kwargs.get("all_touched", False),
            "nodata": kwargs.get("nodata"),
            "options": io_options(backend, max_concurrent=kwargs.get("max_concurrent", 50)),
            "id_column": kwargs.get("id_column"),
        },
    }
    records = view._scan_table(zonal_columns(schema.names, bands))
    grid = tile_grid(records, bands) if spatial_sort else None
    if grid is not None and geometries.npartitions > 1:
        inputs = {k: options[k] for k in ("geometry_column", "geometry_crs")}
        geometries = spatially_sorted(geometries, sorter(aoi_centres, inputs), grid)
    return geometries.map_partitions(
        zonal_partition, shared_records(records), options, meta=meta, enforce_metadata=False
    )


class ZonalStatsMethod:
    """The ``zonal_stats`` method of :class:`~rasteret.core.collection.Collection`."""

    def zonal_stats(
        self,
        geometries: Any,
        bands: Sequence[str],
        *,
        stats: str | Sequence[str] = STATS,
        all_touched: bool = False,
        nodata: float | None = None,
        id_column: str | None = None,
        geometry_crs: Any = AUTO_CRS,
        geometry_column: str | None = None,
        max_concurrent: int = 50,
        cloud_config: Any = None,
        data_source: str | None = None,
        backend: Any = None,
        spatial_sort: bool = True,
        **filters: Any,
    ) -> pa.Table:
        """Pixel statistics of every polygon on every record and band (Arrow table).

        Values equal ``rasterstats.zonal_stats`` on the same file: the polygon is rasterized
        with GDAL's rules on the grid of its bounds window, and a pixel counts when it is
        covered (its centre, or any part with ``all_touched``), inside the image, not NaN,
        not nodata and valid in the file's internal mask. Pixels are reduced in the Rust
        core as tiles are decoded; no pixel array is built in Python.

        Parameters
        ----------
        geometries
            Polygons in any form :meth:`get_numpy` accepts (a table, GeoDataFrame, shapely,
            WKB, GeoJSON, a bbox tuple), in ``geometry_crs``; each is reprojected to the CRS
            of every record it is measured on. A Dask (or dask-geopandas) frame gives a lazy
            Dask DataFrame of the same columns: one task per partition, ``geometry_index`` =
            the frame's (integer) index label.
        bands
            Band codes, e.g. ``["B04", "B08"]``.
        stats
            Any of ``"count", "sum", "mean", "min", "max", "std"`` (population, ``ddof=0``),
            as a sequence or a space-separated string; ``count`` leaves out nodata, NaN and
            masked pixels.
        all_touched
            Count every pixel the polygon touches, not only those whose centre it covers.
        nodata
            Value to leave out instead of each file's nodata.
        id_column
            A column of a tabular ``geometries`` input copied into the result (e.g. a field
            or parcel id).
        geometry_crs, geometry_column, max_concurrent, cloud_config, data_source, backend
            As in :meth:`get_numpy`.
        spatial_sort
            Dask frames: regroup the polygons by the COG tile of their bounds' centre first
            (as :meth:`sample_points`), so few partitions read each tile.
        **filters
            :meth:`subset` criteria (``cloud_cover_lt``, ``date_range``...) applied first.

        Returns
        -------
        pyarrow.Table
            One row per (geometry, record, band) whose bounds window overlaps the record's
            image, ordered by geometry, record, band: ``geometry_index`` (0-based position
            in ``geometries``), the ``id_column``, ``record_id``, ``datetime`` (when the
            records have it), ``band``, then one column per statistic (``count`` int64,
            the others float64, null where ``count`` is 0).

        Raises
        ------
        ValueError
            An unknown statistic (the valid names are listed) or band; no record could be
            read (the message names the first failure and its URL). When only some records
            fail, their rows are left out with a ``RuntimeWarning``.

        Examples
        --------
        >>> t = coll.zonal_stats(fields, ["B04", "B08"], stats=["mean", "count"])  # doctest: +SKIP
        >>> t.column_names  # doctest: +SKIP
        ['geometry_index', 'record_id', 'datetime', 'band', 'mean', 'count']
        """
        arguments = {k: v for k, v in locals().items() if k not in ("self", "filters")}
        spatial_sort = arguments.pop("spatial_sort")
        if is_dask_frame(geometries):
            del arguments["geometries"]
            return _lazy_zonal_stats(self, geometries, {**arguments, **filters}, spatial_sort)
        return get_collection_zonal_stats(collection=self, **arguments, **filters)
