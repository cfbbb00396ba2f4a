"""Storage backends: the auto-routing backend behind ``create_backend``, implicit backends
from a ``CloudConfig``, and the I/O options that hand any
``backend=`` to the Rust core.

The auto-routing backend is configuration only: the Rust core routes every URL, builds one
client per bucket/account/origin, signs requests and calls the credential provider itself
(only when its cached credential is missing or close to ``expires_at``). Any other object with
an async ``get_range`` is a custom ``StorageBackend``: the Rust core awaits its coroutines
through :mod:`rasteret._bridge` (one Python call per merged byte range).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rasteret._aws_profile import profile_credential_provider, profile_in_use

if TYPE_CHECKING:
    from rasteret.cloud import CloudConfig

logger = logging.getLogger(__name__)

__all__ = ["AutoRoutingBackend", "create_backend", "implicit_backend", "io_options"]


class AutoRoutingBackend:
    """The auto-routing backend (``create_backend``): URL rewriting, per-bucket S3 settings and
    an optional credential provider, all applied by the Rust I/O core.

    ``repr()`` never shows credential values.
    """

    def __init__(
        self,
        *,
        s3_overrides: dict[str, dict[str, str]] | None = None,
        credential_provider: Any = None,
        default_s3_config: dict[str, str] | None = None,
        url_patterns: dict[str, str] | None = None,
    ) -> None:
        from rasteret import _core

        self._settings = {
            "s3_overrides": {b: dict(c) for b, c in (s3_overrides or {}).items()},
            "credential_provider": credential_provider,
            "default_s3_config": dict(default_s3_config or {}),
            "url_patterns": dict(url_patterns or {}),
        }
        self.url_patterns = dict(url_patterns or {})
        self._native = _core.CloudBackend(
            url_patterns=self.url_patterns,
            default_s3_config=dict(default_s3_config or {}),
            s3_overrides={b: dict(c) for b, c in (s3_overrides or {}).items()},
            credential_provider=credential_provider,
            credential_scope=_provider_scope(credential_provider),
        )

    def __repr__(self) -> str:
        return f"AutoRoutingBackend({self._native!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the settings only (DataLoader workers, multiprocessing): the receiving
        process builds its own clients and credential cache (the provider must pickle)."""
        return (_rebuild_auto_backend, (self._settings,))

    @property
    def credential_fetches(self) -> int:
        """How many times the credential provider has been called so far."""
        return int(self._native.credential_fetches())

    def s3_config(self, bucket: str) -> dict[str, str]:
        """The S3 settings used for ``bucket`` (secret values masked)."""
        return dict(self._native.s3_config(bucket))

    async def get_range(self, url: str, start: int, length: int) -> bytes:
        """Bytes ``start .. start + length`` of ``url``."""
        return (await self.get_ranges(url, [(start, length)]))[0]

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        """One buffer per ``(start, length)`` pair (merged and fetched concurrently)."""
        from rasteret import _core

        wanted = [(int(s), int(n)) for s, n in ranges]
        return await asyncio.to_thread(
            _core.fetch_ranges, url, wanted, options={"backend": self._native}
        )


#: obstore credential providers (and ours) by class name -> the one store kind they sign for
_PROVIDER_SCOPES = {
    "PlanetaryComputerCredentialProvider": "azure",
    "AzureCredentialProvider": "azure",
    "NasaEarthdataCredentialProvider": "s3",
    "NasaEarthdataAsyncCredentialProvider": "s3",
    "Boto3CredentialProvider": "s3",
    "StsCredentialProvider": "s3",
    "_Boto3CredentialProvider": "s3",
    "GoogleCredentialProvider": "gcs",
    "GoogleAsyncCredentialProvider": "gcs",
    "ProfileCredentialProvider": "s3",
}


def _provider_scope(provider: Any) -> str | None:
    """The store kind a known provider signs for (None: any, e.g. a user callable).

    A provider incompatible with a store type falls back to the anonymous
    configuration for that store (a Planetary Computer SAS provider does not sign S3).
    """
    if provider is None:
        return None
    for cls in type(provider).__mro__:
        scope = _PROVIDER_SCOPES.get(cls.__name__)
        if scope is not None:
            return scope
    return None


