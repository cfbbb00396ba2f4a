"""Memory bounds: hostile or huge inputs are refused, or served, within a stated peak-RSS
growth, and never abort the process.

Each case runs through the public API (``build_from_table`` over a record table pointing at
the file, then ``get_numpy`` / ``sample_points``) in a fresh process that measures its own
peak RSS (``support.memory_probe``): the growth is counted from the resident set after
imports and a warm-up read of a GDAL-written COG over the same transport, so the engine's
runtime, thread pools and clients are already there. The bounds are the ones
docs/explanation/design.md ("Memory bounds") states:

- a header is refused when one tag's values would exceed 256 MiB (a header claiming 10^9
  tiles needs 4 GB of TileOffsets): growth < 32 MiB;
- a tile whose TileByteCounts entry exceeds 10 x its decoded size + 4 KiB (at least 1 MiB) is
  refused before any byte of it is fetched: growth < 32 MiB;
- a tile stream that decodes past the tile ("decompression bomb") is decoded only up to the
  tile's size, the excess never produced: growth < 32 MiB (the tile is 256 KiB);
- a read of N windows grows by less than 64 MiB + 512 bytes per window + 2 x its output.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import rowcol
from support.crafted_tiff import (
    ORIGIN,
    PIXEL_METRES,
    deflate_bomb,
    lzw_bomb,
    single_tile_tiff,
    tile_grid_tiff,
    zstd_bomb,
)
from support.memory_probe import Measured, run_measured
from support.range_server import RangeServer

MIB = 1 << 20
#: Growth of the peak RSS a refused or bounded case may cost (see the module docstring).
SMALL_BOUND_MIB = 32
#: What a read of N windows may add besides its output: per window, then once.
PER_WINDOW_BYTES = 512
READ_OVERHEAD_MIB = 64

#: Child-side helpers: a collection over URLs (public build_from_table with header
#: enrichment), and the warm-up read that precedes the baseline.
_COMMON = """
import datetime as dt
import numpy as np
import pyarrow as pa
import rasteret
import shapely
from pyproj import Transformer

def collection(urls, bounds):
    t = Transformer.from_crs(32633, 4326, always_xy=True)
    x0, y0, x1, y1 = bounds
    lon, lat = t.transform([x0, x1, x1, x0], [y0, y0, y1, y1])
    footprint = shapely.box(min(lon), min(lat), max(lon), max(lat))
    table = pa.table({
        "fid": [str(i) for i in range(len(urls))],
        "datetime": pa.array([dt.datetime(2024, 1, 1)] * len(urls), pa.timestamp("us")),
        "geom": [footprint.wkb] * len(urls),
        "path": urls,
    })
    return rasteret.build_from_table(
        table, column_map={"fid": "id", "geom": "geometry"}, href_column="path",
        band_index_map={"B1": 0}, enrich_cog=True,
    )

def read_all(coll, bounds):
    return coll.get_numpy(shapely.box(*bounds), ["B1"], geometry_crs=32633)

def warm_up(args):
    coll = collection([args["warm_url"]], args["warm_bounds"])
    assert read_all(coll, args["warm_bounds"]).size > 0
"""


@pytest.fixture(scope="module")
def warm_entry(cog_corpus):
    """A small GDAL-written COG in EPSG:32633, read before each baseline."""
    return cog_corpus.by_name("deflate_u8_t256.tif")


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[Path, RangeServer]]:
    """A directory for crafted files and a Range-capable HTTP server over it (the session
    ``http_server`` serves the shared corpus, which these tests must not write to)."""
    root = tmp_path_factory.mktemp("crafted")
    with RangeServer(root) as server:
        yield root, server


def _bounds(path: Path) -> list[float]:
    with rasterio.open(path) as src:
        return list(src.bounds)


def _place(served, warm_entry, name: str, data: bytes, transport: str) -> dict:
    """Write ``data`` as ``name`` (and the warm-up COG) where ``transport`` reads it; the
    child's arguments: the file's URL and the warm-up file's URL and bounds."""
    root, server = served
    (root / name).write_bytes(data)
    warm = root / warm_entry.path.name
    if not warm.exists():
        shutil.copyfile(warm_entry.path, warm)
    if transport == "http":
        url, warm_url = server.url(name), server.url(warm.name)
    else:
        url, warm_url = str(root / name), str(warm)
    return {"url": url, "warm_url": warm_url, "warm_bounds": _bounds(warm)}


