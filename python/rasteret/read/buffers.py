"""Where a read's arrays lie in the buffer the core read into: lets an output be a view of
that buffer instead of a copy."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["evenly_spaced"]


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def evenly_spaced(arrays: list[Any], dtype: Any) -> tuple[np.ndarray, int, int] | None:
    """``(buffer, offset, stride)`` when ``arrays`` are C-contiguous ``dtype`` arrays of one
    size lying in one buffer at ``offset + k * stride`` bytes (``stride`` at least their
    size), in order; else None."""
    if not arrays or any(a is None or a.dtype != dtype or not a.flags.c_contiguous for a in arrays):
        return None
    root = _root(arrays[0])
    size = arrays[0].nbytes
    addresses = [a.__array_interface__["data"][0] for a in arrays]
    stride = addresses[1] - addresses[0] if len(arrays) > 1 else size
    if stride < size or any(
        a.nbytes != size or _root(a) is not root or addr - addresses[0] != k * stride
        for k, (a, addr) in enumerate(zip(arrays, addresses, strict=True))
    ):
        return None
    return root, addresses[0] - root.__array_interface__["data"][0], stride
