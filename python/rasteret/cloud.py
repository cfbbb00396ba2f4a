"""Cloud configuration: per-dataset provider settings and URL rewriting (``rasteret.cloud``).

Backends and credential providers (``ObstoreBackend``, ``create_backend``) build on these; the
Rust I/O core routes and signs requests itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = [
    "CloudConfig",
    "StorageBackend",
    "backend_config_from_cloud_config",
    "rewrite_url",
    "s3_overrides_from_config",
]


@dataclass
class CloudConfig:
    """How to reach a dataset's assets.

    Parameters
    ----------
    provider
        ``"aws"``, ``"azure"`` or ``"gcp"``.
    requester_pays
        Sign S3 requests and send ``x-amz-request-payer: requester``.
    region
        Bucket region.
    url_patterns
        ``{source_prefix: target_prefix}`` rewrites applied to asset URLs (e.g. HTTPS -> s3://).
    """

    provider: str
    requester_pays: bool = False
    region: str = "us-west-2"
    url_patterns: dict[str, str] = field(default_factory=dict)

    _configs: ClassVar[dict[str, CloudConfig]] = {}

    @classmethod
    def register(cls, collection_id: str, config: CloudConfig) -> None:
        """Register ``config`` for ``collection_id`` (case-insensitive, overwrites)."""
        cls._configs[collection_id.lower()] = config

    @classmethod
    def get_config(cls, data_source: str) -> CloudConfig | None:
        """The config registered for ``data_source`` (case-insensitive), or None."""
        return cls._configs.get(data_source.lower())


CloudConfig.register("sentinel-2-l2a", CloudConfig("aws", requester_pays=False, region="us-west-2"))
CloudConfig.register("landsat-c2-l2", CloudConfig("aws", requester_pays=True, region="us-west-2"))


@runtime_checkable
class StorageBackend(Protocol):
    """What a custom ``backend=`` object provides: async byte-range reads.

    Returned buffers support the buffer protocol and ``len()``; a buffer shorter than asked is
    treated as a truncated read.
    """

    async def get_range(self, url: str, start: int, length: int) -> Any:
        """Bytes ``start .. start + length`` of ``url``."""
        ...

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[Any]:
        """One buffer per ``(start, length)`` pair of ``url``."""
        ...


def rewrite_url(url: str, config: CloudConfig | None) -> str:
    """Apply the first ``url_patterns`` prefix of ``config`` that matches ``url``."""
    if config is None or not config.url_patterns:
        return url
    for source, target in config.url_patterns.items():
        if url.startswith(source):
            return url.replace(source, target)
    return url


def s3_overrides_from_config(config: CloudConfig | None) -> dict[str, dict[str, str]]:
    """Per-bucket S3 settings for every ``s3://`` target of ``config.url_patterns``.

    Examples
    --------
    >>> cfg = CloudConfig("aws", requester_pays=True,
    ...                   url_patterns={"https://landsatlook.usgs.gov/data/": "s3://usgs-landsat/"})
    >>> s3_overrides_from_config(cfg)
    {'usgs-landsat': {'region': 'us-west-2', 'request_payer': 'true'}}
    """
    if config is None:
        return {}
    overrides: dict[str, dict[str, str]] = {}
    for target in config.url_patterns.values():
        if not target.startswith("s3://"):
            continue
        parts = target.split("/")
        bucket = parts[2] if len(parts) > 2 else ""
        if not bucket:
            continue
        if config.requester_pays:
            overrides[bucket] = {"region": config.region, "request_payer": "true"}
        else:
            overrides[bucket] = {"region": config.region, "skip_signature": "true"}
    return overrides


def backend_config_from_cloud_config(config: CloudConfig | None) -> dict[str, Any]:
    """Backend settings implied by ``config``; an empty dict means no backend is needed."""
    if config is None:
        return {}
    out: dict[str, Any] = {}
    overrides = s3_overrides_from_config(config)
    if overrides:
        out["s3_overrides"] = overrides
    if config.url_patterns:
        out["url_patterns"] = dict(config.url_patterns)
    if config.requester_pays:
        out["default_s3_config"] = {"request_payer": "true", "region": config.region}
    return out
