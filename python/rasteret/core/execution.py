"""Collection-level polygon reads: NumPy stacks, GeoDataFrames and xarray Datasets, built on
:mod:`rasteret.read.aoi`. ``Collection.get_numpy`` / ``get_gdf`` / ``get_xarray`` call
these functions.

Every read first narrows the query: ``**filters`` are ``Collection.subset()`` keywords, and
their ``bbox`` is intersected with the envelope of the AOIs (in EPSG:4326), so only records
near the AOIs are scanned; an AOI envelope disjoint from the caller's ``bbox`` ends in
``ValueError("No valid data found")`` without any I/O.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rasteret.core.dask_frames import check_integer_index, is_dask_frame, shared_records
from rasteret.core.spatial_sort import aoi_centres, sorter, spatially_sorted, tile_grid
from rasteret.core.xarray_chunks import lazy_cube
from rasteret.core.xarray_cube import dataset_from_reads
from rasteret.read.aoi import AoiReadResult, aoi_columns, read_aoi
from rasteret.read.buffers import evenly_spaced
from rasteret.read.inputs import (
    AUTO_CRS,
    GeometryInputPlan,
    fail_on_metadata_collisions,
    narrow_query_filters,
    prepare_geometry_input,
    query_envelope,
)
from rasteret.read.pairs import check_pairs, record_pairs

logger = logging.getLogger(__name__)

__all__ = ["get_collection_gdf", "get_collection_numpy", "get_collection_xarray"]

#: Output columns of ``get_gdf`` (input metadata columns joined to them must not reuse them).
_GDF_COLUMNS = (
    "record_id",
    "datetime",
    "cloud_cover",
    "collection",
    "geometry_id",
    "geometry",
    "band",
    "data",
    "transform",
)


def _buffer_view(arrays: list[np.ndarray], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """``arrays`` as one array of ``shape`` without a copy when they are consecutive,
    C-contiguous views of ``dtype`` into one buffer, else None."""
    spaced = evenly_spaced(arrays, dtype)
    if spaced is None or spaced[2] != arrays[0].nbytes:
        return None
    root, offset, _ = spaced
    return np.ndarray(shape, dtype=dtype, buffer=root, offset=offset)


def _check_bands(collection: Any, bands: list[str]) -> None:
    available = collection.bands
    missing = [b for b in bands if b not in available]
    if available and missing:
        raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")


def _query_view(collection: Any, plan: GeometryInputPlan, filters: dict[str, Any]) -> Any:
    """The collection narrowed by ``filters`` and the AOIs' envelope (see the module doc)."""
    narrowed = narrow_query_filters(filters, query_envelope(plan))
    if narrowed is None:
        raise ValueError("No valid data found")
    return collection.subset(**narrowed) if narrowed else collection


def _detect_target_crs(table: pa.Table) -> int | None:
    """The most common ``proj:epsg`` of the records in ``table`` when they span several CRSs
    (logged), else None."""
    if "proj:epsg" not in table.column_names:
        return None
    counts = Counter(v for v in table.column("proj:epsg").to_pylist() if v)
    epsgs = sorted(int(v) for v in counts)
    if len(epsgs) <= 1:
        return None
    chosen = counts.most_common(1)[0][0]
    logger.warning(
        "Query spans %d CRS zones %s; auto-reprojecting to EPSG:%d. Pass target_crs= "
        "explicitly to override.",
        len(epsgs),
        epsgs,
        chosen,
    )
    return int(chosen)


def _prepare(
    collection: Any,
    geometries: Any,
    bands: list[str],
    *,
    data_source: str | None,
    backend: Any,
    target_crs: int | None,
    geometry_crs: Any,
    geometry_column: str | None,
    filters: dict[str, Any],
    preserve_metadata: bool = False,
    auto_target_crs: bool = False,
    record_id_column: str | None = None,
) -> dict[str, Any]:
    """Validate and narrow the query: the arguments of :func:`read_aoi` but ``bands``.

    ``preserve_metadata`` keeps a tabular input's other columns (for ``get_gdf``).
    ``auto_target_crs``: without ``target_crs``, reproject to the most common CRS of the
    narrowed records when they span several. ``record_id_column`` pairs each geometry of a
    tabular input with the one record it is read from.
    """
    from rasteret._backends import implicit_backend
    from rasteret.core.utils import infer_data_source

    _check_bands(collection, bands)
    plan = prepare_geometry_input(
        geometries,
        geometry_column=geometry_column,
        geometry_crs=geometry_crs,
        preserve_metadata=preserve_metadata,
    )
    if preserve_metadata:  # checked before any I/O
        fail_on_metadata_collisions(
            plan.metadata, output_columns=_GDF_COLUMNS, join_column="geometry_id"
        )
    view = _query_view(collection, plan, filters)
    pairs = None
    if record_id_column is not None:
        pairs = record_pairs(plan, record_id_column)
        view = view.where(pc.field("id").isin(sorted({p for p in pairs if p is not None})))
    source = data_source or infer_data_source(collection)
    schema = view._schema()
    if schema is None:
        raise ValueError("No valid data found")
    table = view._scan_table(aoi_columns(schema.names, bands))
    if auto_target_crs and target_crs is None:
        target_crs = _detect_target_crs(table)
    if pairs is not None:
        check_pairs(pairs, table, record_id_column)
    return {
        "table": table,
        "plan": plan,
        "data_source": source,
        "target_crs": target_crs,
        "backend": implicit_backend(backend, None, source),
        "record_ids": pairs,
    }


