"""Band resolution for one record: band code -> (tile layout, asset URL, sample index)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rasteret.constants import BandRegistry
from rasteret.errors import BandResolutionError

__all__ = [
    "BandResolutionError",
    "RasterAccessor",
    "asset_url",
    "resolve_asset_key",
    "unresolved_band",
]

_ALTERNATE_ORDER = ("s3", "aws", "https", "http", "cloudfront")


def asset_url(asset: Any) -> str | None:
    """The URL of an asset value: ``href``, else an alternate href, else the first link."""
    if asset is None:
        return None
    if not isinstance(asset, dict):
        return str(asset)
    if asset.get("href"):
        return str(asset["href"])
    alternates = asset.get("alternate") or {}
    if isinstance(alternates, dict):
        for key in (*_ALTERNATE_ORDER, *alternates):
            alt = alternates.get(key)
            if isinstance(alt, dict) and alt.get("href"):
                return str(alt["href"])
    for link in asset.get("links") or []:
        if isinstance(link, dict) and link.get("href"):
            return str(link["href"])
    return None


def unresolved_band(
    band: str, record_id: Any, assets: dict[str, Any], data_source: str | None
) -> BandResolutionError:
    """The error for a band a read cannot resolve to an asset URL and tile layout."""
    return BandResolutionError(
        f"Band {band!r} of record {record_id!r} could not be resolved: available asset keys "
        f"{sorted(assets)}; data_source={data_source!r}"
    )


def resolve_asset_key(assets: dict[str, Any], band_code: str, data_source: str) -> str | None:
    """First of: the band code, its mapped asset key, or the reverse mapping, found in assets."""
    band_map = BandRegistry.get(data_source) if data_source else {}
    candidates = [band_code]
    if band_code in band_map:
        candidates.append(band_map[band_code])
    candidates += [code for code, key in band_map.items() if code == band_code or key == band_code]
    for c in candidates:
        if c in assets and assets[c] is not None:
            return c
    return None


@dataclass
class RasterAccessor:
    """One record (scene) of a collection with its assets and band tile layouts."""

    id: str
    datetime: Any
    bbox: list[float]
    footprint: Any
    crs: int | None
    cloud_cover: float
    assets: dict[str, Any]
    band_metadata: dict[str, Any]
    collection: str
    data_source: str = ""
    #: the record as a one-row Arrow batch (set by ``Collection.iterate_rasters``)
    _row: Any = field(default=None, repr=False, compare=False)

    @property
    def geometry(self) -> Any:
        """The record footprint."""
        return self.footprint

    @property
    def available_bands(self) -> list[str]:
        """Asset keys of the record."""
        return list(self.assets)

    def try_get_band_cog_metadata(
        self, band_code: str
    ) -> tuple[Any | None, str | None, int | None]:
        """``(CogMetadata, url, band_index)`` of a band, or ``(None, None, None)``."""
        from rasteret.types import CogMetadata

        key = resolve_asset_key(self.assets, band_code, self.data_source)
        if key is None:
            return None, None, None
        asset = self.assets[key]
        url = asset_url(asset)
        raw = self.band_metadata.get(f"{band_code}_metadata") or self.band_metadata.get(
            f"{key}_metadata"
        )
        if raw is None or url is None:
            return None, None, None
        band_index = None
        if isinstance(asset, dict) and asset.get("band_index") is not None:
            band_index = int(asset["band_index"])
        return CogMetadata.from_dict(raw, crs=self.crs), url, band_index

    def intersects(self, geometry: Any) -> bool:
        """Whether the record bbox overlaps the geometry's envelope (closed intervals)."""
        if not self.bbox:
            return False
        minx, miny, maxx, maxy = geometry.bounds
        return not (
            self.bbox[2] < minx or self.bbox[0] > maxx or self.bbox[3] < miny or self.bbox[1] > maxy
        )

    def require_band(self, band_code: str) -> tuple[Any, str, int | None]:
        """Like :meth:`try_get_band_cog_metadata`, raising :class:`BandResolutionError`."""
        meta, url, index = self.try_get_band_cog_metadata(band_code)
        if meta is None or url is None:
            band_map = BandRegistry.get(self.data_source) if self.data_source else {}
            tried = [band_code, *([band_map[band_code]] if band_code in band_map else [])]
            raise BandResolutionError(
                f"Band {band_code!r} of record {self.id!r} could not be resolved: tried asset "
                f"keys {tried}; available asset keys {sorted(self.assets)}; available metadata "
                f"{sorted(self.band_metadata)}. Check data_source={self.data_source!r} and "
                "BandRegistry."
            )
        return meta, url, index

    def _collection(self) -> Any:
        import pyarrow as pa
        import pyarrow.dataset as ds

        from rasteret.core.collection import Collection

        if self._row is None:
            raise ValueError(
                "this RasterAccessor carries no record row (create it via iterate_rasters)"
            )
        return Collection(
            dataset=ds.dataset(pa.Table.from_batches([self._row])), data_source=self.data_source
        )

    async def load_bands(
        self,
        geometries: Any,
        band_codes: list[str],
        max_concurrent: int = 50,
        for_xarray: bool = True,
        for_numpy: bool = False,
        progress: bool = False,
        backend: Any = None,
        target_crs: int | None = None,
        geometry_crs: Any = 4326,
        all_touched: bool = False,
    ) -> Any:
        """Read ``band_codes`` of this record for each AOI (xarray Dataset, or a GeoDataFrame
        when ``for_xarray`` is False, or a NumPy array with ``for_numpy``)."""
        coll = self._collection()
        kwargs = dict(
            max_concurrent=max_concurrent,
            progress=progress,
            backend=backend,
            target_crs=target_crs,
            geometry_crs=geometry_crs,
            all_touched=all_touched,
        )
        if for_numpy:
            return coll.get_numpy(geometries, band_codes, **kwargs)
        if for_xarray:
            return coll.get_xarray(geometries, band_codes, **kwargs)
        return coll.get_gdf(geometries, band_codes, **kwargs)

    async def sample_points(
        self,
        *,
        points: Any,
        band_codes: list[str],
        point_indices: Any = None,
        max_concurrent: int = 50,
        backend: Any = None,
        reader: Any = None,
        geometry_crs: Any = 4326,
        method: str = "nearest",
        max_distance_pixels: int = 0,
        return_neighbourhood: str = "off",
    ) -> Any:
        """Sample ``band_codes`` of this record at ``points`` (see ``Collection.sample_points``)."""
        del reader, point_indices
        if method != "nearest":
            raise ValueError("only method='nearest' is supported")
        return self._collection().sample_points(
            points,
            band_codes,
            max_concurrent=max_concurrent,
            backend=backend,
            geometry_crs=geometry_crs,
            max_distance_pixels=max_distance_pixels,
            return_neighbourhood=return_neighbourhood,
        )
