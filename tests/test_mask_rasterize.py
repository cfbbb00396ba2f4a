"""The Rust rasterizer against ``rasterio.features.geometry_mask(..., invert=True)`` (GDAL),
pixel for pixel, for both ``all_touched`` rules; and AOI reads that never import rasterio."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio
import rasterio.mask
import shapely
from affine import Affine
from rasteret.read.mask import geometry_masks, window_masks
from rasterio.features import geometry_mask
from shapely.geometry.polygon import orient
from support.aoi_oracle import aoi_in_4326, eligible, oracle, record_table

NORTH_UP = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 12.0)  # 12 x 12 grid of unit pixels over 0..12
SOUTH_UP = Affine(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
SHAPE = (12, 12)


def _oracle(geom, transform, shape, all_touched):
    return geometry_mask(
        [geom], out_shape=shape, transform=transform, all_touched=all_touched, invert=True
    )


def _assert_same(geom, transform=NORTH_UP, shape=SHAPE, *, label=""):
    for all_touched in (False, True):
        expected = _oracle(geom, transform, shape, all_touched)
        [got] = geometry_masks([geom], [transform], [shape], all_touched=all_touched)
        assert got.dtype == np.bool_ and got.shape == shape
        np.testing.assert_array_equal(
            got, expected, err_msg=f"{label} all_touched={all_touched} {geom.wkt[:200]}"
        )


def _star(cx, cy, r_out, r_in, n=5):
    angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    radii = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in)
    return shapely.Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)])


CASES = {
    "rectangle on the grid": shapely.box(2, 3, 9, 7),
    "rectangle off the grid": shapely.box(2.3, 1.7, 7.6, 5.2),
    "rectangle of pixel centres": shapely.box(2.5, 2.5, 7.5, 5.5),
    "triangle": shapely.Polygon([(1.2, 1.1), (10.7, 3.3), (4.4, 10.9)]),
    "polygon with a hole": shapely.Polygon(
        [(0.5, 0.5), (11.2, 0.8), (10.9, 11.3), (0.7, 10.6)],
        [[(3.3, 3.1), (8.2, 3.6), (7.7, 8.4), (3.6, 7.9)]],
    ),
    "hole on the grid": shapely.Polygon(
        [(1, 1), (11, 1), (11, 11), (1, 11)], [[(4, 4), (8, 4), (8, 8), (4, 8)]]
    ),
    "multipolygon": shapely.MultiPolygon(
        [shapely.box(0.4, 0.4, 3.6, 3.3), shapely.box(6.2, 5.1, 11.7, 11.2)]
    ),
    "overlapping multipolygon": shapely.MultiPolygon(
        [shapely.box(1.3, 1.3, 6.6, 6.6), shapely.box(4.2, 4.2, 9.9, 9.9)]
    ),
    "concave star": _star(6.1, 5.9, 5.3, 2.1),
    "concave U": shapely.Polygon(
        [(1.2, 1.2), (10.8, 1.2), (10.8, 10.8), (7.7, 10.8), (7.7, 4.1), (4.3, 4.1), (4.3, 10.8)]
        + [(1.2, 10.8)]
    ),
    "thin sliver": shapely.Polygon([(0.2, 5.31), (11.8, 5.33), (0.2, 5.34)]),
    "vertical sliver": shapely.Polygon([(6.3, 0.2), (6.31, 11.8), (6.32, 0.2)]),
    "diamond through pixel centres": shapely.Polygon(
        [(6.5, 1.5), (10.5, 5.5), (6.5, 9.5), (2.5, 5.5)]
    ),
    "diamond through pixel corners": shapely.Polygon([(6, 1), (11, 6), (6, 11), (1, 6)]),
    "edges on pixel edges and centres": shapely.Polygon(
        [(1, 1.5), (9.5, 1.5), (9.5, 4), (5, 4), (5, 8.5), (1, 8.5)]
    ),
    "partly outside (left and bottom)": shapely.box(-3.3, -2.7, 4.4, 5.6),
    "partly outside (all sides)": shapely.Polygon([(-5, 6), (6, -5), (17, 6), (6, 17)]),
    "wholly outside": shapely.box(20, 20, 25, 25),
    "covering the window": shapely.box(-1, -1, 13, 13),
    "smaller than a pixel": shapely.box(4.3, 4.2, 4.6, 4.4),
    "self-intersecting bow tie": shapely.Polygon([(1, 1), (11, 11), (11, 1), (1, 11)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_geometry_mask_north_up(name):
    _assert_same(CASES[name], label=name)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_geometry_mask_south_up(name):
    _assert_same(CASES[name], SOUTH_UP, label=name)


@pytest.mark.parametrize("name", ["rectangle of pixel centres", "polygon with a hole", "triangle"])
def test_ring_orientation_does_not_change_the_mask(name):
    # GDAL turns every ring clockwise; a horizontal edge on a row of pixel centres is only
    # burnt in one direction, so both input orientations must give GDAL's answer
    geom = CASES[name]
    for sign in (1.0, -1.0):
        _assert_same(orient(geom, sign), label=f"{name} orient={sign}")
        _assert_same(orient(geom, sign), SOUTH_UP, label=f"{name} orient={sign} south-up")


def test_projected_grid_with_fractional_geometry():
    transform = Affine(10.0, 0.0, 499_980.0, 0.0, -10.0, 4_200_040.0)
    geom = shapely.Polygon(
        [(500_013.7, 4_199_921.3), (500_101.2, 4_199_940.9), (500_070.4, 4_200_031.5)]
    )
    _assert_same(geom, transform, (13, 14))


def test_rotated_grid():
    # geometry_mask accepts rotated/sheared transforms (GDAL inverts the full affine)
    transform = Affine(1.0, 0.25, 0.0, 0.15, -1.0, 12.0)
    for name in ("triangle", "polygon with a hole", "concave star"):
        _assert_same(CASES[name], transform, label=name)


def test_window_masks_flags_full_windows():
    full, partial = window_masks(
        [shapely.box(2, 3, 9, 7), shapely.box(2.6, 3, 9, 7)],
        [Affine(1, 0, 2, 0, -1, 7)] * 2,
        [(4, 7)] * 2,
    )
    assert full is None
    assert partial is not None and not partial.all() and partial.any()


def test_window_masks_without_rasterizing_equal_geometry_mask():
    """Windows whose centre grid lies inside the geometry are reported whole without being
    rasterized; every answer (whole or a mask) equals rasterio's, on north-up and sheared
    grids, boxes and triangles, windows down to one pixel, both all_touched values."""
    rng = np.random.default_rng(20261207)
    whole = 0
    for trial in range(1500):
        h, w = (int(v) for v in rng.integers(1, 8, 2))
        t = Affine(1, 0, 0, 0, -1, 10) if trial % 3 else Affine(0.9, 0.2, 0, 0.1, -1.1, 10)
        x0, y0 = rng.uniform(-2, 5, 2)
        x1, y1 = x0 + rng.uniform(0, 10), y0 + rng.uniform(0, 12)
        geom = (
            shapely.box(x0, y0, x1, y1)
            if trial % 2
            else shapely.Polygon([(x0, y0), (x1, y0), (x0 + 1, y1)])
        )
        for all_touched in (False, True):
            [mask] = window_masks([geom], [t], [(h, w)], all_touched=all_touched)
            ref = geometry_mask(
                [geom], out_shape=(h, w), transform=t, all_touched=all_touched, invert=True
            )
            got = np.ones((h, w), bool) if mask is None else mask
            np.testing.assert_array_equal(got, ref, err_msg=f"trial {trial} {geom.wkt}")
            whole += mask is None
    assert whole > 100  # the shortcut is taken (and checked) often


def test_errors_name_the_geometry():
    with pytest.raises(ValueError, match="geometry 1.*Polygon"):
        geometry_masks([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)], [NORTH_UP] * 2, [SHAPE] * 2)
    with pytest.raises(ValueError, match="not invertible"):
        geometry_masks([shapely.box(0, 0, 1, 1)], [Affine(0, 0, 0, 0, 0, 0)], [SHAPE])
    assert geometry_masks([], [], []) == []


def _random_polygon(rng, width, height, snap):
    n = int(rng.integers(3, 13))
    pts = np.c_[rng.uniform(-2, width + 2, n), rng.uniform(-2, height + 2, n)]
    if snap:  # vertices on pixel corners, edges and centres: GDAL's tie rules
        pts = np.round(pts * 2) / 2
    shell = pts[np.argsort(np.arctan2(pts[:, 1] - pts[:, 1].mean(), pts[:, 0] - pts[:, 0].mean()))]
    if rng.random() < 0.3:
        shell = pts  # unordered: self-intersecting, still rasterized by GDAL
    holes = []
    if rng.random() < 0.3:
        cx, cy = shell.mean(axis=0)
        r = rng.uniform(0.3, 2.0)
        k = np.linspace(0, 2 * np.pi, int(rng.integers(3, 7)), endpoint=False)
        holes.append(np.c_[cx + r * np.cos(k), cy + r * np.sin(k)])
    return shapely.Polygon(shell, holes)


def test_random_polygons_match_geometry_mask():
    rng = np.random.default_rng(20261207)
    for case in range(300):
        width, height = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        snap = case % 3 == 0
        # powers of two keep snapped vertices exactly on the half-pixel grid
        res = 2.0 ** int(rng.integers(-3, 4)) if snap else float(rng.uniform(0.05, 50))
        x0, y0 = float(rng.uniform(-1e5, 1e5)), float(rng.uniform(-1e5, 1e5))
        if snap:
            x0, y0 = round(x0), round(y0)
        south_up = rng.random() < 0.3
        transform = Affine(res, 0, x0, 0, res if south_up else -res, y0)
        local = _random_polygon(rng, width, height, snap)
        # pixel units -> world units of the grid
        geom = shapely.affinity.affine_transform(
            local, [res, 0, 0, res if south_up else -res, x0, y0]
        )
        if rng.random() < 0.2:
            other = shapely.affinity.translate(geom, res * 3.3, res * 1.7)
            geom = shapely.MultiPolygon([geom, other])
        _assert_same(geom, transform, (height, width), label=f"case {case}")
        # any part of the grid (a lazy read's chunk) is that part of the whole mask
        r0, c0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = int(rng.integers(0, height - r0 + 1)), int(rng.integers(0, width - c0 + 1))
        for all_touched in (False, True):
            whole = _oracle(geom, transform, (height, width), all_touched)
            [part] = geometry_masks(
                [geom], [transform], [(height, width)], all_touched=all_touched,
                windows=[(r0, c0, h, w)],
            )  # fmt: skip
            np.testing.assert_array_equal(part, whole[r0 : r0 + h, c0 : c0 + w])


def test_many_masks_in_one_call_match_one_by_one():
    rng = np.random.default_rng(7)
    geoms, transforms, shapes = [], [], []
    for _ in range(50):
        w, h = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        geoms.append(_random_polygon(rng, w, h, snap=False))
        transforms.append(NORTH_UP)
        shapes.append((h, w))
    for all_touched in (False, True):
        masks = geometry_masks(geoms, transforms, shapes, all_touched=all_touched)
        for g, t, s, m in zip(geoms, transforms, shapes, masks, strict=True):
            np.testing.assert_array_equal(m, _oracle(g, t, s, all_touched))


_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import pyarrow.parquet as pq
    import shapely
    import rasteret

    def loaded():
        return sorted(m for m in sys.modules if m.split(".")[0] == "rasterio")

    table_path, aoi_hex, out_path = sys.argv[1:4]
    coll = rasteret.build_from_table(
        pq.read_table(table_path), href_column="url", band_index_map={"B1": 0}, enrich_cog=True
    )
    stages = {"build": loaded()}
    aoi = shapely.from_wkb(bytes.fromhex(aoi_hex))
    arr = coll.get_numpy(aoi, ["B1"])
    stages["get_numpy"] = loaded()
    xr = coll.get_xarray(aoi, ["B1"])
    stages["get_xarray"] = loaded()
    gdf = coll.get_gdf(aoi, ["B1"], all_touched=True)
    stages["get_gdf"] = loaded()
    c = aoi.centroid
    points = coll.sample_points([shapely.Point(c.x, c.y)], ["B1"])
    stages["sample_points"] = loaded()
    np.save(out_path, arr[0])
    print(json.dumps({
        "stages": stages,
        "xarray_bands": list(xr.data_vars),
        "gdf_rows": len(gdf),
        "points": points.num_rows,
    }))
    """
)