def _read(
    collection: Any,
    geometries: Any,
    bands: list[str],
    *,
    max_concurrent: int,
    progress: bool,
    all_touched: bool,
    copy_arrays: bool = True,
    **query: Any,
) -> AoiReadResult:
    """Validate, narrow the query (:func:`_prepare`), then read every (record, AOI, band)."""
    prepared = _prepare(collection, geometries, bands, **query)
    table, plan = prepared.pop("table"), prepared.pop("plan")
    return read_aoi(
        table,
        plan,
        bands,
        all_touched=all_touched,
        max_concurrent=max_concurrent,
        progress=bool(progress),
        copy_arrays=copy_arrays,
        **prepared,
    )


def get_collection_numpy(
    *,
    collection: Any,
    geometries: Any,
    bands: list[str],
    data_source: str | None = None,
    max_concurrent: int = 50,
    progress: bool = False,
    backend: Any = None,
    target_crs: int | None = None,
    geometry_crs: Any = AUTO_CRS,
    geometry_column: str | None = None,
    all_touched: bool = False,
    record_id_column: str | None = None,
    **filters: Any,
) -> np.ndarray:
    """Pixels of every (record, AOI) pair: ``[N, H, W]`` for one band, ``[N, C, H, W]`` for
    several (native dtype; float32 only after ``target_crs`` reprojection).

    Parameters are those of ``Collection.get_numpy`` with a resolved ``backend`` (None: the
    data source's cloud settings, else default routing) and ``progress``; ``**filters`` are
    ``Collection.subset()`` keywords applied before reading.

    Raises
    ------
    ValueError
        Unknown band, no data, or AOIs of different shapes (use :func:`get_collection_gdf`).
    """
    bands = list(bands)
    unique = list(dict.fromkeys(bands))
    result = _read(
        collection,
        geometries,
        unique,
        data_source=data_source,
        max_concurrent=max_concurrent,
        progress=progress,
        backend=backend,
        target_crs=target_crs,
        geometry_crs=geometry_crs,
        geometry_column=geometry_column,
        all_touched=all_touched,
        record_id_column=record_id_column,
        filters=filters,
        copy_arrays=False,
    )
    per_band: dict[str, list[np.ndarray]] = {b: [] for b in unique}
    for r in result.reads:
        per_band[r.band].append(r.data)
    counts = {b: len(v) for b, v in per_band.items()}
    if len(set(counts.values())) > 1:
        raise ValueError(f"Inconsistent sample count for band(s): {counts}")
    reference = None
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
        shape = (len(arrays), *shapes[0])
        if reference is None:
            reference = shape
        elif shape != reference:
            raise ValueError(
                f"Band '{band}' shape {shape} does not match reference shape {reference}"
            )
    # the reads are views into the buffers the core read into: when they already lie there
    # in output order (one chunk, every pair read, bands as asked), that buffer is the
    # output; otherwise one copy into it
    dtype = np.result_type(*{a.dtype for b in unique for a in per_band[b]})
    in_order = [per_band[b][i] for i in range(reference[0]) for b in bands]
    shape = reference if len(bands) == 1 else (reference[0], len(bands), *reference[1:])
    view = _buffer_view(in_order, shape, dtype)
    if view is not None:
        return view
    if len(bands) == 1:
        out = np.empty(reference, dtype=dtype)
        for i, data in enumerate(per_band[bands[0]]):
            out[i] = data
        return out
    out = np.empty((reference[0], len(bands), *reference[1:]), dtype=dtype)
    for c, band in enumerate(bands):
        for i, data in enumerate(per_band[band]):
            out[i, c] = data
    return out


def _output_geometries(result: AoiReadResult, target_crs: Any) -> tuple[np.ndarray, Any]:
    """The input AOIs as Shapely geometries, in ``target_crs`` when given."""
    from rasteret.geo.geometry import to_shapely, transform_geometry

    geoms = to_shapely(result.plan.geometries)
    crs = result.plan.geometry_crs
    if target_crs is not None and crs is not None and target_crs != crs:
        geoms = transform_geometry(geoms, crs, target_crs)
        crs = target_crs
    return geoms, crs


