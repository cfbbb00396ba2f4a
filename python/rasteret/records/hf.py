"""Hugging Face Hub datasets as record sources.

``hf://datasets/<org>/<name>[@revision][/subpath]`` URIs are resolved to Parquet files with
``huggingface_hub``. Collections stream them (:class:`HFStreamingSource`): the files are one
``pyarrow.dataset`` over ``HfFileSystem``, whose scans prune row groups by their Parquet
statistics and fetch, with HTTP range reads, only the footers and the column chunks they need.
Filters are DNF tuples (an OR of AND-ed ``(field_ref, op, value)`` tuples, ops
``== >= <= > < in``; a struct field is a tuple such as ``("bbox", "xmax")``), compiled by
``pyarrow.parquet.filters_to_expression``.

The Hub endpoint is ``$HF_ENDPOINT`` when set (read at call time), else the library default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from rasteret.records import filters as _f

__all__ = [
    "HF_DATASETS_URI_PREFIX",
    "HFStreamingSource",
    "filters_expression",
    "head_hf_streaming_source",
    "hf_scanner",
    "is_hf_dataset_uri",
    "iter_hf_arrow_tables",
    "load_hf_parquet_table",
    "open_hf_parquet_dataset",
    "open_hf_streaming_source",
    "parse_hf_dataset_uri",
    "projected_schema",
    "resolve_hf_parquet_paths",
    "subset_hf_streaming_source",
]

HF_DATASETS_URI_PREFIX = "hf://datasets/"

FieldRef = str | tuple[str, ...]
Predicate = tuple[FieldRef, str, Any]
Conjunction = tuple[Predicate, ...]
DNF = tuple[Conjunction, ...]


@dataclass(frozen=True)
class HFStreamingSource:
    """Parquet files of a Hugging Face dataset, read lazily under DNF ``filters``.

    Attributes
    ----------
    path
        The ``hf://datasets/...`` URI the source was opened from.
    parquet_paths
        One ``hf://datasets/<repo>[@rev]/<file>`` URI per Parquet file, sorted.
    schema
        Arrow schema of the first file.
    filters
        DNF filters applied to every scan (a tuple of conjunctions, each a tuple of
        ``(field_ref, op, value)``), or ``None``.
    """

    path: str
    parquet_paths: tuple[str, ...]
    schema: pa.Schema
    filters: DNF | None = None


# -- URIs --------------------------------------------------------------------------------------


def is_hf_dataset_uri(path: Any) -> bool:
    """Whether ``path`` is an ``hf://datasets/...`` URI."""
    return isinstance(path, str | os.PathLike) and str(path).startswith(HF_DATASETS_URI_PREFIX)


def parse_hf_dataset_uri(path: str) -> tuple[str, str, str | None]:
    """Split ``hf://datasets/<org>/<name>[@revision][/subpath]`` into its parts.

    Returns
    -------
    tuple
        ``(repo_id, subpath, revision)``; ``subpath`` is ``""`` and ``revision`` ``None``
        when absent.

    Raises
    ------
    ValueError
        Not an ``hf://datasets/`` URI, or fewer than two path segments (``<org>/<name>``).
    """
    path = str(path)
    if not is_hf_dataset_uri(path):
        raise ValueError(f"Expected a Hugging Face datasets URI (hf://datasets/...), got {path!r}")
    parts = [p for p in path[len(HF_DATASETS_URI_PREFIX) :].split("/") if p]
    if len(parts) < 2:
        raise ValueError(
            f"Invalid Hugging Face datasets URI {path!r}: expected "
            "'hf://datasets/<org>/<name>[@revision][/path]'."
        )
    name, _, revision = parts[1].partition("@")
    if not name or (parts[1].endswith("@") and not revision):
        raise ValueError(
            f"Invalid Hugging Face datasets URI {path!r}: empty dataset name or revision"
        )
    return f"{parts[0]}/{name}", "/".join(parts[2:]), revision or None


def _repo_locator(repo_id: str, revision: str | None) -> str:
    return f"{repo_id}@{revision}" if revision else repo_id


def _require_hub() -> Any:
    try:
        import huggingface_hub
    except ImportError as exc:
        raise ImportError(
            "Hugging Face dataset URIs (hf://datasets/...) require the 'huggingface_hub' "
            "package: pip install 'rasteret[hf]'"
        ) from exc
    return huggingface_hub


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


class _RangeReadHandler(pafs.FSSpecHandler):
    """``HfFileSystem`` for pyarrow, opening files without fsspec's read-ahead cache.

    Every read pyarrow issues (a footer, the coalesced column chunks of the row groups a scan
    keeps) becomes one HTTP range request of exactly those bytes.
    """

    def open_input_file(self, path: str) -> pa.PythonFile:
        return pa.PythonFile(self.fs.open(path, "rb", cache_type="none"), mode="r")


def _filesystem() -> pafs.FileSystem:
    hub = _require_hub()
    return pafs.PyFileSystem(_RangeReadHandler(hub.HfFileSystem(endpoint=_endpoint())))


