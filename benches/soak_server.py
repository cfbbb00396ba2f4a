"""A fault-injecting HTTP/1.1 Range server for the soak run (``benches/soak.py``).

Serves the files under a directory on ``127.0.0.1`` (GET/HEAD, single byte ranges, keep-alive)
and, per request, draws faults at configurable rates:

- ``jitter``: sleep a uniform 5-40 ms before answering (every request by default);
- ``5xx``: answer 500, 502, 503 or 504 with a short text body;
- ``reset``: send the headers and part of the body, then drop the connection with a TCP
  reset (``SO_LINGER`` 0);
- ``short``: promise the full ``Content-Length``, send part of it, then close cleanly;
- ``slow``: send the body in small chunks with pauses (a trickle of 0.3-2 s in all);
- ``outage``: during a window of ``outage_seconds`` every ``outage_every`` seconds, every
  request for one file (rotating) gets a 503, so a read needing it runs out of retries.

Every request is counted by the fault that shaped it (``none`` when clean; see
:meth:`FaultServer.stats`) and, with ``log_path``, written to a tab-separated log (time,
path, ``Range`` header, fault); :meth:`FaultServer.recent` returns the last entries.
``clean = True`` turns every fault off (used to build the reference collection). Standard
library only, plus ``parse_range`` of the test server.
"""

from __future__ import annotations

import collections
import random
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rasteret._demo.range_server import parse_range

#: Fault kinds, in the order they are drawn (at most one per request besides jitter).
FAULT_KINDS = ("outage", "5xx", "reset", "short", "slow")


@dataclass
class FaultRates:
    """Probability of each fault per request, and the jitter and outage settings."""

    jitter: float = 1.0
    jitter_ms: tuple[float, float] = (5.0, 40.0)
    http_5xx: float = 0.01
    reset: float = 0.005
    short: float = 0.005
    slow: float = 0.005
    slow_seconds: tuple[float, float] = (0.3, 2.0)
    outage_every: float = 60.0
    outage_seconds: float = 3.0

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


@dataclass
class _State:
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    log: collections.deque[tuple[float, str, str, str]] = field(
        default_factory=lambda: collections.deque(maxlen=2000)
    )
    bytes_sent: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rasteret-soak-server/1"
    timeout = 120
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Requests are counted by the owner instead of printed."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(send_body=False)

    def _serve(self, *, send_body: bool) -> None:
        owner = self.server.owner
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        fault, jitter_s = owner.draw(rel)
        owner.record(rel, self.headers.get("Range"), fault)
        if jitter_s > 0:
            time.sleep(jitter_s)
        if fault in ("outage", "5xx"):
            status = 503 if fault == "outage" else owner.rng_choice((500, 502, 503, 504))
            body = f"injected {fault}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            return
        path = owner.resolve(rel)
        if path is None:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            return
        size = path.stat().st_size
        rng = parse_range(self.headers.get("Range"), size)
        if rng == "unsatisfiable":
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, start, end = (206, *rng) if isinstance(rng, tuple) else (200, 0, size - 1)
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if not send_body:
            return
        with path.open("rb") as fh:
            fh.seek(start)
            payload = fh.read(length)
        if fault in ("reset", "short"):
            cut = owner.rng_int(0, max(0, length - 1))
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            if fault == "reset":
                self._reset()
            else:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            owner.add_bytes(cut)
            return
        if fault == "slow":
            total_s = owner.rng_uniform(*owner.rates.slow_seconds)
            chunks = max(4, min(64, length // 256 or 1))
            step = -(-length // chunks)
            for i in range(0, length, step):
                self.wfile.write(payload[i : i + step])
                self.wfile.flush()
                time.sleep(total_s / chunks)
        else:
            self.wfile.write(payload)
        owner.add_bytes(length)

    def _reset(self) -> None:
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], owner: FaultServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects and injected resets are expected: stay silent."""


class FaultServer:
    """Serve ``root`` on 127.0.0.1 with random faults drawn at :attr:`rates`."""

    def __init__(
        self,
        root: Path | str,
        rates: FaultRates | None = None,
        seed: int = 0,
        log_path: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self._log_fh = log_path.open("w", buffering=1 << 16) if log_path is not None else None
        self.rates = rates or FaultRates()
        self.clean = False
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._state = _State()
        self._files: list[str] = []
        self._started = time.monotonic()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FaultServer:
        self._files = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.tif"))
        self._server = _Server(("127.0.0.1", 0), self)
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._log_fh is not None:
            with self._lock:
                self._log_fh.close()
                self._log_fh = None

    def url(self, name: str) -> str:
        """``http://127.0.0.1:PORT/name``."""
        assert self._server is not None, "server not started"
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/{urllib.parse.quote(name)}"

    # ------------------------------------------------------------------ drawing faults

    def outage_file(self, now: float | None = None) -> str | None:
        """The file in outage at ``now`` (monotonic seconds), if any."""
        r = self.rates
        if self.clean or r.outage_every <= 0 or r.outage_seconds <= 0 or not self._files:
            return None
        t = (now if now is not None else time.monotonic()) - self._started
        period = int(t // r.outage_every)
        if t - period * r.outage_every >= r.outage_seconds or period == 0:
            return None
        return self._files[period % len(self._files)]

    def draw(self, rel: str) -> tuple[str | None, float]:
        """The fault for one request to ``rel`` and its jitter in seconds."""
        if self.clean:
            return None, 0.0
        r = self.rates
        with self._lock:
            jitter = (
                self._rng.uniform(*r.jitter_ms) / 1000.0 if self._rng.random() < r.jitter else 0
            )
            if rel == self.outage_file():
                return "outage", jitter
            u = self._rng.random()
            for kind, rate in (("5xx", r.http_5xx), ("reset", r.reset), ("short", r.short)):
                if u < rate:
                    return kind, jitter
                u -= rate
            if u < r.slow:
                return "slow", jitter
        return None, jitter

    def rng_choice(self, options: tuple[int, ...]) -> int:
        with self._lock:
            return self._rng.choice(options)

    def rng_int(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)

    def rng_uniform(self, low: float, high: float) -> float:
        with self._lock:
            return self._rng.uniform(low, high)

    # ------------------------------------------------------------------ bookkeeping

    def record(self, rel: str, range_header: str | None, fault: str | None) -> None:
        with self._lock:
            self._state.counts[fault or "none"] += 1
            entry = (time.time(), rel, range_header or "", fault or "none")
            self._state.log.append(entry)
            if self._log_fh is not None:
                self._log_fh.write("{:.3f}\t{}\t{}\t{}\n".format(*entry))

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self._state.bytes_sent += n

    def resolve(self, rel: str) -> Path | None:
        if not rel:
            return None
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def stats(self) -> dict[str, Any]:
        """Requests in total and by injected fault, and body bytes sent."""
        with self._lock:
            counts = dict(self._state.counts)
            return {
                "requests": sum(counts.values()),
                "by_fault": {k: counts.get(k, 0) for k in ("none", *FAULT_KINDS)},
                "bytes_sent": self._state.bytes_sent,
            }

    def recent(self, n: int = 20) -> list[tuple[float, str, str, str]]:
        """The last ``n`` log entries: (time, path, Range header, fault)."""
        with self._lock:
            return list(self._state.log)[-n:]
