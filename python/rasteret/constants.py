"""Band maps, data-source ids and the ``{band}_metadata`` Arrow struct (``rasteret.constants``)."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa

__all__ = [
    "COG_BAND_METADATA_STRUCT",
    "LANDSAT_C2L2_BANDS",
    "SENTINEL2_BANDS",
    "BandRegistry",
    "DataSources",
]

#: Sentinel-2 L2A band code -> Earth Search STAC asset key.
SENTINEL2_BANDS: dict[str, str] = {
    "B01": "coastal",
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B05": "rededge1",
    "B06": "rededge2",
    "B07": "rededge3",
    "B08": "nir",
    "B8A": "nir08",
    "B09": "nir09",
    "B11": "swir16",
    "B12": "swir22",
    "SCL": "scl",
}

#: Landsat Collection 2 Level-2 band code -> Earth Search STAC asset key.
LANDSAT_C2L2_BANDS: dict[str, str] = {
    "B1": "coastal",
    "B2": "blue",
    "B3": "green",
    "B4": "red",
    "B5": "nir08",
    "B6": "swir16",
    "B7": "swir22",
    "qa_aerosol": "qa_aerosol",
    "qa_pixel": "qa_pixel",
    "qa_radsat": "qa_radsat",
}

#: The ``{band}_metadata`` struct of a Collection, field order as the schema contract.
#: Collections built by rasteret append more fields after these (byte order, overviews...).
COG_BAND_METADATA_STRUCT = pa.struct(
    [
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
        ("tile_width", pa.int32()),
        ("tile_height", pa.int32()),
        ("dtype", pa.string()),
        ("transform", pa.list_(pa.float64())),
        ("predictor", pa.int32()),
        ("compression", pa.int32()),
        ("tile_offsets", pa.list_(pa.int64())),
        ("tile_byte_counts", pa.list_(pa.int64())),
        ("pixel_scale", pa.list_(pa.float64())),
        ("tiepoint", pa.list_(pa.float64())),
        ("nodata", pa.float64()),
        ("samples_per_pixel", pa.int32()),
        ("planar_configuration", pa.int32()),
        ("photometric", pa.int32()),
        ("extra_samples", pa.list_(pa.int32())),
    ]
)


class BandRegistry:
    """Band code -> asset key maps per collection id (class-level registry)."""

    _maps: ClassVar[dict[str, dict[str, str]]] = {}

    @classmethod
    def register(cls, collection_id: str, band_map: dict[str, str]) -> None:
        """Store (or overwrite) the band map of ``collection_id``."""
        cls._maps[collection_id] = dict(band_map)

    @classmethod
    def get(cls, collection_id: str, default: dict[str, str] | None = None) -> dict[str, str]:
        """The band map of ``collection_id``, or ``default or {}`` when none is registered."""
        found = cls._maps.get(collection_id)
        if found is None:
            return default or {}
        return found

    @classmethod
    def list_registered(cls) -> list[str]:
        """Collection ids with a registered band map, in registration order."""
        return list(cls._maps)


BandRegistry.register("sentinel-2-l2a", SENTINEL2_BANDS)
BandRegistry.register("landsat-c2-l2", LANDSAT_C2L2_BANDS)


class DataSources:
    """Short ids of the pre-registered data sources."""

    LANDSAT = "landsat-c2-l2"
    SENTINEL2 = "sentinel-2-l2a"

    @classmethod
    def list_sources(cls) -> list[str]:
        """Every collection id with a band map (same as ``BandRegistry.list_registered()``)."""
        return BandRegistry.list_registered()
