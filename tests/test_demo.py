"""``rasteret demo`` end to end, in a subprocess with a fresh HOME, and its PNG writers.

The quick-look PNG is checked pixel for pixel against the same image composed from
``rasterio.mask.mask`` reads of the AOI (the oracle of every AOI read), so the read that fed
it is checked against rasterio too.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.errors
import rasterio.mask
from rasteret._demo import archive, quicklook
from rasteret._demo.run import BANDS, aoi_polygon
from rasteret.core.collection import Collection
from rasterio.warp import transform_geom
from shapely.geometry import mapping

NEWEST_CLEAR = "S2A_33UUP_20240709_0_L2A"  # of the default 4 scenes, in DATE_RANGE, < 20 %


def _read_png(path: Path) -> np.ndarray:
    """The PNG's pixels ``[H, W, bands]`` decoded by GDAL's PNG driver."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        src = rasterio.open(path)
    with src:
        assert src.driver == "PNG"
        return np.moveaxis(src.read(), 0, -1)


def _oracle_aoi(scene_dir: Path) -> list[np.ndarray]:
    polygon = mapping(aoi_polygon())
    out = []
    for band in BANDS:
        with rasterio.open(scene_dir / f"{archive.ASSETS[band]}.tif") as src:
            geom = transform_geom("EPSG:4326", src.crs, polygon)
            data, _ = rasterio.mask.mask(src, [geom], crop=True, filled=True, nodata=0)
            out.append(data[0])
    return out


def test_demo_cli_end_to_end(tmp_path: Path) -> None:
    home, work, out = tmp_path / "home", tmp_path / "work", tmp_path / "look" / "aoi.png"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), MPLCONFIGDIR=str(home / ".mpl"))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rasteret", "demo", "--out", str(out), "--workdir", str(work)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert elapsed < 60, f"demo took {elapsed:.1f} s"
    stdout = proc.stdout
    lines = stdout.splitlines()

    # the timing table: header, one row per step with seconds (and requests for HTTP steps)
    header = next(i for i, line in enumerate(lines) if line.startswith("step "))
    assert lines[header].split() == ["step", "seconds", "requests", "result"]
    table = "\n".join(lines[header:])
    for label, requests in (
        (r"build_from_stac\(static catalog\)", True),
        (r"subset\(date_range, cloud_cover_lt\)", False),
        (r"get_numpy\(AOI, 4 bands\)", True),
        (r"get_xarray\(AOI, 4 bands\)", True),
        (r"sample_points\(500 points, 4 bands\)", True),
        (r"same AOI with rasterio/GDAL", True),
    ):
        pattern = rf"^{label}\s+\d+\.\d{{3}}" + (r"\s+\d+\s" if requests else r"\s")
        assert re.search(pattern, table, re.M), f"no row for {label}:\n{table}"
    assert re.search(r"^total\s+\d+\.\d{3}$", table, re.M)
    assert "4 records, bands ['B02', 'B03', 'B04', 'B08']" in table
    assert "2 of 4 records left" in table
    assert "pixels identical to rasterio: yes" in lines
    if hasattr(Collection, "to_torchgeo_dataset") and importlib.util.find_spec("torchgeo"):
        batches = r"4 batches of int32\[4, 4, 128, 128\]"
        assert re.search(rf"^TorchGeo: 4 batches.*\s\d+\s+{batches}$", table, re.M), table
    else:
        assert re.search(r"^TorchGeo batches skipped \(.+\)$", table, re.M), table
    assert lines[-1] == f"quick-look of {NEWEST_CLEAR} (true colour | NDVI): {out.resolve()}"

    # the archive is a static catalog with relative hrefs, 4 scenes x 4 GDAL COGs
    root = work / "archive"
    assert (root / "catalog.json").is_file()
    cogs = sorted(root.glob("sentinel-2-l2a/*/*.tif"))
    assert len(cogs) == 16
    with rasterio.open(cogs[0]) as src:
        assert src.dtypes[0] == "uint16" and src.crs.to_epsg() == 32633
        assert src.block_shapes[0] == (512, 512) and src.compression.name == "deflate"
    # nothing was written to the (fresh) home directory's workspace
    assert not (home / "rasteret_workspace").exists()

    # the PNG: true colour | NDVI of the newest clear scene, equal to rasterio's AOI pixels
    expected_bands = _oracle_aoi(root / "sentinel-2-l2a" / NEWEST_CLEAR)
    h, w = expected_bands[0].shape
    assert "get_numpy(AOI, 4 bands)" in table and f"uint16[2, 4, {h}, {w}]" in table
    png = _read_png(out)
    assert png.shape[:2] == (h, 2 * w + quicklook.GAP)
    expected = quicklook.compose(*expected_bands)
    np.testing.assert_array_equal(png[..., :3], expected)
    assert (expected_bands[3] > 0).mean() > 0.9  # the AOI is mostly inside the polygon


def test_zlib_png_writer_round_trips_through_gdal(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(quicklook._png_bytes(rgb))
    np.testing.assert_array_equal(_read_png(path), rgb)


def test_compose_layout_and_ndvi() -> None:
    red = np.array([[1000, 0], [300, 2000]], dtype=np.uint16)
    nir = np.array([[3000, 500], [300, 2000]], dtype=np.uint16)
    v = quicklook.ndvi(red, nir)
    assert v[0, 0] == pytest.approx(0.5) and np.isnan(v[0, 1]) and v[1, 0] == 0.0
    img = quicklook.compose(red, red, red, nir)
    assert img.shape == (2, 2 * 2 + quicklook.GAP, 3) and img.dtype == np.uint8
    assert (img[:, 2 : 2 + quicklook.GAP] == 255).all()  # the white gap
    assert (img[0, 1] == 0).all() and (img[0, 2 + quicklook.GAP + 1] == 0).all()  # nodata


def test_write_archive_rejects_bad_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scenes must be between 1 and 6, got 0"):
        archive.write_archive(tmp_path, scenes=0)
    with pytest.raises(ValueError, match="size must be at least 256 pixels, got 100"):
        archive.write_archive(tmp_path, size=100)
