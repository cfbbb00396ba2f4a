"""Process-wide runtime options (``rasteret.options``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

__all__ = ["RasteretOptions", "get_options", "options", "set_options"]


@dataclass(frozen=True)
class RasteretOptions:
    """Global defaults read by rasteret's entry points.

    Attributes
    ----------
    progress
        Show progress bars on long builds and reads when a call passes ``progress=None``.
    """

    progress: bool = False


_current = RasteretOptions()


def get_options() -> RasteretOptions:
    """Return the current global options."""
    return _current


def set_options(*, progress: bool | None = None) -> None:
    """Change global options; ``None`` keeps the current value."""
    global _current
    if progress is not None:
        _current = replace(_current, progress=bool(progress))


@contextlib.contextmanager
def options(*, progress: bool | None = None) -> Iterator[RasteretOptions]:
    """Apply :func:`set_options` for the duration of a ``with`` block, then restore.

    Examples
    --------
    >>> import rasteret
    >>> with rasteret.options(progress=True):
    ...     rasteret.get_options().progress
    True
    """
    global _current
    previous = _current
    set_options(progress=progress)
    try:
        yield _current
    finally:
        _current = previous
