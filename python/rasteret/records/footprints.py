"""Record footprints as a GeoDataFrame: stored CRS84 geometries or a band's raster extents."""

from __future__ import annotations

from typing import Any

from rasteret.records.source import RecordSource

__all__ = ["footprints_frame"]


def _raster_extent(metadata: dict[str, Any]) -> tuple[float, float, float, float]:
    t = metadata["transform"]
    a, c, e, f = (t[0], t[1], t[2], t[3]) if len(t) == 4 else (t[0], t[2], t[4], t[5])
    x0, x1 = c, c + a * metadata["image_width"]
    y0, y1 = f, f + e * metadata["image_height"]
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def footprints_frame(source: RecordSource, *, band: str | None, crs: Any) -> Any:
    """``id``, ``datetime`` and footprint of every record, in ``crs`` (default EPSG:4326).

    Without ``band`` the stored (CRS84) footprint is used; with ``band`` the extent of that
    band's raster from its tile-layout transform, in the record's CRS, reprojected.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    schema = source.schema
    if schema is None:
        return gpd.GeoDataFrame({"id": [], "datetime": []}, geometry=[], crs="EPSG:4326")
    cols = [c for c in ("id", "datetime") if c in schema.names]
    if band is None:
        table = source.scan([*cols, "geometry"])
        geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
        gdf = gpd.GeoDataFrame(
            table.select(cols).to_pandas(), geometry=geoms, crs="OGC:CRS84"
        ).to_crs("EPSG:4326")
        return gdf if crs is None else gdf.to_crs(crs)
    name = f"{band}_metadata"
    frames = []
    for row in source.scan([*cols, name, "proj:epsg"]).to_pylist():
        metadata, epsg = row[name], row["proj:epsg"]
        if not metadata or not metadata.get("transform") or epsg is None:
            continue
        frames.append(
            gpd.GeoDataFrame(
                {k: [row[k]] for k in cols},
                geometry=[shapely.box(*_raster_extent(metadata))],
                crs=f"EPSG:{epsg}",
            ).to_crs("EPSG:4326")
        )
    if not frames:
        return gpd.GeoDataFrame({k: [] for k in cols}, geometry=[], crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    return gdf if crs is None else gdf.to_crs(crs)
