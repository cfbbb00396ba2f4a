"""``RasterAccessor``: one record of a collection, its bands resolved to tile layouts and URLs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from rasteret.constants import BandRegistry
from rasteret.errors import BandResolutionError
from rasteret.records.bands import asset_url, resolve_asset_key, unresolved_band
from rasteret.types import RasterInfo

__all__ = [
    "BandResolutionError",
    "RasterAccessor",
    "accessor_columns",
    "accessors_of_batch",
    "asset_url",
    "resolve_asset_key",
    "unresolved_band",
]
logger = logging.getLogger("rasteret.core.collection")


class RasterAccessor:
    """One record (scene) of a collection with its assets and band tile layouts.

    Parameters
    ----------
    info
        The record: ``id, datetime, bbox, footprint, crs, cloud_cover, assets,
        band_metadata, collection`` (a :class:`~rasteret.types.RasterInfo`); each is also an
        attribute of the accessor.
    data_source
        Selects the band map that resolves band codes to asset keys.
    """

    def __init__(self, info: RasterInfo, data_source: str | None) -> None:
        self.info = info
        self.id = info.id
        self.datetime = info.datetime
        self.bbox = info.bbox
        self.footprint = info.footprint
        self.crs = info.crs
        self.cloud_cover = info.cloud_cover
        self.assets = info.assets
        self.band_metadata = info.band_metadata
        self.collection = info.collection
        self.data_source = data_source or ""
        #: a one-record ``Collection`` of this row, made on demand (set by
        #: ``Collection.iterate_rasters``); the pixel reads of this accessor go through it
        self.record_view: Callable[[], Any] | None = None

    def __repr__(self) -> str:
        return f"RasterAccessor(id={self.id!r}, collection={self.collection!r})"

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
        if self.record_view is None:
            raise ValueError(
                "this RasterAccessor carries no record row (create it via iterate_rasters)"
            )
        return self.record_view()

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
        """Sample ``band_codes`` of this record at ``points`` (see ``Collection.sample_points``).

        ``point_indices`` (one per point) replaces the output's ``point_index`` values, so
        samples of a subset of a larger point table keep that table's indices. ``reader`` (a
        ``COGReader`` to share) is accepted for compatibility; reads here share the Rust core's
        per-process connection pools anyway.
        """
        import pyarrow as pa

        if method != "nearest":
            raise ValueError("only method='nearest' is supported")
        out = self._collection().sample_points(
            points,
            band_codes,
            max_concurrent=max_concurrent,
            backend=backend,
            geometry_crs=geometry_crs,
            max_distance_pixels=max_distance_pixels,
            return_neighbourhood=return_neighbourhood,
        )
        if point_indices is None:
            return out
        mapping = pa.array(list(point_indices), type=out.schema.field("point_index").type)
        index = out.schema.get_field_index("point_index")
        remapped = mapping.take(out.column("point_index").combine_chunks())
        return out.set_column(index, out.schema.field("point_index"), remapped)


_ACCESSOR_REQUIRED = ("id", "datetime", "geometry", "assets", "bbox")


def accessor_columns(schema: Any, bands: list[str] | None) -> list[str]:
    """The record columns :func:`accessors_of_batch` reads (``bands``: their metadata only).

    Raises
    ------
    ValueError
        A required record column is missing.
    """
    names = schema.names
    missing = set(_ACCESSOR_REQUIRED) - set(names)
    if missing:
        raise ValueError(f"Missing required fields: {missing}")
    meta_cols = [n for n in names if n.endswith("_metadata")]
    if bands:
        meta_cols = [f"{b}_metadata" for b in bands if f"{b}_metadata" in names]
    optional = [c for c in ("proj:epsg", "eo:cloud_cover", "collection") if c in names]
    return [*_ACCESSOR_REQUIRED, *optional, *meta_cols]


def accessors_of_batch(
    batch: Any, data_source: str, record_view: Callable[[Any], Callable[[], Any]]
) -> Iterator[RasterAccessor]:
    """A :class:`RasterAccessor` per row of ``batch``; ``record_view(row)`` makes the
    one-record collection its reads go through. Rows that cannot be read are skipped with a
    warning."""
    meta_cols = [n for n in batch.schema.names if n.endswith("_metadata")]
    for i, row in enumerate(batch.to_pylist()):
        try:
            bbox = row["bbox"]
            if isinstance(bbox, dict):
                bbox = [bbox["xmin"], bbox["ymin"], bbox["xmax"], bbox["ymax"]]
            info = RasterInfo(
                id=str(row["id"]),
                datetime=row["datetime"],
                bbox=list(bbox) if bbox else [],
                footprint=row["geometry"],
                crs=row.get("proj:epsg"),
                cloud_cover=row.get("eo:cloud_cover") or 0,
                assets=dict(row["assets"] or {}),
                band_metadata={c: row[c] for c in meta_cols if row.get(c) is not None},
                collection=row.get("collection") or data_source,
            )
            accessor = RasterAccessor(info, data_source)
            accessor.record_view = record_view(batch.slice(i, 1))
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("skipping record %r: %s", row.get("id"), exc)
            continue
        yield accessor
