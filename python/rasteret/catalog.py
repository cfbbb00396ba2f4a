"""Dataset catalog: descriptors of known datasets and the local registry (``rasteret.catalog``).

Built-in descriptors are registered at import; descriptors saved with
:func:`save_local_descriptor` (by ``rasteret.register_local``) are re-registered from the
local registry file (``~/.rasteret/datasets.local.json`` or
``$RASTERET_LOCAL_DATASETS_PATH``). Writers of that file take turns (an exclusive lock file
beside it) and replace it whole (temporary file + rename): processes registering datasets at
the same time keep every entry, and a reader never sees a half-written file.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rasteret._builtin_datasets import AFTER_LOCAL, BEFORE_LOCAL
from rasteret._locking import atomic_write_text, exclusive_lock, lock_path_for
from rasteret.cloud import CloudConfig
from rasteret.constants import BandRegistry

__all__ = [
    "DatasetDescriptor",
    "DatasetRegistry",
    "export_local_descriptor",
    "load_local_descriptors",
    "remove_local_descriptor",
    "save_local_descriptor",
    "unregister_local_descriptor",
]

SURFACES = ("record_table", "index", "collection")
_CORE_FIELDS = frozenset({"id", "geometry", "datetime", "bbox", "assets"})
_COLUMN_MAP_ROLES = frozenset(
    {"id", "geometry", "datetime", "bbox", "assets", "proj:epsg", "collection"}
)


@dataclass(frozen=True)
class DatasetDescriptor:
    """Everything rasteret needs to know to build or load one dataset.

    Where the data is (``stac_api`` + ``stac_collection``, ``record_table_uri``,
    ``geoparquet_uri``, or a built ``collection_uri`` with an optional narrow ``index_uri``),
    how its columns map to the collection schema (``field_roles``, ``column_map``,
    ``href_column``, ``band_index_map``, ``bbox_columns``, ``band_map``), what each surface
    holds and can filter on (``surface_fields``, ``filter_capabilities``), and descriptive
    facts (coverage, dates, auth, license). ``__post_init__`` derives ``field_roles``,
    ``column_map`` and ``href_column`` from each other.

    Examples
    --------
    >>> d = DatasetDescriptor(id="me/tiles", name="My tiles", field_roles={"href": "path"})
    >>> d.href_column, d.field_roles
    ('path', {'href': 'path', 'bbox': 'bbox'})
    """

    id: str
    name: str
    description: str = ""
    stac_api: str | None = None
    stac_collection: str | None = None
    record_table_uri: str | None = None
    index_uri: str | None = None
    collection_uri: str | None = None
    geoparquet_uri: str | None = None
    field_roles: dict[str, str] | None = None
    surface_fields: dict[str, list[str]] | None = None
    filter_capabilities: dict[str, list[str]] | None = None
    column_map: dict[str, str] | None = None
    href_column: str | None = None
    band_index_map: dict[str, int] | None = None
    bbox_columns: dict[str, str] | None = None
    band_map: dict[str, str] | None = None
    separate_files: bool = True
    spatial_coverage: str = ""
    temporal_range: tuple[str, str] | None = None
    requires_auth: bool = False
    license: str = ""
    license_url: str = ""
    commercial_use: bool = True
    static_catalog: bool = False
    s3_credentials_url: str | None = None
    azure_asset_url: str | None = None
    cloud_config: dict[str, Any] | None = None
    example_bbox: tuple[float, float, float, float] | None = None
    example_date_range: tuple[str, str] | None = None
    torchgeo_class: str | None = None
    torchgeo_verified: bool = False

    def __post_init__(self) -> None:
        put = object.__setattr__
        # 1. geoparquet_uri is the deprecated alias of record_table_uri.
        if self.record_table_uri is None and self.index_uri is None and self.geoparquet_uri:
            put(self, "record_table_uri", self.geoparquet_uri)
        elif (
            self.geoparquet_uri is None
            and self.record_table_uri is not None
            and self.index_uri is None
        ):
            put(self, "geoparquet_uri", self.record_table_uri)
        # 2. field_roles entries are non-empty strings.
        roles_in = dict(self.field_roles or {})
        bad = [
            (k, v)
            for k, v in roles_in.items()
            if not (isinstance(k, str) and k and isinstance(v, str) and v)
        ]
        if bad:
            raise ValueError(
                "field_roles must map non-empty canonical field names to non-empty source "
                f"column names. Invalid entries: {bad}"
            )
        # 3. surface names.
        for attr in ("surface_fields", "filter_capabilities"):
            value = getattr(self, attr)
            if value:
                unknown = sorted(k for k in value if k not in SURFACES)
                if unknown:
                    raise ValueError(
                        f"{attr} contains unsupported surface names: {unknown}. "
                        f"Valid surfaces are: {sorted(SURFACES)}"
                    )
        # 4. resolved field roles.
        roles = dict(roles_in)
        for source, canonical in (self.column_map or {}).items():
            roles.setdefault(canonical, source)
        if self.href_column:
            roles.setdefault("href", self.href_column)
        if "bbox" not in roles and self.bbox_columns is None:
            roles["bbox"] = "bbox"
        if roles:
            put(self, "field_roles", roles)
        # 5. resolved column map.
        column_map = dict(self.column_map or {})
        for canonical, source in roles.items():
            if canonical in _COLUMN_MAP_ROLES and source != canonical:
                column_map.setdefault(source, canonical)
        if column_map:
            put(self, "column_map", column_map)
        # 6. href column from the href role.
        if self.href_column is None and "href" in roles:
            put(self, "href_column", roles["href"])
        # 7. de-duplicate surface lists, keeping order.
        for attr in ("surface_fields", "filter_capabilities"):
            value = getattr(self, attr)
            if value:
                put(self, attr, {k: list(dict.fromkeys(v)) for k, v in value.items()})

    @property
    def build_source_uri(self) -> str | None:
        """The table ``build()`` reads: record table, else index, else the legacy alias."""
        return self.record_table_uri or self.index_uri or self.geoparquet_uri

    @property
    def runtime_index_uri(self) -> str | None:
        """The narrow index used for runtime planning."""
        return self.index_uri or self.geoparquet_uri or self.record_table_uri

    def source_field(self, canonical: str) -> str:
        """Source column of a canonical field (the canonical name when it has no role)."""
        return (self.field_roles or {}).get(canonical, canonical)

    def surface_has_field(self, surface: str, canonical: str) -> bool:
        """Whether ``surface`` (record_table, index, collection) carries ``canonical``."""
        declared = (self.surface_fields or {}).get(surface)
        if declared is not None:
            return canonical in declared
        if surface == "collection":
            return canonical in _CORE_FIELDS
        roles = self.field_roles or {}
        if canonical == "href":
            return bool(self.href_column or roles.get("href"))
        if canonical in roles:
            return True
        if canonical in (self.column_map or {}).values():
            return True
        if canonical == "bbox" and self.bbox_columns is None:
            return True
        return canonical in _CORE_FIELDS

    def surface_supports_filter(self, surface: str, capability: str) -> bool:
        """Whether ``surface`` can be filtered by ``capability`` (bbox, datetime, id, ...)."""
        declared = (self.filter_capabilities or {}).get(surface)
        if declared is not None:
            return capability in declared
        if capability == "bbox":
            return bool(self.bbox_columns) or self.surface_has_field(surface, "bbox")
        return self.surface_has_field(surface, capability)


class DatasetRegistry:
    """Class-level registry of :class:`DatasetDescriptor` by id."""

    _descriptors: ClassVar[dict[str, DatasetDescriptor]] = {}

    @classmethod
    def register(cls, descriptor: DatasetDescriptor) -> None:
        """Store ``descriptor`` (overwriting), and its band map and cloud config."""
        cls._descriptors[descriptor.id] = descriptor
        if descriptor.band_map and descriptor.id not in BandRegistry._maps:
            BandRegistry.register(descriptor.id, descriptor.band_map)
        cc = descriptor.cloud_config
        if cc:
            CloudConfig.register(
                descriptor.id,
                CloudConfig(
                    provider=cc.get("provider", "aws"),
                    requester_pays=cc.get("requester_pays", False),
                    region=cc.get("region", "us-west-2"),
                    url_patterns=cc.get("url_patterns", {}),
                ),
            )

    @classmethod
    def unregister(cls, dataset_id: str) -> DatasetDescriptor | None:
        """Remove a descriptor from memory; return it (or None when absent)."""
        return cls._descriptors.pop(dataset_id, None)

    @classmethod
    def get(cls, dataset_id: str) -> DatasetDescriptor | None:
        """The descriptor with exactly this id, or None."""
        return cls._descriptors.get(dataset_id)

    @classmethod
    def list(cls) -> builtins.list[DatasetDescriptor]:
        """All descriptors in registration order."""
        return builtins.list(cls._descriptors.values())

    @classmethod
    def search(cls, keyword: str) -> builtins.list[DatasetDescriptor]:
        """Descriptors whose id, name or description contains ``keyword`` (any case)."""
        k = keyword.lower()
        return [
            d
            for d in cls._descriptors.values()
            if k in d.id.lower() or k in d.name.lower() or k in d.description.lower()
        ]


# -- local persistent registry ---------------------------------------------------------------


def _registry_path(path: str | os.PathLike[str] | None) -> Path:
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get("RASTERET_LOCAL_DATASETS_PATH")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".rasteret" / "datasets.local.json"


def _as_json(descriptor: DatasetDescriptor) -> dict[str, Any]:
    return dataclasses.asdict(descriptor)


def _write(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def _read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warnings.warn(
            f"Ignoring unreadable local dataset registry {path}: {exc}", UserWarning, stacklevel=3
        )
        return []
    if not isinstance(payload, list):
        warnings.warn(
            f"Ignoring local dataset registry {path}: expected a JSON list, "
            f"got {type(payload).__name__}",
            UserWarning,
            stacklevel=3,
        )
        return []
    return [e for e in payload if isinstance(e, dict)]


def _from_json(entry: dict[str, Any]) -> DatasetDescriptor:
    data = dict(entry)
    for key in ("temporal_range", "example_bbox", "example_date_range"):
        if isinstance(data.get(key), list):
            data[key] = tuple(data[key])
    return DatasetDescriptor(**data)


def load_local_descriptors(path: str | os.PathLike[str] | None = None) -> list[DatasetDescriptor]:
    """Descriptors persisted in the local registry file (``[]`` when missing or unreadable)."""
    file = _registry_path(path)
    out: list[DatasetDescriptor] = []
    for entry in _read_entries(file):
        try:
            out.append(_from_json(entry))
        except TypeError as exc:
            warnings.warn(
                f"Skipping invalid entry {entry.get('id', '?')!r} in {file}: {exc}",
                UserWarning,
                stacklevel=2,
            )
    return out


def save_local_descriptor(
    descriptor: DatasetDescriptor, path: str | os.PathLike[str] | None = None
) -> None:
    """Insert or replace ``descriptor`` (by id) in the local registry file."""
    file = _registry_path(path)
    with exclusive_lock(lock_path_for(file), f"the local dataset registry {file}"):
        entries = {e.get("id"): e for e in _read_entries(file)}
        entries[descriptor.id] = _as_json(descriptor)
        _write(file, [entries[k] for k in sorted(entries, key=str)])


def remove_local_descriptor(
    dataset_id: str, path: str | os.PathLike[str] | None = None
) -> DatasetDescriptor | None:
    """Remove ``dataset_id`` from the local registry file; return it (None: file untouched)."""
    file = _registry_path(path)
    with exclusive_lock(lock_path_for(file), f"the local dataset registry {file}"):
        entries = _read_entries(file)
        kept = [e for e in entries if e.get("id") != dataset_id]
        if len(kept) == len(entries):
            return None
        removed = next(e for e in entries if e.get("id") == dataset_id)
        _write(file, sorted(kept, key=lambda e: str(e.get("id"))))
    try:
        return _from_json(removed)
    except (TypeError, ValueError):
        return None


def _is_local(d: DatasetDescriptor | None) -> bool:
    return (
        d is not None
        and d.spatial_coverage == "local"
        and bool(d.collection_uri or d.build_source_uri)
    )


def unregister_local_descriptor(
    dataset_id: str, path: str | os.PathLike[str] | None = None
) -> DatasetDescriptor | None:
    """Forget a local dataset: from the registry file and, if local, from memory.

    Collection data on disk is never deleted.
    """
    persisted = remove_local_descriptor(dataset_id, path)
    in_memory = DatasetRegistry.get(dataset_id)
    removed_memory = DatasetRegistry.unregister(dataset_id) if _is_local(in_memory) else None
    return persisted or removed_memory


def export_local_descriptor(
    dataset_id: str,
    output_path: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
) -> Path:
    """Write one local descriptor as a JSON file (for sharing); return the path written."""
    found = next((d for d in load_local_descriptors(path) if d.id == dataset_id), None)
    if found is None:
        candidate = DatasetRegistry.get(dataset_id)
        found = candidate if _is_local(candidate) else None
    if found is None:
        raise KeyError(f"Local dataset '{dataset_id}' not found.")
    out = Path(output_path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_as_json(found), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out


# -- built-in descriptors --------------------------------------------------------------------


def _register_builtins() -> None:
    for spec in BEFORE_LOCAL:
        DatasetRegistry.register(DatasetDescriptor(**spec))
    for local in load_local_descriptors():
        DatasetRegistry.register(local)
    for spec in AFTER_LOCAL:
        DatasetRegistry.register(DatasetDescriptor(**spec))


_register_builtins()
