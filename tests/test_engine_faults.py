"""Bad servers and bad files raise clear, typed Python exceptions; transient faults recover."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from rasteret import errors
from rasteret.read import engine as _read
from support.oracle import read_window as rio_read

FAST_RETRY = {"retry_attempts": 3, "retry_backoff_ms": 5, "timeout_ms": 5000}


@pytest.fixture(scope="module")
def deflate_entry(cog_corpus):
    return next(
        e
        for e in cog_corpus.entries
        if "deflate" in e.path.name and "overviews" not in e.tags and not e.lossy
    )


def _read_some(url: str, meta, window=(0, 0, 64, 64), options=None) -> np.ndarray:
    return _read.read_window(url, meta, window, options=options)


def test_two_503s_then_success_gives_right_pixels(http_server, deflate_entry):
    url = http_server.url(deflate_entry.path.name)
    http_server.inject(deflate_entry.path.name, status=503, times=2)
    meta = _read.read_header(url, options=FAST_RETRY)
    http_server.inject(deflate_entry.path.name, status=503, times=2)
    ours = _read_some(url, meta, options=FAST_RETRY)
    np.testing.assert_array_equal(ours, rio_read(deflate_entry.path, (0, 0, 64, 64)))


@pytest.mark.parametrize("under_asyncio", [False, True])
def test_ctrl_c_stops_a_slow_read_promptly(http_server, deflate_entry, under_asyncio, ctrl_c):
    # A read waiting on a slow server stops at Ctrl-C (KeyboardInterrupt), also when called
    # from a coroutine under asyncio.run (whose SIGINT handler only cancels its task); the
    # next read of the same file works and is right.
    url = http_server.url(deflate_entry.path.name)
    meta = _read.read_header(url)
    http_server.latency_ms = 8000

    def read() -> None:
        _read_some(url, meta)

    async def read_in_a_coroutine() -> None:
        read()

    try:
        with ctrl_c(after=0.5) as stopped:
            asyncio.run(read_in_a_coroutine()) if under_asyncio else read()
    finally:
        http_server.latency_ms = 0
    assert stopped.seconds < 6.0, f"the interrupt waited for the server ({stopped.seconds:.1f} s)"
    np.testing.assert_array_equal(
        _read_some(url, meta), rio_read(deflate_entry.path, (0, 0, 64, 64))
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (404, errors.RemoteNotFoundError),
        (403, errors.RemotePermissionError),
        (500, errors.RemoteIOError),
    ],
)
def test_http_errors_name_the_url_after_bounded_retries(http_server, deflate_entry, status, cls):
    url = http_server.url(deflate_entry.path.name)
    meta = _read.read_header(url)
    http_server.reset_log()
    http_server.inject(deflate_entry.path.name, status=status, times=100)
    with pytest.raises(cls) as info:
        _read_some(url, meta, options=FAST_RETRY)
    assert deflate_entry.path.name in str(info.value)
    assert str(status) in str(info.value)
    attempts = http_server.count(deflate_entry.path.name)
    assert 1 <= attempts <= FAST_RETRY["retry_attempts"] * 4
    if status in (403, 404):
        assert attempts == 1, "4xx must not be retried"


def test_header_404_raises_file_not_found(http_server):
    url = http_server.url("no_such_file.tif")
    with pytest.raises(FileNotFoundError) as info:
        _read.read_header(url)
    assert "no_such_file.tif" in str(info.value)


def test_missing_local_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        _read.read_header(str(tmp_path / "missing.tif"))
    assert "missing.tif" in str(info.value)


def test_short_body_is_retried_then_succeeds(http_server, deflate_entry):
    url = http_server.url(deflate_entry.path.name)
    meta = _read.read_header(url)
    http_server.inject(deflate_entry.path.name, mode="short", times=1)
    ours = _read_some(url, meta, options=FAST_RETRY)
    np.testing.assert_array_equal(ours, rio_read(deflate_entry.path, (0, 0, 64, 64)))


def test_persistent_short_body_is_a_clear_error(http_server, deflate_entry):
    url = http_server.url(deflate_entry.path.name)
    meta = _read.read_header(url)
    http_server.inject(deflate_entry.path.name, mode="short", times=100)
    with pytest.raises(errors.RemoteIOError) as info:
        _read_some(url, meta, options=FAST_RETRY)
    assert deflate_entry.path.name in str(info.value)


def test_connection_reset_is_retried(http_server, deflate_entry):
    url = http_server.url(deflate_entry.path.name)
    meta = _read.read_header(url)
    http_server.inject(deflate_entry.path.name, mode="reset", times=1)
    ours = _read_some(url, meta, options=FAST_RETRY)
    np.testing.assert_array_equal(ours, rio_read(deflate_entry.path, (0, 0, 64, 64)))


def test_server_ignoring_range_still_gives_right_pixels(http_server, deflate_entry):
    url = http_server.url(deflate_entry.path.name)
    http_server.ignore_range = True
    try:
        meta = _read.read_header(url)
        window = (10, 20, 100, 90)
        ours = _read.read_window(url, meta, window)
    finally:
        http_server.ignore_range = False
    np.testing.assert_array_equal(ours, rio_read(deflate_entry.path, window))


def _test_ca_and_server_cert(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA (what the client is told to trust) and a server certificate for
    127.0.0.1 it signed: ``(ca.pem, server.pem, server-key.pem)``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: x509.Name, key, signer, ca: bool, san: bool):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
            b = b.add_extension(x509.SubjectAlternativeName([ip]), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rasteret test CA")])
    ca = build("rasteret test CA", ca_name, ca_key, ca_key, ca=True, san=False)
    server = build("127.0.0.1", ca_name, server_key, ca_key, ca=False, san=True)
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem))
    paths[2].write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_plain_http_redirect_to_https_is_followed_with_verified_tls(
    tmp_path, cog_corpus, deflate_entry
):
    """``http://`` sources use a client without TLS roots; a redirect to ``https://`` is
    followed by the TLS client, which verifies the server (trusted here through
    ``SSL_CERT_FILE``, refused without it). Fresh processes: clients are per process."""
    import ssl

    from support.range_server import RangeServer

    ca, cert, key = _test_ca_and_server_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from rasteret.read import engine as _read
        url, window = sys.argv[1], (10, 20, 100, 90)
        try:
            meta = _read.read_header(url, options={"retry_attempts": 1})
        except Exception as exc:
            print("ERROR", type(exc).__name__, exc)
            raise SystemExit(0)
        np.save(sys.argv[2], _read.read_window(url, meta, window))
        print("OK")
        """
    )
    with (
        RangeServer(cog_corpus.root, ssl_context=context) as tls_server,
        RangeServer(cog_corpus.root) as redirector,
    ):
        redirector.redirect_to = tls_server.base_url
        url = redirector.url(deflate_entry.path.name)
        out = tmp_path / "window.npy"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT")}
        trusted = subprocess.run(
            [sys.executable, "-c", script, url, str(out)],
            env={**env, "SSL_CERT_FILE": str(ca)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert trusted.stdout.strip() == "OK", trusted.stdout + trusted.stderr
        np.testing.assert_array_equal(np.load(out), rio_read(deflate_entry.path, (10, 20, 100, 90)))
        assert any(r.status == 302 for r in redirector.requests)
        assert any(r.status == 206 for r in tls_server.requests)
        untrusted = subprocess.run(
            [sys.executable, "-c", script, url, str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert untrusted.stdout.startswith("ERROR"), untrusted.stdout + untrusted.stderr
    assert "certificate" in untrusted.stdout.lower() or "unknownissuer" in untrusted.stdout.lower()


def test_plain_http_redirect_to_http_is_followed(http_server, cog_corpus, deflate_entry):
    from support.range_server import RangeServer

    with RangeServer(cog_corpus.root) as redirector:
        redirector.redirect_to = http_server.base_url
        url = redirector.url(deflate_entry.path.name)
        meta = _read.read_header(url)
        ours = _read.read_window(url, meta, (10, 20, 100, 90))
        assert all(r.status == 302 for r in redirector.requests) and redirector.requests
    np.testing.assert_array_equal(ours, rio_read(deflate_entry.path, (10, 20, 100, 90)))


def test_compressed_bytes_in_flight_stay_within_the_budget(cog_corpus):
    """``max_bytes_in_flight`` bounds the bytes of the batches being fetched at once (what a
    read holds for responses); with the server holding every answer 0.2 s, all the budget is
    in flight. Pixels stay exact."""
    import numpy as np
    from support.range_server import RangeServer

    entries = [
        e
        for e in cog_corpus.entries
        if {"tiled", "t256", "single_band"} <= e.tags
        and not ({"overviews", "sparse"} & e.tags)
        and not e.lossy
    ][:6]
    assert len(entries) >= 4
    server = RangeServer(cog_corpus.root).start()  # its own: no other test's slow answers
    urls = [server.url(e.path.name) for e in entries]
    headers = _read.parse_headers(urls)
    layouts = headers.column("metadata")
    counts = [c for m in layouts for c in m["tile_byte_counts"].as_py()]
    windows = [(0, 0, e.width, e.height) for e in entries]
    dtypes = [np.dtype(e.dtype) for e in entries]

    def read(options):
        server.peak_bytes_in_flight = 0
        got = _read.read_flat(
            urls, layouts, [0] * len(urls), windows, dtypes, [0] * len(urls), options=options
        )
        return got, server.peak_bytes_in_flight

    server.latency_ms = 200
    budget = max(max(counts), sum(counts) // 4)  # a quarter of the read at a time
    try:
        bounded, peak = read({"max_bytes_in_flight": budget, "tiles_per_batch": 1})
        _, unbounded_peak = read({"tiles_per_batch": 1})
    finally:
        server.stop()
    assert 0 < peak <= budget < unbounded_peak, (peak, budget, unbounded_peak)
    for entry, window, ours in zip(entries, windows, bounded, strict=True):
        np.testing.assert_array_equal(ours, rio_read(entry.path, window)[0], err_msg=entry.name)


def test_a_tiny_receive_gate_still_reads_every_tile_exactly(http_server, cog_corpus):
    """``max_bytes_received`` (bodies received but not yet decoded) admits a body only when
    the bodies before it are decoded. At its smallest (a 4 KiB gate: one KiB-permit per body,
    at most four bodies) a read of several files, with batches of merged ranges in flight,
    must neither stall nor lose a tile."""
    import numpy as np

    entries = [
        e
        for e in cog_corpus.entries
        if {"tiled", "single_band"} <= e.tags
        and not ({"overviews", "sparse"} & e.tags)
        and not e.lossy
    ][:8]
    assert len(entries) >= 4
    urls = [http_server.url(e.path.name) for e in entries]
    layouts = _read.parse_headers(urls).column("metadata")
    windows = [(0, 0, e.width, e.height) for e in entries]
    dtypes = [np.dtype(e.dtype) for e in entries]
    got = _read.read_flat(
        urls,
        layouts,
        [0] * len(urls),
        windows,
        dtypes,
        [0] * len(urls),
        options={"max_bytes_received": 4096, "tiles_per_batch": 3, "batches_in_flight": 8},
    )
    for entry, window, ours in zip(entries, windows, got, strict=True):
        np.testing.assert_array_equal(ours, rio_read(entry.path, window)[0], err_msg=entry.name)
    with pytest.raises(ValueError, match="max_bytes_received must be > 0"):
        _read.read_flat(
            urls[:1],
            layouts[:1],
            [0],
            windows[:1],
            dtypes[:1],
            [0],
            options={"max_bytes_received": 0},
        )


def test_typical_cog_header_costs_one_request(http_server, cog_corpus):
    # not the file other tests serve with ignore_range (its whole body may be cached)
    entry = next(e for e in cog_corpus.entries if e.path.name.startswith("deflate_pred2"))
    http_server.reset_log()
    _read.read_header(http_server.url(entry.path.name))
    assert http_server.count(entry.path.name) == 1


# ---------------------------------------------------------------- malformed files


def _tiff_le(entries: list[tuple[int, int, int, bytes]], ifd_offset: int = 8) -> bytes:
    """A classic little-endian TIFF with one IFD of (tag, type, count, value-bytes) entries."""
    body = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    body += b"\x00" * (ifd_offset - len(body))
    extra = bytearray()
    extra_base = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = bytearray(struct.pack("<H", len(entries)))
    for tag, typ, count, value in sorted(entries):
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHII", tag, typ, count, extra_base + len(extra))
            extra += value
    ifd += struct.pack("<I", 0)
    return bytes(body + ifd + extra)


def _short(v: int) -> bytes:
    return struct.pack("<H", v)


def _long(v: int) -> bytes:
    return struct.pack("<I", v)


def _valid_tile_entries(offset: int, count: int, compression: int = 1) -> list:
    return [
        (256, 3, 1, _short(16)),
        (257, 3, 1, _short(16)),
        (258, 3, 1, _short(8)),
        (259, 3, 1, _short(compression)),
        (262, 3, 1, _short(1)),
        (277, 3, 1, _short(1)),
        (322, 3, 1, _short(16)),
        (323, 3, 1, _short(16)),
        (324, 4, 1, _long(offset)),
        (325, 4, 1, _long(count)),
    ]


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.tif", b""),
        ("garbage.tif", b"this is not a tiff at all" * 10),
        ("bad_version.tif", b"II\x2b\x01" + b"\x00" * 60),
        ("truncated_ifd.tif", _tiff_le(_valid_tile_entries(400, 256))[:20]),
        ("ifd_past_eof.tif", b"II*\x00" + struct.pack("<I", 10_000_000) + b"\x00" * 100),
    ],
)
def test_malformed_headers_raise_cog_header_error(tmp_path, name, data):
    path = _write(tmp_path, name, data)
    with pytest.raises(errors.CogHeaderError) as info:
        _read.read_header(path)
    assert name in str(info.value)


def test_ifd_loop_is_detected(tmp_path):
    data = bytearray(_tiff_le(_valid_tile_entries(400, 256)))
    # next-IFD pointer -> back to the first IFD
    n = 10
    struct.pack_into("<I", data, 8 + 2 + 12 * n, 8)
    data += b"\x00" * 700
    path = _write(tmp_path, "loop.tif", bytes(data))
    # Either a clear error or a header with one image: never a hang.
    try:
        meta = _read.read_header(path)
    except errors.CogHeaderError as err:
        assert "loop" in str(err).lower() or "cycle" in str(err).lower()
    else:
        assert meta["image_width"].as_py() == 16


def test_absurd_tile_counts_raise_without_allocating(tmp_path):
    entries = _valid_tile_entries(400, 256)
    entries = [e for e in entries if e[0] not in (256, 257)]
    entries += [(256, 4, 1, _long(4_000_000_000)), (257, 4, 1, _long(4_000_000_000))]
    path = _write(tmp_path, "absurd.tif", _tiff_le(entries) + b"\x00" * 300)
    with pytest.raises(errors.CogHeaderError):
        _read.read_header(path)


def test_huge_offsets_array_claim_is_a_clean_error(tmp_path):
    entries = [e for e in _valid_tile_entries(400, 256) if e[0] not in (324, 325)]
    entries += [(324, 4, 500_000_000, _long(200)), (325, 4, 500_000_000, _long(200))]
    path = _write(tmp_path, "huge_count.tif", _tiff_le(entries) + b"\x00" * 300)
    with pytest.raises(errors.CogHeaderError):
        _read.read_header(path)


def test_tile_offset_past_eof_is_a_clear_read_error(tmp_path):
    data = _tiff_le(_valid_tile_entries(1_000_000, 256))
    path = _write(tmp_path, "tile_past_eof.tif", data + b"\x00" * 300)
    meta = _read.read_header(path)
    with pytest.raises((errors.CogHeaderError, errors.RemoteIOError)) as info:
        _read.read_window(path, meta, (0, 0, 16, 16))
    assert "tile_past_eof.tif" in str(info.value)


def test_unknown_compression_is_unsupported(tmp_path):
    data = bytearray(_tiff_le(_valid_tile_entries(0, 0, compression=60000)))
    offset = len(data)
    data = _tiff_le(_valid_tile_entries(offset, 256, compression=60000)) + b"\x07" * 256
    path = _write(tmp_path, "unknown_codec.tif", data)
    try:
        meta = _read.read_header(path)
    except errors.UnsupportedCogError as err:
        assert "60000" in str(err)
        return
    with pytest.raises(errors.UnsupportedCogError) as info:
        _read.read_window(path, meta, (0, 0, 16, 16))
    assert "60000" in str(info.value)


def test_corrupt_deflate_stream_is_a_clear_error(tmp_path):
    base = _tiff_le(_valid_tile_entries(0, 0, compression=8))
    offset = len(base)
    data = _tiff_le(_valid_tile_entries(offset, 64, compression=8)) + b"\x78\x9c" + b"\xff" * 62
    path = _write(tmp_path, "corrupt_deflate.tif", data)
    meta = _read.read_header(path)
    with pytest.raises(errors.CogHeaderError) as info:
        _read.read_window(path, meta, (0, 0, 16, 16))
    assert "corrupt_deflate.tif" in str(info.value)


def test_every_truncation_of_a_real_cog_raises_or_parses(deflate_entry, tmp_path):
    data = deflate_entry.path.read_bytes()
    for cut in (0, 1, 7, 8, 15, 100, 1000, 4000):
        path = _write(tmp_path, f"cut{cut}.tif", data[:cut])
        try:
            _read.read_header(path)
        except (errors.CogHeaderError, errors.UnsupportedCogError):
            pass


def test_failed_windows_are_reported_and_the_others_read(http_server, deflate_entry):
    """One read over a good file, a missing file and a corrupt tile layout: the good windows
    hold rasterio's pixels and each failed window comes back with the exception it would
    have raised (class and message naming the URL); without ``failures`` the read raises the
    first of them."""
    import pyarrow as pa

    url = http_server.url(deflate_entry.path.name)
    missing = http_server.url("no-such-file.tif")
    meta = _read.read_header(url)
    shifted = meta.as_py()  # every tile read one byte late: a corrupt DEFLATE stream
    shifted["tile_offsets"] = [o + 1 for o in shifted["tile_offsets"]]
    layouts = pa.array([meta.as_py(), meta.as_py(), shifted, meta.as_py()], type=meta.type)
    windows = [(0, 0, 64, 64), (0, 0, 64, 64), (0, 0, 64, 64), (40, 24, 64, 64)]
    dtype = np.dtype(meta["dtype"].as_py())

    def read(failures=None):
        return _read.read_flat(
            [url, missing, url, url],
            layouts,
            [0] * 4,
            windows,
            [dtype] * 4,
            [0] * 4,
            failures=failures,
        )

    failures: dict[int, BaseException] = {}
    outs = read(failures)
    assert sorted(failures) == [1, 2]
    assert isinstance(failures[1], errors.RemoteNotFoundError)
    assert "no-such-file.tif" in str(failures[1])
    assert isinstance(failures[2], errors.CogHeaderError)
    assert deflate_entry.path.name in str(failures[2]) and "tile" in str(failures[2])
    for i in (0, 3):
        np.testing.assert_array_equal(outs[i], rio_read(deflate_entry.path, windows[i], 1))
    with pytest.raises(errors.RemoteNotFoundError, match="no-such-file.tif"):
        read()


def test_bad_read_plan_arguments_are_value_errors(deflate_entry):
    meta = _read.read_header(str(deflate_entry.path))
    with pytest.raises(ValueError, match="band_index"):
        _read.read_window(str(deflate_entry.path), meta, (0, 0, 4, 4), bands=[7])


def test_reads_work_in_a_forked_child(deflate_entry):
    """The runtime and pools are per process: a fork child reads after the parent did."""
    script = textwrap.dedent(
        f"""
        import os, sys
        import numpy as np
        from rasteret.read import engine as _read
        path = {str(deflate_entry.path)!r}
        meta = _read.read_header(path)
        parent = _read.read_window(path, meta, (0, 0, 32, 32))
        pid = os.fork()
        if pid == 0:
            child = _read.read_window(path, _read.read_header(path), (0, 0, 32, 32))
            os._exit(0 if np.array_equal(child, parent) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], timeout=120, capture_output=True, text=True, env=os.environ
    )
    assert proc.returncode == 0, proc.stderr
