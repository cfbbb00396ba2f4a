"""rasteret: index-first reads of cloud-hosted Cloud-Optimized GeoTIFFs."""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

logging.getLogger("rasteret").addHandler(logging.NullHandler())


def version() -> str:
    """Return the installed version of rasteret (``"0.0.0+local"`` when not installed)."""
    try:
        return _dist_version("rasteret")
    except PackageNotFoundError:
        return "0.0.0+local"


__version__ = version()
