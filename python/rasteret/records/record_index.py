"""Dual-surface collections: a narrow record index planning reads of a wide collection.

A catalog dataset may publish a small *record index* (one row per record: id, footprint,
date, href...) next to the *wide* read-ready collection (tile layouts per band). Listing,
counting and filtering run on the index alone; the wide Parquet is opened only when records
are materialised — and then only the parts (``source_part``) that hold the selected ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from rasteret.records import filters as _f
from rasteret.records.persistence import is_cloud_uri, open_parquet_dataset
from rasteret.records.record_table import apply_column_aliases, prepare_record_table

__all__ = ["RecordIndex", "SubsetPlan", "and_all", "can_evaluate"]

logger = logging.getLogger(__name__)

SOURCE_PART = "source_part"


def and_all(*exprs: ds.Expression | None) -> ds.Expression | None:
    """The conjunction of the non-``None`` expressions (``None`` when there are none)."""
    out = None
    for e in exprs:
        if e is not None:
            out = e if out is None else out & e
    return out


def can_evaluate(dataset: ds.Dataset, expr: ds.Expression) -> bool:
    """Whether ``expr`` can run on ``dataset``'s schema (fields exist, types compare).

    Binding alone accepts some comparisons that fail when executed (timestamps with and
    without a time zone), so the expression is also run on one all-null row.
    """
    errors = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, TypeError)
    schema = dataset.schema
    try:
        probe = pa.table([pa.nulls(1, f.type) for f in schema], schema=schema)
    except errors:
        probe = None
    try:
        dataset.scanner(filter=expr, columns=[])
        if probe is not None:
            probe.filter(expr)
    except errors:
        return False
    return True


@dataclass(frozen=True)
class SubsetPlan:
    """``subset`` compiled for both surfaces.

    ``fallback`` is set when a criterion cannot be expressed on the index: the caller then
    filters the wide dataset directly and drops the index.
    """

    index_expr: ds.Expression | None
    wide_expr: ds.Expression | None
    fallback: bool = False


@dataclass(frozen=True)
class RecordIndex:
    """Where the index lives and how its columns map to the collection contract.

    Views of one collection share a ``RecordIndex`` (and so its opened index dataset);
    their filters are kept by the :class:`~rasteret.core.collection.Collection`.
    """

    path: str
    collection_path: str | None
    field_roles: dict[str, str] | None = None
    column_map: dict[str, str] | None = None
    href_column: str | None = None
    band_index_map: dict[str, int] | None = None
    url_rewrite_patterns: dict[str, str] | None = None
    filesystem: Any | None = None
    surface_fields: dict[str, list[str]] | None = None
    filter_capabilities: dict[str, list[str]] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # -- the index surface -------------------------------------------------------------------

    def dataset(self) -> ds.Dataset:
        """The index as a ``pyarrow.dataset.Dataset`` (opened once per ``RecordIndex``).

        Raises
        ------
        FileNotFoundError
            The index cannot be opened.
        """
        if "index" not in self._cache:
            self._cache["index"] = self._open_index()
        return self._cache["index"]

    def _open_index(self) -> ds.Dataset:
        from rasteret.records.hf import is_hf_dataset_uri, load_hf_parquet_table

        path = self.path
        if is_hf_dataset_uri(path):
            return ds.dataset(load_hf_parquet_table(path))
        try:
            if self.filesystem is not None:
                stripped = path.split("://", 1)[1] if "://" in path else path
                return ds.dataset(stripped, filesystem=self.filesystem, format="parquet")
            if not is_cloud_uri(path) and not Path(path).expanduser().exists():
                raise FileNotFoundError(f"Record index not found at {path}")
            return ds.dataset(
                str(Path(path).expanduser()) if not is_cloud_uri(path) else path, format="parquet"
            )
        except (OSError, pa.ArrowInvalid) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise FileNotFoundError(f"Cannot open record index at {path}: {exc}") from exc

    def source(self, canonical: str) -> str:
        """The index column holding ``canonical`` (field role, ``column_map`` alias, or itself)."""
        roles = self.field_roles or {}
        if roles.get(canonical):
            return roles[canonical]
        for src, dest in (self.column_map or {}).items():
            if dest == canonical:
                return src
        return canonical

    def _href_column(self) -> str | None:
        if self.href_column:
            return self.href_column
        role = (self.field_roles or {}).get("href")
        return role or None

    def normalise(self, table: pa.Table) -> pa.Table:
        """Index rows in collection form: canonical column names, ``assets``, CRS sidecars."""
        aliases: dict[str, str] = {}
        for canonical, src in (self.field_roles or {}).items():
            if canonical != "href" and src != canonical:
                aliases[src] = canonical
        for src, dest in (self.column_map or {}).items():
            aliases.setdefault(src, dest)
        table = apply_column_aliases(table, aliases)
        href = self._href_column()
        return prepare_record_table(
            table,
            href_column=href if href and href in table.column_names else None,
            band_index_map=self.band_index_map,
            url_rewrite_patterns=self.url_rewrite_patterns,
        )

    def table(self, expr: ds.Expression | None, n: int | None = None) -> pa.Table:
        """The normalised index rows under ``expr`` (the first ``n`` when given)."""
        index = self.dataset()
        if n is None:
            raw = index.to_table(filter=expr)
        else:
            raw = index.scanner(filter=expr).head(n)
        return self.normalise(raw)

    def count(self, expr: ds.Expression | None) -> int:
        """Index rows under ``expr``."""
        return self.dataset().count_rows(filter=expr)

    # -- the wide surface --------------------------------------------------------------------

    def _declared(self, surface: str, name: str) -> bool | None:
        """``name`` declared for ``surface`` in capabilities/fields; ``None`` if undeclared."""
        caps = (self.filter_capabilities or {}).get(surface)
        fields = (self.surface_fields or {}).get(surface)
        if caps is None and fields is None:
            return None
        return name in (caps or []) or name in (fields or [])

    def wide_supports(self, name: str) -> bool:
        """Whether the wide collection can filter on ``name`` (declared, or a core field)."""
        declared = self._declared("collection", name)
        if declared is not None:
            return declared
        return name in {"id", "datetime", "bbox", "geometry"}

    def index_supports(self, name: str, column: str) -> bool:
        """Whether the index can filter on ``name`` through its column ``column``."""
        if column not in self.dataset().schema.names:
            return False
        caps = (self.filter_capabilities or {}).get("index")
        return caps is None or name in caps or column in caps

    def adopt_wide(self, dataset: ds.Dataset) -> None:
        """Use an already opened wide collection instead of opening ``collection_path``."""
        self._cache["wide"] = dataset

    def wide_base(self) -> ds.Dataset:
        """The whole wide collection (opened once per ``RecordIndex``).

        Raises
        ------
        FileNotFoundError
            No wide collection path, or it cannot be opened.
        """
        if "wide" not in self._cache:
            if not self.collection_path:
                raise FileNotFoundError("This record-index collection has no collection path")
            try:
                self._cache["wide"] = open_parquet_dataset(self.collection_path)
            except (OSError, pa.ArrowInvalid) as exc:
                raise FileNotFoundError(
                    f"Cannot open Parquet at {self.collection_path}: {exc}"
                ) from exc
        return self._cache["wide"]

    def _part_paths(self, parts: list[str]) -> list[str]:
        base = self.collection_path or ""
        out = []
        for p in parts:
            if "://" in p or Path(p).is_absolute():
                out.append(p)
            elif is_cloud_uri(base):
                out.append(f"{base.rstrip('/')}/{p.lstrip('/')}")
            else:
                out.append(str(Path(base).expanduser() / p))
        return out

    def _open_parts(self, parts: list[str]) -> ds.Dataset:
        paths = self._part_paths(parts)
        base = self.collection_path or ""
        try:
            if is_cloud_uri(base):
                from pyarrow import fs as pafs

                filesystem, root = pafs.FileSystem.from_uri(base)
                stripped = [pafs.FileSystem.from_uri(p)[1] for p in paths]
                return ds.dataset(
                    stripped,
                    filesystem=filesystem,
                    format="parquet",
                    partitioning="hive",
                    partition_base_dir=root,
                )
            return ds.dataset(
                paths,
                format="parquet",
                partitioning="hive",
                partition_base_dir=str(Path(base).expanduser()),
            )
        except (OSError, pa.ArrowInvalid) as exc:
            raise FileNotFoundError(
                f"Cannot open collection parts {paths[:3]} under {base}: {exc}"
            ) from exc

    def materialise(
        self, index_expr: ds.Expression | None, wide_expr: ds.Expression | None
    ) -> ds.Dataset:
        """The wide records selected by the index: ids (and parts) from the filtered index,
        then ``id isin ids`` (+ the index predicate where the wide schema can evaluate it,
        + ``wide_expr``) on only the parts that hold them."""
        index = self.dataset()
        id_col = self.source("id")
        cols = [id_col] + ([SOURCE_PART] if SOURCE_PART in index.schema.names else [])
        selected = index.to_table(columns=cols, filter=index_expr)
        parts: list[str] = []
        if SOURCE_PART in selected.column_names:
            parts = sorted(
                str(p) for p in pc.unique(selected.column(SOURCE_PART).drop_null()).to_pylist()
            )
        wide = self._open_parts(parts) if parts else self.wide_base()
        id_type = wide.schema.field("id").type if "id" in wide.schema.names else pa.string()
        ids = selected.column(id_col).combine_chunks()
        try:
            ids = ids.cast(id_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            ids = pc.cast(ids, pa.string()).cast(id_type)
        expr = ds.field("id").isin(ids)
        for extra in (index_expr, wide_expr):
            if extra is not None and can_evaluate(wide, extra):
                expr = expr & extra
            elif extra is not None:
                logger.debug("filter %s not evaluable on the wide collection; ids suffice", extra)
        return wide.filter(expr)

    # -- subset planning ---------------------------------------------------------------------

    def plan_subset(
        self,
        *,
        cloud_cover_lt: float | None,
        date_range: tuple[str, str] | None,
        bbox: tuple[float, float, float, float] | None,
        geometries: Any,
        split: Any,
        split_column: str,
    ) -> SubsetPlan:
        """Compile ``subset`` criteria over the index and the wide surface.

        Returns a plan whose ``index_expr`` is ``None`` when a criterion cannot be expressed
        on the index (the caller then filters the wide dataset directly).
        """
        schema = self.dataset().schema
        idx: list[ds.Expression] = []
        wide: list[ds.Expression] = []
        fallback = False
        if cloud_cover_lt is not None:
            value = _f.check_cloud_cover(cloud_cover_lt)
            col = self.source("eo:cloud_cover")
            if self.index_supports("eo:cloud_cover", col):
                idx.append(ds.field(col) < value)
            else:
                fallback = True
            if self.wide_supports("eo:cloud_cover"):
                wide.append(ds.field("eo:cloud_cover") < value)
        if date_range is not None:
            lo, hi = _f.check_date_range(date_range)
            col = self.source("datetime")
            t = schema.field(col).type if col in schema.names else None
            if t is None or not self.index_supports("datetime", col):
                fallback = True
            elif pa.types.is_integer(t):
                idx.append((ds.field(col) >= lo.year) & (ds.field(col) <= hi.year))
            elif pa.types.is_timestamp(t):
                slo, shi = _f.timestamp_bounds(lo, hi, t)
                idx.append((ds.field(col) >= slo) & (ds.field(col) <= shi))
            elif pa.types.is_date(t):
                idx.append(
                    (ds.field(col) >= pa.scalar(lo.date(), t))
                    & (ds.field(col) <= pa.scalar(hi.date(), t))
                )
            else:
                fallback = True
            year_index = t is not None and pa.types.is_integer(t)
            # an integer-year index selects whole years: the wide surface agrees (year range
            # only), so the result does not depend on which surface answers
            if self.wide_supports("datetime") and not year_index:
                wlo, whi = _f.timestamp_bounds(lo, hi, pa.timestamp("us"))
                wide.append((ds.field("datetime") >= wlo) & (ds.field("datetime") <= whi))
            if self.wide_supports("year"):
                wide.append((ds.field("year") >= lo.year) & (ds.field("year") <= hi.year))
        envelopes: list[tuple[float, float, float, float]] = []
        if bbox is not None:
            envelopes.append(_f.check_bbox(bbox))
        geoms = _f.geometry_envelopes(geometries) if geometries is not None else []
        if envelopes or geoms:
            col = self.source("bbox")
            ok = _f.bbox_is_struct(schema, col) and self.index_supports("bbox", col)
            for target, name, enabled in (
                (idx, col, ok),
                (wide, "bbox", self.wide_supports("bbox")),
            ):
                if not enabled:
                    continue
                for env in envelopes:
                    target.append(_f.bbox_overlaps(name, *env))
                if geoms:
                    any_geom = None
                    for env in geoms:
                        term = _f.bbox_overlaps(name, *env)
                        any_geom = term if any_geom is None else any_geom | term
                    target.append(any_geom)
            fallback = fallback or not ok
        if split is not None:
            names = _f.check_split(split)
            if split_column in schema.names:
                idx.append(ds.field(split_column).isin(names))
            else:
                fallback = True
            if self._declared("collection", split_column):
                wide.append(ds.field(split_column).isin(names))
        if fallback:
            return SubsetPlan(None, and_all(*wide), fallback=True)
        return SubsetPlan(and_all(*idx), and_all(*wide))
