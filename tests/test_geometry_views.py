"""Arrow view types as geometry input: Polars exports WKB as ``binary_view``, WKT as
``string_view``. Both must be accepted like their plain counterparts (AOIs and points)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
import shapely
from rasteret.core.aoi import prepare_geometry_input
from rasteret.core.geometry import to_shapely
from shapely.geometry import Point, box


def test_polars_wkb_binary_view_geometries() -> None:
    boxes = [box(13.57, 52.30, 13.60, 52.31), box(13.59, 52.29, 13.62, 52.30)]
    df = pl.DataFrame({"name": ["north", "south"], "geometry": shapely.to_wkb(boxes)})
    assert pa.table(df).schema.field("geometry").type == pa.binary_view()
    plan = prepare_geometry_input(
        df, geometry_column="geometry", geometry_crs=4326, preserve_metadata=True
    )
    assert plan.geometry_crs == 4326 and plan.table is not None
    geoms = to_shapely(plan.geometries)
    assert [g.equals(b) for g, b in zip(geoms, boxes, strict=True)] == [True, True]
    assert plan.metadata is not None and plan.metadata.column("name").to_pylist() == [
        "north",
        "south",
    ]


def test_string_view_wkt_geometries() -> None:
    table = pa.table({"geometry": pa.array([box(0, 0, 1, 1).wkt], pa.string_view())})
    plan = prepare_geometry_input(table, geometry_column="geometry", geometry_crs=4326)
    assert to_shapely(plan.geometries)[0].equals(box(0, 0, 1, 1))


def test_binary_view_points_are_rejected_for_polygon_reads() -> None:
    df = pl.DataFrame({"geometry": shapely.to_wkb([Point(1, 2)])})
    with pytest.raises(TypeError, match="sample_points"):
        prepare_geometry_input(df, geometry_column="geometry", geometry_crs=4326)