def _rebuild_auto_backend(settings: dict[str, Any]) -> AutoRoutingBackend:
    return AutoRoutingBackend(**settings)


class _Boto3CredentialProvider:
    """AWS credentials from a boto3 session (environment, profiles, SSO, instance roles)."""

    def __init__(self, session: Any, ttl: timedelta = timedelta(minutes=30)) -> None:
        self._session = session
        self._ttl = ttl

    def __repr__(self) -> str:
        return "_Boto3CredentialProvider()"

    def __call__(self) -> dict[str, Any]:
        creds = self._session.get_credentials()
        if creds is None:
            raise PermissionError("boto3 found no AWS credentials")
        frozen = creds.get_frozen_credentials()
        return {
            "access_key_id": frozen.access_key,
            "secret_access_key": frozen.secret_key,
            "token": frozen.token,
            "expires_at": datetime.now(UTC) + self._ttl,
        }


def _try_boto3_credential_provider() -> Any | None:
    """A boto3-backed provider when boto3 is installed and finds credentials, else None."""
    try:
        import boto3
    except ImportError:
        return None
    try:
        session = boto3.Session()
        if session.get_credentials() is None:
            return None
    except Exception as exc:  # noqa: BLE001 - any boto3 config problem means "no provider"
        logger.warning("boto3 credentials unavailable (%s); requests stay unsigned", type(exc))
        return None
    return _Boto3CredentialProvider(session)


def _requester_pays(
    default_s3_config: dict[str, str] | None, s3_overrides: dict[str, dict[str, str]] | None
) -> bool:
    configs = [default_s3_config or {}, *(s3_overrides or {}).values()]
    return any(str(c.get("request_payer", "")).lower() == "true" for c in configs)


def _has_keys(
    default_s3_config: dict[str, str] | None, s3_overrides: dict[str, dict[str, str]] | None
) -> bool:
    configs = [default_s3_config or {}, *(s3_overrides or {}).values()]
    return any(str(k).lower().removeprefix("aws_") == "access_key_id" for c in configs for k in c)


def _create_obstore_backend(
    s3_overrides: dict[str, dict[str, str]] | None = None,
    credential_provider: Any = None,
    default_s3_config: dict[str, str] | None = None,
    url_patterns: dict[str, str] | None = None,
) -> AutoRoutingBackend:
    """The auto-routing backend; requester-pays without a provider uses boto3's, other
    buckets an AWS profile's credentials (``AWS_PROFILE`` or ``[default]``) when the
    environment has no keys and the settings none either."""
    if credential_provider is None and not _has_keys(default_s3_config, s3_overrides):
        credential_provider = profile_credential_provider()
    if credential_provider is None and _requester_pays(default_s3_config, s3_overrides):
        credential_provider = _try_boto3_credential_provider()
        env_keys = os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")
        if credential_provider is None and not env_keys:
            logger.warning(
                "requester-pays S3 configured but no AWS credentials found (boto3 missing or "
                "unconfigured, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset): reads from those "
                "buckets will be refused; pass create_backend(credential_provider=...)"
            )
    return AutoRoutingBackend(
        s3_overrides=s3_overrides,
        credential_provider=credential_provider,
        default_s3_config=default_s3_config,
        url_patterns=url_patterns,
    )


