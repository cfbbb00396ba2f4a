"""Session fixtures built from real components: a GDAL-written COG corpus, a Range-capable
HTTP server over it, and moto's S3 server holding the same files.

- ``cog_corpus`` (session): :class:`support.corpus.Corpus`, cached under
  ``tests/.corpus_cache/<key>`` (see :mod:`support.corpus`).
- ``http_server`` (session): :class:`rasteret._range_server.RangeServer` serving the corpus
  directory; faults, ``ignore_range`` and ``latency_ms`` are reset after every test.
- ``s3_server`` (session): :class:`support.s3.S3Server` with every corpus file uploaded.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
_PYTHON_SRC = _TESTS.parent / "python"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))
# Without an installed rasteret, import its pure-Python modules from the source tree.
if importlib.util.find_spec("rasteret") is None and str(_PYTHON_SRC) not in sys.path:
    sys.path.append(str(_PYTHON_SRC))

from support.corpus import Corpus, load_or_build  # noqa: E402
from support.range_server import RangeServer  # noqa: E402
from support.s3 import ENV, ENV_UNSET, S3Server, start_s3_server  # noqa: E402


@pytest.fixture(scope="session")
def cog_corpus() -> Corpus:
    """The GDAL-written GeoTIFF corpus (built once, cached across runs)."""
    return load_or_build()


@pytest.fixture(scope="session")
def http_server(cog_corpus: Corpus) -> Iterator[RangeServer]:
    """A Range-capable HTTP/1.1 server on 127.0.0.1 serving the corpus directory."""
    with RangeServer(cog_corpus.root) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_http_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """Undo faults, ``ignore_range`` and latency a test left on the shared HTTP server."""
    if "http_server" not in request.fixturenames:
        yield
        return
    server: RangeServer = request.getfixturevalue("http_server")
    try:
        yield
    finally:
        server.clear_faults()
        server.ignore_range = False
        server.latency_ms = 0.0


@pytest.fixture(scope="session")
def s3_server(cog_corpus: Corpus) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 with a bucket holding every corpus file."""
    with pytest.MonkeyPatch.context() as mp:
        for key in ENV_UNSET:
            mp.delenv(key, raising=False)
        for key, value in ENV.items():
            mp.setenv(key, value)
        with start_s3_server(e.path for e in cog_corpus.entries) as server:
            yield server
