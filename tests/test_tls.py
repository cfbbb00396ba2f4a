"""``https://`` reads from a local TLS server (Python's ssl over the Range-capable test server)
whose self-signed certificate is trusted through ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``: the
rustls client (ring crypto, trust roots from the system store, which these variables replace)
verifies it and reads the same pixels as rasterio; without them the server is refused.

Each read runs in a fresh process: HTTP clients, with the trust roots they loaded, are cached
per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support.oracle import read_window as rio_read
from support.range_server import RangeServer
from support.tls_certs import server_context, write_self_signed_certificate

WINDOW = (10, 20, 100, 90)

# Reads a header and one window of argv[1] and saves the window to argv[2]; prints OK, or
# ERROR and the exception (exit status 0 either way, so the caller sees which).
_READ_SCRIPT = textwrap.dedent(
    f"""
    import sys
    import numpy as np
    from rasteret.read import engine
    url, out = sys.argv[1], sys.argv[2]
    try:
        meta = engine.read_header(url, options={{"retry_attempts": 1}})
        pixels = engine.read_window(url, meta, {WINDOW!r})
    except Exception as exc:
        print("ERROR", type(exc).__name__, exc)
        raise SystemExit(0)
    np.save(out, pixels)
    print("OK", meta["image_width"], meta["image_height"])
    """
)


@pytest.fixture(scope="module")
def entry(cog_corpus):
    return next(
        e
        for e in cog_corpus.entries
        if "deflate" in e.path.name and "overviews" not in e.tags and not e.lossy
    )


@pytest.fixture(scope="module")
def tls_server(cog_corpus, tmp_path_factory):
    """A TLS RangeServer over the corpus on 127.0.0.1; yields ``(server, cert.pem)``."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = write_self_signed_certificate(directory)
    with RangeServer(cog_corpus.root, ssl_context=server_context(cert, key)) as server:
        yield server, cert


def _read_in_fresh_process(url: str, out: Path, **trust: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_CERT")}
    done = subprocess.run(
        [sys.executable, "-c", _READ_SCRIPT, url, str(out)],
        env={**env, **trust},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "SSL_CERT_DIR"])
def test_https_read_trusts_the_certificate_named_by_the_environment(
    tls_server, entry, tmp_path, variable
):
    server, cert = tls_server
    trusted = cert if variable == "SSL_CERT_FILE" else cert.parent
    assert server.base_url.startswith("https://127.0.0.1:")
    url = server.url(entry.path.name)
    out = tmp_path / "window.npy"
    before = len(server.requests)
    said = _read_in_fresh_process(url, out, **{variable: str(trusted)})
    assert said == f"OK {entry.width} {entry.height}"
    np.testing.assert_array_equal(np.load(out), rio_read(entry.path, WINDOW))
    answered = server.requests[before:]
    assert answered and all(r.status == 206 for r in answered), answered


def test_https_read_refuses_an_untrusted_certificate(tls_server, entry, tmp_path):
    server, _ = tls_server
    out = tmp_path / "window.npy"
    said = _read_in_fresh_process(server.url(entry.path.name), out)
    assert said.startswith("ERROR"), said
    assert entry.path.name in said
    assert "certificate" in said.lower() or "unknownissuer" in said.lower(), said
    assert not out.exists()


def test_https_read_refuses_a_certificate_for_another_host(cog_corpus, entry, tmp_path):
    """Trusting a certificate does not trust it for other names: one issued for 127.0.0.2,
    served on 127.0.0.1, is refused even when named by ``SSL_CERT_FILE``."""
    cert, key = write_self_signed_certificate(tmp_path, host="127.0.0.2")
    with RangeServer(cog_corpus.root, ssl_context=server_context(cert, key)) as server:
        said = _read_in_fresh_process(
            server.url(entry.path.name), tmp_path / "window.npy", SSL_CERT_FILE=str(cert)
        )
    assert said.startswith("ERROR"), said
    assert "certificate" in said.lower() or "notvalidforname" in said.lower(), said
