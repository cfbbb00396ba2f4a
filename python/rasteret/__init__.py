"""rasteret: index-first reads of cloud-hosted Cloud-Optimized GeoTIFFs.

Heavy modules (catalog, collections) load lazily on first attribute access.
"""

from __future__ import annotations

import logging
import os
from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from typing import Any

from rasteret.options import get_options, options, set_options

logging.getLogger("rasteret").addHandler(logging.NullHandler())

# The Rust core's allocator (mimalloc) reads its options once, when the core first allocates,
# so this must run before ``rasteret._core`` loads. Committing its arena lazily instead of
# eagerly keeps a large read's resident memory (and the page faults of touching it) to what
# the read uses: B2z read in a fresh process, 179 vs 222 MiB above the start. An explicit
# setting in the environment wins.
os.environ.setdefault("MIMALLOC_ARENA_EAGER_COMMIT", "0")


def version() -> str:
    """Return the installed version of rasteret (``"0.0.0+local"`` when not installed)."""
    try:
        return _dist_version("rasteret")
    except PackageNotFoundError:
        return "0.0.0+local"


__version__ = version()

# name -> (module, attribute) resolved on first access
_LAZY: dict[str, tuple[str, str]] = {
    "Collection": ("rasteret.core.collection", "Collection"),
    "as_collection": ("rasteret.ingest.normalize", "as_collection"),
    "build": ("rasteret._build", "build"),
    "build_from_stac": ("rasteret._build", "build_from_stac"),
    "build_from_table": ("rasteret._build", "build_from_table"),
    "create_backend": ("rasteret._backends", "create_backend"),
    "load": ("rasteret.core.loading", "load"),
    "register_local": ("rasteret._register", "register_local"),
    "BandRegistry": ("rasteret.constants", "BandRegistry"),
    "CloudConfig": ("rasteret.cloud", "CloudConfig"),
    "DatasetDescriptor": ("rasteret.catalog", "DatasetDescriptor"),
    "DatasetRegistry": ("rasteret.catalog", "DatasetRegistry"),
}


def register(descriptor: Any) -> None:
    """Register a dataset descriptor (same as ``DatasetRegistry.register``)."""
    from rasteret.catalog import DatasetRegistry

    DatasetRegistry.register(descriptor)


__all__ = [
    "BandRegistry",
    "CloudConfig",
    "Collection",
    "DatasetDescriptor",
    "DatasetRegistry",
    "__version__",
    "as_collection",
    "build",
    "build_from_stac",
    "build_from_table",
    "create_backend",
    "get_options",
    "load",
    "options",
    "register",
    "register_local",
    "set_options",
    "version",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'rasteret' has no attribute '{name}'")
    value = getattr(import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__))