def _tile_bounds(tile: int) -> list[float]:
    x0, y0 = ORIGIN
    return [x0, y0 - tile * PIXEL_METRES, x0 + tile * PIXEL_METRES, y0]


def _assert_growth_below(measured: Measured, bound_mib: float) -> None:
    print(f"peak RSS growth {measured.growth_mib:.1f} MiB (bound {bound_mib:.1f} MiB)")
    assert measured.growth_mib < bound_mib, (
        f"peak RSS grew {measured.growth_mib:.1f} MiB (bound {bound_mib:.1f} MiB; baseline "
        f"{measured.baseline_mib:.1f} MiB)"
    )


# ------------------------------------------------------------------ the probe itself


def test_the_probe_sees_an_allocation_and_a_crash():
    """The measurement is live: touching 200 MiB shows as >= 190 MiB of growth, a read-only
    case as none to speak of, and an abort fails the run."""
    body = """
    import numpy as np
    def setup(args):
        return None
    def case(args, inputs):
        if args["mib"]:
            np.ones(args["mib"] << 20, np.uint8)
        return args["mib"]
    """
    big = run_measured(body, {"mib": 200})
    assert big.result == 200 and big.growth_mib >= 190, big
    idle = run_measured(body, {"mib": 0})
    assert idle.result == 0 and idle.growth_mib < 8, idle
    with pytest.raises(AssertionError, match="exited with -6"):
        run_measured("import os\ndef setup(args): os.abort()\n", {})


# ------------------------------------------------------------------ a header claiming 10^9 tiles


@pytest.mark.parametrize("transport", ["local", "http"])
def test_a_header_claiming_a_billion_tiles_is_refused_at_parse(served, warm_entry, transport):
    side = 16 * 31_623  # 31,623^2 = 1,000,014,129 tiles of 16 x 16 pixels
    name = f"billion_tiles_{transport}.tif"
    args = _place(served, warm_entry, name, tile_grid_tiff(side, side, 16), transport)
    args["bounds"] = [ORIGIN[0], ORIGIN[1] - side * 10.0, ORIGIN[0] + side * 10.0, ORIGIN[1]]
    body = (
        _COMMON,
        """
    import asyncio
    from rasteret.fetch.header_parser import AsyncCOGHeaderParser

    def setup(args):
        warm_up(args)

    def case(args, inputs):
        out = {}
        try:
            collection([args["url"]], args["bounds"])
        except Exception as exc:
            out["build"] = [type(exc).__module__ + "." + type(exc).__qualname__, str(exc)]
        try:
            asyncio.run(AsyncCOGHeaderParser().parse_cog_header(args["url"]))
        except Exception as exc:
            out["parse"] = [type(exc).__module__ + "." + type(exc).__qualname__, str(exc)]
        return out
    """,
    )
    measured = run_measured(body, args)
    build_type, build_msg = measured.result["build"]
    parse_type, parse_msg = measured.result["parse"]
    assert build_type == "builtins.ValueError"
    assert "COG header enrichment failed for all assets" in build_msg
    assert parse_type == "rasteret.errors.CogHeaderError"
    for msg in (build_msg, parse_msg):
        assert args["url"] in msg
        assert "tag 324 claims 1000014129 values of 4 bytes" in msg, msg
        assert "256 MiB cap" in msg, msg
    _assert_growth_below(measured, SMALL_BOUND_MIB)


# ------------------------------------------------------------------ a tile claiming 4 GiB


def _deflate_tile(tile: int) -> tuple[np.ndarray, bytes]:
    """A tile of recognisable 8-bit pixels and its zlib stream."""
    y, x = np.mgrid[0:tile, 0:tile]
    pixels = ((x * 3) ^ (y * 5)).astype(np.uint8)
    return pixels, zlib.compress(pixels.tobytes())