def _parquet_dataset(uris: Sequence[str], schema: pa.Schema | None = None) -> ds.Dataset:
    """The Parquet files at ``hf://`` ``uris`` as one lazy dataset (``schema``: skip reading
    the first footer to infer it)."""
    paths = [u.removeprefix("hf://") for u in uris]
    return ds.dataset(paths, schema=schema, filesystem=_filesystem(), format="parquet")


def resolve_hf_parquet_paths(path: str) -> list[str]:
    """The Parquet files an ``hf://datasets/...`` URI designates, as ``hf://`` URIs.

    A subpath ending in ``.parquet`` is used as is. Otherwise the repository's files are
    listed (``HfApi.list_repo_files``): without a subpath, files under ``data/`` are preferred
    when there are any; with one, every ``*.parquet`` under it is used (sorted).

    Raises
    ------
    ImportError
        ``huggingface_hub`` is not installed.
    FileNotFoundError
        No Parquet file was found, or the repository or revision does not exist.
    """
    repo_id, subpath, revision = parse_hf_dataset_uri(path)
    locator = _repo_locator(repo_id, revision)
    if subpath.lower().endswith(".parquet"):
        return [f"{HF_DATASETS_URI_PREFIX}{locator}/{subpath}"]
    hub = _require_hub()
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        files = hub.HfApi(endpoint=_endpoint()).list_repo_files(
            repo_id, repo_type="dataset", revision=revision
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        what = "revision" if isinstance(exc, RevisionNotFoundError) else "dataset repository"
        raise FileNotFoundError(
            f"Hugging Face {what} not found for {path} (repo '{repo_id}', revision "
            f"'{revision or 'main'}'): {exc}"
        ) from exc
    parquet = sorted(f for f in files if f.lower().endswith(".parquet"))
    if subpath:
        prefix = subpath.rstrip("/") + "/"
        parquet = [f for f in parquet if f.startswith(prefix)]
    else:
        preferred = [f for f in parquet if f.startswith("data/")]
        parquet = preferred or parquet
    if not parquet:
        raise FileNotFoundError(
            f"No Parquet files found in Hugging Face dataset '{locator}' under "
            f"'{subpath or '/'}' ({path})"
        )
    return [f"{HF_DATASETS_URI_PREFIX}{locator}/{f}" for f in parquet]


# -- streaming sources -------------------------------------------------------------------------


def open_hf_streaming_source(path: str) -> HFStreamingSource:
    """Resolve ``path`` to Parquet files and read the schema of the first one.

    Raises
    ------
    ImportError
        ``huggingface_hub`` is not installed.
    FileNotFoundError
        No Parquet file was found.
    """
    paths = resolve_hf_parquet_paths(path)
    try:
        schema = _parquet_dataset(paths[:1]).schema
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"Parquet not found at {paths[0]} ({path})") from exc
    return HFStreamingSource(path=str(path), parquet_paths=tuple(paths), schema=schema)


def _bbox_conjunction(minx: float, miny: float, maxx: float, maxy: float) -> Conjunction:
    return (
        (("bbox", "xmax"), ">=", minx),
        (("bbox", "xmin"), "<=", maxx),
        (("bbox", "ymax"), ">=", miny),
        (("bbox", "ymin"), "<=", maxy),
    )


