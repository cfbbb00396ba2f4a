"""A small Range-capable HTTP/1.1 file server for tests, benchmarks and the offline demo.

:class:`RangeServer` serves the files under a directory on ``127.0.0.1`` with keep-alive
connections, ``GET``/``HEAD`` and single byte ranges (``bytes=a-b``, ``bytes=a-`` and
``bytes=-n``). It records every request and can inject faults (error statuses, short
bodies, connection resets, slow answers), a fixed per-request latency, or ignore ``Range``
headers altogether. It uses the standard library only.

Example::

    with RangeServer(Path("/data/cogs")) as server:
        server.latency_ms = 20
        server.inject("scene_*.tif", status=503, times=2)
        url = server.url("scene_1.tif")   # http://127.0.0.1:PORT/scene_1.tif
        ...
        print(server.count("scene_1.tif"))
"""

from __future__ import annotations

import email.utils
import fnmatch
import os
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["FAULT_MODES", "Fault", "RangeServer", "RequestLog"]

#: Fault modes accepted by :meth:`RangeServer.inject`.
FAULT_MODES = ("short", "reset", "slow")

#: Seconds a ``"slow"`` fault waits before answering.
SLOW_SECONDS = 5.0


@dataclass(frozen=True)
class RequestLog:
    """One request the server answered (or dropped).

    ``path`` is the URL path without the leading ``/`` (percent-decoded), ``range`` the raw
    ``Range`` header (``None`` when absent), ``status`` the status sent (``0`` when the
    connection was reset without a response), ``bytes_sent`` the body bytes the answer
    carries (half the promised length for a ``"short"`` fault; ``0`` for ``HEAD``) and
    ``fault`` the injected fault that shaped the answer, if any. An entry is recorded just
    before its answer is sent, so it is visible as soon as a client has the response.
    """

    method: str
    path: str
    range: str | None
    status: int
    bytes_sent: int
    fault: str | None = None


