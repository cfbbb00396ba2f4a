"""Hugging Face Hub datasets as record sources (API contract §2.15, §10.4).

``hf://datasets/<org>/<name>[@revision][/subpath]`` URIs are resolved to Parquet files with
``huggingface_hub``. Collections stream them (:class:`HFStreamingSource`): Parquet footers and
the column chunks of the row groups whose statistics can match the filters are fetched with
HTTP range reads through ``HfFileSystem``; rows are then filtered in memory. Filters are DNF
tuples (an OR of AND-ed ``(field_ref, op, value)`` tuples, ops ``== >= <= > < in``; a struct
field is a tuple such as ``("bbox", "xmax")``; the values of ``in`` are a tuple), so a
source stays hashable.

The Hub endpoint is ``$HF_ENDPOINT`` when set (read at call time), else the library default.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from rasteret.records import filters as _f

__all__ = [
    "HF_DATASETS_URI_PREFIX",
    "HFStreamingSource",
    "head_hf_streaming_source",
    "is_hf_dataset_uri",
    "iter_hf_arrow_tables",
    "load_hf_parquet_table",
    "open_hf_parquet_dataset",
    "open_hf_streaming_source",
    "parse_hf_dataset_uri",
    "resolve_hf_parquet_paths",
    "subset_hf_streaming_source",
]

HF_DATASETS_URI_PREFIX = "hf://datasets/"

FieldRef = str | tuple[str, ...]
Predicate = tuple[FieldRef, str, Any]
Conjunction = tuple[Predicate, ...]
DNF = tuple[Conjunction, ...]

_OPS = ("==", ">=", "<=", ">", "<", "in")


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
        DNF filters applied to every scan, or ``None``.
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


def _filesystem() -> Any:
    hub = _require_hub()
    return hub.HfFileSystem(endpoint=_endpoint())


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


def _open_remote(fs: Any, uri: str) -> Any:
    # No read-ahead cache: pyarrow asks for exactly the footer and the column chunks it
    # needs, and each becomes one HTTP range request.
    return fs.open(uri, "rb", cache_type="none")


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
        with _open_remote(_filesystem(), paths[0]) as handle:
            schema = pq.ParquetFile(handle).schema_arrow
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"Parquet not found at {paths[0]} ({path})") from exc
    return HFStreamingSource(path=str(path), parquet_paths=tuple(paths), schema=schema)


def _field_type(schema: pa.Schema, ref: FieldRef) -> pa.DataType | None:
    names = (ref,) if isinstance(ref, str) else ref
    if names[0] not in schema.names:
        return None
    t = schema.field(names[0]).type
    for n in names[1:]:
        if not pa.types.is_struct(t) or t.get_field_index(n) < 0:
            return None
        t = t.field(n).type
    return t


def _bbox_conjunction(minx: float, miny: float, maxx: float, maxy: float) -> list[Predicate]:
    return [
        (("bbox", "xmax"), ">=", minx),
        (("bbox", "xmin"), "<=", maxx),
        (("bbox", "ymax"), ">=", miny),
        (("bbox", "ymin"), "<=", maxy),
    ]


def _bbox_is_struct(schema: pa.Schema) -> bool:
    return all(
        _field_type(schema, ("bbox", n)) is not None for n in ("xmin", "ymin", "xmax", "ymax")
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
    """``source`` with the ``Collection.subset`` criteria added to its DNF filters.

    Validation and error messages are those of ``Collection.subset`` (API contract §2.3.1).

    Raises
    ------
    ValueError
        No criterion, or a criterion that is invalid or unsupported by the schema.
    """
    if all(v is None for v in (cloud_cover_lt, date_range, bbox, geometries, split)):
        raise ValueError("No filters provided")
    schema = source.schema
    conj: list[Predicate] = []
    alternatives: list[list[Predicate]] = [[]]
    if cloud_cover_lt is not None:
        if "eo:cloud_cover" not in schema.names:
            raise ValueError("Collection has no cloud cover data")
        conj.append(("eo:cloud_cover", "<", _f.check_cloud_cover(cloud_cover_lt)))
    if date_range is not None:
        if "datetime" not in schema.names:
            raise ValueError("Collection has no datetime data")
        lo, hi = _f.check_date_range(date_range)
        t = schema.field("datetime").type
        if not pa.types.is_timestamp(t):
            raise ValueError("Collection datetime column is not a timestamp")
        slo, shi = _f.timestamp_bounds(lo, hi, t)
        conj += [("datetime", ">=", slo.as_py()), ("datetime", "<=", shi.as_py())]
    if bbox is not None:
        if not _bbox_is_struct(schema):
            raise ValueError(_f.BBOX_REQUIRED)
        conj += _bbox_conjunction(*_f.check_bbox(bbox))
    if geometries is not None:
        if not _bbox_is_struct(schema):
            raise ValueError(_f.BBOX_REQUIRED)
        alternatives = [_bbox_conjunction(*env) for env in _f.geometry_envelopes(geometries)]
    if split is not None:
        if split_column not in schema.names:
            raise ValueError(f"Collection has no split column: '{split_column}'")
        names = _f.check_split(split)
        if isinstance(split, str):
            conj.append((split_column, "==", split))
        else:
            conj.append((split_column, "in", tuple(names)))
    new = [(*conj, *alt) for alt in alternatives]
    old = source.filters or ((),)
    return replace(source, filters=tuple((*a, *b) for a in old for b in new))


def _scalar(value: Any, t: pa.DataType | None) -> Any:
    if t is None:
        return pa.scalar(value)
    return pa.scalar(value, t)


def dnf_to_expression(filters: DNF | None, schema: pa.Schema) -> ds.Expression | None:
    """The Arrow expression of DNF ``filters`` over ``schema`` (``None`` without filters)."""
    if not filters:
        return None
    out: ds.Expression | None = None
    for conj in filters:
        term: ds.Expression | None = None
        for ref, op, value in conj:
            if op not in _OPS:
                raise ValueError(f"Unsupported filter operator {op!r}; use one of {_OPS}")
            field = ds.field(*((ref,) if isinstance(ref, str) else ref))
            t = _field_type(schema, ref)
            if op == "in":
                e = field.isin(pa.array(list(value), type=t))
            else:
                s = _scalar(value, t)
                e = {
                    "==": field == s,
                    ">=": field >= s,
                    "<=": field <= s,
                    ">": field > s,
                    "<": field < s,
                }[op]
            term = e if term is None else term & e
        if term is None:
            return None  # an empty conjunction matches everything
        out = term if out is None else out | term
    return out


def _may_match(op: str, value: Any, lo: Any, hi: Any) -> bool:
    try:
        if op == "==":
            return lo <= value <= hi
        if op == ">=":
            return hi >= value
        if op == ">":
            return hi > value
        if op == "<=":
            return lo <= value
        if op == "<":
            return lo < value
        if op == "in":
            return any(lo <= v <= hi for v in value)
    except TypeError:
        return True
    return True


def _row_group_stats(meta: pq.FileMetaData, rg: int) -> dict[str, tuple[Any, Any]]:
    group = meta.row_group(rg)
    out = {}
    for j in range(group.num_columns):
        col = group.column(j)
        s = col.statistics
        if s is not None and s.has_min_max:
            out[col.path_in_schema] = (s.min, s.max)
    return out


def _selected_row_groups(pf: pq.ParquetFile, filters: DNF | None) -> list[int]:
    meta = pf.metadata
    groups = list(range(meta.num_row_groups))
    if not filters:
        return groups
    kept = []
    for rg in groups:
        stats = _row_group_stats(meta, rg)
        for conj in filters:
            ok = True
            for ref, op, value in conj:
                key = ref if isinstance(ref, str) else ".".join(ref)
                if key in stats and not _may_match(op, value, *stats[key]):
                    ok = False
                    break
            if ok:
                kept.append(rg)
                break
    return kept


def _filter_columns(filters: DNF | None) -> list[str]:
    cols: list[str] = []
    for conj in filters or []:
        for ref, _, _ in conj:
            top = ref if isinstance(ref, str) else ref[0]
            if top not in cols:
                cols.append(top)
    return cols


def projected_schema(source: HFStreamingSource, columns: Sequence[str] | None) -> pa.Schema:
    """``source.schema`` restricted to ``columns`` (all columns when ``None``)."""
    if columns is None:
        return source.schema
    missing = [c for c in columns if c not in source.schema.names]
    if missing:
        raise ValueError(
            f"Column(s) {missing} not found in {source.path}. Available: {source.schema.names}"
        )
    return pa.schema([source.schema.field(c) for c in columns], metadata=source.schema.metadata)


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
    schema = projected_schema(source, columns)
    wanted = list(schema.names)
    read_cols = wanted + [c for c in _filter_columns(source.filters) if c not in wanted]
    fs = _filesystem()
    for uri in source.parquet_paths:
        with _open_remote(fs, uri) as handle:
            pf = pq.ParquetFile(handle, pre_buffer=True)
            groups = _selected_row_groups(pf, source.filters)
            if not groups:
                continue
            expr = dnf_to_expression(source.filters, pf.schema_arrow)
            batches = pf.iter_batches(batch_size=batch_size, row_groups=groups, columns=read_cols)
            for batch in batches:
                table = pa.Table.from_batches([batch])
                if expr is not None:
                    table = table.filter(expr)
                if table.num_rows:
                    yield table.select(wanted).cast(schema)


def head_hf_streaming_source(
    source: HFStreamingSource, *, n: int = 5, columns: Sequence[str] | None = None
) -> pa.Table:
    """The first ``n`` filtered rows of ``source`` (stops reading once it has them)."""
    schema = projected_schema(source, columns)
    parts: list[pa.Table] = []
    count = 0
    if n > 0:
        for table in iter_hf_arrow_tables(source, columns=columns, batch_size=max(1, min(n, 1024))):
            parts.append(table)
            count += table.num_rows
            if count >= n:
                break
    if not parts:
        return schema.empty_table()
    return pa.concat_tables(parts).slice(0, n)


def read_hf_table(source: HFStreamingSource, columns: Sequence[str] | None = None) -> pa.Table:
    """Every filtered row of ``source`` as one table."""
    schema = projected_schema(source, columns)
    parts = list(iter_hf_arrow_tables(source, columns=columns))
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
    paths = resolve_hf_parquet_paths(path)
    fs = _filesystem()
    dataset = ds.dataset([p[len("hf://") :] for p in paths], filesystem=fs, format="parquet")
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