def test_aoi_reads_do_not_import_rasterio(cog_corpus, http_server, tmp_path):
    [entry] = [e for e in eligible(cog_corpus, 10) if "south_up" not in e.tags][:1]
    table_path = tmp_path / "records.parquet"
    pq.write_table(record_table([entry], [http_server.url(entry.path.name)]), table_path)
    aoi = aoi_in_4326(entry)
    out_path = tmp_path / "got.npy"
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(table_path), aoi.wkb_hex, str(out_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for stage, modules in report["stages"].items():
        assert modules == [], f"{stage} imported {modules}"
    assert report["gdf_rows"] == 1 and report["points"] == 1
    assert report["xarray_bands"]
    np.testing.assert_array_equal(np.load(out_path), oracle(entry, aoi))
    assert rasterio.__version__  # the oracle ran in this process, not the child


@pytest.mark.parametrize("all_touched", [False, True])
def test_window_covering_aoi_reads_match_rasterio_mask(cog_corpus, http_server, all_touched):
    # a box on the pixel grid covers its whole window (the read skips masking); a box a
    # fraction of a pixel inside it does not; both must equal rasterio.mask
    import rasteret

    [entry] = [e for e in eligible(cog_corpus, 10) if "south_up" not in e.tags][:1]
    coll = rasteret.build_from_table(
        record_table([entry], [http_server.url(entry.path.name)]),
        href_column="url",
        band_index_map={"B1": 0},
        enrich_cog=True,
    )
    with rasterio.open(entry.path) as src:
        t, epsg = src.transform, src.crs.to_epsg()
        on_grid = shapely.box(*(t * (5, 23)), *(t * (31, 3)))
        inside = shapely.box(*(t * (5.6, 22.4)), *(t * (30.4, 3.6)))
        for aoi in (on_grid, inside):
            expected, _ = rasterio.mask.mask(
                src,
                [aoi],
                crop=True,
                filled=True,
                all_touched=all_touched,
                indexes=1,
                nodata=src.nodata if src.nodata is not None else 0,
            )
            got = coll.get_numpy(aoi, ["B1"], geometry_crs=epsg, all_touched=all_touched)
            assert got.shape == (1, *expected.shape)
            np.testing.assert_array_equal(got[0], expected)
    [full, partial] = window_masks(
        [on_grid, inside],
        [t * Affine.translation(5, 3)] * 2,
        [(20, 26)] * 2,
        all_touched=all_touched,
    )
    assert full is None
    assert (partial is None) == all_touched  # all_touched burns every pixel the box touches