@pytest.mark.parametrize("transport", ["local", "http"])
def test_a_tile_claiming_4_gib_is_refused_before_it_is_fetched(
    served, warm_entry, tmp_path, transport
):
    """The tile's 4 GiB really are in the file (a sparse file): without the limit the read
    would fetch and hold them. The same tile with its true byte count reads right."""
    tile = 512
    pixels, stream = _deflate_tile(tile)
    claim = 0xFFFF_FFFF  # the largest classic-TIFF count: 4 GiB - 1
    name = f"claims_4gib_{transport}.tif"
    data = single_tile_tiff(tile, 8, stream, byte_count=claim)
    args = _place(served, warm_entry, name, data, transport)
    root, server = served
    offset = len(data) - len(stream)
    with open(root / name, "r+b") as fh:  # the claimed bytes exist: holes read as zeros
        fh.truncate(offset + claim)
    honest = f"honest_{transport}.tif"
    honest_tiff = single_tile_tiff(tile, 8, stream)
    args["honest"] = _place(served, warm_entry, honest, honest_tiff, transport)["url"]
    args["bounds"] = _tile_bounds(tile)
    args["out"] = str(tmp_path / "honest.npy")
    body = (
        _COMMON,
        """
    def setup(args):
        warm_up(args)
        bounds = args["bounds"]
        return collection([args["url"]], bounds), collection([args["honest"]], bounds)

    def case(args, inputs):
        claiming, honest = inputs
        out = {}
        try:
            read_all(claiming, args["bounds"])
        except Exception as exc:
            out["error"] = [type(exc).__module__ + "." + type(exc).__qualname__, str(exc)]
            chain, seen = [], exc
            while seen is not None:
                chain.append(type(seen).__module__ + "." + type(seen).__qualname__)
                seen = seen.__cause__ or seen.__context__
            out["chain"] = chain
        np.save(args["out"], read_all(honest, args["bounds"]))
        return out
    """,
    )
    server.reset_log()
    measured = run_measured(body, args)
    err_type, message = measured.result["error"]
    # ReadFailedError is a ValueError (and a RasteretError)
    assert err_type == "rasteret.errors.ReadFailedError", err_type
    assert "No valid data found" in message, message
    assert "rasteret.errors.CogHeaderError" in measured.result["chain"]
    assert args["url"] in message
    assert f"claims {claim} compressed bytes (TileByteCounts)" in message, message
    limit = tile * tile * 10 + 4096
    assert f"more than the {limit}-byte limit" in message, message
    np.testing.assert_array_equal(np.load(args["out"]), pixels[None])
    with rasterio.open(root / honest) as src:
        np.testing.assert_array_equal(src.read(1), pixels)
    if transport == "http":
        asked = [r.range or "" for r in server.requests if r.path.endswith(name)]
        tile_reads = [r for r in asked if f"bytes={offset}-" in r]
        assert tile_reads == [], "the refused tile was requested"
        assert any(r.path.endswith(honest) for r in server.requests)
    _assert_growth_below(measured, SMALL_BOUND_MIB)


# ------------------------------------------------------------------ decompression bombs

#: (TIFF compression code, bomb builder, zeros after the tile's pixels)
BOMBS = {
    "deflate": (8, deflate_bomb, 1 << 30),
    "zstd": (50000, zstd_bomb, 4 << 30),
    "lzw": (5, lzw_bomb, 1 << 30),
}


@pytest.mark.parametrize("transport", ["local", "http"])
@pytest.mark.parametrize("codec", sorted(BOMBS))
def test_a_decompression_bomb_decodes_only_its_tile(served, warm_entry, tmp_path, codec, transport):
    """A valid stream that inflates to GiBs past its 256 KiB tile: the read decodes the
    tile's bytes and stops, so the pixels are the tile's (as GDAL reads them) and memory
    does not follow the stream."""
    tile = 512
    pixels, _ = _deflate_tile(tile)
    code, build, zeros = BOMBS[codec]
    stream = build(pixels.tobytes(), pixels.nbytes + zeros)
    assert len(stream) <= tile * tile * 10 + 4096, "the bomb must pass the byte-count limit"
    assert (pixels.nbytes + zeros) // len(stream) >= 500, "not much of a bomb"
    name = f"bomb_{codec}_{transport}.tif"
    args = _place(served, warm_entry, name, single_tile_tiff(tile, code, stream), transport)
    args["bounds"] = _tile_bounds(tile)
    args["out"] = str(tmp_path / "bomb.npy")
    body = (
        _COMMON,
        """
    def setup(args):
        warm_up(args)
        return collection([args["url"]], args["bounds"])

    def case(args, inputs):
        got = read_all(inputs, args["bounds"])
        np.save(args["out"], got)
        return list(got.shape)
    """,
    )
    measured = run_measured(body, args)
    assert measured.error is None, measured.error
    assert measured.result == [1, tile, tile]
    got = np.load(args["out"])[0]
    np.testing.assert_array_equal(got, pixels)
    with rasterio.open(served[0] / name) as src:
        np.testing.assert_array_equal(got, src.read(1))
    _assert_growth_below(measured, SMALL_BOUND_MIB)


