"""Public data types: tile-layout metadata, raster records, point-sample schemas."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "POINT_SAMPLES_NEIGHBORHOOD_SCHEMA",
    "POINT_SAMPLES_SCHEMA",
    "BoundingBox",
    "CogMetadata",
    "DateRange",
    "GeometryInput",
    "RasterInfo",
    "empty_point_samples_neighborhood_table",
    "empty_point_samples_table",
]

BoundingBox = tuple[float, float, float, float]
DateRange = tuple[str, str]
#: Anything the read APIs accept as AOIs (bbox tuple, Shapely, WKB, GeoJSON, Arrow...).
GeometryInput = Any

POINT_SAMPLES_SCHEMA = pa.schema(
    [
        pa.field("point_index", pa.int64(), nullable=False),
        pa.field("point_x", pa.float64(), nullable=False),
        pa.field("point_y", pa.float64(), nullable=False),
        pa.field("point_crs", pa.int32(), nullable=True),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("datetime", pa.timestamp("us"), nullable=True),
        pa.field("collection", pa.string(), nullable=False),
        pa.field("band", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("raster_crs", pa.int32(), nullable=True),
    ]
)
POINT_SAMPLES_NEIGHBORHOOD_SCHEMA = POINT_SAMPLES_SCHEMA.append(
    pa.field("neighbourhood_values", pa.list_(pa.float64()), nullable=True)
)


def empty_point_samples_table() -> pa.Table:
    """A zero-row table with :data:`POINT_SAMPLES_SCHEMA`."""
    return POINT_SAMPLES_SCHEMA.empty_table()


def empty_point_samples_neighborhood_table() -> pa.Table:
    """A zero-row table with :data:`POINT_SAMPLES_NEIGHBORHOOD_SCHEMA`."""
    return POINT_SAMPLES_NEIGHBORHOOD_SCHEMA.empty_table()


@dataclass
class CogMetadata:
    """Tile layout and georeferencing of one band of one COG (a ``{band}_metadata`` row)."""

    width: int
    height: int
    tile_width: int
    tile_height: int
    dtype: np.dtype | str
    crs: int | str | None
    predictor: int | None = None
    transform: list[float] | None = None
    compression: int | None = None
    tile_offsets: list[int] | None = None
    tile_byte_counts: list[int] | None = None
    pixel_scale: list[float] | None = None
    tiepoint: list[float] | None = None
    nodata: float | int | None = None
    samples_per_pixel: int = 1
    planar_configuration: int = 1
    photometric: int | None = None
    extra_samples: list[int] | None = None

    @classmethod
    def from_dict(
        cls,
        raw: dict[str, Any],
        *,
        crs: int | str | None = None,
        transform_override: list[float] | None = None,
    ) -> CogMetadata:
        """Build from a ``{band}_metadata`` dict (tolerates the older/aliased field names)."""
        nodata = raw.get("nodata")
        if isinstance(nodata, float) and not math.isnan(nodata) and nodata.is_integer():
            nodata = int(nodata)
        width = raw.get("image_width", raw.get("width"))
        height = raw.get("image_height", raw.get("height"))
        return cls(
            width=int(width),
            height=int(height),
            tile_width=int(raw.get("tile_width") or width),
            tile_height=int(raw.get("tile_height") or height),
            dtype=np.dtype(raw["dtype"]),
            crs=crs,
            predictor=raw.get("predictor"),
            transform=transform_override
            if transform_override is not None
            else raw.get("transform"),
            compression=raw.get("compression"),
            tile_offsets=raw.get("tile_offsets"),
            tile_byte_counts=raw.get("tile_byte_counts"),
            pixel_scale=raw.get("pixel_scale"),
            tiepoint=raw.get("tiepoint"),
            nodata=nodata,
            samples_per_pixel=int(raw.get("samples_per_pixel") or 1),
            planar_configuration=int(raw.get("planar_configuration") or 1),
            photometric=raw.get("photometric"),
            extra_samples=raw.get("extra_samples"),
        )


@dataclass
class RasterInfo:
    """One record of a collection, as the raster accessors see it."""

    id: str
    datetime: datetime | None
    bbox: list[float]
    footprint: Any
    crs: int | None
    cloud_cover: float
    assets: dict[str, Any]
    band_metadata: dict[str, Any]
    collection: str