def get_collection_gdf(
    *,
    collection: Any,
    geometries: Any,
    bands: list[str],
    data_source: str | None = None,
    max_concurrent: int = 50,
    backend: Any = None,
    target_crs: int | None = None,
    geometry_crs: Any = AUTO_CRS,
    geometry_column: str | None = None,
    all_touched: bool = False,
    progress: bool = False,
    record_id_column: str | None = None,
    spatial_sort: bool = True,
    **filters: Any,
) -> Any:
    """A GeoDataFrame with one row per (record, AOI, band): ``record_id, datetime,
    cloud_cover, collection, geometry_id, geometry, band, data, transform``, then the other
    columns of a tabular AOI input (joined on ``geometry_id``).

    Parameters are those of :func:`get_collection_numpy`; ``spatial_sort`` regroups a Dask
    frame of AOIs by the tile of their bounding-box centres first (no effect on others).

    Raises
    ------
    ValueError
        As :func:`get_collection_numpy`; also input columns named like output columns.
    """
    if is_dask_frame(geometries):
        return _lazy_gdf(
            collection,
            geometries,
            list(bands),
            data_source=data_source,
            max_concurrent=max_concurrent,
            backend=backend,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            geometry_column=geometry_column,
            all_touched=all_touched,
            record_id_column=record_id_column,
            spatial_sort=spatial_sort,
            filters=filters,
        )
    result = _read(
        collection,
        geometries,
        list(bands),
        data_source=data_source,
        max_concurrent=max_concurrent,
        progress=progress,
        backend=backend,
        target_crs=target_crs,
        geometry_crs=geometry_crs,
        geometry_column=geometry_column,
        all_touched=all_touched,
        record_id_column=record_id_column,
        filters=filters,
        preserve_metadata=True,
        copy_arrays=False,  # each row's array is a view of the one buffer the core read into
    )
    return gdf_of_reads(result, target_crs)


def gdf_of_reads(result: AoiReadResult, target_crs: int | None) -> Any:
    """``get_gdf``'s GeoDataFrame of an AOI read (see :func:`get_collection_gdf`)."""
    import geopandas as gpd
    import pandas as pd

    geoms, crs = _output_geometries(result, target_crs)
    crs_text = None if crs is None else (f"EPSG:{crs}" if isinstance(crs, int) else crs)
    meta = result.plan.metadata
    rows = {
        "record_id": [r.record_id for r in result.reads],
        "datetime": [r.datetime for r in result.reads],
        "cloud_cover": np.array(
            [np.nan if r.cloud_cover is None else r.cloud_cover for r in result.reads], float
        ),
        "collection": [r.collection for r in result.reads],
        "geometry_id": [r.geometry_index + 1 for r in result.reads],
        "band": [r.band for r in result.reads],
        "data": [r.data for r in result.reads],
        "transform": [r.transform for r in result.reads],
    }
    frame = pd.DataFrame(rows)
    geometry = [geoms[r.geometry_index] for r in result.reads]
    gdf = gpd.GeoDataFrame(frame, geometry=geometry, crs=crs_text)
    gdf = gdf[list(_GDF_COLUMNS)]
    if meta is not None:
        gdf = gdf.merge(meta.to_pandas(), on="geometry_id", how="left")
        gdf = gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs_text)
    return gdf


def gdf_partition(frame: Any, records: Any, options: dict[str, Any]) -> Any:
    """The ``get_gdf`` rows of one partition's AOIs (the task a worker runs); ``geometry_id``
    is the AOI's index label in the input frame plus one."""
    plan = prepare_geometry_input(frame, preserve_metadata=True, **options["input"])
    pairs = None
    if options["record_id_column"] is not None:
        pairs = record_pairs(plan, options["record_id_column"])
        check_pairs(pairs, records, options["record_id_column"])
    result = read_aoi(records, plan, options["bands"], record_ids=pairs, **options["read"])
    gdf = gdf_of_reads(result, options["read"]["target_crs"])
    labels = np.asarray(frame.index).astype(np.int64)
    gdf["geometry_id"] = labels[gdf["geometry_id"].to_numpy() - 1] + 1
    return gdf


