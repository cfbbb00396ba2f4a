"""S3 configured the way boto3, GDAL and obstore users configure it: through the environment.

moto's S3 server on 127.0.0.1 holds a public bucket (bucket policy: anonymous GetObject), a
private bucket (anonymous requests get 403) and a requester-pays bucket. Every test starts from
an environment without any ``AWS_*`` variable and sets only what it names (``monkeypatch``);
builds and reads get no ``backend=`` unless the test is about explicit settings. Pixels are
checked against rasterio; moto's request recorder shows what the requests carried.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rasteret
from rasteret import errors
from support.aoi_oracle import BAND, assert_reads_match, eligible, record_table
from support.s3 import start_s3_server

KEY_ID = "AKIAENVTESTKEY000077"
SECRET = "env-Secret-Qx81LmZ"
TOKEN = "env-session-token-5521"
REGION = "us-east-1"
PUBLIC, PRIVATE, PAYER = "env-public", "env-private", "env-requester-pays"


@dataclass
class Buckets:
    endpoint: str
    entries: list[Any]

    def start_recording(self) -> None:
        for op in ("stop-recording", "reset-recording", "start-recording"):
            urllib.request.urlopen(f"{self.endpoint}/moto-api/recorder/{op}", timeout=10).read()

    def requests(self, bucket: str) -> list[dict[str, Any]]:
        """Recorded GETs of objects in ``bucket`` since :meth:`start_recording`."""
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

    def urls(self, bucket: str) -> list[str]:
        return [f"s3://{bucket}/{e.path.name}" for e in self.entries]


@pytest.fixture(scope="module")
def buckets(cog_corpus, tmp_path_factory) -> Iterator[Buckets]:
    entries = eligible(cog_corpus, 2)
    recording = tmp_path_factory.mktemp("moto-env") / "recording.jsonl"
    with pytest.MonkeyPatch.context() as mp:
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
            yield Buckets(s3.endpoint, entries)


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> pytest.MonkeyPatch:
    """No AWS variable at all, no shared credentials/config file, no instance metadata."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _build(entries, urls, backend=None):
    return rasteret.build_from_table(
        record_table(entries, urls),
        href_column="url",
        band_index_map={BAND: 0},
        enrich_cog=True,
        backend=backend,
    )


def test_endpoint_from_env_reads_public_bucket_anonymously(buckets, clean_env):
    """AWS_ENDPOINT_URL alone: s3:// COGs come from that endpoint (http:// allowed because the
    endpoint says so), unsigned, for the build and the reads."""
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    buckets.start_recording()
    coll = _build(buckets.entries, buckets.urls(PUBLIC))
    assert_reads_match(coll, buckets.entries)
    sent = buckets.requests(PUBLIC)
    assert len(sent) >= 2 * len(buckets.entries)  # headers + pixels of each file
    assert all("authorization" not in r["headers"] for r in sent)
    shown = rasteret.create_backend().s3_config(PUBLIC)
    assert shown["aws_endpoint"] == buckets.endpoint
    assert shown["aws_skip_signature"] == "true" and shown["aws_region"] == REGION


def test_env_credentials_sign_private_bucket(buckets, clean_env):
    """AWS_ENDPOINT_URL_S3 + AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN +
    AWS_DEFAULT_REGION: a private bucket's build and reads are signed with those keys."""
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the S3-specific one wins
    clean_env.setenv("AWS_ENDPOINT_URL_S3", buckets.endpoint)
    clean_env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    clean_env.setenv("AWS_SESSION_TOKEN", TOKEN)
    clean_env.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    buckets.start_recording()
    coll = _build(buckets.entries, buckets.urls(PRIVATE))
    assert_reads_match(coll, buckets.entries)
    sent = buckets.requests(PRIVATE)
    assert len(sent) >= 2 * len(buckets.entries)
    for r in sent:
        auth = r["headers"].get("authorization", "")
        assert f"Credential={KEY_ID}/" in auth and "/eu-central-1/s3/" in auth
        assert r["headers"].get("x-amz-security-token") == TOKEN
    shown = rasteret.create_backend().s3_config(PRIVATE)
    assert "aws_skip_signature" not in shown and shown["aws_region"] == "eu-central-1"
    assert SECRET not in repr(shown) and KEY_ID not in repr(shown)


