"""The benchmarks' HTTP server: Range-capable, injected latency, one asyncio thread.

The test suite's server (``rasteret._demo.range_server.RangeServer``: a thread per connection,
``http.server`` request parsing, fault injection) costs about 0.8 ms of CPU per request on
this 2-core machine, and that CPU comes out of the same two cores the tool under test runs
on (0.12-0.15 CPU-s per B2 read, a quarter of rasteret's own). This server answers the same
GET/HEAD + ``Range`` requests from one event loop with ``sendfile``, so the figures measure
the readers rather than the harness. Every tool in a run talks to the same server.

Per request it makes one ``stat`` call: the resolved file of each request path and one open
handle per file are kept (reopened when the file's inode, size or mtime change). That took
its CPU time per B2z read (144 requests) from 59 to 43 ms (medians of 9 fresh client
processes); most of the rest is the kernel's ``sendfile``.

Interface (what ``run.py``, ``torchgeo_bench.py`` and ``build_collection.py`` use):
``base_url``, ``url(name)``, ``latency_ms`` (settable, applied before every answer),
``requests`` (one dict per request with ``bytes_sent``), ``reset_log()``, ``count()``,
and use as a context manager.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from rasteret._demo.range_server import parse_range  # the test server's Range parsing

_MAX_HEAD = 64 * 1024


class AsyncRangeServer:
    """Serve files under ``root`` on 127.0.0.1 from a background event loop."""

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self._port = port
        self.latency_ms = 0.0
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        # request path -> resolved file (only files found: a missing one may appear later)
        self._paths: dict[str, Path] = {}
        # resolved file -> ((inode, size, mtime_ns), open handle, validator headers)
        self._open: dict[Path, tuple[tuple[int, int, int], Any, dict[str, str]]] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AsyncRangeServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        self._serve, self.host, self._port, limit=_MAX_HEAD, backlog=1024
                    )
                )
                self._port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # noqa: BLE001 - handed to the starting thread
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="bench-range-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then end the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for _, fh, _ in self._open.values():
            fh.close()
        self._open.clear()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> AsyncRangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses and log

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._port}/"

    def url(self, name: str | os.PathLike[str]) -> str:
        return self.base_url + urllib.parse.quote(str(name).lstrip("/"))

    def reset_log(self) -> None:
        with self._lock:
            self.requests = []

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _log(self, method: str, path: str, status: int, body_bytes: int) -> None:
        with self._lock:
            self.requests.append(
                {"method": method, "path": path, "status": status, "bytes_sent": body_bytes}
            )

    # ------------------------------------------------------------------ serving

    def _resolve(self, rel: str) -> Path | None:
        if (known := self._paths.get(rel)) is not None:
            return known
        path = (self.root / rel).resolve()
        if self.root not in path.parents or not path.is_file():
            return None
        self._paths[rel] = path
        return path

    def _file(self, path: Path) -> tuple[os.stat_result, Any, dict[str, str]] | None:
        """``stat`` of ``path``, an open handle and its validator headers (handle kept)."""
        try:
            st = path.stat()
        except OSError:
            return None
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._open.get(path)
        if cached is not None and cached[0] == key:
            return st, cached[1], cached[2]
        if cached is not None:
            cached[1].close()
        fh = path.open("rb")
        validators = {
            "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            "ETag": f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
        }
        self._open[path] = (key, fh, validators)
        return st, fh, validators

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
                headers = {}
                for line in lines[1:]:
                    key, sep, value = line.partition(":")
                    if sep:
                        headers[key.strip().lower()] = value.strip()
                if self.latency_ms > 0:
                    await asyncio.sleep(self.latency_ms / 1000.0)
                keep = await self._answer(writer, method, target, headers)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (asyncio.CancelledError, ConnectionError):
            return  # shutting down, or the client went away
        finally:
            writer.close()

    async def _answer(
        self, writer: asyncio.StreamWriter, method: str, target: str, headers: dict[str, str]
    ) -> bool:
        rel = urllib.parse.unquote(urllib.parse.urlsplit(target).path).lstrip("/")
        send_body = method == "GET"
        path = self._resolve(rel) if method in ("GET", "HEAD") else None
        opened = self._file(path) if path is not None else None
        if path is None or opened is None:
            status = 404 if method in ("GET", "HEAD") else 405
            body = f"{status}: {rel}\n".encode()
            self._log(method, rel, status, len(body) if send_body else 0)
            writer.write(self._head(status, len(body), {}) + (body if send_body else b""))
            await writer.drain()
            return True
        st, fh, validators = opened
        size = st.st_size
        rng = parse_range(headers.get("range"), size)
        if rng == "unsatisfiable":
            self._log(method, rel, 416, 0)
            writer.write(self._head(416, 0, {"Content-Range": f"bytes */{size}"}))
            await writer.drain()
            return True
        extra = {
            "Accept-Ranges": "bytes",
            "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            "ETag": f'"{st.st_mtime_ns:x}-{size:x}"',
        }
        if isinstance(rng, tuple):
            status, start, end = 206, rng[0], rng[1]
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        else:
            status, start, end = 200, 0, size - 1
        length = end - start + 1 if size else 0
        self._log(method, rel, status, length if send_body else 0)
        writer.write(self._head(status, length, extra))
        await writer.drain()
        if send_body and length > 0:
            # sendfile at an explicit offset: one handle serves concurrent requests
            await asyncio.get_running_loop().sendfile(writer.transport, fh, start, length)
        return True

    @staticmethod
    def _head(status: int, length: int, extra: dict[str, str]) -> bytes:
        reason = {200: "OK", 206: "Partial Content", 404: "Not Found", 405: "Method Not Allowed"}
        lines = [
            f"HTTP/1.1 {status} {reason.get(status, 'Range Not Satisfiable')}",
            "Server: rasteret-bench-server/1",
            "Content-Type: application/octet-stream",
            f"Content-Length: {length}",
            *(f"{k}: {v}" for k, v in extra.items()),
            "",
            "",
        ]
        return "\r\n".join(lines).encode("latin-1")
