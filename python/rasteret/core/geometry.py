"""Geometry helpers of the read APIs (``rasteret.core.geometry``).

The public names of :mod:`rasteret.geo.geometry`, where geometry inputs become GeoArrow
arrays, envelopes and CRS transforms for every layer of the package.
"""

from rasteret.geo.geometry import (
    UnsupportedGeometryError,
    bbox_array,
    bbox_from_geojson_coords,
    bbox_intersects,
    bbox_single,
    coerce_to_geoarrow,
    ensure_point_geoarrow,
    geojson_dicts_to_wkb,
    intersect_bbox,
    point_coords,
    points_from_table,
    require_points,
    require_polygons,
    resolve_geometry_column,
    resolve_xy_columns,
    to_rasterio_geojson,
    to_shapely,
    total_bounds,
    transform_coords,
    transform_geometry,
    transform_point_coords,
    transform_xy,
)

__all__ = [
    "UnsupportedGeometryError",
    "bbox_array",
    "bbox_from_geojson_coords",
    "bbox_intersects",
    "bbox_single",
    "coerce_to_geoarrow",
    "ensure_point_geoarrow",
    "geojson_dicts_to_wkb",
    "intersect_bbox",
    "point_coords",
    "points_from_table",
    "require_points",
    "require_polygons",
    "resolve_geometry_column",
    "resolve_xy_columns",
    "to_rasterio_geojson",
    "to_shapely",
    "total_bounds",
    "transform_coords",
    "transform_geometry",
    "transform_point_coords",
    "transform_xy",
]