# ------------------------------------------------------------------ 100,000 windows in one call


@pytest.mark.parametrize("transport", ["local", "http"])
def test_100k_points_in_one_call_stay_within_the_read_bound(
    served, cog_corpus, warm_entry, tmp_path, transport
):
    """``sample_points`` of 100,000 points (one window each) over a GDAL-written COG: every
    value is rasterio's pixel, and the peak grows by less than 64 MiB + 512 bytes per point
    + 2 x the output table."""
    entry = cog_corpus.by_name("deflate_pred2_u8_t256.tif")  # EPSG:4326: no reprojection
    n = 100_000
    with rasterio.open(entry.path) as src:
        left, bottom, right, top = src.bounds
        rng = np.random.default_rng(18)
        lon = rng.uniform(left, right, n)
        lat = rng.uniform(bottom, top, n)
        rows, cols = rowcol(src.transform, lon, lat)
        rows, cols = np.asarray(rows), np.asarray(cols)
        inside = (rows >= 0) & (rows < src.height) & (cols >= 0) & (cols < src.width)
        expected = np.full(n, np.nan)
        expected[inside] = src.read(1)[rows[inside], cols[inside]]
    args = _place(served, warm_entry, entry.path.name, entry.path.read_bytes(), transport)
    args.update(lon=lon.tolist(), lat=lat.tolist(), out=str(tmp_path / "points.npz"))
    args["bounds"] = [left, bottom, right, top]
    body = (
        _COMMON,
        """
    def setup(args):
        warm_up(args)
        # the record's footprint is the file's lon/lat bounds (collection() expects metres)
        x0, y0, x1, y1 = args["bounds"]
        table = pa.table({
            "fid": ["0"],
            "datetime": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("us")),
            "geom": [shapely.box(x0, y0, x1, y1).wkb],
            "path": [args["url"]],
        })
        coll = rasteret.build_from_table(
            table, column_map={"fid": "id", "geom": "geometry"}, href_column="path",
            band_index_map={"B1": 0}, enrich_cog=True,
        )
        points = pa.table({"lon": args.pop("lon"), "lat": args.pop("lat")})
        return coll, points

    def case(args, inputs):
        coll, points = inputs
        out = coll.sample_points(points, ["B1"], geometry_crs=4326)
        np.savez(
            args["out"],
            index=out.column("point_index").to_numpy(),
            value=out.column("value").to_numpy(),
        )
        return {"rows": out.num_rows, "nbytes": out.nbytes}
    """,
    )
    measured = run_measured(body, args)
    assert measured.error is None, measured.error
    saved = np.load(args["out"])
    index, value = saved["index"], saved["value"]
    assert len(np.unique(index)) == len(index) == measured.result["rows"]
    assert measured.result["rows"] >= int(inside.sum()) - 50  # points on an edge may round out
    assert measured.result["rows"] >= 99_000
    np.testing.assert_array_equal(value, expected[index])
    output = measured.result["nbytes"]
    bound = READ_OVERHEAD_MIB + (n * PER_WINDOW_BYTES + 2 * output) / MIB
    _assert_growth_below(measured, bound)


def test_crafted_streams_are_what_they_claim():
    """The bomb builders make valid streams of exactly the pixels then the zeros (checked
    with zlib and imagecodecs on small ones), so the bomb tests read real bombs."""
    imagecodecs = pytest.importorskip("imagecodecs")
    pixels = bytes(range(256)) * 64
    zeros = 3 << 20
    expected = pixels + bytes(zeros)
    assert zlib.decompress(deflate_bomb(pixels, len(expected))) == expected
    assert imagecodecs.zstd_decode(zstd_bomb(pixels, len(expected))) == expected
    assert imagecodecs.lzw_decode(lzw_bomb(pixels, len(expected))) == expected
    assert imagecodecs.lzw_decode(lzw_bomb(pixels, len(pixels) + 12_345)) == pixels + bytes(12_345)
    header = tile_grid_tiff(32, 32, 16)
    assert header[:4] == b"II*\x00" and struct.unpack_from("<H", header, 8)[0] == 13