def subset_hf_streaming_source(
    source: HFStreamingSource,
    *,
    cloud_cover_lt: float | None = None,
    date_range: tuple[str, str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    geometries: Any = None,
    split: str | Sequence[str] | None = None,
    split_column: str = "split",
) -> HFStreamingSource:
    """``source`` with the ``Collection.subset`` criteria added (AND) to its DNF filters.

    Validation and error messages are those of ``Collection.subset``. The filters stay
    hashable tuples; several ``geometries`` become one conjunction per envelope.

    Raises
    ------
    ValueError
        No criterion, or a criterion that is invalid or unsupported by the schema.
    """
    if all(v is None for v in (cloud_cover_lt, date_range, bbox, geometries, split)):
        raise ValueError("No filters provided")
    schema = source.schema
    conj: Conjunction = ()
    alternatives: list[Conjunction] = [()]
    if cloud_cover_lt is not None:
        if "eo:cloud_cover" not in schema.names:
            raise ValueError("Collection has no cloud cover data")
        conj += (("eo:cloud_cover", "<", _f.check_cloud_cover(cloud_cover_lt)),)
    if date_range is not None:
        if "datetime" not in schema.names:
            raise ValueError("Collection has no datetime data")
        lo, hi = _f.check_date_range(date_range)
        t = schema.field("datetime").type
        if not pa.types.is_timestamp(t):
            raise ValueError("Collection datetime column is not a timestamp")
        slo, shi = _f.timestamp_bounds(lo, hi, t)
        conj += (("datetime", ">=", slo.as_py()), ("datetime", "<=", shi.as_py()))
    if (bbox is not None or geometries is not None) and not _f.bbox_is_struct(schema):
        raise ValueError(_f.BBOX_REQUIRED)
    if bbox is not None:
        conj += _bbox_conjunction(*_f.check_bbox(bbox))
    if geometries is not None:
        alternatives = [_bbox_conjunction(*env) for env in _f.geometry_envelopes(geometries)]
    if split is not None:
        if split_column not in schema.names:
            raise ValueError(f"Collection has no split column: '{split_column}'")
        names = _f.check_split(split)
        if isinstance(split, str):
            conj += ((split_column, "==", split),)
        else:
            conj += ((split_column, "in", tuple(names)),)
    new = [conj + alt for alt in alternatives]
    old = tuple(tuple(conj) for conj in source.filters or ((),))
    return replace(source, filters=tuple(a + b for a in old for b in new))


def filters_expression(filters: DNF | None) -> ds.Expression | None:
    """DNF ``filters`` as one ``pyarrow.dataset`` expression (``None``: no filtering).

    A struct field reference such as ``("bbox", "xmax")`` becomes ``ds.field("bbox",
    "xmax")``; an empty conjunction matches every row.
    """
    if not filters or any(len(conj) == 0 for conj in filters):
        return None
    return pq.filters_to_expression(filters)


def projected_schema(source: HFStreamingSource, columns: Sequence[str] | None) -> pa.Schema:
    """``source.schema`` restricted to ``columns`` (all columns when ``None``).

    Raises
    ------
    ValueError
        A requested column does not exist.
    """
    if columns is None:
        return source.schema
    missing = [c for c in columns if c not in source.schema.names]
    if missing:
        raise ValueError(
            f"Column(s) {missing} not found in {source.path}. Available: {source.schema.names}"
        )
    return pa.schema([source.schema.field(c) for c in columns], metadata=source.schema.metadata)


def hf_scanner(
    source: HFStreamingSource, columns: Sequence[str] | None = None, batch_size: int = 1024
) -> ds.Scanner:
    """A scan of ``columns`` of the rows of ``source`` that match its filters.

    The scan prunes row groups whose Parquet statistics cannot match the filters and
    fetches only the column chunks of the projected and filtered columns.

    Raises
    ------
    ValueError
        A requested column does not exist.
    """
    schema = projected_schema(source, columns)
    dataset = _parquet_dataset(source.parquet_paths, source.schema)
    return dataset.scanner(
        columns=schema.names, filter=filters_expression(source.filters), batch_size=batch_size
    )


def iter_hf_arrow_tables(
    source: HFStreamingSource, *, columns: Sequence[str] | None = None, batch_size: int = 1024
) -> Iterator[pa.Table]:
    """Stream the filtered rows of ``source`` as tables of at most ``batch_size`` rows.

    Row groups whose Parquet statistics cannot match the filters are never fetched.

    Raises
    ------
    ValueError
        A requested column does not exist.
    """
    for batch in hf_scanner(source, columns, batch_size).to_batches():
        if batch.num_rows:
            yield pa.Table.from_batches([batch])


def head_hf_streaming_source(
    source: HFStreamingSource, *, n: int = 5, columns: Sequence[str] | None = None
) -> pa.Table:
    """The first ``n`` filtered rows of ``source``.

    Row groups are read one at a time, in file order, until ``n`` rows are found, so a small
    head fetches only the row groups that hold it (a scanner would read one ahead).
    """
    schema = projected_schema(source, columns)
    expr = filters_expression(source.filters)
    parts: list[pa.Table] = []
    count = 0
    if n > 0:
        dataset = _parquet_dataset(source.parquet_paths, source.schema)
        for fragment in dataset.get_fragments():
            for group in fragment.split_by_row_group(expr, schema=dataset.schema):
                part = group.to_table(schema=dataset.schema, columns=schema.names, filter=expr)
                parts.append(part)
                count += part.num_rows
                if count >= n:
                    return pa.concat_tables(parts).slice(0, n)
    return pa.concat_tables(parts) if parts else schema.empty_table()


# -- materialised tables -----------------------------------------------------------------------


def open_hf_parquet_dataset(
    path: str,
    *,
    columns: list[str] | None = None,
    filter_expr: ds.Expression | None = None,
) -> ds.Dataset:
    """The Parquet files of ``path`` as a ``pyarrow.dataset.Dataset``.

    Without ``columns`` the dataset stays lazy (read through ``HfFileSystem``, with Parquet
    statistics pushdown of ``filter_expr``); with ``columns`` it is materialised.

    Raises
    ------
    ImportError
        ``huggingface_hub`` is not installed.
    FileNotFoundError
        No Parquet file was found.
    """
    if columns is not None:
        return ds.dataset(load_hf_parquet_table(path, columns=columns, filter_expr=filter_expr))
    dataset = _parquet_dataset(resolve_hf_parquet_paths(path))
    return dataset if filter_expr is None else dataset.filter(filter_expr)


def load_hf_parquet_table(
    path: str,
    *,
    columns: list[str] | None = None,
    filter_expr: ds.Expression | None = None,
) -> pa.Table:
    """Read the Parquet files of ``path`` as one table (``columns`` / ``filter_expr`` applied).

    Raises
    ------
    ImportError
        ``huggingface_hub`` is not installed.
    FileNotFoundError
        No Parquet file was found.
    """
    dataset = open_hf_parquet_dataset(path)
    return dataset.to_table(columns=columns, filter=filter_expr)
