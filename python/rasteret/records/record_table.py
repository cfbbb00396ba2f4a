"""Record tables (one row per scene) in collection form: column aliases, ``assets`` built
from an href column, id/datetime coercions and CRS sidecars."""

from __future__ import annotations

import datetime as _dt

import pyarrow as pa
import pyarrow.compute as pc

from rasteret.records.crs import normalize_raster_crs_sidecars

__all__ = ["apply_column_aliases", "prepare_record_table"]


def apply_column_aliases(table: pa.Table, column_map: dict[str, str] | None) -> pa.Table:
    """For each ``source -> dest`` with ``source`` present and ``dest`` absent, add ``dest``."""
    for source, dest in (column_map or {}).items():
        if source in table.column_names and dest not in table.column_names:
            table = table.append_column(dest, table.column(source))
    return table


def _rewrite(url: str | None, patterns: dict[str, str] | None) -> str | None:
    if url is None or not patterns:
        return url
    for source, target in patterns.items():
        if url.startswith(source):
            return target + url[len(source) :]
    return url


def prepare_record_table(
    table: pa.Table,
    *,
    href_column: str | None = None,
    band_index_map: dict[str, int] | None = None,
    url_rewrite_patterns: dict[str, str] | None = None,
    required_columns: set[str] | None = None,
) -> pa.Table:
    """Coerce ids to strings and year integers to timestamps, build ``assets`` from an href
    column + ``band_index_map``, and normalise CRS sidecars."""
    steps = required_columns
    if "id" in table.column_names and (steps is None or "id" in steps):
        if pa.types.is_integer(table.schema.field("id").type):
            idx = table.schema.get_field_index("id")
            table = table.set_column(idx, "id", pc.cast(table.column("id"), pa.string()))
    if "datetime" in table.column_names and (steps is None or "datetime" in steps):
        t = table.schema.field("datetime").type
        if pa.types.is_integer(t):
            years = table.column("datetime").to_pylist()
            values = [None if y is None else _dt.datetime(int(y), 1, 1) for y in years]
            idx = table.schema.get_field_index("datetime")
            table = table.set_column(idx, "datetime", pa.array(values, pa.timestamp("us")))
    if (
        "assets" not in table.column_names
        and href_column
        and band_index_map
        and (steps is None or "assets" in steps)
    ):
        if href_column not in table.column_names:
            raise ValueError(
                f"href_column '{href_column}' not found in table. Available: {table.column_names}"
            )
        rows = []
        for url in table.column(href_column).to_pylist():
            url = _rewrite(url, url_rewrite_patterns)
            rows.append(
                {}
                if url is None
                else {b: {"href": url, "band_index": int(i)} for b, i in band_index_map.items()}
            )
        asset_type = pa.struct(
            [
                (b, pa.struct([("href", pa.string()), ("band_index", pa.int64())]))
                for b in band_index_map
            ]
        )
        table = table.append_column("assets", pa.array([r or None for r in rows], type=asset_type))
    if steps is None or steps & {"proj:epsg", "crs"}:
        table = normalize_raster_crs_sidecars(table, required_columns=steps)
    return table
