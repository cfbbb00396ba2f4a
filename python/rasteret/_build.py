"""Top-level build entry points: ``build_from_table``, ``build_from_stac`` and ``build``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from rasteret.core.collection import Collection
from rasteret.records.naming import check_collection_name
from rasteret.records.persistence import collection_lock, is_cloud_uri

__all__ = [
    "build",
    "build_from_stac",
    "build_from_table",
    "resolve_workspace",
    "validate_bbox_and_dates",
]

_SUFFIXES = ("_stac", "_records")


def resolve_workspace(
    workspace_dir: str | os.PathLike[str] | None, name: str, suffix: str = "_records"
) -> str | Path | None:
    """Where a named build is cached."""
    if workspace_dir is not None:
        ws = str(workspace_dir)
        if ws.rstrip("/").endswith(_SUFFIXES):
            return ws if is_cloud_uri(ws) else Path(ws).expanduser()
        if not name:
            return ws if is_cloud_uri(ws) else Path(ws).expanduser()
        check_collection_name(name)
        if is_cloud_uri(ws):
            return f"{ws.rstrip('/')}/{name}{suffix}"
        return Path(ws).expanduser() / f"{name}{suffix}"
    if name:
        return Path.home() / "rasteret_workspace" / f"{check_collection_name(name)}{suffix}"
    return None


def build_from_table(
    path: Any,
    *,
    name: str = "",
    data_source: str = "",
    workspace_dir: str | os.PathLike[str] | None = None,
    column_map: dict[str, str] | None = None,
    href_column: str | None = None,
    band_index_map: dict[str, int] | None = None,
    url_rewrite_patterns: dict[str, str] | None = None,
    filesystem: Any | None = None,
    columns: list[str] | None = None,
    filter_expr: ds.Expression | None = None,
    enrich_cog: bool = False,
    band_codes: list[str] | None = None,
    cloud_config: Any | None = None,
    max_concurrent: int = 300,
    force: bool = False,
    backend: Any | None = None,
    shards: int | None = None,
) -> Collection:
    """Build a Collection from a record table: a Parquet path/URI or any Arrow object.

    Parameters
    ----------
    path
        Parquet file/directory/URI, or an Arrow table, batch, reader, dataset, PyCapsule
        producer, DuckDB relation, Polars or pandas frame.
    name
        Collection name; with it the build is cached in ``<workspace>/<name>_records``.
    enrich_cog
        Parse every asset's COG header (Rust, concurrently) into ``{band}_metadata`` columns.
    cloud_config
        Accepted for compatibility; unused on this path (use ``url_rewrite_patterns``).
    shards
        With ``enrich_cog``: parse the headers in this many Dask tasks on the active
        scheduler (a ``distributed.Client`` when one is active), each writing one part into
        a staging directory beside the collection (workers must reach it); the collection is
        published once every part is done, and nothing when a shard fails.

    Examples
    --------
    >>> coll = rasteret.build_from_table("scenes.parquet", name="fields",
    ...                                  enrich_cog=True)  # doctest: +SKIP

    Any Arrow producer works, e.g. a DuckDB relation:

    >>> rel = duckdb.sql("SELECT id, datetime, geometry, assets FROM 'scenes.parquet' "
    ...                  "WHERE cloud < 30")  # doctest: +SKIP
    >>> coll = rasteret.build_from_table(rel, name="clear", enrich_cog=True)  # doctest: +SKIP
    """
    from rasteret.geo.arrow_input import as_table
    from rasteret.ingest.parquet_record_table import RecordTableBuilder, finish_record_table

    del cloud_config  # spec quirk: accepted, unused here
    resolved = resolve_workspace(workspace_dir, name)
    # One writer per local collection at a time: a second build of the same name waits here,
    # then reuses the first one's result (or rebuilds it with force=True).
    with collection_lock(resolved):
        if isinstance(resolved, Path) and resolved.exists() and not force:
            return Collection._load_cached(resolved)
        if isinstance(path, str | os.PathLike):
            builder = RecordTableBuilder(
                path,
                data_source=data_source,
                column_map=column_map,
                href_column=href_column,
                band_index_map=band_index_map,
                url_rewrite_patterns=url_rewrite_patterns,
                filesystem=filesystem,
                columns=columns,
                filter_expr=filter_expr,
                name=name,
                workspace_dir=resolved,
                enrich_cog=enrich_cog,
                band_codes=band_codes,
                max_concurrent=max_concurrent,
                backend=backend,
                shards=shards,
            )
            return builder.build(name=name, workspace_dir=resolved)
        table = as_table(path, columns=columns, filter_expr=filter_expr)
        return finish_record_table(
            table,
            name=name or "record_table",
            data_source=data_source,
            workspace_dir=resolved,
            column_map=column_map,
            href_column=href_column,
            band_index_map=band_index_map,
            url_rewrite_patterns=url_rewrite_patterns,
            enrich_cog=enrich_cog,
            band_codes=band_codes,
            max_concurrent=max_concurrent,
            backend=backend,
            shards=shards,
        )


def validate_bbox_and_dates(
    bbox: tuple[float, float, float, float] | None, date_range: tuple[str, str] | None
) -> None:
    """The input checks of ``build`` / ``build_from_stac``."""
    import datetime as _dt

    if bbox is not None:
        west, south, east, north = bbox
        problems = []
        if west >= east:
            problems.append(f"west ({west}) >= east ({east})")
        if south >= north:
            problems.append(f"south ({south}) >= north ({north})")
        if problems:
            raise ValueError(
                f"Invalid bbox: {' and '.join(problems)}. "
                "Expected format: (west, south, east, north)."
            )
    if date_range is not None:
        start, end = date_range
        try:
            s = _dt.date.fromisoformat(str(start)[:10])
            e = _dt.date.fromisoformat(str(end)[:10])
        except ValueError:
            return
        if s > e:
            raise ValueError(f"Invalid date_range: start '{start}' is after end '{end}'.")


def build_from_stac(
    *,
    name: str,
    stac_api: str,
    collection: str,
    data_source: str | None = None,
    band_map: dict[str, str] | None = None,
    band_index_map: dict[str, int] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    date_range: tuple[str, str] | None = None,
    workspace_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    max_concurrent: int = 50,
    cloud_config: Any | None = None,
    query: dict[str, Any] | None = None,
    backend: Any | None = None,
    static_catalog: bool = False,
    shards: int | None = None,
) -> Collection:
    """Index a STAC collection (API search or static catalog) into a cached Collection.

    Every selected asset's COG header is parsed once (Rust, concurrently) and stored as
    ``{band}_metadata``; the result is written to
    ``<workspace>/<create_name(name, date_range, source)>_stac`` and reused unless ``force``.

    Parameters
    ----------
    shards
        Parse the headers in this many Dask tasks on the active scheduler, as
        ``build_from_table(..., shards=)`` does; the STAC search or catalog walk stays on the
        calling process. None (the default) parses them here.

    Raises
    ------
    ValueError
        Invalid bbox/date_range/name, ``shards`` not a positive integer, no matching item, or
        no asset header could be read.

    Examples
    --------
    >>> coll = rasteret.build_from_stac(
    ...     name="s2", stac_api="https://earth-search.aws.element84.com/v1",
    ...     collection="sentinel-2-l2a", bbox=(11.0, 46.0, 11.5, 46.5),
    ...     date_range=("2024-06-01", "2024-06-30"))  # doctest: +SKIP
    """
    import datetime as _dt

    from rasteret.cloud import CloudConfig
    from rasteret.ingest.sharded import check_shards
    from rasteret.ingest.stac_indexer import StacCollectionBuilder

    validate_bbox_and_dates(bbox, date_range)
    check_collection_name(name)
    check_shards(shards)
    workspace = Path(workspace_dir or Path.home() / "rasteret_workspace").expanduser()
    source = data_source or collection
    if date_range is not None:
        cache_name = Collection.create_name(name, date_range, source)
    else:
        safe = name.lower().replace(" ", "-").replace("/", "-")
        cache_name = f"{safe}_{source.replace('/', '-')}"
    cache_path = workspace / f"{cache_name}_stac"
    with collection_lock(cache_path):  # one writer per collection (see build_from_table)
        if cache_path.exists() and not force:
            return Collection._load_cached(cache_path)
        resolved_config = cloud_config or CloudConfig.get_config(source)
        if backend is None:
            from rasteret._backends import implicit_backend

            backend = implicit_backend(None, resolved_config, source)
        builder = StacCollectionBuilder(
            data_source=source,
            stac_api=stac_api,
            stac_collection=collection,
            workspace_dir=cache_path,
            name=cache_name,
            band_map=band_map,
            band_index_map=band_index_map,
            cloud_config=resolved_config,
            max_concurrent=max_concurrent,
            backend=backend,
            static_catalog=static_catalog,
            strict_band_map_validation=band_map is not None,
            shards=shards,
        )
        coll = builder.build_collection(
            bbox=list(bbox) if bbox else None, date_range=date_range, query=query
        )
        coll.name = cache_name
        coll.data_source = source
        coll.description = f"STAC collection indexed from {source}"
        if date_range is not None:
            coll.start_date = _dt.datetime.fromisoformat(date_range[0])
            coll.end_date = _dt.datetime.fromisoformat(date_range[1])
        return coll


def _record_table_build(
    descriptor: Any,
    *,
    name: str,
    bbox: tuple[float, float, float, float] | None,
    date_range: tuple[str, str] | None,
    workspace: str | Path | None,
    force: bool,
    max_concurrent: int,
    cloud_config: Any,
    backend: Any,
    shards: int | None,
) -> Collection:
    import logging

    import pyarrow as pa

    uri = descriptor.build_source_uri
    predicates: list[ds.Expression] = []
    cols = descriptor.bbox_columns or {}
    if bbox is not None:
        west, south, east, north = bbox
        if all(k in cols for k in ("minx", "miny", "maxx", "maxy")):
            f = ds.field
            predicates += [
                f(cols["minx"]) <= east,
                f(cols["maxx"]) >= west,
                f(cols["miny"]) <= north,
                f(cols["maxy"]) >= south,
            ]
        else:
            b = descriptor.source_field("bbox")
            predicates += [
                ds.field(b, "xmax") >= west,
                ds.field(b, "xmin") <= east,
                ds.field(b, "ymax") >= south,
                ds.field(b, "ymin") <= north,
            ]
    fs = None
    read_path: str = uri
    cc = descriptor.cloud_config or {}
    if uri.startswith("s3://") and not descriptor.requires_auth:
        try:
            from pyarrow.fs import S3FileSystem

            fs = S3FileSystem(anonymous=True, region=cc.get("region", "us-west-2"))
            read_path = uri[len("s3://") :]
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds here
            logging.getLogger(__name__).warning("anonymous S3 filesystem unavailable: %s", exc)
    if date_range is not None:
        col = descriptor.source_field("datetime")
        try:
            schema = ds.dataset(read_path, filesystem=fs, format="parquet").schema
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"Could not inspect build source schema at {uri}: {exc}") from exc
        if col not in schema.names:
            raise ValueError(
                f"Dataset '{descriptor.id}' declares canonical datetime -> '{col}', but that "
                f"column is missing from {uri}"
            )
        t = schema.field(col).type
        start, end = date_range
        if pa.types.is_integer(t):
            predicates += [ds.field(col) >= int(start[:4]), ds.field(col) <= int(end[:4])]
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            import pandas as pd

            lo, hi = pd.Timestamp(start), pd.Timestamp(end)
            scalar = (
                (lambda v: pa.scalar(v.date(), t))
                if pa.types.is_date(t)
                else (lambda v: pa.scalar(v.to_pydatetime(), t))
            )
            predicates += [ds.field(col) >= scalar(lo), ds.field(col) <= scalar(hi)]
        else:
            raise ValueError(
                f"Dataset '{descriptor.id}': datetime column '{col}' has unsupported type {t}"
            )
    expr = None
    for p in predicates:
        expr = p if expr is None else expr & p
    href = descriptor.source_field("href")
    return build_from_table(
        read_path,
        name=name,
        data_source=descriptor.stac_collection or descriptor.id,
        workspace_dir=workspace,
        column_map=descriptor.column_map,
        href_column=href if href != "href" else descriptor.href_column,
        band_index_map=descriptor.band_index_map,
        url_rewrite_patterns=cc.get("url_patterns") if descriptor.cloud_config else None,
        filesystem=fs,
        filter_expr=expr,
        enrich_cog=True,
        band_codes=list(descriptor.band_map) if descriptor.band_map else None,
        cloud_config=cloud_config,
        max_concurrent=max_concurrent,
        force=force,
        backend=backend,
        shards=shards,
    )


def build(
    dataset: str,
    *,
    name: str,
    bbox: tuple[float, float, float, float] | None = None,
    date_range: tuple[str, str] | None = None,
    workspace_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    max_concurrent: int = 50,
    query: dict[str, Any] | None = None,
    prefer_geoparquet: bool = False,
    stac_api: str | None = None,
    cloud_config: Any | None = None,
    backend: Any | None = None,
    shards: int | None = None,
) -> Collection:
    """Build a Collection for a catalog dataset id (e.g. ``"earthsearch/sentinel-2-l2a"``).

    Routes to the dataset's record table or STAC API as its descriptor says.

    Parameters
    ----------
    dataset
        A catalog id (``rasteret datasets list``), e.g. ``"earthsearch/sentinel-2-l2a"``.
    name
        Collection name; the cache directory is derived from it, the dates and the source.
    bbox, date_range
        Lon/lat ``(west, south, east, north)`` and ``(start, end)`` ISO dates; required for
        STAC datasets.
    workspace_dir
        Cache root (default ``~/rasteret_workspace``).
    force
        Rebuild even when the cache exists.
    max_concurrent
        Header requests in flight at once.
    query
        Extra STAC search filters, e.g. ``{"eo:cloud_cover": {"lt": 20}}``.
    prefer_geoparquet
        Prefer the dataset's record table over its STAC API when it has both.
    stac_api
        Override the descriptor's STAC API root.
    cloud_config, backend
        Cloud settings and an I/O backend for private data.
    shards
        Parse the headers in this many Dask tasks on the active scheduler (see
        ``build_from_table``); the STAC search or record-table scan stays here.

    Returns
    -------
    Collection
        The indexed collection (also written to the cache).

    Raises
    ------
    KeyError
        ``dataset`` is not registered.
    ValueError
        Invalid bbox/date_range, ``shards`` not a positive integer, no access method, or STAC
        without bbox and date_range.

    Examples
    --------
    >>> coll = rasteret.build(
    ...     "earthsearch/sentinel-2-l2a", name="bolzano",
    ...     bbox=(11.2, 46.4, 11.5, 46.6), date_range=("2024-06-01", "2024-07-31"),
    ... )  # doctest: +SKIP
    >>> coll.subset(cloud_cover_lt=20).get_numpy(
    ...     (11.30, 46.45, 11.35, 46.50), ["B04", "B08"]).dtype  # doctest: +SKIP
    dtype('uint16')
    """
    from rasteret.catalog import DatasetRegistry
    from rasteret.core.loading import load
    from rasteret.ingest.sharded import check_shards

    validate_bbox_and_dates(bbox, date_range)
    check_shards(shards)
    descriptor = DatasetRegistry.get(dataset)
    if descriptor is None:
        ids = [d.id for d in DatasetRegistry.list()]
        raise KeyError(f"Dataset '{dataset}' not found in registry. Available: {ids}")
    if descriptor.id == "aef/v1-annual" and descriptor.collection_uri:
        coll = load("aef/v1-annual", name=name)
        if bbox is not None or date_range is not None:
            return coll.subset(bbox=bbox, date_range=date_range)
        return coll
    if backend is None and descriptor.s3_credentials_url:
        backend = _required_earthdata_backend(descriptor)
    workspace = _records_workspace(workspace_dir, name)
    if descriptor.spatial_coverage == "local" and descriptor.collection_uri:
        local = Path(descriptor.collection_uri).expanduser()
        if local.exists():
            return load(local, name=name)
    table_kwargs: dict[str, Any] = dict(
        name=name,
        bbox=bbox,
        date_range=date_range,
        workspace=workspace,
        force=force,
        max_concurrent=max_concurrent,
        cloud_config=cloud_config,
        backend=backend,
        shards=shards,
    )
    has_stac = bool(descriptor.stac_api and descriptor.stac_collection)
    if descriptor.build_source_uri and (prefer_geoparquet or not has_stac):
        return _record_table_build(descriptor, **table_kwargs)
    api = stac_api or descriptor.stac_api
    if api and (descriptor.stac_collection or descriptor.static_catalog):
        if not descriptor.static_catalog and (bbox is None or date_range is None):
            raise ValueError(f"Dataset '{dataset}' requires bbox and date_range for STAC queries.")
        return build_from_stac(
            name=name,
            stac_api=api,
            collection=descriptor.stac_collection or descriptor.id,
            data_source=descriptor.id,
            band_index_map=descriptor.band_index_map,
            bbox=bbox,
            date_range=date_range,
            workspace_dir=workspace_dir,
            force=force,
            max_concurrent=max_concurrent,
            cloud_config=cloud_config,
            query=query,
            backend=backend,
            static_catalog=descriptor.static_catalog,
            shards=shards,
        )
    if descriptor.build_source_uri:
        return _record_table_build(descriptor, **table_kwargs)
    raise ValueError(f"Dataset '{dataset}' has no STAC API or record-table URI configured.")


def _required_earthdata_backend(descriptor: Any) -> Any | None:
    """The Earthdata backend of a descriptor with ``s3_credentials_url``.

    Raises
    ------
    ValueError
        The dataset requires auth and no backend can be made (the extra is missing).
    """
    url = descriptor.s3_credentials_url
    backend = _earthdata_backend(url)
    if backend is None and descriptor.requires_auth:
        hint = (
            " (install rasteret[earthdata] for NASA Earthdata)"
            if "earthdata" in url or "lpdaac" in url
            else ""
        )
        raise ValueError(
            f"Dataset '{descriptor.id}' needs temporary S3 credentials from {url}; pass "
            "backend=rasteret.create_backend(...)" + hint
        )
    return backend


def _records_workspace(
    workspace_dir: str | os.PathLike[str] | None, name: str
) -> str | Path | None:
    """Where a record-table build of ``name`` is cached: ``workspace_dir`` itself when it
    already names a ``*_stac``/``*_records`` directory, else ``<workspace_dir>/<name>_records``
    (None without a workspace)."""
    if workspace_dir is None:
        return None
    ws = str(workspace_dir)
    if ws.rstrip("/").endswith(_SUFFIXES):
        return ws if is_cloud_uri(ws) else Path(ws)
    check_collection_name(name)
    if is_cloud_uri(ws):
        return f"{ws.rstrip('/')}/{name}_records"
    return Path(ws) / f"{name}_records"


def _earthdata_backend(credentials_url: str) -> Any | None:
    """The NASA Earthdata auto backend, or None.

    URLs naming ``earthdata`` or ``lpdaac`` get obstore's ``NasaEarthdataCredentialProvider``
    in region ``us-west-2``; any failure (obstore missing, no Earthdata login) is logged.
    """
    lowered = credentials_url.lower()
    if "earthdata" not in lowered and "lpdaac" not in lowered:
        return None
    try:
        from obstore.auth.earthdata import NasaEarthdataCredentialProvider

        from rasteret._backends import create_backend

        provider = NasaEarthdataCredentialProvider(credentials_url=credentials_url)
        return create_backend(credential_provider=provider, region="us-west-2")
    except Exception as exc:  # noqa: BLE001 - spec: any failure means "no backend"
        logging.getLogger(__name__).warning(
            "Could not create a NASA Earthdata backend for %s: %s: %s",
            credentials_url,
            type(exc).__name__,
            exc,
        )
        return None
