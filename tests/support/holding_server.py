"""A Range-capable HTTP server that can hold requests unanswered and sees clients hang up.

:class:`HoldingServer` serves the files of a directory on ``127.0.0.1`` (``GET``/``HEAD``,
single ``bytes=a-b`` ranges, keep-alive). While :attr:`HoldingServer.hold` is set, each new
request is parked without an answer until the hold is lifted (then it is served) or the client
closes its connection (noticed within 20 ms: the socket turns readable with no data). Every
request is logged as a :class:`Held` with its outcome, so a test can tell a read that was
cancelled (the client hung up) from one still waiting, while the client process lives on.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Held", "HoldingServer"]


@dataclass
class Held:
    """One request: ``outcome`` is ``"waiting"``, ``"served"`` or ``"client-closed"``;
    ``ended`` the ``time.monotonic()`` it stopped waiting (None while waiting)."""

    path: str
    started: float
    outcome: str = "waiting"
    ended: float | None = None
    held: bool = field(default=False)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=False)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=True)

    def _client_closed(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0.02)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _serve(self, *, send_body: bool) -> None:
        owner = self.server.owner
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        entry = Held(path=rel, started=time.monotonic(), held=owner.hold)
        owner._log(entry)
        while owner.hold:
            if self._client_closed():
                entry.outcome, entry.ended = "client-closed", time.monotonic()
                self.close_connection = True
                return
        file = owner.root / rel
        if not file.is_file():
            entry.outcome, entry.ended = "served", time.monotonic()
            self.send_error(404)
            return
        size = file.stat().st_size
        start, end = 0, size - 1
        status = 200
        header = self.headers.get("Range")
        if header and header.startswith("bytes="):
            a, _, b = header[len("bytes=") :].split(",")[0].partition("-")
            start = int(a)
            end = min(int(b), size - 1) if b else size - 1
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        entry.outcome, entry.ended = "served", time.monotonic()
        if send_body:
            with file.open("rb") as fh:
                fh.seek(start)
                self.wfile.write(fh.read(end - start + 1))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: HoldingServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-answer are expected here


class HoldingServer:
    """Serve ``root``; set :attr:`hold` to park new requests (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.hold = False
        self.requests: list[Held] = []
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HoldingServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.hold = False
        self._server.shutdown()
        self._server.server_close()

    def url(self, name: str) -> str:
        """``http://127.0.0.1:PORT/name``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/{name}"

    def _log(self, entry: Held) -> None:
        with self._lock:
            self.requests.append(entry)

    def held(self, outcome: str | None = None) -> list[Held]:
        """Requests parked by the hold (those with ``outcome``, when given)."""
        with self._lock:
            return [r for r in self.requests if r.held and outcome in (None, r.outcome)]

    def wait_for_held(self, n: int = 1, timeout: float = 30.0) -> None:
        """Return once ``n`` requests are parked; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while len(self.held("waiting")) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {n} requests reached the server in {timeout} s")
            time.sleep(0.01)
