"""AOI and point inputs of the read APIs (``rasteret.core.aoi``).

The public names of :mod:`rasteret.read.inputs`, where every accepted geometry or point
form becomes a GeoArrow input plan with its CRS, and where the query narrowing of the reads
is decided.
"""

from rasteret.read.inputs import (
    AUTO_CRS,
    GeometryInputPlan,
    fail_on_metadata_collisions,
    narrow_query_filters,
    prepare_geometry_input,
    prepare_point_input,
    query_envelope,
    resolve_geometry_column,
    resolve_geometry_crs,
)

__all__ = [
    "AUTO_CRS",
    "GeometryInputPlan",
    "fail_on_metadata_collisions",
    "narrow_query_filters",
    "prepare_geometry_input",
    "prepare_point_input",
    "query_envelope",
    "resolve_geometry_column",
    "resolve_geometry_crs",
]
