"""A GCS emulator on 127.0.0.1: ``gcp-storage-emulator`` (PyPI) run in its own process, with
what real GCS adds that the stub leaves out.

- Private buckets: ``--private BUCKET=TOKEN`` makes object reads of ``BUCKET`` need the OAuth
  header ``Authorization: Bearer TOKEN`` (GCS: no credentials -> 403 ``AccessDenied``, a wrong
  token -> 401 ``AuthenticationRequired``), as GCS answers a bucket without ``allUsers``
  access; ``--service-account BUCKET=PUBLIC_KEY.pem`` accepts instead a service account's
  self-signed JWT (RS256, unexpired, cloud-platform or devstorage scope) whose signature that
  public key verifies, as GCS accepts from service-account keys. Other buckets are public.
  Uploads are not checked.
- Object downloads carry ``ETag``, ``Last-Modified`` and ``x-goog-generation`` (GCS sends them;
  object_store requires the first two).

Run as ``python gcs_emulator.py [--private B=T ...]``: it binds a free port, prints
``PORT <n>`` on stdout once it serves, and runs until killed. :func:`start_gcs_emulator` runs
it as a subprocess and stops it.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import json
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

#: Object-read paths of the XML API (``/<bucket>/<object>``), the JSON API's media download
#: and its metadata GET: (bucket, object).
_OBJECT_PATHS = (
    re.compile(r"^/download/storage/v1/b/(?P<bucket>[-.\w]+)/o/(?P<object>.+)$"),
    re.compile(r"^/storage/v1/b/(?P<bucket>[-.\w]+)/o/(?P<object>.+)$"),
    re.compile(r"^/(?P<bucket>(?!storage$|upload$|download$|b$)[-.\w]+)/(?P<object>.+)$"),
)


def _object_of(raw_path: str) -> tuple[str, str] | None:
    path = urllib.parse.urlsplit(raw_path).path
    for pattern in _OBJECT_PATHS:
        m = pattern.match(path)
        if m:
            return m["bucket"], urllib.parse.unquote(m["object"])
    return None


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _jwt_valid(token: str, public_key_pem: bytes) -> bool:
    """An RS256 JWT signed by the key of ``public_key_pem``, unexpired, for GCS's scopes."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64url(header_b64))
        payload = json.loads(_b64url(payload_b64))
        key = serialization.load_pem_public_key(public_key_pem)
        key.verify(  # type: ignore[union-attr]
            _b64url(signature_b64),
            f"{header_b64}.{payload_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (ValueError, InvalidSignature, json.JSONDecodeError):
        return False
    scope = str(payload.get("scope", ""))
    return (
        header.get("alg") == "RS256"
        and float(payload.get("exp", 0)) > time.time()
        and ("cloud-platform" in scope or "devstorage" in scope)
    )


def _handler_class(private: dict[str, str], service_accounts: dict[str, bytes]) -> type:
    from gcp_storage_emulator.server import RequestHandler

    class GcsHandler(RequestHandler):
        """The emulator's handler behind GCS's access check, adding GCS's object headers."""

        def _refuse(self, status: int, code: str, message: str) -> None:
            body = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _allowed(self) -> bool:
            target = _object_of(self.path)
            if target is None or (target[0] not in private and target[0] not in service_accounts):
                return True
            auth = self.headers.get("Authorization") or ""
            bearer = auth.removeprefix("Bearer ")
            if target[0] in private and bearer == private[target[0]]:
                return True
            if target[0] in service_accounts and _jwt_valid(bearer, service_accounts[target[0]]):
                return True
            if not auth:
                self._refuse(
                    403,
                    "AccessDenied",
                    "Anonymous caller does not have storage.objects.get access to the "
                    f"Google Cloud Storage object {target[0]}/{target[1]}.",
                )
            else:
                self._refuse(401, "AuthenticationRequired", "Invalid Credentials")
            return False

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            # GCS decodes percent-encoded paths (object_store encodes '-', '_', '.'); the
            # stub's routes match the raw path.
            path, sep, query = self.path.partition("?")
            self.path = urllib.parse.unquote(path) + sep + query
            self._status = 0
            if self._allowed():
                super().do_GET()

        def send_response(self, code: int, message: str | None = None) -> None:
            self._status = code
            super().send_response(code, message)

        def end_headers(self) -> None:
            target = _object_of(self.path) if self.command == "GET" else None
            if target is not None and getattr(self, "_status", 0) in (200, 206):
                try:
                    obj = self.storage.get_file_obj(*target)
                except Exception:  # noqa: BLE001 - not an object: no headers to add
                    obj = None
                if obj:
                    updated = datetime.strptime(obj["updated"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    stamp = email.utils.format_datetime(updated.replace(tzinfo=UTC), usegmt=True)
                    self.send_header("ETag", f'"{obj.get("etag") or obj["generation"]}"')
                    self.send_header("Last-Modified", stamp)
                    self.send_header("x-goog-generation", str(obj["generation"]))
            super().end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return GcsHandler


def serve(private: dict[str, str], service_accounts: dict[str, bytes]) -> None:
    """Serve on a free port of 127.0.0.1 until killed (prints ``PORT <n>`` when ready)."""
    from gcp_storage_emulator.storage import Storage

    storage = Storage(use_memory_fs=True)
    handler = _handler_class(private, service_accounts)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, storage))
    print(f"PORT {httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


@dataclass
class GcsEmulator:
    """A running emulator: ``base_url`` and helpers to make buckets and upload files."""

    base_url: str
    process: subprocess.Popen = field(repr=False)

    def create_bucket(self, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        req = urllib.request.Request(
            f"{self.base_url}/storage/v1/b?project=test",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).read()

    def upload(self, bucket: str, path: Path, name: str | None = None) -> str:
        """Upload ``path`` as ``name`` (default: its file name); returns ``gs://`` URL."""
        name = name or path.name
        query = urllib.parse.urlencode({"uploadType": "media", "name": name})
        req = urllib.request.Request(
            f"{self.base_url}/upload/storage/v1/b/{bucket}/o?{query}",
            data=path.read_bytes(),
            method="POST",
            headers={"Content-Type": "application/octet-stream"},
        )
        urllib.request.urlopen(req, timeout=30).read()
        return f"gs://{bucket}/{name}"


@contextmanager
def start_gcs_emulator(
    private: dict[str, str] | None = None, service_accounts: dict[str, Path] | None = None
) -> Iterator[GcsEmulator]:
    """Run the emulator in a subprocess (free port on 127.0.0.1); kill it afterwards.

    ``private`` maps buckets to the bearer token their reads need, ``service_accounts``
    buckets to the PEM public key whose service-account JWTs may read them.

    Raises
    ------
    RuntimeError
        The emulator did not start (e.g. ``gcp-storage-emulator`` is not installed); the
        message carries its stderr.
    """
    args = [sys.executable, str(Path(__file__).resolve())]
    for bucket, token in (private or {}).items():
        args += ["--private", f"{bucket}={token}"]
    for bucket, pem in (service_accounts or {}).items():
        args += ["--service-account", f"{bucket}={pem}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"the GCS emulator did not start: {err.strip()[-2000:]}")
        base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        _wait_until_serving(base_url)
        yield GcsEmulator(base_url, proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def _wait_until_serving(base_url: str, timeout: float = 10.0) -> None:
    host, port = urllib.parse.urlsplit(base_url).netloc.split(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--private", action="append", default=[], help="BUCKET=TOKEN: reads need this token"
    )
    parser.add_argument(
        "--service-account",
        action="append",
        default=[],
        help="BUCKET=PUBLIC_KEY.pem: reads need a JWT signed by that key's private key",
    )
    args = parser.parse_args()
    private = dict(p.split("=", 1) for p in args.private)
    service_accounts = {
        bucket: Path(pem).read_bytes()
        for bucket, pem in (p.split("=", 1) for p in args.service_account)
    }
    serve(private, service_accounts)


if __name__ == "__main__":
    main()
