"""A small Hugging Face Hub HTTP server on 127.0.0.1 for the ``hf://`` tests.

It serves dataset repositories from a local directory laid out as
``<root>/<org>/<name>/<revision>/<files...>`` and answers the part of the Hub HTTP API that
``huggingface_hub`` (``HfApi.list_repo_files``, ``HfApi.repo_info`` and ``HfFileSystem``
ls/info/open with Range reads) uses, as read from ``huggingface_hub/hf_api.py`` and
``hf_file_system.py``:

- ``GET /api/datasets/<org>/<name>`` and ``.../revision/<rev>``: repo info (``id``, ``sha``,
  ``siblings``); unknown repo -> 404 ``X-Error-Code: RepoNotFound``, unknown revision ->
  404 ``X-Error-Code: RevisionNotFound``.
- ``GET /api/datasets/<org>/<name>/tree/<rev>[/<path>]?recursive=&expand=``: a JSON list of
  ``{"type": "file"|"directory", "path", "oid", "size"}`` entries (one page, no ``Link``).
- ``POST /api/datasets/<org>/<name>/paths-info/<rev>`` (form ``paths=...``): entries for
  the given paths.
- ``GET``/``HEAD /datasets/<org>/<name>/resolve/<rev>/<path>`` with ``Range`` support.

Every request is logged (:attr:`HubServer.requests`) so tests can see which byte ranges
were fetched.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from support.range_server import parse_range

__all__ = ["HubRequest", "HubServer"]


@dataclass(frozen=True)
class HubRequest:
    """One answered request: method, decoded path, ``Range`` header and status."""

    method: str
    path: str
    range: str | None
    status: int


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class HubServer:
    """Serve ``root`` as Hugging Face dataset repositories; use as a context manager.

    Parameters
    ----------
    root
        Directory holding ``<org>/<name>/<revision>/...`` trees.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.requests: list[HubRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:  # noqa: N802
                server._dispatch(self, "GET")

            def do_HEAD(self) -> None:  # noqa: N802
                server._dispatch(self, "HEAD")

            def do_POST(self) -> None:  # noqa: N802
                server._dispatch(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:<port>`` (the value for ``HF_ENDPOINT``)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def clear(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self.requests.clear()

    def file_requests(self, name: str) -> list[HubRequest]:
        """Logged ``resolve`` GETs of files whose path ends with ``name``."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == "GET" and "/resolve/" in r.path and r.path.endswith(name)
            ]

    # -- request handling --------------------------------------------------------------------

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        range_header: str | None = None,
    ) -> None:
        with self._lock:
            self.requests.append(
                HubRequest(method, unquote(urlsplit(h.path).path), range_header, status)
            )
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)

    def _json(
        self, h: BaseHTTPRequestHandler, method: str, status: int, payload: object, **hdr: str
    ) -> None:
        headers = {
            "Content-Type": "application/json",
            **{k.replace("_", "-"): v for k, v in hdr.items()},
        }
        self._send(h, method, status, json.dumps(payload).encode(), headers)

    def _not_found(self, h: BaseHTTPRequestHandler, method: str, code: str, message: str) -> None:
        self._json(h, method, 404, {"error": message}, X_Error_Code=code, X_Error_Message=message)

    def _repo_dir(self, org: str, name: str) -> Path | None:
        d = self.root / org / name
        return d if d.is_dir() else None

    def _entry(self, base: Path, p: Path) -> dict[str, object]:
        rel = p.relative_to(base).as_posix()
        if p.is_dir():
            return {"type": "directory", "path": rel, "oid": _oid(rel.encode())}
        data = p.read_bytes()
        return {"type": "file", "path": rel, "oid": _oid(data), "size": len(data)}

    def _dispatch(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            form = parse_qs(h.rfile.read(length).decode())
        else:
            form = {}
        if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
            self._api(h, method, parts[2], parts[3], parts[4:], form)
        elif parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
            self._resolve(h, method, parts[1], parts[2], parts[4], "/".join(parts[5:]))
        else:
            self._json(h, method, 404, {"error": f"no route for {url.path}"})

    def _api(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        org: str,
        name: str,
        rest: list[str],
        form: dict[str, list[str]],
    ) -> None:
        repo = self._repo_dir(org, name)
        if repo is None:
            self._not_found(h, method, "RepoNotFound", f"Repository {org}/{name} not found")
            return
        kind = rest[0] if rest else "revision"
        revision = rest[1] if len(rest) > 1 else "main"
        base = repo / revision
        if not base.is_dir():
            self._not_found(h, method, "RevisionNotFound", f"Revision {revision} not found")
            return
        if kind == "revision":
            files = sorted(p for p in base.rglob("*") if p.is_file())
            siblings = [{"rfilename": p.relative_to(base).as_posix()} for p in files]
            self._json(
                h,
                method,
                200,
                {"id": f"{org}/{name}", "sha": _oid(revision.encode()), "siblings": siblings},
            )
        elif kind == "tree":
            sub = "/".join(rest[2:])
            target = base / sub if sub else base
            if not target.is_dir():
                self._not_found(h, method, "EntryNotFound", f"{sub} not found")
                return
            recursive = (parse_qs(urlsplit(h.path).query).get("recursive") or ["false"])[0]
            walker = target.rglob("*") if recursive.lower() == "true" else target.iterdir()
            self._json(h, method, 200, [self._entry(base, p) for p in sorted(walker)])
        elif kind == "paths-info":
            paths = form.get("paths", [])
            entries = [self._entry(base, base / p) for p in paths if (base / p).exists()]
            self._json(h, method, 200, entries)
        else:
            self._json(h, method, 404, {"error": f"unsupported API {kind}"})

    def _resolve(
        self, h: BaseHTTPRequestHandler, method: str, org: str, name: str, revision: str, path: str
    ) -> None:
        repo = self._repo_dir(org, name)
        target = None if repo is None else repo / revision / path
        if target is None or not target.is_file():
            self._not_found(h, method, "EntryNotFound", f"{path} not found at {revision}")
            return
        data = target.read_bytes()
        header = h.headers.get("Range")
        rng = parse_range(header, len(data))
        common = {
            "ETag": f'"{_oid(data)}"',
            "Accept-Ranges": "bytes",
            "X-Repo-Commit": _oid(revision.encode()),
        }
        if rng == "unsatisfiable":
            self._send(
                h, method, 416, b"", {**common, "Content-Range": f"bytes */{len(data)}"}, header
            )
        elif rng is None:
            self._send(h, method, 200, data, common, header)
        else:
            start, end = rng
            headers = {**common, "Content-Range": f"bytes {start}-{end}/{len(data)}"}
            self._send(h, method, 206, data[start : end + 1], headers, header)
