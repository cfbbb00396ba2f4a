"""``rasteret.load``: open a saved collection by path or by registered dataset id."""

from __future__ import annotations

import os
from typing import Any

from rasteret.core.collection import Collection


def load(path: str | os.PathLike[str], name: str = "") -> Collection:
    """Open a collection: a registered dataset id with a ``collection_uri``, or a path/URI.

    Parameters
    ----------
    path
        Local directory or file, cloud URI understood by pyarrow, or a dataset id such as
        ``"local/my-tiles"`` registered with :func:`rasteret.register_local`.
    name
        Overrides the stored name.

    Raises
    ------
    FileNotFoundError
        Nothing exists at ``path``.
    ValueError
        The Parquet lacks the collection's required columns.

    Examples
    --------
    >>> coll = rasteret.load("~/rasteret_workspace/bolzano_202406-07_earthsearch-"
    ...                      "sentinel-2-l2a_stac")  # doctest: +SKIP
    >>> coll = rasteret.load("local/my-tiles")  # a registered local dataset  # doctest: +SKIP
    """
    from rasteret.catalog import DatasetRegistry

    descriptor = DatasetRegistry.get(str(path))
    if descriptor is not None and descriptor.collection_uri:
        return _load_descriptor(descriptor, name)
    return Collection.from_parquet(path, name=name)


def _load_descriptor(descriptor: Any, name: str) -> Collection:
    """Open a descriptor's published collection, planned by its record index when it has a
    separate one (a dual-surface collection)."""
    uri = descriptor.collection_uri
    index = descriptor.runtime_index_uri
    hf_collection = str(uri).startswith("hf://")
    # a Hugging Face collection streams with its own filters: no separate index then
    use_index = bool(index) and index != uri and not hf_collection
    filesystem = None
    if use_index and str(index).startswith("s3://") and not descriptor.requires_auth:
        from pyarrow.fs import S3FileSystem

        region = (descriptor.cloud_config or {}).get("region") or "us-west-2"
        # A private S3-compatible endpoint, as AWS SDKs and GDAL users set it.
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        filesystem = S3FileSystem(anonymous=True, region=region, endpoint_override=endpoint)
    href = descriptor.source_field("href")
    cloud = descriptor.cloud_config or {}
    return Collection.from_parquet(
        uri,
        name=name or descriptor.name,
        data_source=descriptor.id,
        defer_dataset_open=use_index,
        record_index_path=index if use_index else None,
        record_index_field_roles=descriptor.field_roles,
        record_index_column_map=descriptor.column_map,
        record_index_href_column=href if href != "href" else descriptor.href_column,
        record_index_band_index_map=descriptor.band_index_map,
        record_index_url_rewrite_patterns=cloud.get("url_patterns") if use_index else None,
        record_index_filesystem=filesystem,
        surface_fields=descriptor.surface_fields,
        filter_capabilities=descriptor.filter_capabilities,
    )
