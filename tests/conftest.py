"""Session fixtures built from real components: a GDAL-written COG corpus, a Range-capable
HTTP server over it, and moto's S3 server holding the same files.

- ``cog_corpus`` (session): :class:`support.corpus.Corpus`, cached under
  ``tests/.corpus_cache/<key>`` (see :mod:`support.corpus`).
- ``http_server`` (session): :class:`rasteret._demo.range_server.RangeServer` serving the corpus
  directory; faults, ``ignore_range`` and ``latency_ms`` are reset after every test.
- ``s3_server`` (session): :class:`support.s3.S3Server` with every corpus file uploaded.
"""

from __future__ import annotations

import _thread
import importlib.util
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
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


class _Interrupted:
    """Seconds from arming the simulated Ctrl-C to the ``KeyboardInterrupt`` it raised."""

    seconds: float = float("nan")


@pytest.fixture
def ctrl_c() -> Callable[[float], AbstractContextManager[_Interrupted]]:
    """``with ctrl_c(after=0.5) as got:`` simulates Ctrl-C ``after`` seconds into the block,
    which must raise ``KeyboardInterrupt``; ``got.seconds`` is when it did. Python's own SIGINT
    handler is installed meanwhile (``_thread.interrupt_main`` does nothing when the process
    inherited SIGINT ignored, as the background jobs of a script do)."""

    @contextmanager
    def interrupt(after: float) -> Iterator[_Interrupted]:
        got = _Interrupted()
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        timer = threading.Timer(after, _thread.interrupt_main)
        started = time.monotonic()
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                yield got
            got.seconds = time.monotonic() - started
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, previous)

    return interrupt


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


# ---------------------------------------------------------------------------- STAC
# A synthetic Sentinel-2 L2A-like archive (12 items x 4 GDAL-written COGs, served by its own
# RangeServer), a real STAC API over it (stac-fastapi-pgstac + PostgreSQL/PostGIS, started
# once per session) and the same items as a static catalog. See support.stac_items and
# support.stac_server.

from contextlib import ExitStack  # noqa: E402

from support.stac_items import (  # noqa: E402
    StacArchive,
    StaticCatalog,
    start_archive,
    start_static_catalog,
)
from support.stac_server import StacApi, StacServerError, start_stac_api  # noqa: E402


@pytest.fixture(scope="session")
def _stac_archive_pending(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StacArchive]:
    """The archive with its COGs still being written in a background thread."""
    with start_archive(tmp_path_factory.mktemp("stac-cogs"), background=True) as archive:
        yield archive


@pytest.fixture(scope="session")
def stac_archive(_stac_archive_pending: StacArchive) -> StacArchive:
    """The synthetic archive: COGs on disk (``.paths``), served by ``.cog_server``, and the
    Collection/Item dicts pointing at them (``.collection``, ``.items``)."""
    return _stac_archive_pending.wait()


@pytest.fixture(scope="session")
def stac_api(_stac_archive_pending: StacArchive) -> Iterator[StacApi]:
    """A real STAC API (stac-fastapi-pgstac) on 127.0.0.1 holding the archive's items.

    ``.url`` is the API root, ``.collection_id``/``.items`` what was loaded, ``.archive`` /
    ``.cog_server`` the archive the asset hrefs point at. Pages hold at most
    ``.max_limit`` (5) items (``.default_limit`` = 4 without ``limit``), so the 12 items
    span several pages. Fails (never skips) when PostgreSQL/PostGIS or the Python packages
    are missing.
    """
    archive = _stac_archive_pending
    with ExitStack() as stack:
        try:
            api = stack.enter_context(start_stac_api(archive.collection, archive.items))
        except StacServerError as exc:
            pytest.fail(f"cannot start the STAC API fixture: {exc}", pytrace=False)
        api.archive = archive.wait()
        api.cog_server = archive.cog_server
        yield api


@pytest.fixture(scope="session")
def static_catalog(
    stac_archive: StacArchive, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaticCatalog]:
    """The archive's items as a static catalog on disk (``.path``) and over HTTP (``.url``)."""
    with start_static_catalog(tmp_path_factory.mktemp("stac-static"), stac_archive) as cat:
        yield cat


@pytest.fixture(autouse=True)
def _reset_stac_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Undo faults, ``ignore_range`` and latency a test left on the STAC-side RangeServers."""
    names = {"stac_archive", "stac_api", "static_catalog"} & set(request.fixturenames)
    if not names:
        yield
        return
    servers = [request.getfixturevalue("stac_archive").cog_server]
    if "static_catalog" in names:
        servers.append(request.getfixturevalue("static_catalog").server)
    try:
        yield
    finally:
        for server in servers:
            server.clear_faults()
            server.ignore_range = False
            server.latency_ms = 0.0


def pytest_report_header() -> str:
    """Name the rasteret package under test: the installed one (a wheel) or the source tree."""
    import rasteret

    return f"rasteret: {rasteret.__file__}"
