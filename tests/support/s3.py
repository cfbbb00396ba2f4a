"""A real S3 API on 127.0.0.1: moto's ``ThreadedMotoServer`` with a bucket of test files."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"
#: Environment the S3 fixture sets while it runs (fake credentials, no real AWS config).
ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: Environment variables the fixture removes so no real credentials or profiles leak in.
ENV_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


@dataclass
class S3Server:
    """A running moto S3 server and one bucket on it."""

    endpoint: str
    bucket: str
    client: Any = field(repr=False)
    keys: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        """``s3://bucket/name``."""
        return f"s3://{self.bucket}/{name.lstrip('/')}"

    @property
    def storage_options(self) -> dict[str, str]:
        """object_store options reaching this server (the engine's ``store_options``)."""
        return {
            "aws_endpoint": self.endpoint,
            "aws_allow_http": "true",
            "aws_region": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }

    @property
    def options(self) -> dict[str, dict[str, str]]:
        """The engine's option dict: ``{"store_options": storage_options}``."""
        return {"store_options": dict(self.storage_options)}

    def upload(self, path: Path, key: str | None = None) -> str:
        """Upload a local file (key defaults to its name); returns the key."""
        key = key if key is not None else path.name
        self.client.upload_file(str(path), self.bucket, key)
        self.keys.append(key)
        return key

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start..=end`` of an object through boto3 (a ranged GetObject)."""
        resp = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")
        return resp["Body"].read()


@contextmanager
def start_s3_server(
    files: Iterable[Path] = (),
    bucket: str = "rasteret-test",
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
) -> Iterator[S3Server]:
    """Start moto on a free port of 127.0.0.1, create ``bucket`` and upload ``files``.

    The caller sets the fake-credential environment (:data:`ENV`); credentials are also
    passed explicitly to boto3 here (moto accepts any).
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )
        client.create_bucket(Bucket=bucket)
        s3 = S3Server(endpoint=endpoint, bucket=bucket, client=client)
        for path in files:
            s3.upload(path)
        yield s3
    finally:
        server.stop()
