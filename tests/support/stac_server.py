"""A real STAC API on 127.0.0.1: stac-fastapi-pgstac over a throwaway PostgreSQL/PostGIS.

:func:`start_stac_api` (a context manager) runs ``initdb`` + ``postgres`` in a fresh
directory under ``/tmp`` (as the ``postgres`` OS user when we are root: PostgreSQL refuses
to run as root, and pytest's ``tmp_path`` is not readable by that user), migrates pgstac
with pypgstac, loads one collection and its items, then serves
``stac_fastapi.pgstac`` with uvicorn. The served app is wrapped by :func:`create_app`, which
caps the page size (``limit``) like public APIs do, so clients have to follow ``next``
links. Teardown stops the API (SIGTERM), then PostgreSQL (SIGINT, fast shutdown), and
removes the directory. Every child runs under ``timeout`` so nothing outlives a killed
test run by more than :data:`PROCESS_TTL` seconds.

Needs the Debian packages ``postgresql`` and ``postgresql-15-postgis-3`` (see
``scripts/install-system-deps.sh``) and the ``test`` extra (stac-fastapi-pgstac, pypgstac,
uvicorn). When something is missing, :class:`StacServerError` says what.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

#: Page size the API uses when the request has no ``limit``.
DEFAULT_LIMIT = 4
#: Largest page the API returns, whatever ``limit`` the client asks for.
MAX_LIMIT = 5
#: Seconds after which ``timeout`` kills a child even if teardown never ran.
PROCESS_TTL = 3600
_PASSWORD = "pgstac-test"
_TESTS_DIR = Path(__file__).resolve().parents[1]


class StacServerError(RuntimeError):
    """The STAC API could not be started (missing packages, a child exited, ...)."""


@dataclass
class StacApi:
    """A running STAC API.

    Attributes:
        url: API root (landing page), ``http://127.0.0.1:PORT`` without a trailing slash.
        collection_id: The collection loaded.
        collection: The Collection dict loaded.
        items: The Item dicts loaded (as sent to pgstac; the API returns them unchanged,
            plus links).
        dsn: libpq connection string of the database.
        default_limit / max_limit: Page size without ``limit`` / page size cap.
        timings: Seconds spent per start-up step (``initdb``, ``postgres``, ``migrate``,
            ``load``, ``api``, ``total``).
        archive / cog_server: See below (``None`` outside the fixture).
    """

    url: str
    collection_id: str
    collection: dict[str, Any]
    items: list[dict[str, Any]]
    dsn: str
    default_limit: int = DEFAULT_LIMIT
    max_limit: int = MAX_LIMIT
    timings: dict[str, float] = field(default_factory=dict)
    #: Set by the ``stac_api`` fixture: the :class:`support.stac_items.StacArchive` whose
    #: items were loaded, and its COG server (the asset hrefs point at it).
    archive: Any = None
    cog_server: Any = None

    @property
    def search_url(self) -> str:
        """``{url}/search``."""
        return f"{self.url}/search"

    @property
    def item_ids(self) -> list[str]:
        """Ids of :attr:`items`."""
        return [item["id"] for item in self.items]


# ------------------------------------------------------------------------ the served app


class _CapLimit:
    """ASGI middleware: give ``/search`` and ``/collections/{id}/items`` a default page
    size and cap the ``limit`` a client asks for (GET query string and POST JSON body)."""

    def __init__(self, app: Any, default: int, maximum: int) -> None:
        self.app = app
        self.default = default
        self.maximum = maximum

    def _cap(self, value: Any) -> Any:
        if value is None:
            return self.default
        try:
            return min(int(value), self.maximum)
        except (TypeError, ValueError):
            return value  # let the API reject it

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"].rstrip("/")
        paged = path.endswith("/search") or (
            path.endswith("/items") and path.startswith("/collections/")
        )
        if paged and scope["method"] == "GET":
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            limit = next((v for k, v in pairs if k == "limit"), None)
            pairs = [(k, v) for k, v in pairs if k != "limit"]
            pairs.append(("limit", str(self._cap(limit))))
            scope = dict(scope, query_string=urlencode(pairs).encode("latin-1"))
        elif paged and scope["method"] == "POST":
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            try:
                doc = json.loads(body or b"{}")
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                doc["limit"] = self._cap(doc.get("limit"))
                body = json.dumps(doc).encode()
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            scope = dict(scope, headers=headers)
            replayed = False

            async def replay() -> Any:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


def create_app() -> Any:
    """uvicorn factory: stac-fastapi-pgstac's app with the page size capped.

    ``STAC_TEST_DEFAULT_LIMIT`` / ``STAC_TEST_MAX_LIMIT`` override the defaults.
    """
    from stac_fastapi.pgstac.app import create_app as create_pgstac_app

    default = int(os.environ.get("STAC_TEST_DEFAULT_LIMIT", DEFAULT_LIMIT))
    maximum = int(os.environ.get("STAC_TEST_MAX_LIMIT", MAX_LIMIT))
    app = create_pgstac_app()
    _wait_for_db(float(os.environ.get("STAC_TEST_DB_WAIT", 120)))
    return _CapLimit(app, default, maximum)


def _wait_for_db(limit: float) -> None:
    """Block until PostgreSQL (``PG*`` environment variables) accepts connections, so the
    app's start-up (which opens its connection pool once) does not fail."""
    import psycopg

    deadline = time.monotonic() + limit
    while True:
        try:
            psycopg.connect(connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ------------------------------------------------------------------------ helpers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_pg_bin() -> Path:
    """The newest ``/usr/lib/postgresql/<major>/bin`` that has initdb and PostGIS."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
        reverse=True,
    )
    if not candidates:
        raise StacServerError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
            "run scripts/install-system-deps.sh (apt: postgresql postgresql-15-postgis-3)"
        )
    for initdb in candidates:
        major = Path(initdb).parent.parent.name
        if Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            return Path(initdb).parent
    raise StacServerError(
        f"PostGIS is not installed for PostgreSQL {Path(candidates[0]).parent.parent.name}; "
        "run scripts/install-system-deps.sh (apt: postgresql-15-postgis-3)"
    )


def _check_python_deps() -> None:
    missing = []
    for module in ("stac_fastapi.pgstac", "pypgstac", "psycopg", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise StacServerError(
            f"python packages missing for the STAC API fixture: {', '.join(missing)}; "
            "install the test extra: pip install -e '.[test]'"
        )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, wait: float = 20.0) -> None:
    """Send ``sig`` to ``proc`` (a ``timeout`` wrapper: it forwards the signal), then wait;
    kill its process group if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # `timeout` leads its own process group
        except ProcessLookupError:
            pass
        proc.wait(5)


def _wait_until(
    check: Any, proc: subprocess.Popen[bytes], what: str, log: Path, limit: float
) -> None:
    deadline = time.monotonic() + limit
    while True:
        if check():
            return
        if proc.poll() is not None:
            raise StacServerError(f"{what} exited with status {proc.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise StacServerError(f"{what} not ready after {limit:.0f} s:\n{_tail(log)}")
        time.sleep(0.05)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _pg_ready(pg_bin: Path, port: int) -> bool:
    result = subprocess.run(
        [str(pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)],
        check=False,
        capture_output=True,
    )
    return result.returncode == 0


# ------------------------------------------------------------------------ the fixture body


def _spawn_api(port: int, pg_port: int, default_limit: int, max_limit: int, log: Path) -> Any:
    """Start uvicorn serving :func:`create_app` (it waits for PostgreSQL by itself)."""
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(pg_port),
        "PGUSER": "postgres",
        "PGPASSWORD": _PASSWORD,
        "PGDATABASE": "postgres",
        "DB_MIN_CONN_SIZE": "1",
        "DB_MAX_CONN_SIZE": "4",
        "STAC_TEST_DEFAULT_LIMIT": str(default_limit),
        "STAC_TEST_MAX_LIMIT": str(max_limit),
        "PYTHONPATH": os.pathsep.join(
            [str(_TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                "timeout",
                str(PROCESS_TTL),
                sys.executable,
                "-m",
                "uvicorn",
                "support.stac_server:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=_TESTS_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _initdb(pg_bin: Path, tmp: Path, as_pg: dict[str, Any]) -> None:
    init = subprocess.run(
        [
            str(pg_bin / "initdb"),
            "-D",
            str(tmp / "data"),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        cwd=tmp,
        capture_output=True,
        check=False,
        **as_pg,
    )
    if init.returncode != 0:
        raise StacServerError(
            f"initdb failed ({init.returncode}): {init.stderr.decode(errors='replace')}"
        )


def _spawn_postgres(pg_bin: Path, tmp: Path, port: int, as_pg: dict[str, Any], log: Path) -> Any:
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        if as_pg:
            os.chown(log, as_pg["user"], as_pg["group"])
        return subprocess.Popen(
            [
                "timeout",
                str(PROCESS_TTL),
                str(pg_bin / "postgres"),
                "-D",
                str(tmp / "data"),
                "-p",
                str(port),
                "-k",
                str(tmp),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            cwd=tmp,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            **as_pg,
        )
    finally:
        os.close(log_fd)


def _load(dsn: str, collection: dict[str, Any], items: list[dict[str, Any]]) -> float:
    """Migrate pgstac, set it up for the tests and load the data; returns migrate seconds."""
    from pypgstac.db import PgstacDB
    from pypgstac.load import Loader, Methods
    from pypgstac.migrate import Migrate

    t = time.perf_counter()
    with PgstacDB(dsn=dsn) as db:
        Migrate(db).run_migration()
        migrate = time.perf_counter() - t
        # numberMatched in search responses; numeric (not text) sort on cloud cover.
        db.query_one(
            "UPDATE pgstac.pgstac_settings SET value='on' WHERE name='context' RETURNING value"
        )
        db.query_one(
            "INSERT INTO pgstac.queryables (name, definition, property_wrapper) VALUES "
            "('eo:cloud_cover', '{\"type\": \"number\"}', 'to_float') RETURNING name"
        )
        loader = Loader(db=db)
        loader.load_collections(iter([collection]), insert_mode=Methods.upsert)
        loader.load_items(iter(items), insert_mode=Methods.upsert)
    return migrate


@contextmanager
def start_stac_api(
    collection: dict[str, Any],
    items: list[dict[str, Any]],
    *,
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Iterator[StacApi]:
    """Run PostgreSQL + pgstac + stac-fastapi-pgstac holding ``collection`` and ``items``.

    uvicorn is started first: its imports (seconds) overlap with initdb, the PostgreSQL
    start and the pgstac migration; :func:`create_app` waits until PostgreSQL accepts
    connections. Raises :class:`StacServerError` with a clear message when anything is
    missing or a process fails to start.
    """
    _check_python_deps()
    pg_bin = find_pg_bin()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    tmp = Path(tempfile.mkdtemp(prefix="rasteret-stacapi-"))
    logs = Path(tempfile.mkdtemp(prefix="rasteret-stacapi-log-"))
    as_pg: dict[str, Any] = {}
    procs: dict[str, Any] = {}

    def teardown() -> None:
        _stop(procs.get("api"), signal.SIGTERM)  # first: it holds pool connections
        _stop(procs.get("pg"), signal.SIGINT)  # fast shutdown (SIGTERM waits for clients)

    with ExitStack() as stack:
        stack.callback(shutil.rmtree, logs, True)
        stack.callback(shutil.rmtree, tmp, True)
        stack.callback(teardown)
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise StacServerError("running as root but there is no 'postgres' user") from exc
            os.chown(tmp, pw.pw_uid, pw.pw_gid)
            as_pg = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        os.chmod(tmp, 0o755)
        pg_log, api_log = tmp / "postgres.log", logs / "api.log"
        pg_port, port = _free_port(), _free_port()
        url = f"http://127.0.0.1:{port}"
        dsn = f"postgresql://postgres:{_PASSWORD}@127.0.0.1:{pg_port}/postgres"
        try:
            procs["api"] = _spawn_api(port, pg_port, default_limit, max_limit, api_log)
            t = time.perf_counter()
            _initdb(pg_bin, tmp, as_pg)
            timings["initdb"] = time.perf_counter() - t
            t = time.perf_counter()
            procs["pg"] = _spawn_postgres(pg_bin, tmp, pg_port, as_pg, pg_log)
            _wait_until(lambda: _pg_ready(pg_bin, pg_port), procs["pg"], "postgres", pg_log, 30)
            timings["postgres"] = time.perf_counter() - t
            t = time.perf_counter()
            timings["migrate"] = _load(dsn, collection, items)
            timings["load"] = time.perf_counter() - t - timings["migrate"]
            t = time.perf_counter()
            _wait_until(lambda: _http_ok(url + "/"), procs["api"], "uvicorn", api_log, 90)
            timings["api_wait"] = time.perf_counter() - t
            timings["total"] = time.perf_counter() - t_start
        except StacServerError:
            raise
        except Exception as exc:  # psycopg / pypgstac errors: add the server log
            raise StacServerError(
                f"starting the STAC API failed: {exc!r}\npostgres log:\n{_tail(pg_log)}"
            ) from exc
        yield StacApi(
            url=url,
            collection_id=collection["id"],
            collection=collection,
            items=items,
            dsn=dsn,
            default_limit=default_limit,
            max_limit=max_limit,
            timings=timings,
        )
