"""``Collection.to_torchgeo_dataset``: pre-filter the collection, then build the dataset
(API.md §2.13)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def _geometries_bbox(geometries: Any, geometries_crs: int) -> tuple[float, ...] | None:
    """Envelope of ``geometries`` in EPSG:4326 (None for an empty input)."""
    import shapely

    from rasteret.core.aoi import prepare_geometry_input
    from rasteret.core.utils import transform_bbox

    plan = prepare_geometry_input(geometries, geometry_crs=geometries_crs)
    if len(plan.geometries) == 0:
        return None
    env = tuple(float(v) for v in shapely.total_bounds(plan.geometries))
    crs = plan.crs if plan.crs is not None else 4326
    return transform_bbox(env, crs, 4326)  # type: ignore[arg-type]


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
        env = _geometries_bbox(geometries, kw.get("geometries_crs", 4326))
        user_bbox = filters.get("bbox")
        if env is not None and user_bbox is not None:
            ub = tuple(float(v) for v in user_bbox)
            env = (max(env[0], ub[0]), max(env[1], ub[1]), min(env[2], ub[2]), min(env[3], ub[3]))
        if env is not None and (env[0] > env[2] or env[1] > env[3]):
            dataset = view._records_dataset()
            view = view._view(dataset.filter(_false())) if dataset is not None else view
        elif env is not None:
            try:
                view = view.subset(bbox=env)
            except ValueError as exc:
                logger.debug("geometry pre-filter skipped: %s", exc)
    return RasteretGeoDataset(collection=view, bands=bands, **kw)


def _false() -> Any:
    import pyarrow.dataset as ds

    return ds.scalar(False)
