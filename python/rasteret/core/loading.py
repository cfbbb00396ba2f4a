"""``rasteret.load``: open a saved collection by path or by registered dataset id."""

from __future__ import annotations

import os

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
    """
    from rasteret.catalog import DatasetRegistry

    descriptor = DatasetRegistry.get(str(path))
    if descriptor is not None and descriptor.collection_uri:
        index = descriptor.runtime_index_uri
        if index and index != descriptor.collection_uri:
            raise NotImplementedError(
                f"dataset {descriptor.id!r} is published with a separate record index "
                f"({index}); dual-surface collections are not implemented yet"
            )
        return Collection.from_parquet(
            descriptor.collection_uri,
            name=name or descriptor.name,
            data_source=descriptor.id,
            surface_fields=descriptor.surface_fields,
            filter_capabilities=descriptor.filter_capabilities,
        )
    return Collection.from_parquet(path, name=name)
