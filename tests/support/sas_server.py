"""A local stand-in for a SAS-signed blob store: files are served (with Range) only to URLs
carrying a valid, unexpired token issued by the server's own token endpoint.

- ``GET /token`` -> ``{"sas_token": "se=<expiry>&sig=<hmac>", "expires_at": <posix seconds>}``
  (what a Planetary-Computer-like token service returns). Tokens live ``lifetime`` seconds.
- ``GET /data/<name>?se=...&sig=...`` -> the file (206 for a Range), or 403 with
  ``AuthenticationFailed`` when the signature is wrong or the token has expired.

:meth:`SasServer.revoke` invalidates every token issued so far (a server-side rotation), so
clients must fetch a new one even before the expiry they were told.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class SasServer:
    """State of a running server (see :func:`start_sas_server`)."""

    root: Path
    lifetime: float
    base_url: str = ""
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    require_token: bool = True
    generation: int = 0
    tokens_issued: int = 0
    data_requests: int = 0
    rejected: list[str] = field(default_factory=list)
    issued: list[str] = field(default_factory=list, repr=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def url(self, name: str) -> str:
        """The unsigned data URL of ``name``."""
        return f"{self.base_url}/data/{name}"

    def revoke(self) -> None:
        """Invalidate every token issued so far."""
        with self.lock:
            self.generation += 1

    def _sign(self, expiry: int, generation: int) -> str:
        msg = f"{expiry}:{generation}".encode()
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()

    def issue(self) -> dict[str, Any]:
        with self.lock:
            self.tokens_issued += 1
            generation = self.generation
        expiry = time.time() + self.lifetime
        se = int(expiry * 1000)
        sig = self._sign(se, generation)
        with self.lock:
            self.issued.append(sig)
        return {"sas_token": f"se={se}&sp=r&sig={sig}", "expires_at": expiry}

    def check(self, query: dict[str, list[str]]) -> str | None:
        """Why ``query`` is refused (None: accepted)."""
        if not self.require_token:
            return None
        try:
            se = int(query["se"][0])
            sig = query["sig"][0]
        except (KeyError, ValueError, IndexError):
            return "AuthenticationFailed: no SAS token"
        if not hmac.compare_digest(sig, self._sign(se, self.generation)):
            return "AuthenticationFailed: Signature did not match"
        if se / 1000 < time.time():
            return "AuthenticationFailed: Signed expiry time has passed"
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _small(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        state: SasServer = self.server.state
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/token":
            self._small(200, json.dumps(state.issue()).encode(), "application/json")
            return
        if not parts.path.startswith("/data/"):
            self._small(404, b"not found")
            return
        with state.lock:
            state.data_requests += 1
        problem = state.check(urllib.parse.parse_qs(parts.query))
        if problem is not None:
            with state.lock:
                state.rejected.append(problem)
            self._small(403, problem.encode())
            return
        path = state.root / urllib.parse.unquote(parts.path[len("/data/") :])
        if not path.is_file():
            self._small(404, b"not found")
            return
        size = path.stat().st_size
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b), size - 1) if b else size - 1
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with path.open("rb") as fh:
                fh.seek(start)
                body = fh.read(end - start + 1)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            body = path.read_bytes()
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def start_sas_server(root: Path, lifetime: float = 3600.0) -> Iterator[SasServer]:
    """Serve ``root`` on a free port of 127.0.0.1 behind SAS-style tokens."""
    state = SasServer(root=Path(root), lifetime=lifetime)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


class TokenProvider:
    """A credential provider calling the server's token endpoint (as obstore's Planetary
    Computer provider does): returns ``{"sas_token": ..., "expires_at": datetime}``.

    ``claimed_lifetime`` overrides the expiry reported to the client (to simulate a token the
    server revokes earlier than announced).
    """

    def __init__(self, token_url: str, claimed_lifetime: float | None = None) -> None:
        self.token_url = token_url
        self.claimed_lifetime = claimed_lifetime
        self.calls = 0

    def __repr__(self) -> str:
        return "TokenProvider()"

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        with urllib.request.urlopen(self.token_url, timeout=10) as resp:  # noqa: S310 - local
            payload = json.loads(resp.read())
        expiry = payload["expires_at"]
        if self.claimed_lifetime is not None:
            expiry = time.time() + self.claimed_lifetime
        return {
            "sas_token": payload["sas_token"],
            "expires_at": datetime.fromtimestamp(expiry, tz=UTC),
        }
