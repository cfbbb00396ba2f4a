"""Tensor conversions of TorchGeo samples: pixels like ``array_to_tensor``, label values."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

__all__ = ["image_tensor", "coerce_label_value", "tensor_dtype"]


_WIDEN = {np.dtype("uint16"): np.dtype("int32"), np.dtype("uint32"): np.dtype("int64")}


def tensor_dtype(dtype: np.dtype, warned: set[tuple[str, str]] | None = None) -> np.dtype:
    """The dtype ``array_to_tensor`` gives ``dtype`` pixels (``uint16 -> int32``,
    ``uint32 -> int64``, others unchanged); one ``UserWarning`` per widened pair when
    ``warned`` is given. Samples are assembled in this dtype, so no second copy converts
    them."""
    dtype = np.dtype(dtype)
    target = _WIDEN.get(dtype)
    if target is None:
        return dtype
    pair = (dtype.name, target.name)
    if warned is not None and pair not in warned:
        warned.add(pair)
        warnings.warn(
            f"{pair[0]} pixels are returned as {pair[1]} tensors (torch has no {pair[0]}).",
            UserWarning,
            stacklevel=3,
        )
    return target


def image_tensor(array: np.ndarray, warned: set[tuple[str, str]] | None = None) -> Any:
    """A tensor like ``torchgeo.datasets.utils.array_to_tensor``: ``uint16 -> int32``,
    ``uint32 -> int64`` (one ``UserWarning`` per dtype pair when ``warned`` is given),
    otherwise zero-copy ``torch.from_numpy`` of the C-contiguous array."""
    target = tensor_dtype(array.dtype, warned)
    if target != array.dtype:
        array = array.astype(target)
    return torch.from_numpy(np.ascontiguousarray(array))


def coerce_label_value(value: Any) -> Any:
    """A label value as TorchGeo consumers expect it (None = omit the ``label`` key).

    Tensors pass through; integer/bool scalars and arrays become ``torch.long``; floats
    become ``torch.float32`` (a NaN scalar is omitted); strings and other objects pass
    through; lists of non-numbers stay lists.
    """
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return torch.tensor(int(value), dtype=torch.long)
    if isinstance(value, float | np.floating):
        if math.isnan(float(value)):
            return None
        return torch.tensor(float(value), dtype=torch.float32)
    if isinstance(value, np.ndarray | list | tuple):
        arr = np.asarray(value)
        if arr.dtype.kind in "biu":
            return torch.as_tensor(arr.astype(np.int64))
        if arr.dtype.kind == "f":
            return torch.as_tensor(arr.astype(np.float32))
        return list(value)
    return value
