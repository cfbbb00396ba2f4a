"""Cloud configuration: per-dataset provider settings, URL rewriting and storage backends
(``rasteret.cloud``).

``rasteret.create_backend`` builds the auto-routing backend from these settings (the Rust I/O
core routes, signs and calls credential providers itself); :class:`ObstoreBackend` wraps a
user-built obstore store; any object implementing :class:`StorageBackend` works as
``backend=``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

__all__ = [
    "CloudConfig",
    "ObstoreBackend",
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
    treated as a truncated read (retried, then an error). Only ``get_range`` is called by the
    reader: the Rust core merges nearby tile ranges first and awaits one ``get_range`` coroutine
    per merged range on rasteret's private event-loop thread (see ``rasteret._bridge``), so each
    range costs a Python call and a buffer copy. ``FileNotFoundError`` / ``PermissionError``
    raised by the backend become ``RemoteNotFoundError`` / ``RemotePermissionError``; other
    ``OSError`` are retried.
    """

    async def get_range(self, url: str, start: int, length: int) -> Any:
        """Bytes ``start .. start + length`` of ``url``."""
        ...

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[Any]:
        """One buffer per ``(start, length)`` pair of ``url``."""
        ...


_SECRET_HINTS = ("secret", "token", "password", "sas", "key", "credential", "signature")


def _redacted(options: dict[str, Any] | None) -> dict[str, Any] | None:
    if options is None:
        return None
    return {
        k: ("***" if any(h in str(k).lower() for h in _SECRET_HINTS) else v)
        for k, v in options.items()
    }


class ObstoreBackend:
    """A :class:`StorageBackend` over a user-built obstore store.

    Parameters
    ----------
    store
        Any obstore store (``S3Store``, ``AzureStore``, ``GCSStore``, ``HTTPStore``,
        ``LocalStore``...), e.g. one built with a credential provider.
    url_prefix
        Stripped from each URL (when it is a prefix) to get the path inside ``store``.
    client_options
        Stored only (for callers that build stores from it); never shown by ``repr()``.

    Notes
    -----
    Reads go through the Python bridge (the Rust core awaits ``obstore.get_range_async``), so
    each merged byte range costs one Python call; ``create_backend`` avoids that.

    Examples
    --------
    >>> from obstore.store import S3Store
    >>> backend = ObstoreBackend(S3Store("my-bucket", skip_signature=True),
    ...                          url_prefix="s3://my-bucket/")  # doctest: +SKIP
    """

    def __init__(
        self, store: Any, url_prefix: str = "", client_options: dict[str, Any] | None = None
    ) -> None:
        self.store = store
        self.url_prefix = url_prefix
        self.client_options = client_options

    def __repr__(self) -> str:
        return (
            f"ObstoreBackend(store={type(self.store).__name__}, url_prefix={self.url_prefix!r}, "
            f"client_options={_redacted(self.client_options)!r})"
        )

    def _path(self, url: str) -> str:
        if self.url_prefix and url.startswith(self.url_prefix):
            return url[len(self.url_prefix) :]
        return url

    async def get_range(self, url: str, start: int, length: int) -> Any:
        """Bytes ``start .. start + length`` of ``url`` (an obstore ``Bytes``)."""
        import obstore

        return await obstore.get_range_async(
            self.store, self._path(url), start=start, length=length
        )

    async def get_ranges(self, url: str, ranges: list[tuple[int, int]]) -> list[Any]:
        """One buffer per ``(start, length)`` pair of ``url``."""
        import obstore

        if not ranges:
            return []
        starts = [int(s) for s, _ in ranges]
        lengths = [int(n) for _, n in ranges]
        return list(
            await obstore.get_ranges_async(
                self.store, self._path(url), starts=starts, lengths=lengths
            )
        )


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