def test_private_bucket_without_credentials_says_what_to_set(buckets, clean_env):
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    url = f"s3://{PRIVATE}/{buckets.entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError) as info:
        asyncio.run(rasteret.create_backend().get_range(url, 0, 16))
    msg = str(info.value)
    assert url in msg and "anonymous" in msg and "AWS_ACCESS_KEY_ID" in msg
    with pytest.raises(ValueError, match="header enrichment failed") as build_info:
        _build(buckets.entries[:1], [url])  # a build lists every file it could not read
    assert url in str(build_info.value) and "AWS_ACCESS_KEY_ID" in str(build_info.value)


def test_no_sign_request_env_keeps_requests_anonymous(buckets, clean_env):
    """GDAL's AWS_NO_SIGN_REQUEST=YES wins over keys in the environment."""
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    clean_env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    clean_env.setenv("AWS_NO_SIGN_REQUEST", "YES")
    backend = rasteret.create_backend()
    url = f"s3://{PRIVATE}/{buckets.entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError, match="AWS_NO_SIGN_REQUEST"):
        asyncio.run(backend.get_range(url, 0, 16))
    public = f"s3://{PUBLIC}/{buckets.entries[0].path.name}"
    assert (
        asyncio.run(backend.get_range(public, 0, 16)) == buckets.entries[0].path.read_bytes()[:16]
    )


def test_requester_pays_from_env(buckets, clean_env):
    """GDAL's AWS_REQUEST_PAYER=requester with keys in the environment: requests to a
    requester-pays bucket are signed and carry the payer header."""
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    clean_env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    clean_env.setenv("AWS_REQUEST_PAYER", "requester")
    buckets.start_recording()
    coll = _build(buckets.entries, buckets.urls(PAYER))
    assert_reads_match(coll, buckets.entries)
    sent = buckets.requests(PAYER)
    assert len(sent) >= 2 * len(buckets.entries)
    for r in sent:
        assert r["headers"].get("x-amz-request-payer") == "requester"
        assert f"Credential={KEY_ID}/" in r["headers"].get("authorization", "")


def test_explicit_settings_win_over_env(buckets, clean_env):
    """create_backend settings beat the environment: endpoint, and skip_signature over keys."""
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    clean_env.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    clean_env.setenv("AWS_REGION", "ap-south-1")
    backend = rasteret.create_backend(default_s3_config={"endpoint": buckets.endpoint})
    shown = backend.s3_config(PRIVATE)
    assert shown["aws_endpoint"] == buckets.endpoint and shown["aws_region"] == "ap-south-1"
    coll = _build(buckets.entries, buckets.urls(PRIVATE), backend)
    assert_reads_match(coll, buckets.entries, backend=backend)
    anonymous = rasteret.create_backend(
        default_s3_config={"endpoint": buckets.endpoint, "skip_signature": "true"}
    )
    url = f"s3://{PRIVATE}/{buckets.entries[0].path.name}"
    with pytest.raises(errors.RemotePermissionError, match="anonymous"):
        asyncio.run(anonymous.get_range(url, 0, 16))


def test_allow_http_false_refuses_plain_http_endpoint(buckets, clean_env):
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    clean_env.setenv("AWS_ALLOW_HTTP", "false")
    url = f"s3://{PUBLIC}/{buckets.entries[0].path.name}"
    with pytest.raises(errors.RemoteIOError) as info:
        asyncio.run(rasteret.create_backend().get_range(url, 0, 16))
    assert PUBLIC in str(info.value) and "http" in str(info.value).lower()


def test_aws_profile_signs_through_boto3(buckets, clean_env, tmp_path: Path):
    """AWS_PROFILE names a profile of the shared credentials file: boto3 (installed) resolves
    it and its keys sign the private bucket's build and reads."""
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[rst-test]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
    )
    clean_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    clean_env.setenv("AWS_PROFILE", "rst-test")
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    buckets.start_recording()
    coll = _build(buckets.entries, buckets.urls(PRIVATE))
    assert_reads_match(coll, buckets.entries)
    sent = buckets.requests(PRIVATE)
    assert sent and all(f"Credential={KEY_ID}/" in r["headers"]["authorization"] for r in sent)


def test_default_profile_without_aws_profile(buckets, clean_env, tmp_path: Path):
    """No AWS_PROFILE: the [default] profile of the shared credentials file signs (boto3's
    default chain), as boto3 and the AWS CLI do."""
    creds = tmp_path / "credentials"
    creds.write_text(f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n")
    clean_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    clean_env.setenv("AWS_ENDPOINT_URL", buckets.endpoint)
    backend = rasteret.create_backend()
    url = f"s3://{PRIVATE}/{buckets.entries[0].path.name}"
    assert asyncio.run(backend.get_range(url, 0, 16)) == buckets.entries[0].path.read_bytes()[:16]
    assert backend.credential_fetches == 1
