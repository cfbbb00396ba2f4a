"""Cloud access and authentication against real servers.

- moto's S3 server on 127.0.0.1 with a public bucket (bucket policy: anonymous GetObject), a
  private bucket (anonymous 403) and a requester-pays bucket; moto's request recorder shows
  what our requests carried (signature, ``x-amz-request-payer``).
- A SAS-style HTTP server (``support.sas_server``) that serves files only to URLs carrying a
  valid, unexpired token from its own token endpoint.
- A user-written Python ``StorageBackend`` and ``ObstoreBackend`` over real obstore stores.

Every build + ``get_numpy`` is checked pixel-for-pixel against rasterio, and no secret of a test
credential may appear in logs, exception text/chains or ``repr()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest
import rasteret
import rasterio
from rasteret import errors
from rasteret.cloud import CloudConfig, ObstoreBackend, StorageBackend
from support.aoi_oracle import BAND, assert_reads_match, eligible, record_table
from support.s3 import ENV_UNSET, start_s3_server
from support.sas_server import SasServer, TokenProvider, start_sas_server

KEY_ID = "AKIARSTTESTKEY000042"
SECRET = "rst-Secret-7Hq2Zk9WvXp"  # must never show up anywhere
REGION = "us-east-1"
PUBLIC, PRIVATE, PAYER = "rst-public", "rst-private", "rst-requester-pays"


def _chain_text(exc: BaseException) -> str:
    """Messages and reprs of ``exc`` and everything it was raised from."""
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts += [str(cur), repr(cur)]
        cur = cur.__cause__ or cur.__context__
    return "\n".join(parts)


def _assert_no_secret(text: str, *secrets: str) -> None:
    for s in (SECRET, *secrets):
        assert s not in text


def _without_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS keys or profile in the environment: S3 requests without explicit credentials
    are anonymous (with keys there, they would be signed)."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)


# ---------------------------------------------------------------------------------- moto


@dataclass
class Moto:
    endpoint: str
    entries: list[Any]
    client: Any
    recording: Path

    @property
    def config(self) -> dict[str, str]:
        """S3 settings reaching this server (anonymous unless something signs)."""
        return {"endpoint": self.endpoint, "allow_http": "true", "region": REGION}

    def start_recording(self) -> None:
        for op in ("stop-recording", "reset-recording", "start-recording"):
            urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/{op}", timeout=10).read()

    def requests(self, bucket: str) -> list[dict[str, Any]]:
        """Recorded GET requests to ``bucket`` (headers lower-cased)."""
        url = f"{self.endpoint}/moto-api/recorder/download-recording"
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/stop-recording", timeout=10)
        out = []
        for line in text.splitlines():
            entry = json.loads(line)
            if entry["method"] == "GET" and f"/{bucket}/" in entry["url"]:
                entry["headers"] = {k.lower(): v for k, v in entry["headers"].items()}
                out.append(entry)
        return out


@pytest.fixture(scope="module")
def moto(cog_corpus, tmp_path_factory) -> Iterator[Moto]:
    entries = eligible(cog_corpus, 2)
    recording = tmp_path_factory.mktemp("moto") / "recording.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        for key in (*ENV_UNSET, "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
            mp.delenv(key, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
        mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        from moto.moto_api import recorder

        mp.setattr(recorder, "_location", str(recording))  # where the real recorder writes
        files = [e.path for e in entries]
        with start_s3_server(files, PUBLIC, access_key=KEY_ID, secret_key=SECRET) as s3:
            client = s3.client
            for bucket in (PRIVATE, PAYER):
                client.create_bucket(Bucket=bucket)
                for path in files:
                    client.upload_file(str(path), bucket, path.name)
            policy = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{PUBLIC}/*",
                    }
                ],
            }
            client.put_bucket_policy(Bucket=PUBLIC, Policy=json.dumps(policy))
            client.put_bucket_request_payment(
                Bucket=PAYER, RequestPaymentConfiguration={"Payer": "Requester"}
            )
            yield Moto(s3.endpoint, entries, client, recording)


class _Provider:
    """An obstore-compatible S3 credential provider (counts its calls)."""

    def __init__(self, ttl: timedelta = timedelta(hours=1)) -> None:
        self.calls = 0
        self.ttl = ttl

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {
            "access_key_id": KEY_ID,
            "secret_access_key": SECRET,
            "token": None,
            "expires_at": datetime.now(UTC) + self.ttl,
        }


def _build(entries, urls, backend, tmp_path=None):
    return rasteret.build_from_table(
        record_table(entries, urls),
        href_column="url",
        band_index_map={BAND: 0},
        enrich_cog=True,
        backend=backend,
    )


def test_public_bucket_reads_anonymously(moto, monkeypatch):
    _without_aws_credentials(monkeypatch)
    backend = rasteret.create_backend(default_s3_config=moto.config)
    assert isinstance(backend, StorageBackend)
    moto.start_recording()
    coll = _build(moto.entries, [f"s3://{PUBLIC}/{e.path.name}" for e in moto.entries], backend)
    assert_reads_match(coll, moto.entries, backend=backend)
    sent = moto.requests(PUBLIC)
    assert sent and all("authorization" not in r["headers"] for r in sent)


def test_incompatible_provider_falls_back_to_anonymous(moto, monkeypatch):
    """A provider that cannot sign a store type (obstore's Planetary Computer
    SAS provider on S3) leaves that store to the environment (here: no credentials, so
    anonymous) instead of failing; it is never called."""
    _without_aws_credentials(monkeypatch)
    from obstore.auth.planetary_computer import PlanetaryComputerCredentialProvider

    provider = PlanetaryComputerCredentialProvider(
        "https://acct.blob.core.windows.net/container/", sas_url="http://127.0.0.1:9/token"
    )
    backend = rasteret.create_backend(credential_provider=provider, default_s3_config=moto.config)
    moto.start_recording()
    coll = _build(moto.entries, [f"s3://{PUBLIC}/{e.path.name}" for e in moto.entries], backend)
    assert_reads_match(coll, moto.entries, backend=backend)
    sent = moto.requests(PUBLIC)
    assert sent and all("authorization" not in r["headers"] for r in sent)
    assert backend.credential_fetches == 0
    # an S3 provider (boto3-style class name) still signs S3 requests
    scoped = type("Boto3CredentialProvider", (_Provider,), {})()
    signed = rasteret.create_backend(credential_provider=scoped, default_s3_config=moto.config)
    url = f"s3://{PRIVATE}/{moto.entries[0].path.name}"
    assert len(asyncio.run(signed.get_range(url, 0, 16))) == 16
    assert scoped.calls == 1


def test_private_bucket_refuses_anonymous_reads_with_advice(moto, caplog, monkeypatch):
    _without_aws_credentials(monkeypatch)
    caplog.set_level(logging.DEBUG)
    backend = rasteret.create_backend(default_s3_config=moto.config)
    url = f"s3://{PRIVATE}/{moto.entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(backend.get_range(url, 0, 16))
    msg = str(info.value)
    assert PRIVATE in msg and "anonymous" in msg and "create_backend" in msg
    _assert_no_secret(_chain_text(info.value) + caplog.text)


def test_private_bucket_with_credential_provider(moto, caplog):
    caplog.set_level(logging.DEBUG)
    provider = _Provider()
    backend = rasteret.create_backend(credential_provider=provider, default_s3_config=moto.config)
    e0, e1 = moto.entries
    # s3:// and a path-style https URL (routed to the same S3 client, endpoint overridden)
    urls = [
        f"s3://{PRIVATE}/{e0.path.name}",
        f"https://s3.{REGION}.amazonaws.com/{PRIVATE}/{e1.path.name}",
    ]
    moto.start_recording()
    coll = _build(moto.entries, urls, backend)
    assert_reads_match(coll, moto.entries, backend=backend)
    sent = moto.requests(PRIVATE)
    assert len(sent) >= 4
    assert all(KEY_ID in r["headers"].get("authorization", "") for r in sent)
    # the provider ran once for the whole build + reads: no per-request Python
    assert provider.calls == 1 and backend.credential_fetches == 1
    _assert_no_secret(repr(backend) + caplog.text)


def test_private_bucket_with_keys_in_create_backend_config(moto):
    config = {**moto.config, "access_key_id": KEY_ID, "secret_access_key": SECRET}
    backend = rasteret.create_backend(default_s3_config=config)
    _assert_no_secret(repr(backend) + repr(backend.s3_config(PRIVATE)))
    coll = _build(moto.entries, [f"s3://{PRIVATE}/{e.path.name}" for e in moto.entries], backend)
    assert_reads_match(coll, moto.entries, backend=backend)


def test_requester_pays_bucket_signs_and_sends_request_payer(moto):
    """url_patterns rewrite Landsat-style HTTPS hrefs to the requester-pays bucket; requests are
    signed with boto3's credentials (from the environment) and carry the payer header."""
    prefix = "https://landsatlook.usgs.gov/data/"
    config = CloudConfig(
        "aws", requester_pays=True, region=REGION, url_patterns={prefix: f"s3://{PAYER}/"}
    )
    backend = rasteret.create_backend(cloud_config=config, default_s3_config=moto.config)
    assert backend.s3_config(PAYER)["aws_request_payer"] == "true"
    assert "aws_skip_signature" not in backend.s3_config(PAYER)
    moto.start_recording()
    coll = _build(moto.entries, [prefix + e.path.name for e in moto.entries], backend)
    # hrefs stay as given in the index; the backend rewrites them at read time too
    assert coll.to_table().column("assets").to_pylist()[0][BAND]["href"].startswith(prefix)
    assert_reads_match(coll, moto.entries, backend=backend)
    sent = moto.requests(PAYER)
    assert len(sent) >= 4
    for r in sent:
        assert r["headers"].get("x-amz-request-payer") == "requester"
        assert KEY_ID in r["headers"].get("authorization", "")
    assert backend.credential_fetches == 1  # the automatic boto3 provider, called once


