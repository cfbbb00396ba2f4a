"""Google Cloud Storage against a real emulator (``gcp-storage-emulator``) on 127.0.0.1.

The emulator runs in its own process (``support.gcs_emulator``) with a public bucket and a
private one whose reads need one OAuth bearer token. ``gs://`` builds and reads are configured
as users configure the Google SDKs (``STORAGE_EMULATOR_HOST``) or explicitly
(``store_options``); pixels are checked against rasterio. A missing emulator package fails
the tests (it is in the ``dev`` extra).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rasteret
from rasteret import _core, errors
from support.aoi_oracle import BAND, assert_reads_match, eligible, record_table
from support.gcs_emulator import GcsEmulator, start_gcs_emulator

PUBLIC, PRIVATE, SA_BUCKET = "gcs-public", "gcs-private", "gcs-service-account"
TOKEN = "ya29.emulator-" + "k" * 12
SA_EMAIL = "reader@rasteret-test.iam.gserviceaccount.com"


def _rsa_pem() -> tuple[str, bytes]:
    """A fresh RSA key: (private key PEM text, public key PEM bytes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _service_account_file(path: Path, private_pem: str) -> Path:
    """A service-account key file as the Google Cloud console writes it."""
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "rasteret-test",
                "private_key_id": "0123456789abcdef",
                "private_key": private_pem,
                "client_email": SA_EMAIL,
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def service_account_key(tmp_path_factory) -> tuple[str, Path]:
    """(private key PEM, public key file) of the service account that may read SA_BUCKET."""
    private, public = _rsa_pem()
    pem = tmp_path_factory.mktemp("gcs-sa") / "public.pem"
    pem.write_bytes(public)
    return private, pem


@pytest.fixture(scope="module")
def emulator(cog_corpus, service_account_key) -> Iterator[tuple[GcsEmulator, list[Any]]]:
    entries = eligible(cog_corpus, 2)
    try:
        ctx = start_gcs_emulator(
            private={PRIVATE: TOKEN}, service_accounts={SA_BUCKET: service_account_key[1]}
        )
        emu = ctx.__enter__()
    except RuntimeError as exc:
        pytest.fail(f"cannot start the GCS emulator fixture: {exc}", pytrace=False)
    try:
        for bucket in (PUBLIC, PRIVATE, SA_BUCKET):
            emu.create_bucket(bucket)
            for e in entries:
                emu.upload(bucket, e.path)
        yield emu, entries
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture
def gcs_env(monkeypatch, emulator) -> pytest.MonkeyPatch:
    """Only ``STORAGE_EMULATOR_HOST`` (host:port, as the Google SDKs take it) of the Google
    variables; no gcloud credentials file."""
    emu, _ = emulator
    for key in list(os.environ):
        if key.startswith(("GOOGLE_", "GS_", "STORAGE_EMULATOR")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", "/nonexistent-home")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emu.base_url.removeprefix("http://"))
    return monkeypatch


class TokenProvider:
    """A GCS credential provider (``token`` + ``expires_at``) counting its calls."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"token": self.token, "expires_at": datetime.now(UTC) + timedelta(hours=1)}


def _build(entries, urls, backend=None):
    return rasteret.build_from_table(
        record_table(entries, urls),
        href_column="url",
        band_index_map={BAND: 0},
        enrich_cog=True,
        backend=backend,
    )


def _urls(bucket: str, entries) -> list[str]:
    return [f"gs://{bucket}/{e.path.name}" for e in entries]


def test_public_bucket_through_storage_emulator_host(emulator, gcs_env):
    """STORAGE_EMULATOR_HOST alone: gs:// builds and reads go to the emulator, anonymously."""
    _, entries = emulator
    coll = _build(entries, _urls(PUBLIC, entries))
    assert_reads_match(coll, entries)
    assert_reads_match(coll, entries, backend=rasteret.create_backend())


def test_private_bucket_with_token_provider(emulator, gcs_env):
    """A provider returning a bearer token signs the private bucket's build and reads; the
    Rust core calls it once for all of them."""
    _, entries = emulator
    provider = TokenProvider(TOKEN)
    backend = rasteret.create_backend(credential_provider=provider)
    coll = _build(entries, _urls(PRIVATE, entries), backend)
    assert_reads_match(coll, entries, backend=backend)
    assert provider.calls == 1 and backend.credential_fetches == 1
    assert TOKEN not in repr(backend)


def test_private_bucket_anonymous_is_403_naming_the_url(emulator, gcs_env):
    _, entries = emulator
    url = f"gs://{PRIVATE}/{entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(rasteret.create_backend().get_range(url, 0, 16))
    msg = str(info.value)
    assert url in msg and "403" in msg and "anonymous" in msg and "credential_provider" in msg
    with pytest.raises(ValueError, match="header enrichment failed") as build_info:
        _build(entries[:1], [url])  # a build lists every file it could not read
    assert url in str(build_info.value) and "403" in str(build_info.value)


def test_wrong_token_is_refused_naming_the_url(emulator, gcs_env):
    _, entries = emulator
    backend = rasteret.create_backend(credential_provider=TokenProvider("ya29.wrong"))
    url = f"gs://{PRIVATE}/{entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(backend.get_range(url, 0, 16))
    msg = str(info.value)
    assert url in msg and "401" in msg and "credential provider" in msg
    assert "ya29.wrong" not in msg


def test_missing_object_is_404_naming_the_url(emulator, gcs_env):
    url = f"gs://{PUBLIC}/no-such-scene.tif"
    with pytest.raises(errors.RemoteNotFoundError) as info:
        asyncio.run(rasteret.create_backend().get_range(url, 0, 16))
    assert url in str(info.value) and "404" in str(info.value)


def test_explicit_base_url_wins_over_environment(emulator, gcs_env):
    """store_options google_base_url beats STORAGE_EMULATOR_HOST (here: a dead port), and
    GOOGLE_BEARER_TOKEN signs without a provider."""
    emu, entries = emulator
    gcs_env.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:9")
    gcs_env.setenv("GOOGLE_BEARER_TOKEN", TOKEN)
    raw = entries[0].path.read_bytes()
    got = _core.fetch_ranges(
        f"gs://{PRIVATE}/{entries[0].path.name}",
        [(0, 16), (1000, 24)],
        options={"store_options": {"google_base_url": emu.base_url}},
    )
    assert [bytes(g) for g in got] == [raw[:16], raw[1000:1024]]


def test_google_application_credentials_sign_with_the_service_account(
    emulator, gcs_env, service_account_key, tmp_path
):
    """GOOGLE_APPLICATION_CREDENTIALS names a service-account key: its self-signed JWT (the
    emulator verifies the RS256 signature with the account's public key) signs the build and
    the reads, with no backend=; another key's JWT is refused with 401."""
    _, entries = emulator
    key_file = _service_account_file(tmp_path / "sa.json", service_account_key[0])
    gcs_env.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    coll = _build(entries, _urls(SA_BUCKET, entries))
    assert_reads_match(coll, entries)
    other = _service_account_file(tmp_path / "other.json", _rsa_pem()[0])
    gcs_env.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(other))
    url = f"gs://{SA_BUCKET}/{entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(rasteret.create_backend().get_range(url, 0, 16))
    msg = str(info.value)
    assert url in msg and "401" in msg and "environment" in msg
