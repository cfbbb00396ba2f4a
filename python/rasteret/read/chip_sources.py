"""What a chip read needs to know about each record and band: plain, picklable data.

A TorchGeo dataset builds these once from its collection (``rasteret.integrations``), and
:mod:`rasteret.read.chips` reads chips from them in DataLoader workers without any live
runtime, connection or collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class BandSource:
    """Where one band of one record lives and how its grid looks."""

    url: str
    band_index: int
    layout_row: int  # row of :attr:`IndexPlan.layouts`
    transform: tuple[float, float, float, float]  # (a, c, e, f)
    width: int
    height: int
    dtype: np.dtype
    nodata: float | None
    mask_row: int | None  # row of :attr:`IndexPlan.mask_layouts` (internal GDAL mask)
    tile_width: int = 0  # 0: untiled (no tile cache)
    tile_height: int = 0


@dataclass(frozen=True)
class ChipRecord:
    """One indexed record: its id, CRS, label and the sources of the requested bands."""

    record_id: str
    epsg: int
    label: Any
    bands: tuple[BandSource, ...]
