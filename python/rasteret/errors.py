"""Exception hierarchy of rasteret.

Every error rasteret raises on purpose derives from :class:`RasteretError` *and* from the
built-in type a user would expect (``ValueError``, ``FileNotFoundError``...), so both
``except rasteret.errors.RasteretError`` and ``except FileNotFoundError`` work.

This module is pure Python and imports nothing from rasteret: the Rust core imports it lazily
to raise these classes.
"""

from __future__ import annotations


class RasteretError(Exception):
    """Base class of every error rasteret raises on purpose."""


class CogReadError(RasteretError, RuntimeError):
    """A pixel read failed (the message names the URL, band and record)."""


class ReadFailedError(RasteretError, ValueError):
    """Every read a call needed failed, so it has nothing to return (a ``ValueError``, like a
    read that matched nothing); the first failure is chained as ``__cause__``."""


class CogHeaderError(RasteretError, ValueError):
    """A TIFF/COG is corrupt, truncated or inconsistent, or a compressed tile is corrupt."""


class UnsupportedCogError(RasteretError, NotImplementedError):
    """A valid TIFF uses a feature rasteret does not read (compression, dtype, layout)."""


class RemoteNotFoundError(RasteretError, FileNotFoundError):
    """The object does not exist (HTTP 404, missing key or file)."""


class RemotePermissionError(RasteretError, PermissionError):
    """Access was refused (HTTP 401/403): check credentials, requester-pays, tokens."""


class RemoteIOError(RasteretError, OSError):
    """The transfer failed after retries (5xx, connection reset, short body, timeout)."""


class BandResolutionError(RasteretError, ValueError):
    """A band name does not resolve to an asset of the collection."""


class UnsupportedGeometryError(RasteretError, TypeError):
    """A geometry input is of a type rasteret does not accept."""


__all__ = [
    "BandResolutionError",
    "CogHeaderError",
    "CogReadError",
    "RasteretError",
    "ReadFailedError",
    "RemoteIOError",
    "RemoteNotFoundError",
    "RemotePermissionError",
    "UnsupportedCogError",
    "UnsupportedGeometryError",
]