def test_requester_pays_without_credentials_is_actionable(moto, monkeypatch, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    backend = rasteret.create_backend(default_s3_config={**moto.config, "request_payer": "true"})
    assert "no AWS credentials found" in caplog.text  # warned when the backend was made
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(backend.get_range(f"s3://{PAYER}/{moto.entries[0].path.name}", 0, 16))
    msg = str(info.value)
    assert "requester-pays" in msg and "AWS_ACCESS_KEY_ID" in msg and PAYER in msg


class _RegionalS3(BaseHTTPRequestHandler):
    """A bucket in ``eu-west-1``, answering like S3: requests signed for another region (or
    unsigned) get 301 without Location; HEAD names the region in ``x-amz-bucket-region``;
    requests signed for eu-west-1 get the bytes of ``server.path``."""

    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _redirect(self, body: bytes) -> None:
        self.send_response(301)
        self.send_header("x-amz-bucket-region", "eu-west-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.server.heads += 1
        self._redirect(b"")

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if "/eu-west-1/s3/aws4_request" not in self.headers.get("Authorization", ""):
            self._redirect(b"<Error><Code>PermanentRedirect</Code></Error>")
            return
        data = self.server.path.read_bytes()
        a, _, b = self.headers["Range"].removeprefix("bytes=").partition("-")
        start, end = int(a), min(int(b), len(data) - 1)
        body = data[start : end + 1]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"abc"')
        self.send_header("Last-Modified", "Mon, 30 Nov 2026 00:00:00 GMT")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def regional_s3(cog_corpus) -> Iterator[Any]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _RegionalS3)
    httpd.heads = 0  # type: ignore[attr-defined]
    httpd.path = eligible(cog_corpus, 1)[0].path  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_wrong_region_is_discovered_and_fixed(regional_s3):
    """A signed request for us-east-1 is redirected; the region is discovered (HEAD), the
    store rebuilt for eu-west-1 and the read succeeds."""
    endpoint = f"http://127.0.0.1:{regional_s3.server_address[1]}"
    backend = rasteret.create_backend(
        credential_provider=_Provider(),
        default_s3_config={"endpoint": endpoint, "allow_http": "true", "region": "us-east-1"},
    )
    got = asyncio.run(backend.get_ranges("s3://regional-bucket/a.tif", [(0, 16), (100, 8)]))
    raw = regional_s3.path.read_bytes()
    assert got == [raw[:16], raw[100:108]]
    assert regional_s3.heads == 1
    asyncio.run(backend.get_range("s3://regional-bucket/a.tif", 0, 4))
    assert regional_s3.heads == 1  # the region is cached


def test_wrong_region_error_is_actionable(regional_s3, monkeypatch):
    """Unsigned requests cannot be fixed by a region: the error says what to do."""
    _without_aws_credentials(monkeypatch)
    endpoint = f"http://127.0.0.1:{regional_s3.server_address[1]}"
    backend = rasteret.create_backend(
        default_s3_config={"endpoint": endpoint, "allow_http": "true", "region": "us-east-1"}
    )
    with pytest.raises(errors.RemoteIOError) as info:
        asyncio.run(backend.get_range("s3://elsewhere/a.tif", 0, 16))
    msg = str(info.value)
    assert "region" in msg and "create_backend(region=" in msg and "elsewhere" in msg


def test_obstore_backend_over_s3store(moto):
    from obstore.store import S3Store

    store = S3Store(
        PUBLIC,
        endpoint=moto.endpoint,
        region=REGION,
        skip_signature=True,
        client_options={"allow_http": True},
    )
    backend = ObstoreBackend(store, url_prefix=f"s3://{PUBLIC}/", client_options={"token": SECRET})
    _assert_no_secret(repr(backend))
    coll = _build(moto.entries, [f"s3://{PUBLIC}/{e.path.name}" for e in moto.entries], backend)
    assert_reads_match(coll, moto.entries, backend=backend)


# ---------------------------------------------------------------------------------- SAS


@pytest.fixture
def sas(cog_corpus) -> Iterator[SasServer]:
    with start_sas_server(cog_corpus.root, lifetime=2.0) as server:
        yield server


def test_sas_token_refreshed_before_expiry(cog_corpus, sas, caplog):
    caplog.set_level(logging.DEBUG)
    entries = eligible(cog_corpus, 2)
    provider = TokenProvider(sas.token_url)
    backend = rasteret.create_backend(credential_provider=provider)
    coll = _build(entries, [sas.url(e.path.name) for e in entries], backend)
    assert provider.calls == 1
    time.sleep(2.2)  # the first token has expired by now
    assert_reads_match(coll, entries, backend=backend)
    # refreshed before use, from the cached expiry (a third call only if the machine is so
    # slow that the build outlived 75% of the first token's life)
    assert 2 <= provider.calls <= 3
    assert sas.rejected == []  # ... so the server never saw an expired token
    hrefs = coll.to_table().column("assets").to_pylist()
    assert all("sig=" not in a[BAND]["href"] for a in hrefs)  # the index stays unsigned
    _assert_no_secret(caplog.text + repr(backend), *sas.issued)


def test_sas_token_revoked_mid_run_is_refetched(cog_corpus):
    entries = eligible(cog_corpus, 2)
    with start_sas_server(cog_corpus.root, lifetime=3600.0) as server:
        provider = TokenProvider(server.token_url)
        backend = rasteret.create_backend(credential_provider=provider)
        coll = _build(entries, [server.url(e.path.name) for e in entries], backend)
        server.revoke()  # the cached token still claims an hour of validity
        assert_reads_match(coll, entries, backend=backend)
        assert server.rejected and "Signature" in server.rejected[0]
        assert provider.calls == 2  # one before the revocation, one after the 403
        assert server.data_requests >= 4


def test_expired_sas_token_error_is_actionable(cog_corpus, sas, caplog):
    caplog.set_level(logging.DEBUG)
    entry = eligible(cog_corpus, 1)[0]
    stale = sas.issue()["sas_token"]
    sas.revoke()
    stale_sig = stale.split("sig=")[1]

    def provider() -> dict[str, Any]:  # keeps handing out a dead token
        return {"sas_token": stale, "expires_at": datetime.now(UTC) + timedelta(hours=1)}

    backend = rasteret.create_backend(credential_provider=provider)
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(backend.get_range(sas.url(entry.path.name), 0, 16))
    msg = str(info.value)
    assert "403" in msg and "SAS token" in msg and "expired" in msg
    assert entry.path.name in msg
    _assert_no_secret(_chain_text(info.value) + caplog.text, stale_sig)
    with pytest.raises(ValueError) as build_info:
        _build([entry], [sas.url(entry.path.name)], backend)
    _assert_no_secret(_chain_text(build_info.value), stale_sig)


# ---------------------------------------------------------------------- custom backends


class LocalFileBackend:
    """A user-written StorageBackend: ``corpus://<name>`` -> files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls = 0

    def _path(self, url: str) -> Path:
        return self.root / url.removeprefix("corpus://")

    async def get_range(self, url: str, start: int, length: int) -> bytes:
        self.calls += 1
        path = self._path(url)

        def read() -> bytes:
            with path.open("rb") as fh:
                fh.seek(start)
                return fh.read(length)

        return await asyncio.to_thread(read)

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        return [await self.get_range(url, s, n) for s, n in ranges]


def test_user_python_backend_build_read_and_sample(cog_corpus):
    entries = eligible(cog_corpus, 2)
    backend = LocalFileBackend(cog_corpus.root)
    assert isinstance(backend, StorageBackend)
    coll = _build(entries, [f"corpus://{e.path.name}" for e in entries], backend)
    after_build = backend.calls
    assert after_build >= len(entries)
    assert_reads_match(coll, entries, backend=backend)
    assert backend.calls > after_build
    # point sampling through the same backend equals rasterio's sample
    entry = entries[0]
    with rasterio.open(entry.path) as src:
        cx, cy = src.xy(src.height // 3, src.width // 3)
        expected = next(src.sample([(cx, cy)]))[0]
        epsg = src.crs.to_epsg()
    one = coll.where(ds.field("id") == entry.name)
    import shapely

    table = one.sample_points(shapely.Point(cx, cy), [BAND], geometry_crs=epsg, backend=backend)
    assert table.num_rows == 1
    assert table.column("value")[0].as_py() == pytest.approx(float(expected))


def test_user_backend_errors_are_typed(cog_corpus):
    entry = eligible(cog_corpus, 1)[0]
    backend = LocalFileBackend(cog_corpus.root)
    coll = _build([entry], [f"corpus://{entry.path.name}"], backend)

    class Truncating(LocalFileBackend):
        async def get_range(self, url: str, start: int, length: int) -> bytes:
            data = await super().get_range(url, start, length)
            return data[: max(0, len(data) // 2)]

    with pytest.raises(ValueError, match="Truncated range response") as info:
        coll.get_numpy(
            __import__("support.aoi_oracle").aoi_oracle.aoi_in_4326(entry),
            [BAND],
            backend=Truncating(cog_corpus.root),
        )
    assert entry.path.name in str(info.value)
    with pytest.raises(TypeError, match="StorageBackend"):
        coll.get_numpy(
            __import__("support.aoi_oracle").aoi_oracle.aoi_in_4326(entry),
            [BAND],
            backend=object(),
        )


def test_obstore_backend_over_localstore(cog_corpus):
    from obstore.store import LocalStore

    entries = eligible(cog_corpus, 2)
    backend = ObstoreBackend(LocalStore(cog_corpus.root), url_prefix="obs://corpus/")
    coll = _build(entries, [f"obs://corpus/{e.path.name}" for e in entries], backend)
    assert_reads_match(coll, entries, backend=backend)
    got = asyncio.run(backend.get_ranges(f"obs://corpus/{entries[0].path.name}", [(0, 4), (2, 2)]))
    raw = entries[0].path.read_bytes()
    assert [bytes(b) for b in got] == [raw[:4], raw[2:4]]


# ---------------------------------------------------------------------- implicit backends


def test_implicit_backend_from_registered_cloud_config():
    from rasteret._backends import implicit_backend

    backend = implicit_backend(None, None, "landsat-c2-l2")
    assert backend is implicit_backend(None, None, "LANDSAT-C2-L2")  # reused
    cfg = backend.s3_config("usgs-landsat")
    assert cfg["aws_request_payer"] == "true" and cfg["aws_region"] == "us-west-2"
    assert "aws_skip_signature" not in cfg
    assert implicit_backend(None, None, "sentinel-2-l2a") is None  # empty config: no backend
    mine = object()
    assert implicit_backend(mine, None, "landsat-c2-l2") is mine


def test_implicit_backend_rewrites_urls_for_reads(cog_corpus, http_server):
    """get_numpy/sample_points without backend= build the auto backend from
    cloud_config, whose url_patterns send index hrefs (an unreachable host) to the server."""
    entries = eligible(cog_corpus, 2)
    prefix = "https://assets.example.invalid/cogs/"
    cc = CloudConfig("aws", url_patterns={prefix: http_server.base_url.rstrip("/") + "/"})
    backend = rasteret.create_backend(cloud_config=cc)
    coll = _build(entries, [prefix + e.path.name for e in entries], backend)
    assert_reads_match(coll, entries, cloud_config=cc)
    entry = entries[0]
    with rasterio.open(entry.path) as src:
        cx, cy = src.xy(src.height // 2, src.width // 4)
        expected = float(next(src.sample([(cx, cy)]))[0])
        epsg = src.crs.to_epsg()
    import shapely

    one = coll.where(ds.field("id") == entry.name)
    table = one.sample_points(shapely.Point(cx, cy), [BAND], geometry_crs=epsg, cloud_config=cc)
    assert table.column("value").to_pylist() == [pytest.approx(expected)]
    with pytest.raises(ValueError, match="No valid data"):  # without the rewrite: unreachable
        assert_reads_match(coll, entries[:1], backend=rasteret.create_backend())


def test_create_backend_quirks_and_exports(monkeypatch):
    _without_aws_credentials(monkeypatch)
    assert "create_backend" in rasteret.__all__
    from rasteret._backends import create_backend

    assert rasteret.create_backend is create_backend
    b = rasteret.create_backend(region="eu-central-1")
    assert b.s3_config("x")["aws_region"] == "eu-central-1"
    assert b.s3_config("x")["aws_skip_signature"] == "true"
    cc = CloudConfig(
        "aws",
        requester_pays=True,
        region="us-west-2",
        url_patterns={"https://landsatlook.usgs.gov/data/": "s3://usgs-landsat/"},
    )
    b = rasteret.create_backend(cloud_config=cc, default_s3_config={"region": "us-west-2"})
    # [QUIRK] requester_pays only reaches the buckets named in url_patterns
    assert b.s3_config("usgs-landsat")["aws_request_payer"] == "true"
    assert "aws_request_payer" not in b.s3_config("other-bucket")
    with pytest.raises(ValueError, match="regoin"):
        rasteret.create_backend(default_s3_config={"regoin": "x"})
    with pytest.raises(TypeError, match="callable"):
        rasteret.create_backend(credential_provider="not callable")


def test_earthdata_auto_backend():
    from rasteret._build import _earthdata_backend

    b = _earthdata_backend("https://data.lpdaac.earthdatacloud.nasa.gov/s3credentials")
    assert b is not None and b.s3_config("lp-prod-protected")["aws_region"] == "us-west-2"
    assert "aws_skip_signature" not in b.s3_config("lp-prod-protected")  # provider signs
    assert _earthdata_backend("https://example.com/s3credentials") is None


def test_provider_failure_is_reported_without_secret(cog_corpus, http_server):
    entry = eligible(cog_corpus, 1)[0]

    def broken() -> dict[str, Any]:
        raise PermissionError("token service said no")

    backend = rasteret.create_backend(credential_provider=broken)
    with pytest.raises(errors.RemotePermissionError, match="credential provider failed"):
        asyncio.run(backend.get_range(http_server.url(entry.path.name), 0, 16))
    plain = rasteret.create_backend()
    data = asyncio.run(plain.get_ranges(http_server.url(entry.path.name), [(0, 8), (4, 4)]))
    raw = entry.path.read_bytes()
    assert data == [raw[:8], raw[4:8]]
    assert np.frombuffer(data[0][:2], np.uint8).tolist() in ([73, 73], [77, 77])


class _BlobServer:
    """Ranged GETs of files under ``root`` (last path segment) on 127.0.0.1, refused with 403
    unless :meth:`authorized`; :meth:`other` may answer a request first."""

    def __init__(self, root: Path) -> None:
        import http.server
        import threading
        import urllib.parse

        outer = self
        self.root = root
        self.rejected = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path, _, query = self.path.partition("?")
                parts = path.strip("/").split("/")
                if outer.other(self, parts):
                    return
                if not outer.authorized(query, self.headers):
                    outer.rejected += 1
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = (outer.root / urllib.parse.unquote(parts[-1])).read_bytes()
                start, end = (int(v) for v in self.headers["Range"].split("=")[1].split("-"))
                chunk = data[start : end + 1]
                self.send_response(206)
                self.send_header("Content-Length", str(len(chunk)))
                self.send_header(
                    "Content-Range", f"bytes {start}-{start + len(chunk) - 1}/{len(data)}"
                )
                self.send_header("ETag", '"1"')
                self.send_header("Last-Modified", "Mon, 30 Nov 2026 00:00:00 GMT")
                self.end_headers()
                self.wfile.write(chunk)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def other(self, handler: Any, parts: list[str]) -> bool:
        return False

    def authorized(self, query: str, headers: Any) -> bool:
        raise NotImplementedError


class _AzureLikeServer(_BlobServer):
    """Blob GETs (``/<account>/<container>/<blob>``) that require the SAS token a
    Planetary-Computer-style token endpoint (``/token/<account>/<container>``) hands out."""

    def __init__(self, root: Path) -> None:
        self.token_calls = 0
        self.token = "sig-" + "7" * 12
        super().__init__(root)

    def other(self, handler: Any, parts: list[str]) -> bool:
        if parts[0] != "token":
            return False
        self.token_calls += 1
        expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        body = json.dumps(
            {"msft:expiry": expiry, "token": f"sv=2024-01-01&sig={self.token}"}
        ).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        return True

    def authorized(self, query: str, headers: Any) -> bool:
        return f"sig={self.token}" in query.split("&")


class _GcsLikeServer(_BlobServer):
    """GCS object GETs (``/<bucket>/<object>``) that require one OAuth bearer token."""

    token = "ya29." + "g" * 16

    def authorized(self, query: str, headers: Any) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"


class _GcsTokenProvider:
    """An obstore-compatible GCS credential provider (a bearer token; counts its calls)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"token": self.token, "expires_at": datetime.now(UTC) + timedelta(hours=1)}


