"""The base class of collection builders."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

__all__ = ["CollectionBuilder", "workspace_location"]


def workspace_location(value: str | os.PathLike[str] | None) -> str | Path | None:
    """Where a builder exports its collection: None (nowhere), a URI string (``s3://...``,
    ``gs://...``: kept as is), or a local :class:`~pathlib.Path` (``file://`` URIs included)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and "://" in value:
        if value.startswith("file://"):
            return Path(value[len("file://") :])
        return value
    return Path(value)


class CollectionBuilder(ABC):
    """Turns one kind of source (STAC search, record table...) into a
    :class:`~rasteret.core.collection.Collection` with the ``id``, ``datetime``, ``geometry``,
    ``assets`` contract columns.

    Parameters
    ----------
    name
        Collection name.
    data_source
        Data source id used for band mapping and cloud settings.
    workspace_dir
        Where :meth:`build` exports the collection (None: not exported); remote URIs stay
        strings, local paths become :class:`~pathlib.Path`.
    """

    def __init__(
        self,
        *,
        name: str = "",
        data_source: str = "",
        workspace_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.data_source = data_source
        self.workspace_dir = workspace_location(workspace_dir)

    @abstractmethod
    def build(self, **kwargs: Any) -> Any:
        """Read the source, normalise it and return the Collection."""
