"""The test fixtures themselves: the Range server, the GDAL corpus, the oracle and S3.

None of this needs the Rust engine.
"""

from __future__ import annotations

import http.client
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
import tifffile
from support.corpus import Corpus, load_or_build, make_data, make_mask, probe_compression
from support.corpus_specs import REQUIRED_TAGS, SPECS, CorpusSpec
from support.oracle import describe, read_window, standard_windows
from support.range_server import FAULT_MODES, RangeServer, parse_range
from support.s3 import S3Server

SIZE = 1000
PAYLOAD = bytes((i * 7 + i // 251) % 256 for i in range(SIZE))
SPEC_BY_NAME = {s.name: s for s in SPECS}


# ============================================================== Range server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RangeServer]:
    root = tmp_path_factory.mktemp("served")
    (root / "a.bin").write_bytes(PAYLOAD)
    (root / "b.bin").write_bytes(PAYLOAD[:100])
    (root / "empty.bin").write_bytes(b"")
    (root / "sub dir").mkdir()
    (root / "sub dir" / "c.bin").write_bytes(PAYLOAD[:300])
    with RangeServer(root) as server:
        yield server


@pytest.fixture
def srv(served: RangeServer) -> Iterator[RangeServer]:
    """The module's server with a clean log, no faults, no latency."""
    served.reset_log()
    served.clear_faults()
    yield served
    served.clear_faults()
    served.ignore_range = False
    served.latency_ms = 0.0


def _get(
    server: RangeServer,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        if own:
            conn.close()


def test_full_get(srv: RangeServer) -> None:
    status, headers, body = _get(srv, "/a.bin")
    assert status == 200
    assert body == PAYLOAD
    assert headers["content-length"] == str(SIZE)
    assert headers["accept-ranges"] == "bytes"
    assert "content-range" not in headers


def test_head_has_length_but_no_body(srv: RangeServer) -> None:
    status, headers, body = _get(srv, "/a.bin", method="HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(SIZE)
    status, headers, body = _get(srv, "/a.bin", {"Range": "bytes=10-19"}, method="HEAD")
    assert (status, body) == (206, b"")
    assert headers["content-range"] == f"bytes 10-19/{SIZE}"
    assert [r.method for r in srv.requests] == ["HEAD", "HEAD"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=5-5", 5, 5),
        ("bytes=990-", 990, 999),
        ("bytes=100-", 100, 999),
        ("bytes=-5", 995, 999),
        ("bytes=-5000", 0, 999),
        ("bytes=990-5000", 990, 999),
        ("bytes=0-1,10-20", 0, 1),
        ("bytes = 3-4", 3, 4),
    ],
)
def test_range_forms(srv: RangeServer, header: str, start: int, end: int) -> None:
    status, headers, body = _get(srv, "/a.bin", {"Range": header})
    assert status == 206
    assert headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert headers["content-length"] == str(end - start + 1)
    assert body == PAYLOAD[start : end + 1]


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_is_416(srv: RangeServer, header: str) -> None:
    status, headers, _ = _get(srv, "/a.bin", {"Range": header})
    assert status == 416
    assert headers["content-range"] == f"bytes */{SIZE}"
    # the connection stays usable afterwards
    assert _get(srv, "/a.bin", {"Range": "bytes=0-0"})[2] == PAYLOAD[:1]


def test_any_range_of_empty_file_is_416(srv: RangeServer) -> None:
    assert _get(srv, "/empty.bin")[0] == 200
    status, headers, _ = _get(srv, "/empty.bin", {"Range": "bytes=0-"})
    assert status == 416
    assert headers["content-range"] == "bytes */0"


@pytest.mark.parametrize("header", ["items=0-1", "bytes=5-2", "bytes=abc", "bytes=7"])
def test_unparseable_range_sends_full_body(srv: RangeServer, header: str) -> None:
    status, _, body = _get(srv, "/a.bin", {"Range": header})
    assert (status, body) == (200, PAYLOAD)


def test_parse_range_table() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=9-", 10) == (9, 9)
    assert parse_range("bytes=10-", 10) == "unsatisfiable"
    assert parse_range("bytes=-0", 10) == "unsatisfiable"
    assert parse_range("bytes=4-2", 10) is None


def test_missing_file_and_escapes_are_404(srv: RangeServer) -> None:
    assert _get(srv, "/nope.bin")[0] == 404
    assert _get(srv, "/../a.bin")[0] == 404
    assert _get(srv, "/%2e%2e/%2e%2e/etc/passwd")[0] == 404
    assert _get(srv, "/")[0] == 404
    assert _get(srv, "/sub%20dir")[0] == 404  # a directory
    assert srv.count("nope.bin") == 1


def test_url_quotes_subdirs(srv: RangeServer) -> None:
    url = srv.url("sub dir/c.bin")
    assert url == f"http://127.0.0.1:{srv.port}/sub%20dir/c.bin"
    assert srv.base_url == f"http://127.0.0.1:{srv.port}"
    path = url.removeprefix(srv.base_url)
    status, _, body = _get(srv, path, {"Range": "bytes=-10"})
    assert (status, body) == (206, PAYLOAD[290:300])
    assert srv.count("sub dir/c.bin") == 1


def test_keep_alive_reuses_one_connection(srv: RangeServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.connect()
        sock = conn.sock
        for i in range(5):
            status, headers, body = _get(srv, "/a.bin", {"Range": f"bytes={i}-{i + 9}"}, conn=conn)
            assert (status, body) == (206, PAYLOAD[i : i + 10])
            assert headers.get("connection", "").lower() != "close"
        _get(srv, "/nope.bin", conn=conn)  # a 404 keeps the connection too
        _get(srv, "/a.bin", {"Range": "bytes=-1"}, conn=conn)
        assert conn.sock is sock
    finally:
        conn.close()
    assert srv.count() == 7


def test_many_concurrent_connections(srv: RangeServer) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    def worker(k: int) -> None:
        try:
            barrier.wait(timeout=10)
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            for j in range(3):
                start = (k * 13 + j * 7) % 900
                status, _, body = _get(
                    srv, "/a.bin", {"Range": f"bytes={start}-{start + 49}"}, conn=conn
                )
                assert (status, body) == (206, PAYLOAD[start : start + 50])
            conn.close()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[:3]
    assert srv.count("a.bin") == 96


def test_ignore_range_sends_full_body(srv: RangeServer) -> None:
    srv.ignore_range = True
    status, headers, body = _get(srv, "/a.bin", {"Range": "bytes=10-19"})
    assert (status, body) == (200, PAYLOAD)
    assert "content-range" not in headers
    assert srv.requests[-1].range == "bytes=10-19"
    assert srv.requests[-1].bytes_sent == SIZE


def test_injected_status_is_used_times_then_cleared(srv: RangeServer) -> None:
    srv.inject("a.bin", status=503, times=2)
    assert [f.remaining for f in srv.pending_faults()] == [2]
    for _ in range(2):
        status, _, body = _get(srv, "/a.bin", {"Range": "bytes=0-3"})
        assert status == 503
        assert b"503" in body
    assert srv.pending_faults() == []
    assert _get(srv, "/a.bin", {"Range": "bytes=0-3"})[:3:2] == (206, PAYLOAD[:4])
    assert [r.status for r in srv.requests] == [503, 503, 206]
    assert [r.fault for r in srv.requests] == ["status=503", "status=503", None]


def test_fault_glob_matches_only_its_paths(srv: RangeServer) -> None:
    srv.inject("a.*", status=404, times=3)
    assert _get(srv, "/b.bin")[0] == 200
    assert _get(srv, "/sub%20dir/c.bin")[0] == 200
    assert _get(srv, "/a.bin")[0] == 404
    srv.inject("sub dir/*", status=403)
    assert _get(srv, "/sub%20dir/c.bin")[0] == 403
    srv.inject("c.bin", status=500)  # a bare file name matches in subdirectories
    assert _get(srv, "/sub%20dir/c.bin")[0] == 500
    assert [f.remaining for f in srv.pending_faults()] == [2]
    srv.clear_faults()
    assert _get(srv, "/a.bin")[0] == 200


def test_short_body_fault_closes_mid_body(srv: RangeServer) -> None:
    srv.inject("a.bin", mode="short")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", "/a.bin", headers={"Range": "bytes=100-299"})
        resp = conn.getresponse()
        assert resp.status == 206
        assert resp.getheader("Content-Length") == "200"
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert len(info.value.partial) == 100
        assert info.value.partial == PAYLOAD[100:200]
    finally:
        conn.close()
    log = srv.requests[-1]
    assert (log.status, log.bytes_sent, log.fault) == (206, 100, "short")
    assert _get(srv, "/a.bin", {"Range": "bytes=100-299"})[2] == PAYLOAD[100:300]


def test_reset_fault_drops_the_connection(srv: RangeServer) -> None:
    srv.inject("a.bin", mode="reset", times=1)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            conn.request("GET", "/a.bin", headers={"Range": "bytes=0-9"})
            conn.getresponse().read()
    finally:
        conn.close()
    assert (srv.requests[-1].status, srv.requests[-1].fault) == (0, "reset")
    assert _get(srv, "/a.bin", {"Range": "bytes=0-9"})[2] == PAYLOAD[:10]


def test_slow_fault_delays_then_answers(srv: RangeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    module = sys.modules[RangeServer.__module__]
    assert module.SLOW_SECONDS == 5.0
    monkeypatch.setattr(module, "SLOW_SECONDS", 0.3)
    srv.inject("b.bin", mode="slow")
    t0 = time.perf_counter()
    status, _, body = _get(srv, "/b.bin", {"Range": "bytes=0-9"})
    assert time.perf_counter() - t0 >= 0.3
    assert (status, body) == (206, PAYLOAD[:10])
    assert srv.requests[-1].fault == "slow"


def test_slow_fault_trips_a_client_timeout(
    srv: RangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[RangeServer.__module__]
    monkeypatch.setattr(module, "SLOW_SECONDS", 1.0)
    srv.inject("b.bin", mode="slow")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=0.2)
    try:
        with pytest.raises(TimeoutError):
            conn.request("GET", "/b.bin")
            conn.getresponse().read()
    finally:
        conn.close()


def test_latency_is_added_to_every_request(srv: RangeServer) -> None:
    srv.latency_ms = 120
    t0 = time.perf_counter()
    for _ in range(2):
        assert _get(srv, "/b.bin", {"Range": "bytes=0-0"})[0] == 206
    assert time.perf_counter() - t0 >= 0.24


def test_count_and_reset_log(srv: RangeServer) -> None:
    for _ in range(3):
        _get(srv, "/a.bin", {"Range": "bytes=0-0"})
    _get(srv, "/b.bin")
    assert srv.count("a.bin") == 3
    assert srv.count("/a.bin") == 3
    assert srv.count("b.bin") == 1
    assert srv.count() == 4 == len(srv.requests)
    assert srv.requests[0].path == "a.bin"
    assert srv.requests[0].bytes_sent == 1
    assert srv.requests[-1].range is None
    srv.reset_log()
    assert srv.count() == 0 and srv.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"status": 503, "mode": "short"},
        {"mode": "explode"},
        {"status": 42},
        {"status": 500, "times": 0},
    ],
)
def test_inject_rejects_bad_arguments(srv: RangeServer, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        srv.inject("a.bin", **kwargs)
    assert srv.pending_faults() == []
    assert set(FAULT_MODES) == {"short", "reset", "slow"}


def test_stop_releases_the_port(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    server = RangeServer(tmp_path).start()
    port = server.port
    assert _get(server, "/x")[2] == b"x"
    keep = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    keep.request("GET", "/x")
    keep.getresponse().read()
    server.close()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    keep.close()


# shared http_server: faults left by one test must not leak into the next (autouse reset)


def test_shared_server_leaves_state_behind(http_server: RangeServer, cog_corpus: Corpus) -> None:
    http_server.inject("*", status=500, times=50)
    http_server.ignore_range = True
    http_server.latency_ms = 50.0


def test_shared_server_was_reset(http_server: RangeServer, cog_corpus: Corpus) -> None:
    assert http_server.pending_faults() == []
    assert http_server.ignore_range is False
    assert http_server.latency_ms == 0.0
    entry = cog_corpus.entries[0]
    path = http_server.url(entry.name).removeprefix(http_server.base_url)
    status, _, body = _get(http_server, path, {"Range": "bytes=0-15"})
    assert (status, body) == (206, entry.path.read_bytes()[:16])


# ============================================================== corpus


def test_corpus_has_required_tags(cog_corpus: Corpus) -> None:
    tags = set().union(*(e.tags for e in cog_corpus))
    missing = [t for t in REQUIRED_TAGS if t not in tags]
    assert not missing, f"corpus lacks {missing}; skipped: {cog_corpus.skipped}"
    for wanted in (
        "none", "deflate", "lzw", "zstd", "packbits", "lzma", "jpeg", "webp", "lerc",
        "lerc_deflate", "lerc_zstd", "pred2", "pred3", "planar", "chunky", "mask",
        "pixel_is_point", "custom_crs", "scale_offset", "epsg4326", "epsg32633", "float16",
        "nbits1", "nbits4", "nbits12", "nbits15", "t256", "t512", "t1024", "nonsquare_tile",
        "ycbcr", "rgb", "partial_tiles", "nodata_nan", "nodata_0", "nodata_-9999",
    ):  # fmt: skip
        assert wanted in tags, f"corpus lacks {wanted}; skipped: {cog_corpus.skipped}"
    for dtype in ("u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64"):
        assert cog_corpus.select(dtype, "pred3" if dtype[0] == "f" else "pred2"), dtype


def test_corpus_skips_nothing_core(cog_corpus: Corpus) -> None:
    core = {"NONE", "DEFLATE", "LZW", "ZSTD", "PACKBITS", "JPEG"}
    skipped_core = [n for n in cog_corpus.skipped if SPEC_BY_NAME[n].compress in core]
    assert not skipped_core, cog_corpus.skipped
    assert len(cog_corpus) + len(cog_corpus.skipped) == len(SPECS)


def test_corpus_api(cog_corpus: Corpus) -> None:
    names = [e.name for e in cog_corpus]
    assert len(names) == len(set(names)) == len(cog_corpus.entries)
    first = cog_corpus.entries[0]
    assert first.name.startswith("deflate") and not first.lossy and first.count == 1
    assert cog_corpus.by_name(first.name) is first
    with pytest.raises(KeyError):
        cog_corpus.by_name("nope.tif")
    both = cog_corpus.select("big_endian", "pred3")
    assert both and all({"big_endian", "pred3"} <= e.tags for e in both)
    assert cog_corpus.select() == cog_corpus.entries
    assert all(e.path.parent == cog_corpus.root and e.path.is_file() for e in cog_corpus)


def test_deflate_prefixed_files_are_single_band_lossless_deflate(cog_corpus: Corpus) -> None:
    picked = [e for e in cog_corpus if e.name.startswith("deflate")]
    assert len(picked) >= 4
    for entry in picked:
        with rasterio.open(entry.path) as src:
            assert src.count == 1, entry.name
            assert src.compression.name == "deflate", entry.name
        assert not entry.lossy and "deflate" in entry.tags


def test_corpus_cache_is_reused(cog_corpus: Corpus) -> None:
    again = load_or_build()
    assert again.root == cog_corpus.root
    assert again.cached
    assert [e.name for e in again] == [e.name for e in cog_corpus]


def test_fresh_build_then_cached(tmp_path: Path) -> None:
    specs = tuple(SPECS[:2])
    t0 = time.perf_counter()
    fresh = load_or_build(tmp_path, specs)
    assert not fresh.cached and fresh.build_seconds <= time.perf_counter() - t0
    assert [e.name for e in fresh] == [s.name for s in specs]
    cached = load_or_build(tmp_path, specs)
    assert cached.cached and cached.root == fresh.root
    (cached.root / specs[0].name).unlink()  # a damaged cache is rebuilt
    rebuilt = load_or_build(tmp_path, specs)
    assert not rebuilt.cached and (rebuilt.root / specs[0].name).is_file()
    temp = load_or_build(None, specs[:1])
    assert not temp.cached and temp.root.parent != tmp_path


def test_probe_reports_unsupported_compression(tmp_path: Path) -> None:
    assert probe_compression("GTiff", "DEFLATE", tmp_path) is None
    reason = probe_compression("GTiff", "NOSUCHCODEC", tmp_path)
    assert reason is not None and "NOSUCHCODEC" in reason
    assert list(tmp_path.iterdir()) == []


def _tiff_page(path: Path) -> tuple[bytes, tifffile.TiffFile]:
    return path.read_bytes()[:4], tifffile.TiffFile(path)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name.removesuffix(".tif") for s in SPECS])
def test_corpus_entry_has_its_tagged_properties(cog_corpus: Corpus, spec: CorpusSpec) -> None:
    if spec.name in cog_corpus.skipped:
        pytest.skip(cog_corpus.skipped[spec.name])
    entry = cog_corpus.by_name(spec.name)
    tags = entry.tags
    with rasterio.open(entry.path) as src:
        assert (src.width, src.height, src.count) == (spec.width, spec.height, spec.count)
        assert (entry.width, entry.height, entry.count) == (spec.width, spec.height, spec.count)
        assert set(src.dtypes) == {spec.dtype} and entry.dtype == spec.dtype
        compression = src.compression.name if src.compression else "none"
        assert compression == spec.compress.lower() and compression in tags
        if spec.nodata is None:
            assert src.nodata is None and entry.nodata is None
        elif math.isnan(spec.nodata):
            assert src.nodata is not None and math.isnan(src.nodata) and "nodata_nan" in tags
        else:
            assert src.nodata == spec.nodata == entry.nodata
        block_h, block_w = src.block_shapes[0]
        if "striped" in tags:
            assert (block_h, block_w) == (spec.strip_rows, spec.width)
        else:
            assert (block_w, block_h) == spec.tile
        overviews = src.overviews(1)
        if "overviews" in tags:
            assert len(overviews) >= 2, overviews
        else:
            assert overviews == []
        flags = [f.name for f in src.mask_flag_enums[0]]
        if "mask" in tags:
            assert flags == ["per_dataset"]
            np.testing.assert_array_equal(src.dataset_mask(), make_mask(spec))
        elif "alpha" in tags:
            assert "alpha" in flags
        elif "nodata" in tags:
            assert flags == ["nodata"]
        else:
            assert flags == ["all_valid"]
        t = src.transform
        assert (t.e > 0) == ("south_up" in tags)
        assert (src.tags().get("AREA_OR_POINT") == "Point") == ("pixel_is_point" in tags)
        if "custom_crs" in tags:
            assert src.crs is not None and src.crs.to_epsg() is None
        else:
            assert f"epsg{src.crs.to_epsg()}" in tags
        if "scale_offset" in tags:
            assert src.scales == (spec.scale_offset[0],) * spec.count
            assert src.offsets == (spec.scale_offset[1],) * spec.count
        else:
            assert set(src.scales) == {1.0} and set(src.offsets) == {0.0}
        pixels = src.read()
    if entry.lossy:
        assert "lossy" in tags
    else:
        expected = make_data(spec)
        np.testing.assert_array_equal(pixels, expected, err_msg=entry.name)

    magic, tif = _tiff_page(entry.path)
    with tif:
        page = tif.pages[0]
        assert ("bigtiff" in tags) == tif.is_bigtiff
        assert ("big_endian" in tags) == (magic[:2] == b"MM")
        assert (
            magic
            == {
                (False, False): b"II*\x00",
                (True, False): b"II+\x00",
                (False, True): b"MM\x00*",
                (True, True): b"MM\x00+",
            }[(tif.is_bigtiff, "big_endian" in tags)]
        )
        predictor = int(page.predictor) if page.predictor else 1
        assert predictor == (spec.predictor or 1)
        if spec.predictor:
            assert f"pred{spec.predictor}" in tags
        planar = int(page.planarconfig) == 2
        if spec.count > 1:
            assert planar == ("planar" in tags) and planar != ("chunky" in tags)
        bits = page.bitspersample
        assert bits == (spec.nbits or np.dtype(spec.dtype).itemsize * 8)
        if "float16" in tags:
            assert (bits, int(page.sampleformat)) == (16, 3)
        if "ycbcr" in tags:
            assert page.photometric.name == "YCBCR"
        elif "jpeg" in tags and spec.count == 3:
            assert page.photometric.name == "RGB"
        if "striped" in tags:
            assert not page.is_tiled
            assert page.rowsperstrip == spec.strip_rows
            strips = math.ceil(spec.height / spec.strip_rows)
            assert len(page.dataoffsets) == strips * (spec.count if planar else 1)
            assert spec.height % spec.strip_rows != 0  # uneven last strip
        else:
            assert page.is_tiled
        if "partial_tiles" in tags:
            assert spec.width % page.tilewidth or spec.height % page.tilelength
        zero = [i for i, n in enumerate(page.databytecounts) if n == 0]
        if "sparse" in tags:
            assert zero, "sparse file has no empty tile"
            assert all(page.dataoffsets[i] == 0 for i in zero)
            assert len(zero) < len(page.dataoffsets)
        else:
            assert not zero
        mask_pages = [p for p in tif.pages if p.subfiletype & 4]
        assert bool(mask_pages) == ("mask" in tags)
        if "pixel_is_point" in tags:
            assert tif.geotiff_metadata["GTRasterTypeGeoKey"] == 2


def test_most_entries_have_partial_edge_tiles(cog_corpus: Corpus) -> None:
    tiled = [e for e in cog_corpus if "tiled" in e.tags]
    partial = [e for e in tiled if "partial_tiles" in e.tags]
    assert len(partial) >= 0.9 * len(tiled)


# ============================================================== oracle


def test_describe_matches_rasterio(cog_corpus: Corpus) -> None:
    entry = cog_corpus.by_name("southup_deflate_u16.tif")
    d = describe(entry.path)
    with rasterio.open(entry.path) as src:
        assert d["transform"] == tuple(src.transform)[:6]
        assert d["transform"][4] > 0  # south-up: positive e
        assert d["epsg"] == 32633 and "UTM zone 33N" in d["crs"]
    assert (d["width"], d["height"], d["count"], d["dtypes"]) == (300, 260, 1, ("uint16",))
    assert d["nodata"] == 0
    assert d["block_shapes"] == [(256, 256)] and d["overviews"] == []
    ov = describe(cog_corpus.by_name("ov_gtiff_lzw_i16.tif").path)
    assert ov["overviews"] == [2, 4, 8]
    assert describe(cog_corpus.by_name("custom_crs_deflate_u8.tif").path)["epsg"] is None
    striped = describe(cog_corpus.by_name("striped_none_u8_rows7.tif").path)
    assert striped["block_shapes"] == [(7, 300)] and striped["is_tiled"] is False
    # x = a*col + b*row + c
    a, b, c, dd, e, f = d["transform"]
    assert (a * 10 + b * 20 + c, dd * 10 + e * 20 + f) == pytest.approx(
        (399960.0 + 100.0, 5800020.0 - 2600.0 + 200.0)
    )


@pytest.mark.parametrize(
    ("width", "height", "tile"),
    [
        (300, 260, 256),
        (700, 650, 256),
        (64, 48, 256),
        (1100, 150, 1024),
        (517, 389, 128),
        (1, 1, 0),
    ],
)
def test_standard_windows_are_inside_the_image(width: int, height: int, tile: int) -> None:
    windows = standard_windows(width, height, tile)
    assert set(windows) >= {
        "aligned_tile", "crossing_tiles", "right_bottom_edge", "whole_image",
        "single_pixel", "one_row",
    }  # fmt: skip
    for name, (col, row, w, h) in windows.items():
        assert w >= 1 and h >= 1, name
        assert 0 <= col and col + w <= width and 0 <= row and row + h <= height, name
    assert windows["whole_image"] == (0, 0, width, height)
    col, row, w, h = windows["right_bottom_edge"]
    assert (col + w, row + h) == (width, height)
    assert windows["single_pixel"][2:] == (1, 1) and windows["one_row"][2:] == (width, 1)
    if width >= 2 * tile > 0:
        assert windows["aligned_tile"] == (tile, 0, tile, min(tile, height))
        col, row, w, h = windows["crossing_tiles"]
        assert col // tile != (col + w - 1) // tile


def test_read_window_shapes_and_overviews(cog_corpus: Corpus) -> None:
    entry = cog_corpus.by_name("ov_deflate_pred2_u16.tif")
    spec = SPEC_BY_NAME[entry.name]
    full = read_window(entry.path, (10, 20, 30, 40))
    assert full.shape == (1, 40, 30)
    np.testing.assert_array_equal(full, make_data(spec)[:, 20:60, 10:40])
    assert read_window(entry.path, (10, 20, 30, 40), indexes=1).shape == (40, 30)
    ov_w, ov_h = math.ceil(spec.width / 2), math.ceil(spec.height / 2)
    ov = read_window(entry.path, (0, 0, ov_w, ov_h), overview_level=0)
    assert ov.shape == (1, ov_h, ov_w)
    ov2 = read_window(entry.path, (0, 0, 5, 5), overview_level=1)
    assert ov2.shape == (1, 5, 5)
    rgb = cog_corpus.by_name("chunky3_deflate_pred2_u16.tif")
    assert read_window(rgb.path, (0, 0, 4, 3), indexes=[3, 1]).shape == (2, 3, 4)


# ============================================================== S3 and HTTP over the corpus


def test_s3_server_serves_the_corpus(s3_server: S3Server, cog_corpus: Corpus) -> None:
    listed = s3_server.client.list_objects_v2(Bucket=s3_server.bucket, MaxKeys=1000)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(e.name for e in cog_corpus)
    for entry in cog_corpus.entries[:: max(1, len(cog_corpus) // 8)]:
        data = entry.path.read_bytes()
        assert s3_server.get_range(entry.name, 0, 15) == data[:16]
        assert s3_server.get_range(entry.name, len(data) - 100, len(data) - 1) == data[-100:]
        head = s3_server.client.head_object(Bucket=s3_server.bucket, Key=entry.name)
        assert head["ContentLength"] == len(data)


def test_s3_server_urls_and_options(s3_server: S3Server) -> None:
    assert s3_server.url("a/b.tif") == f"s3://{s3_server.bucket}/a/b.tif"
    assert s3_server.endpoint.startswith("http://127.0.0.1:")
    assert s3_server.options == {
        "store_options": {
            "aws_endpoint": s3_server.endpoint,
            "aws_allow_http": "true",
            "aws_region": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    }
    assert s3_server.storage_options == s3_server.options["store_options"]


def test_s3_missing_key_is_404(s3_server: S3Server) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        s3_server.get_range("no_such.tif", 0, 10)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_http_server_serves_the_corpus(http_server: RangeServer, cog_corpus: Corpus) -> None:
    assert http_server.root == cog_corpus.root.resolve()
    http_server.reset_log()
    for entry in cog_corpus.entries[:5]:
        data = entry.path.read_bytes()
        path = http_server.url(entry.name).removeprefix(http_server.base_url)
        status, headers, body = _get(http_server, path, {"Range": "bytes=-64"})
        assert (status, body) == (206, data[-64:])
        assert headers["content-range"] == f"bytes {len(data) - 64}-{len(data) - 1}/{len(data)}"
    assert http_server.count() == 5
