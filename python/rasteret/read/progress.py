"""Progress bars for long reads: tiles fetched and decoded, reported by the Rust core.

``_core.read_windows`` calls ``progress(done, total)`` about every 100 ms; one bar spans every
``read_windows`` call of a user call (AOI reads may be split into memory-budget chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TileProgress", "resolve_progress"]


def resolve_progress(progress: bool | None) -> bool:
    """``progress`` or, when None, the global option (:func:`rasteret.get_options`)."""
    if progress is None:
        from rasteret.options import get_options

        return get_options().progress
    return bool(progress)


class TileProgress:
    """A tqdm bar (when enabled) counting tiles over several ``read_windows`` calls.

    Use as a context manager; :meth:`callback` gives the ``progress=`` argument of one call
    (None when disabled, so a disabled bar costs nothing).
    """

    def __init__(self, enabled: bool, desc: str) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=0, desc=desc, unit="tile")

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def callback(self) -> Callable[[int, int], None] | None:
        """A fresh ``progress(done, total)`` callback for one ``read_windows`` call."""
        bar = self._bar
        if bar is None:
            return None
        state = {"done": 0, "total": -1}

        def report(done: int, total: int) -> None:
            if state["total"] < 0:
                state["total"] = total
                bar.total += total
                bar.refresh()
            step = done - state["done"]
            if step > 0:
                bar.update(step)
                state["done"] = done

        return report

    @property
    def count(self) -> int:
        """Tiles reported so far (0 when disabled)."""
        return 0 if self._bar is None else int(self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> TileProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