def create_backend(
    credential_provider: Any = None,
    cloud_config: CloudConfig | None = None,
    region: str | None = None,
    default_s3_config: dict[str, str] | None = None,
) -> Any:
    """A storage backend for every ``backend=`` parameter (builds, reads, point sampling).

    Parameters
    ----------
    credential_provider
        An obstore credential provider (``PlanetaryComputerCredentialProvider``,
        ``NasaEarthdataCredentialProvider``, ``Boto3CredentialProvider``) or any callable
        (sync or async) returning a credential dict with ``expires_at``: S3
        ``access_key_id``/``secret_access_key``/``token``, Azure ``sas_token``/``access_key``/
        ``token``, GCS ``token``, or a ``sas_token`` query appended to plain HTTPS URLs. The
        Rust core calls it only when its cached credential is missing or about to expire.
    cloud_config
        Its ``url_patterns`` rewrite URLs; its ``s3://`` targets get per-bucket S3 settings
        (requester-pays or anonymous, region).
    region
        Default S3 region (``default_s3_config={"region": region}`` when that is None).
    default_s3_config
        S3 settings for every bucket (obstore/object_store keys such as ``region``,
        ``skip_signature``, ``request_payer``, ``endpoint``, ``allow_http``). Settings given
        here win; those left out come from the environment as boto3 and GDAL read it
        (``AWS_ENDPOINT_URL(_S3)``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ALLOW_HTTP``,
        ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``, an
        ``AWS_PROFILE`` through boto3); ``s3_config(bucket)`` shows the result.

    Returns
    -------
    StorageBackend
        The auto-routing backend; ``repr()`` never shows secrets.

    Examples
    --------
    >>> from obstore.auth.planetary_computer import PlanetaryComputerCredentialProvider
    >>> backend = rasteret.create_backend(credential_provider=PlanetaryComputerCredentialProvider(
    ...     "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2"))  # doctest: +SKIP
    """
    from rasteret.cloud import s3_overrides_from_config

    if default_s3_config is None and region is not None:
        default_s3_config = {"region": region}
    overrides = s3_overrides_from_config(cloud_config) if cloud_config is not None else None
    patterns = dict(cloud_config.url_patterns) if cloud_config is not None else None
    return _create_obstore_backend(
        s3_overrides=overrides,
        credential_provider=credential_provider,
        default_s3_config=default_s3_config,
        url_patterns=patterns,
    )


_IMPLICIT: dict[str, AutoRoutingBackend] = {}
_IMPLICIT_LOCK = threading.Lock()


def implicit_backend(backend: Any, cloud_config: Any, data_source: str | None) -> Any:
    """``backend``, or the auto backend implied by a CloudConfig, or None.

    The config is ``cloud_config`` or the one registered for ``data_source``; backends are
    reused across calls for equal configurations (one client pool, one credential cache).
    """
    if backend is not None:
        return backend
    from rasteret.cloud import CloudConfig, backend_config_from_cloud_config

    config = cloud_config or CloudConfig.get_config(data_source or "")
    settings = backend_config_from_cloud_config(config)
    if not settings:
        return None
    key = repr((sorted(settings.items()), profile_in_use()))
    with _IMPLICIT_LOCK:
        found = _IMPLICIT.get(key)
        if found is None:
            found = _IMPLICIT[key] = _create_obstore_backend(**settings)
    return found


def _profile_backend() -> AutoRoutingBackend | None:
    """The auto backend signing S3 with the AWS profile in use, when one is (see
    :func:`rasteret._aws_profile.profile_in_use`); one per profile name."""
    profile = profile_in_use()
    if profile is None:
        return None
    key = f"profile:{profile}"
    with _IMPLICIT_LOCK:
        found = _IMPLICIT.get(key)
        if found is None:
            found = _IMPLICIT[key] = _create_obstore_backend()
    return found


def io_options(backend: Any, **options: Any) -> dict[str, Any]:
    """The Rust core's ``options`` dict carrying ``backend`` (None: default routing, or the
    AWS profile's backend when a profile signs S3).

    Raises
    ------
    TypeError
        ``backend`` is neither a ``create_backend`` result nor an object with an async
        ``get_range(url, start, length)``.
    """
    out = dict(options)
    if backend is None:
        backend = _profile_backend()
    if backend is None:
        return out
    from rasteret import _core

    native = getattr(backend, "_native", None)
    if isinstance(native, _core.CloudBackend):
        out["backend"] = native
        return out
    if not callable(getattr(backend, "get_range", None)):
        raise TypeError(
            "backend= must be a StorageBackend: rasteret.create_backend(...), "
            "rasteret.cloud.ObstoreBackend(store) or an object with async "
            f"get_range(url, start, length) and get_ranges(url, ranges); got {type(backend)}"
        )
    out["backend"] = backend
    return out