@dataclass
class Fault:
    """A pending fault: the next ``remaining`` requests matching ``glob`` get it."""

    glob: str
    status: int | None
    mode: str | None
    remaining: int

    def describe(self) -> str:
        """A short label for the request log, e.g. ``"status=503"`` or ``"reset"``."""
        return self.mode if self.mode is not None else f"status={self.status}"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """Parse a ``Range`` header against a body of ``size`` bytes.

    Returns ``(start, end)`` (inclusive) for a satisfiable range, ``None`` when the header
    is absent or not a byte range we understand (the full body is then sent, as RFC 9110
    allows), or the string ``"unsatisfiable"`` for a range that starts past the end or an
    empty suffix. Only the first range of a multi-range request is honoured.
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    first = spec.split(",")[0].strip()
    start_s, dash, end_s = first.partition("-")
    if not dash:
        return None
    start_s, end_s = start_s.strip(), end_s.strip()
    try:
        if start_s == "":
            suffix = int(end_s)
            if suffix < 0:
                return None
            if suffix == 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - suffix), size - 1
        start = int(start_s)
        end = int(end_s) if end_s else size - 1
    except ValueError:
        return None
    if start < 0 or (end_s and end < start):
        return None
    if start >= size:
        return "unsatisfiable"
    return start, min(end, size - 1)


def _asked_bytes(range_header: str | None) -> int:
    """Bytes a ``Range`` header asks for, as :func:`parse_range` reads it (0 when absent or
    open-ended: the file's size is not known yet)."""
    rng = parse_range(range_header, _UNKNOWN_SIZE)
    if not isinstance(rng, tuple) or rng[1] >= _UNKNOWN_SIZE - 1:
        return 0
    return rng[1] - rng[0] + 1


#: A size no served file reaches: ranges read against it before the file is looked up.
_UNKNOWN_SIZE = 1 << 62


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; all state lives on :attr:`server` (a ``_Server``)."""

    protocol_version = "HTTP/1.1"
    server_version = "rasteret-range-server/1"
    timeout = 120  # idle keep-alive connections are dropped after this many seconds
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default stderr access log (requests are kept in the log instead)."""

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=False)

    # ------------------------------------------------------------------ internals

    def _serve(self, *, send_body: bool) -> None:
        owner = self.server.owner
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        self._rel = rel
        self._range_header = self.headers.get("Range")
        self._fault = owner._take_fault(rel)
        self._recorded = False
        fault = self._fault
        self._asked = _asked_bytes(self._range_header)
        owner._in_flight(self._asked)
        try:
            self._answer(owner, fault, send_body)
        finally:
            self._answering(owner)

    def _answering(self, owner: RangeServer) -> None:
        """The request stops counting as in flight once its answer starts (before any byte
        of it can reach the client, which may then send its next request at once)."""
        owner._in_flight(-self._asked)
        self._asked = 0

    def _answer(self, owner: RangeServer, fault: Fault | None, send_body: bool) -> None:
        rel = self._rel
        if owner.latency_ms > 0:
            time.sleep(owner.latency_ms / 1000.0)
        self._answering(owner)
        if owner.redirect_to is not None:
            self._record(302, 0)
            self.send_response(302)
            self.send_header("Location", f"{owner.redirect_to.rstrip('/')}/{rel}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        try:
            if fault is not None and fault.mode == "reset":
                self._record(0, 0)
                self._reset()
                return
            if fault is not None and fault.mode == "slow":
                time.sleep(SLOW_SECONDS)
            if fault is not None and fault.status is not None:
                self._send_small(fault.status, f"injected fault: {fault.status}\n", send_body)
                return
            self._send_file(
                rel,
                self._range_header,
                send_body,
                short=fault is not None and fault.mode == "short",
            )
        finally:
            if not self._recorded:  # failed before answering (e.g. the client went away)
                self._record(0, 0)

    def _record(self, status: int, body_bytes: int) -> None:
        """Log this request *before* its answer goes out, so a client that has read the
        answer always finds it in :attr:`RangeServer.requests`."""
        self._recorded = True
        self.server.owner._log(
            RequestLog(
                method=self.command,
                path=self._rel,
                range=self._range_header,
                status=status,
                bytes_sent=body_bytes,
                fault=self._fault.describe() if self._fault is not None else None,
            )
        )

    def _send_small(self, status: int, text: str, send_body: bool, **headers: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self._record(status, len(body) if send_body else 0)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_file(
        self, rel: str, range_header: str | None, send_body: bool, *, short: bool
    ) -> None:
        owner = self.server.owner
        path = owner._resolve(rel)
        if path is None:
            self._send_small(404, f"not found: {rel}\n", send_body)
            return
        stat = path.stat()
        size = stat.st_size
        rng = None if owner.ignore_range else parse_range(range_header, size)
        if rng == "unsatisfiable":
            self._send_small(
                416, "range not satisfiable\n", send_body, Content_Range=f"bytes */{size}"
            )
            return
        if isinstance(rng, tuple):
            status, start, end = 206, rng[0], rng[1]
        else:
            status, start, end = 200, 0, size - 1
        length = end - start + 1 if size else 0
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
        self.send_header("ETag", f'"{stat.st_mtime_ns:x}-{size:x}"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        to_send = (length // 2 if short else length) if send_body else 0
        self._record(status, to_send)
        self.end_headers()
        if not send_body:
            return
        if to_send > 0:
            with path.open("rb") as fh:
                self.connection.sendfile(fh, start, to_send)
        if short:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0) and no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    """The socket server; knows its :class:`RangeServer` and keeps errors off stderr."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], owner: RangeServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects and injected resets are expected: stay silent."""


class RangeServer:
    """Serve the files under ``root`` over HTTP/1.1 with byte ranges and fault injection.

    Call :meth:`start` (or enter the context manager) to bind ``host``:``port`` (``port=0``
    picks a free port); requests are answered from daemon threads, one per connection, with
    HTTP/1.1 keep-alive. :meth:`stop` (or :meth:`close`, or leaving the context) shuts down.

    Attributes:
        root: The directory served.
        latency_ms: Milliseconds slept before answering each request.
        ignore_range: When true, ``Range`` headers are ignored and full bodies sent (200).
        requests: Every answered request, in completion order (see :class:`RequestLog`).
        peak_bytes_in_flight: The most bytes (``Range`` lengths) asked for at the same time
            by requests received and not yet being answered, since start or the last reset
            to 0.
        redirect_to: When set (a base URL such as ``https://127.0.0.1:8443``), every request
            is answered ``302 Found`` with ``Location: <redirect_to>/<path>``.

    ``ssl_context`` (a server-side :class:`ssl.SSLContext`) serves HTTPS instead of HTTP.
    """

    def __init__(
        self,
        root: Path | str,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.ssl_context = ssl_context
        self.redirect_to: str | None = None
        self.peak_bytes_in_flight = 0  # most bytes asked for by requests waiting at once
        self._bytes_in_flight = 0
        self.latency_ms: float = 0.0
        self.ignore_range: bool = False
        self.requests: list[RequestLog] = []
        self._requested_port = port
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> RangeServer:
        """Bind and start serving in a background thread (no-op when already running)."""
        if self._server is None:
            self._server = _Server((self.host, self._requested_port), self)
            if self.ssl_context is not None:
                self._server.socket = self.ssl_context.wrap_socket(
                    self._server.socket, server_side=True
                )
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"RangeServer:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and drop open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Alias of :meth:`stop`."""
        self.stop()

    def __enter__(self) -> RangeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        """The bound TCP port (raises ``RuntimeError`` when not started)."""
        if self._server is None:
            raise RuntimeError("RangeServer is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with an SSL context) without a trailing slash."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url(self, name: str | os.PathLike[str]) -> str:
        """The URL of ``name``, a path relative to :attr:`root` (may contain subdirs)."""
        rel = Path(name).as_posix().lstrip("/")
        return f"{self.base_url}/{urllib.parse.quote(rel, safe='/')}"

    # ------------------------------------------------------------------ request log

    def reset_log(self) -> None:
        """Forget all recorded requests."""
        with self._lock:
            self.requests.clear()

    def count(self, name: str | None = None) -> int:
        """Number of recorded requests for ``name`` (a path relative to root), or all."""
        with self._lock:
            if name is None:
                return len(self.requests)
            rel = Path(name).as_posix().lstrip("/")
            return sum(1 for r in self.requests if r.path == rel)

    # ------------------------------------------------------------------ faults

    def inject(
        self,
        glob: str,
        *,
        status: int | None = None,
        times: int = 1,
        mode: str | None = None,
    ) -> None:
        """Make the next ``times`` requests whose path matches ``glob`` misbehave.

        ``glob`` is an :mod:`fnmatch` pattern matched against the request path relative to
        the root (and against its last component, so a bare file name matches in subdirs).
        Give exactly one of ``status`` (answer that status with a short text body) or
        ``mode``: ``"short"`` (promise the full Content-Length, send half, then close),
        ``"reset"`` (close the connection with a TCP reset and no response) or ``"slow"``
        (wait :data:`SLOW_SECONDS` seconds, then answer normally). Faults are consumed in
        the order they were injected.
        """
        if (status is None) == (mode is None):
            raise ValueError("inject() needs exactly one of status= or mode=")
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {FAULT_MODES}")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {status}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.append(Fault(glob=glob, status=status, mode=mode, remaining=times))

    def clear_faults(self) -> None:
        """Drop all pending faults."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[Fault]:
        """A snapshot of the faults not yet used up."""
        with self._lock:
            return [Fault(f.glob, f.status, f.mode, f.remaining) for f in self._faults]

    # ------------------------------------------------------------------ handler hooks

    def _take_fault(self, rel: str) -> Fault | None:
        base = rel.rsplit("/", 1)[-1]
        with self._lock:
            for fault in self._faults:
                if fnmatch.fnmatchcase(rel, fault.glob) or fnmatch.fnmatchcase(base, fault.glob):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.glob, fault.status, fault.mode, 1)
        return None

    def _in_flight(self, delta: int) -> None:
        with self._lock:
            self._bytes_in_flight += delta
            self.peak_bytes_in_flight = max(self.peak_bytes_in_flight, self._bytes_in_flight)

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _resolve(self, rel: str) -> Path | None:
        """The file for a request path, or ``None`` if missing or outside the root."""
        if not rel:
            return None
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate
