"""AWS shared-profile credentials (``AWS_PROFILE``, the ``[default]`` profile) through boto3.

The Rust core reads the rest of the AWS environment itself (endpoint, region, plain HTTP,
``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``). Profiles need boto3
(SSO, ``credential_process``, assumed roles): when boto3 is installed and the environment
holds no keys, :func:`profile_credential_provider` returns a provider that resolves the profile
with boto3 the first time a request to S3 needs it (never at import, never for other stores).
"""

from __future__ import annotations

import configparser
import functools
import importlib.util
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["ProfileCredentialProvider", "profile_credential_provider", "profile_in_use"]

#: Keys of a config-file profile that make boto3 produce credentials.
_CONFIG_CREDENTIAL_KEYS = (
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@functools.cache
def _boto3_installed() -> bool:
    return importlib.util.find_spec("boto3") is not None


@functools.lru_cache(maxsize=16)
def _section_of(path: Path, name: str, stamp: tuple[int, int]) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return {}
    return dict(parser[name]) if parser.has_section(name) else {}


def _section(path: Path, name: str) -> dict[str, str]:
    """Section ``name`` of an INI file (empty when the file or section is missing/unreadable);
    parsed again only when the file changes (reads call this on every call)."""
    try:
        st = path.stat()
    except OSError:
        return {}
    return _section_of(path, name, (st.st_mtime_ns, st.st_size))


def _default_profile_has_credentials() -> bool:
    env = os.environ
    home = env.get("HOME") or str(Path.home())
    credentials = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or f"{home}/.aws/credentials")
    if _section(credentials, "default").get("aws_access_key_id"):
        return True
    config = Path(env.get("AWS_CONFIG_FILE") or f"{home}/.aws/config")
    section = _section(config, "default")
    return any(section.get(k) for k in _CONFIG_CREDENTIAL_KEYS)


def profile_in_use() -> str | None:
    """The AWS profile whose credentials sign S3 requests, or None.

    None when the environment has keys (they sign), asks for unsigned requests
    (``AWS_NO_SIGN_REQUEST``/``AWS_SKIP_SIGNATURE``), or boto3 is not installed; else
    ``AWS_PROFILE`` (or ``AWS_DEFAULT_PROFILE``), else ``"default"`` when the shared
    credentials or config file gives the default profile credentials.
    """
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return None
    if _is_true(env.get("AWS_NO_SIGN_REQUEST")) or _is_true(env.get("AWS_SKIP_SIGNATURE")):
        return None
    if not _boto3_installed():
        return None
    named = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE")
    if named:
        return named
    return "default" if _default_profile_has_credentials() else None


class ProfileCredentialProvider:
    """S3 credentials of one AWS profile, resolved by boto3 when first called.

    Parameters
    ----------
    profile
        The profile name (``"default"`` for the default chain's profile).
    ttl
        How long a resolved credential is used before boto3 is asked again.
    """

    def __init__(self, profile: str, ttl: timedelta = timedelta(minutes=30)) -> None:
        self.profile = profile
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"ProfileCredentialProvider(profile={self.profile!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProfileCredentialProvider) and other.profile == self.profile

    def __hash__(self) -> int:
        return hash(self.profile)

    def __call__(self) -> dict[str, Any]:
        import boto3

        name = None if self.profile == "default" else self.profile
        creds = boto3.Session(profile_name=name).get_credentials()
        if creds is None:
            raise PermissionError(f"boto3 found no AWS credentials for profile {self.profile!r}")
        frozen = creds.get_frozen_credentials()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + self.ttl,
        }


def profile_credential_provider() -> ProfileCredentialProvider | None:
    """A provider for :func:`profile_in_use`'s profile, or None when no profile applies."""
    profile = profile_in_use()
    return None if profile is None else ProfileCredentialProvider(profile)
