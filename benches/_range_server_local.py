"""TEMPORARY stand-in for ``rasteret._range_server`` (same API); delete once it lands."""

from __future__ import annotations

import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_HEAD(self):  # noqa: N802
        self._serve(body=False)

    def do_GET(self):  # noqa: N802
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        srv = self.server.owner
        if srv.latency_ms:
            time.sleep(srv.latency_ms / 1000)
        path = Path(srv.root, self.path.lstrip("/").split("?")[0])
        rng = self.headers.get("Range")
        if not path.is_file():
            self.send_error(404)
            srv._log(self.command, self.path, rng, 404, 0)
            return
        size = path.stat().st_size
        start, end, status = 0, size - 1, 200
        if rng and rng.startswith("bytes=") and "," not in rng:
            a, _, b = rng[6:].partition("-")
            if a:
                start = int(a)
                end = min(int(b), size - 1) if b else size - 1
            else:
                start = max(size - int(b), 0)
            status = 206
        n = max(end - start + 1, 0)
        self.send_response(status)
        self.send_header("Content-Length", str(n))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if body and n:
            with open(path, "rb") as f:
                os.sendfile(self.wfile.fileno(), f.fileno(), start, n)
        srv._log(self.command, self.path, rng, status, n if body else 0)


class RangeServer:
    def __init__(self, root, latency_ms: float = 0.0):
        self.root = str(root)
        self.latency_ms = latency_ms
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._httpd = None

    def _log(self, method, path, rng, status, nbytes):
        with self._lock:
            self.requests.append(
                {"method": method, "path": path, "range": rng, "status": status, "bytes": nbytes}
            )

    def reset_log(self):
        with self._lock:
            self.requests.clear()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{name}"

    def __enter__(self):
        ThreadingHTTPServer.request_queue_size = 256
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()
