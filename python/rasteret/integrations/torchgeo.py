"""TorchGeo ``GeoDataset`` over a rasteret collection.

:class:`RasteretGeoDataset` indexes a collection's records by footprint and time and reads
each chip through rasteret's Rust core: every (record, band) window of a sample in one call,
placed on the query grid with ``rasterio.merge.merge`` semantics, in the native dtype.

The Rust I/O runtime is per process and rebuilt lazily after ``fork``; the dataset holds only
plain data (an index GeoDataFrame and Arrow arrays), so it pickles into DataLoader workers.

Without ``torch`` and ``torchgeo`` installed, :class:`RasteretGeoDataset` is a stub whose
constructor raises ``ImportError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RasteretGeoDataset"]

_INSTALL_HINT = "TorchGeo integration requires torch + torchgeo. Install rasteret[torchgeo]."

try:
    import torch  # noqa: F401
    import torchgeo.datasets  # noqa: F401

    _HAVE_TORCHGEO = True
except ImportError:  # pragma: no cover - exercised only without the extra
    _HAVE_TORCHGEO = False


if _HAVE_TORCHGEO:
    from rasteret.integrations._torchgeo_dataset import RasteretGeoDataset
    from rasteret.integrations._torchgeo_tensor import coerce_label_value, image_tensor

    # the names upstream's tests import these helpers by
    _array_to_image_tensor_torchgeo_compatible = image_tensor
    _coerce_label_value = coerce_label_value
else:  # pragma: no cover - exercised only without the extra

    class RasteretGeoDataset:  # type: ignore[no-redef]
        """Stub used when torch/torchgeo are missing: constructing it raises ImportError."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(_INSTALL_HINT)
