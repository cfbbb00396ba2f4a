"""``rasteret.register_local``: make a saved collection loadable (and buildable) by id."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.compute as pc

from rasteret.catalog import DatasetDescriptor, DatasetRegistry, save_local_descriptor
from rasteret.constants import BandRegistry

__all__ = ["register_local"]


def register_local(
    dataset_id: str,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    description: str = "",
    data_source: str = "",
    persist: bool = True,
    registry_path: str | os.PathLike[str] | None = None,
) -> DatasetDescriptor:
    """Register the collection at ``path`` as dataset ``dataset_id`` (persisted by default).

    Afterwards ``rasteret.load(dataset_id)`` and ``rasteret.build(dataset_id, ...)`` open it.

    Examples
    --------
    >>> rasteret.register_local("local/fields", "~/rasteret_workspace/fields_records")
    ... # doctest: +SKIP
    """
    from rasteret.core.loading import load
    from rasteret.core.utils import infer_data_source

    local_path = Path(path).expanduser().resolve()
    collection = load(local_path)
    source = data_source or infer_data_source(collection)
    temporal = None
    dataset = collection._records_dataset()
    if dataset is not None and "datetime" in dataset.schema.names:
        col = dataset.to_table(columns=["datetime"]).column("datetime").drop_null()
        if len(col):
            lo, hi = pc.min_max(col).values()
            temporal = (lo.as_py().date().isoformat(), hi.as_py().date().isoformat())
    descriptor = DatasetDescriptor(
        id=dataset_id,
        name=name or collection.name or dataset_id,
        description=description or collection.description,
        collection_uri=str(local_path),
        stac_collection=source or None,
        band_map=BandRegistry.get(source) or None,
        separate_files=True,
        spatial_coverage="local",
        temporal_range=temporal,
        requires_auth=False,
    )
    DatasetRegistry.register(descriptor)
    if persist:
        save_local_descriptor(descriptor, registry_path)
    return descriptor