def _lazy_gdf(collection: Any, geometries: Any, bands: list[str], **query: Any) -> Any:
    """``get_gdf`` of a Dask frame of AOIs: a Dask DataFrame of GeoDataFrame partitions, one
    task per partition over the collection's records (one graph key)."""
    from rasteret._backends import implicit_backend
    from rasteret.core.utils import infer_data_source

    check_integer_index(geometries, "geometry_id")
    filters = query.pop("filters")
    _check_bands(collection, bands)
    # the empty partition gives the output columns (and fails early on colliding names)
    plan = prepare_geometry_input(
        geometries._meta,
        geometry_column=query["geometry_column"],
        geometry_crs=query["geometry_crs"],
        preserve_metadata=True,
    )
    fail_on_metadata_collisions(
        plan.metadata, output_columns=_GDF_COLUMNS, join_column="geometry_id"
    )
    meta = gdf_of_reads(AoiReadResult([], plan, query["target_crs"]), query["target_crs"])
    view = collection.subset(**filters) if filters else collection
    schema = view._schema()
    if schema is None:
        raise ValueError("No valid data found")
    source = query["data_source"] or infer_data_source(collection)
    options = {
        "bands": bands,
        "input": {
            "geometry_column": query["geometry_column"],
            "geometry_crs": query["geometry_crs"],
        },
        "record_id_column": query["record_id_column"],
        "read": {
            "data_source": source,
            "target_crs": query["target_crs"],
            "all_touched": query["all_touched"],
            "max_concurrent": query["max_concurrent"],
            "backend": implicit_backend(query["backend"], None, source),
        },
    }
    records = view._scan_table(aoi_columns(schema.names, bands))
    meta = meta.astype(_gdf_dtypes(records.schema))  # an empty read's columns are float64
    grid = tile_grid(records, bands) if query["spatial_sort"] else None
    if grid is not None and geometries.npartitions > 1:
        geometries = spatially_sorted(geometries, sorter(aoi_centres, options["input"]), grid)
    return geometries.map_partitions(
        gdf_partition, shared_records(records), options, meta=meta, enforce_metadata=False
    )


def _gdf_dtypes(records: pa.Schema) -> dict[str, Any]:
    """``get_gdf``'s column dtypes in a partition with rows of ``records`` (with datetimes)."""
    stamp = records.field("datetime").type if "datetime" in records.names else None
    zone = getattr(stamp, "tz", None)
    return {
        "record_id": object,
        "datetime": f"datetime64[ns, {zone}]" if zone else "datetime64[ns]",
        "cloud_cover": "float64",
        "collection": object,
        "geometry_id": "int64",
        "band": object,
        "data": object,
        "transform": object,
    }


def get_collection_xarray(
    *,
    collection: Any,
    geometries: Any,
    bands: list[str],
    data_source: str | None = None,
    max_concurrent: int = 50,
    backend: Any = None,
    target_crs: int | None = None,
    geometry_crs: Any = AUTO_CRS,
    geometry_column: str | None = None,
    all_touched: bool = False,
    progress: bool = False,
    xr_combine: str = "combine_first",
    record_id_column: str | None = None,
    chunks: Any = None,
    **filters: Any,
) -> Any:
    """An xarray Dataset with one variable per band, dims ``(time, geometry, y, x)``.

    Parameters are those of :func:`get_collection_numpy`; ``xr_combine`` merges records
    (``"combine_first"``, ``"merge"`` or ``"merge_override"``). Without ``target_crs``, a
    query whose records span several CRSs is reprojected to the most common one.

    Raises
    ------
    ValueError
        As :func:`get_collection_numpy`; also an unknown ``xr_combine``.
    """
    import xarray  # noqa: F401 - a missing xarray fails before any I/O

    if xr_combine not in ("combine_first", "merge", "merge_override"):
        raise ValueError(
            f"Unknown xr_combine strategy '{xr_combine}'. Use 'combine_first', 'merge', or "
            "'merge_override'."
        )
    bands = list(bands)
    if chunks is not None:  # lazy: plan now, read in Dask tasks
        prepared = _prepare(
            collection,
            geometries,
            bands,
            data_source=data_source,
            backend=backend,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            geometry_column=geometry_column,
            filters=filters,
            auto_target_crs=True,
            record_id_column=record_id_column,
        )
        return lazy_cube(
            bands=bands,
            all_touched=all_touched,
            max_concurrent=max_concurrent,
            xr_combine=xr_combine,
            chunks=chunks,
            **prepared,
        )
    result = _read(
        collection,
        geometries,
        bands,
        data_source=data_source,
        max_concurrent=max_concurrent,
        progress=progress,
        backend=backend,
        target_crs=target_crs,
        geometry_crs=geometry_crs,
        geometry_column=geometry_column,
        all_touched=all_touched,
        record_id_column=record_id_column,
        filters=filters,
        auto_target_crs=True,
        copy_arrays=False,  # views of the read buffer: the cube copies them once
    )
    return dataset_from_reads(result.reads, xr_combine)