def _assert_signed_reads(server: _BlobServer, backend: Any, url: str, options: dict, path: Path):
    """Two reads through ``backend`` are served (the provider ran once), a read without it is
    refused; the server's token never shows in the backend's repr."""
    from rasteret import _core

    data = path.read_bytes()
    got = _core.fetch_ranges(url, [(0, 16), (100, 50)], options=options)
    assert [bytes(g) for g in got] == [data[:16], data[100:150]]
    got = _core.fetch_ranges(url, [(300, 8)], options=options)
    assert bytes(got[0]) == data[300:308]
    assert backend.credential_fetches == 1
    assert server.rejected == 0
    assert server.token not in repr(backend)
    anonymous = dict(options, backend=rasteret.create_backend()._native)
    with pytest.raises(errors.RemotePermissionError):
        _core.fetch_ranges(url, [(0, 16)], options=anonymous)
    assert server.rejected >= 1


def test_credential_provider_signs_gcs_reads(cog_corpus):
    """A GCS bearer-token provider called once by the Rust core signs ``gs://`` reads
    (endpoint overridden to a local object server that rejects other requests); the token
    stays out of the backend's repr."""

    entry = eligible(cog_corpus, 1)[0]
    server = _GcsLikeServer(entry.path.parent)
    try:
        provider = _GcsTokenProvider(server.token)
        backend = rasteret.create_backend(credential_provider=provider)
        url = f"gs://scenes/{entry.path.name}"
        options = {
            "backend": backend._native,
            "store_options": {"google_base_url": server.base, "google_allow_http": "true"},
        }
        _assert_signed_reads(server, backend, url, options, entry.path)
        assert provider.calls == 1
    finally:
        server.server.shutdown()


def test_planetary_computer_provider_signs_azure_reads(cog_corpus):
    """obstore's real PlanetaryComputerCredentialProvider (token endpoint on 127.0.0.1) called
    by the Rust core once; its SAS token signs Azure blob reads (endpoint overridden to a local
    blob server that rejects unsigned requests)."""
    from obstore.auth.planetary_computer import PlanetaryComputerCredentialProvider

    entry = eligible(cog_corpus, 1)[0]
    server = _AzureLikeServer(entry.path.parent)
    try:
        provider = PlanetaryComputerCredentialProvider(
            "https://acct.blob.core.windows.net/scenes/", sas_url=f"{server.base}/token"
        )
        backend = rasteret.create_backend(credential_provider=provider)
        url = f"https://acct.blob.core.windows.net/scenes/{entry.path.name}"
        options = {
            "backend": backend._native,
            "store_options": {
                "azure_storage_endpoint": f"{server.base}/acct",
                "azure_allow_http": "true",
            },
        }
        _assert_signed_reads(server, backend, url, options, entry.path)
        assert server.token_calls == 1
    finally:
        server.server.shutdown()
