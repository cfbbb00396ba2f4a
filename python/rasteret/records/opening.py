"""Opening record sources: saved collections, Hugging Face datasets, in-memory Arrow data.

Each function checks what the source must hold and returns it with the labels stored in its
Parquet metadata; ``Collection``'s constructors wrap the result.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from rasteret.records.persistence import is_cloud_uri
from rasteret.records.record_index import RecordIndex
from rasteret.records.schema import (
    CollectionLabels,
    check_read_ready,
    dataset_of,
    missing_collection_columns,
    warn_if_large,
)
from rasteret.records.source import DatasetSource, HFSource, RecordIndexSource, RecordSource
from rasteret.records.summary import data_source_of

__all__ = [
    "arrow_source",
    "record_index_arguments",
    "cached_source",
    "hf_source",
    "parquet_source",
    "record_index_source",
    "source_of",
]

_NEEDS = "A collection needs id, datetime, geometry, assets and a bbox struct"


def _require_local(path: str, what: str) -> None:
    if not is_cloud_uri(path) and not Path(path).expanduser().exists():
        raise FileNotFoundError(f"{what} not found at {path}")


def record_index_arguments(arguments: dict[str, Any]) -> dict[str, Any] | None:
    """``RecordIndex`` keyword arguments from ``Collection``'s ``record_index_*``,
    ``collection_path``, ``surface_fields`` and ``filter_capabilities`` arguments (None when
    no ``record_index_path`` is given)."""
    if arguments.get("record_index_path") is None:
        return None
    out = {"path": str(arguments["record_index_path"])}
    for name in ("collection_path", "surface_fields", "filter_capabilities"):
        out[name] = arguments.get(name)
    for name in (
        "field_roles",
        "column_map",
        "href_column",
        "band_index_map",
        "url_rewrite_patterns",
        "filesystem",
    ):
        out[name] = arguments.get(f"record_index_{name}")
    return out


def record_index_source(
    index_kwargs: dict[str, Any],
    *,
    wide: Any = None,
    index_expr: Any = None,
    wide_expr: Any = None,
) -> RecordIndexSource:
    """A record-index source from ``RecordIndex`` keyword arguments; ``wide`` (an opened
    wide dataset) is adopted instead of being opened again."""
    index = RecordIndex(**index_kwargs)
    if wide is not None:
        index.adopt_wide(wide)
    return RecordIndexSource(index, index_expr, wide_expr)


def source_of(
    dataset: Any = None,
    hf_streaming: Any = None,
    collection_path: str | None = None,
    index_kwargs: dict[str, Any] | None = None,
    index_expr: Any = None,
    wide_expr: Any = None,
) -> RecordSource:
    """The source of ``Collection(...)``'s documented arguments.

    Raises
    ------
    ValueError
        Both a dataset and a Hugging Face stream.
    TypeError
        ``dataset`` is not a ``pyarrow.dataset.Dataset``.
    """
    import pyarrow.dataset as ds

    if dataset is not None and hf_streaming is not None:
        raise ValueError("Collection cannot use both Dataset and HF streaming backends")
    if dataset is not None and not isinstance(dataset, ds.Dataset):
        raise TypeError("Expected pyarrow.dataset.Dataset")
    if hf_streaming is not None:
        return HFSource(hf_streaming)
    if index_kwargs is not None:
        return record_index_source(
            index_kwargs, wide=dataset, index_expr=index_expr, wide_expr=wide_expr
        )
    return DatasetSource(dataset, collection_path)


def parquet_source(
    path: str, *, name: str, data_source: str, defer: bool, index_kwargs: dict[str, Any] | None
) -> tuple[RecordSource, CollectionLabels]:
    """A saved collection (file or Hive-partitioned directory, local or cloud).

    With ``defer`` nothing is opened; otherwise the dataset is opened and its contract
    columns checked. ``index_kwargs`` makes it the wide surface of a record index.

    Raises
    ------
    FileNotFoundError
        The path does not exist or cannot be opened as Parquet.
    ValueError
        Required columns are missing.
    """
    stem = Path(path.rstrip("/")).stem
    _require_local(path, "Parquet")
    if defer:
        source = source_of(collection_path=path, index_kwargs=index_kwargs)
        return source, CollectionLabels(name or stem, data_source=data_source)
    try:
        dataset = DatasetSource(path=path).dataset
    except (OSError, pa.ArrowInvalid) as exc:
        raise FileNotFoundError(f"Cannot open Parquet at {path}: {exc}") from exc
    assert dataset is not None
    missing = missing_collection_columns(dataset.schema)
    if missing:
        raise ValueError(
            f"Parquet is missing required columns: {set(missing)}. {_NEEDS} "
            "(xmin, ymin, xmax, ymax)."
        )
    labels = CollectionLabels.from_schema(dataset.schema, name=name, data_source=data_source)
    if not labels.name:
        labels = CollectionLabels(stem, *labels.without_name())
    source = source_of(dataset, collection_path=path, index_kwargs=index_kwargs)
    return source, labels


def hf_source(path: str, *, name: str, data_source: str) -> tuple[HFSource, CollectionLabels]:
    """A Hugging Face dataset streamed from ``hf://datasets/...``.

    Raises
    ------
    ValueError
        Required columns are missing.
    """
    from rasteret.records.hf import open_hf_streaming_source

    source = HFSource(open_hf_streaming_source(path))
    assert source.schema is not None
    missing = missing_collection_columns(source.schema)
    if missing:
        raise ValueError(
            f"Hugging Face dataset {path} is missing required columns: {set(missing)}. "
            f"{_NEEDS} (xmin, ymin, xmax, ymax)."
        )
    labels = CollectionLabels.from_schema(source.schema, data_source=data_source)
    return source, CollectionLabels(name, *labels.without_name())


def cached_source(path: str) -> tuple[DatasetSource, CollectionLabels]:
    """A workspace collection, without contract checks (cache hits, the CLI).

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    """
    _require_local(path, "Dataset")
    source = DatasetSource(path=path)
    stem = Path(path.rstrip("/")).name
    for suffix in ("_stac", "_records"):
        stem = stem.removesuffix(suffix)
    labels = CollectionLabels.from_schema(source.schema)
    return source, CollectionLabels(labels.name or stem, *labels.without_name())


def arrow_source(
    data: Any,
    *,
    name: str = "",
    data_source: str = "",
    description: str = "",
    start_date: _dt.datetime | None = None,
    end_date: _dt.datetime | None = None,
    require_band_metadata: bool = True,
) -> tuple[DatasetSource, CollectionLabels]:
    """Arrow data already in the collection schema (a ``Dataset`` input stays lazy).

    Raises
    ------
    ValueError
        Missing contract columns or band metadata fields.
    TypeError
        ``start_date``/``end_date`` are not ``datetime`` objects.
    """
    dataset, materialised = dataset_of(data)
    if materialised is not None:
        warn_if_large(materialised)
    check_read_ready(dataset.schema, require_band_metadata=require_band_metadata)
    for label, value in (("start_date", start_date), ("end_date", end_date)):
        if value is not None and not isinstance(value, _dt.datetime):
            raise TypeError(f"{label} must be a datetime, got {type(value).__name__}")
    source = DatasetSource(dataset)
    labels = CollectionLabels(
        name, description, data_source or data_source_of(source), start_date, end_date
    )
    return source, labels
