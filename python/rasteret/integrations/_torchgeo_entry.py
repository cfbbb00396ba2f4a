"""``Collection.to_torchgeo_dataset``: pre-filter the collection, then build the dataset."""

from __future__ import annotations

import logging
from typing import Any

import pyarrow.dataset as ds

logger = logging.getLogger(__name__)


def _geometries_bbox(geometries: Any, geometries_crs: int) -> tuple[float, ...] | None:
    """Envelope of ``geometries`` in EPSG:4326 (None for an empty input)."""
    from rasteret.read.inputs import prepare_geometry_input, query_envelope

    return query_envelope(prepare_geometry_input(geometries, geometry_crs=geometries_crs))


def to_torchgeo_dataset(collection: Any, *, bands: list[str], **kw: Any) -> Any:
    """See :meth:`rasteret.core.collection.Collection.to_torchgeo_dataset`."""
    from rasteret.integrations.torchgeo import RasteretGeoDataset

    available = collection.bands
    missing = [b for b in bands if b not in available]
    if available and missing:
        raise ValueError(f"Band(s) not found: {missing}. Available bands: {available}")
    filters = {
        k: kw.pop(k)
        for k in ("cloud_cover_lt", "date_range", "bbox", "split")
        if kw.get(k) is not None
    }
    split_column = kw.pop("split_column")
    for k in ("cloud_cover_lt", "date_range", "bbox", "split"):
        kw.pop(k, None)
    view = collection
    if filters:
        if "split" in filters:
            filters["split_column"] = split_column
        view = view.subset(**filters)
    geometries = kw.get("geometries")
    if geometries is not None:
        from rasteret.read.inputs import narrow_query_filters

        env = _geometries_bbox(geometries, kw.get("geometries_crs", 4326))
        narrowed = narrow_query_filters({"bbox": filters.get("bbox")}, env)
        if narrowed is None:  # the AOIs lie outside the caller's bbox: nothing matches
            view = view.where(ds.scalar(False))
        elif narrowed["bbox"] is not None:
            try:
                view = view.subset(bbox=narrowed["bbox"])
            except ValueError as exc:
                logger.debug("geometry pre-filter skipped: %s", exc)
    return RasteretGeoDataset(collection=view, bands=bands, **kw)
