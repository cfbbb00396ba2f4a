"""COG header enrichment: parse every asset's header once (Rust, concurrently) and attach the
tile layouts to the record table as ``{band}_metadata`` struct columns.

One unreadable asset does not fail the build: its metadata stays null and every failure is
reported together in one warning (URL and reason). Only when nothing at all parses does the
build fail.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

logger = logging.getLogger(__name__)

__all__ = [
    "asset_bands",
    "asset_urls",
    "enrich_record_table",
    "report_failures",
    "enrich_records",
    "add_band_metadata_columns",
    "build_url_index_from_assets",
    "enrich_table_with_cog_metadata",
    "parse_asset_headers",
    "slice_tile_tables_for_band",
]

_MAX_LISTED_FAILURES = 20


def build_url_index_from_assets(
    table: pa.Table, band_codes: Sequence[str] | None = None
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{record_id: {band: {"url": ..., "band_index": ...}}}`` from the ``assets`` column."""
    wanted = set(band_codes) if band_codes else None
    out: dict[str, dict[str, dict[str, Any]]] = {}
    ids = table.column("id").to_pylist()
    assets = table.column("assets").to_pylist()
    for rid, row in zip(ids, assets, strict=True):
        if not row:
            continue
        items = row.items() if isinstance(row, dict) else row
        bands: dict[str, dict[str, Any]] = {}
        for band, asset in items:
            if asset is None or (wanted is not None and band not in wanted):
                continue
            if isinstance(asset, str):
                bands[band] = {"url": asset, "band_index": 0}
            elif isinstance(asset, dict) and asset.get("href"):
                bands[band] = {
                    "url": asset["href"],
                    "band_index": int(asset.get("band_index") or 0),
                }
        if bands:
            out[str(rid)] = bands
    return out


def slice_tile_tables_for_band(*, metadata: dict[str, Any], band_index: int) -> dict[str, Any]:
    """Keep only plane ``band_index`` of planar-separate tile tables (others unchanged)."""
    w, h = metadata.get("image_width"), metadata.get("image_height")
    tw, th = metadata.get("tile_width"), metadata.get("tile_height")
    offsets = metadata.get("tile_offsets") or []
    if not all(isinstance(v, int) and v > 0 for v in (w, h, tw, th)):
        return metadata
    per_plane = math.ceil(w / tw) * math.ceil(h / th)
    n = len(offsets)
    if n == per_plane or per_plane == 0 or n % per_plane:
        return metadata
    planes = n // per_plane
    if not 0 <= band_index < planes:
        raise ValueError(f"band_index {band_index} out of range for {planes} samples")
    lo, hi = band_index * per_plane, (band_index + 1) * per_plane
    out = dict(metadata)
    out["tile_offsets"] = offsets[lo:hi]
    out["tile_byte_counts"] = (metadata.get("tile_byte_counts") or [])[lo:hi]
    return out


_REQUIRED_ITEM_FIELDS = ("tile_width", "tile_height", "dtype", "tile_offsets", "tile_byte_counts")
_ITEM_ALIASES = {"image_width": "width", "image_height": "height"}
_ITEM_DEFAULTS = {"samples_per_pixel": 1, "planar_configuration": 1}


def _item_struct(item: dict[str, Any], struct: pa.StructType) -> dict[str, Any]:
    """One parsed header (``width``, ``height``, ``tile_width``...) as a metadata struct value."""
    out: dict[str, Any] = {}
    for field in struct:
        alias = _ITEM_ALIASES.get(field.name)
        if field.name in item:
            out[field.name] = item[field.name]
        elif alias is not None and alias in item:
            out[field.name] = item[alias]
        else:
            out[field.name] = _ITEM_DEFAULTS.get(field.name)
    lacking = [f for f in ("image_width", "image_height") if out.get(f) is None]
    lacking += [f for f in _REQUIRED_ITEM_FIELDS if out.get(f) is None]
    if lacking:
        raise ValueError(
            f"Band metadata item for record {item.get('record_id')!r}, band "
            f"{item.get('band')!r} is missing fields: {lacking}"
        )
    return out


def add_band_metadata_columns(
    table: pa.Table,
    band_codes: Sequence[str],
    processed_items: Sequence[dict[str, Any]],
) -> pa.Table:
    """Append one ``{band}_metadata`` struct column per band code from parsed COG headers.

    Parameters
    ----------
    table
        Record table with an ``id`` column.
    band_codes
        Bands to create columns for; a record without an item for a band gets null.
    processed_items
        One dict per parsed (record, band): ``record_id``, ``band`` and the header fields
        ``width``, ``height``, ``tile_width``, ``tile_height``, ``dtype``, ``transform``,
        ``predictor``, ``compression``, ``tile_offsets``, ``tile_byte_counts`` and optionally
        ``pixel_scale``, ``tiepoint``, ``nodata``, ``samples_per_pixel``,
        ``planar_configuration``, ``photometric``, ``extra_samples``. Items naming a record
        or band not in ``table``/``band_codes`` are ignored.

    Returns
    -------
    pa.Table
        ``table`` with the columns appended (an existing ``{band}_metadata`` is replaced).

    Raises
    ------
    ValueError
        An item lacks the image size, tile size, dtype or tile tables.
    """
    from rasteret.constants import COG_BAND_METADATA_STRUCT

    wanted = set(band_codes)
    by_record: dict[str, dict[str, dict[str, Any]]] = {}
    for item in processed_items:
        record_id, band = item.get("record_id"), item.get("band")
        if record_id is None or band not in wanted:
            continue
        by_record.setdefault(str(record_id), {})[band] = _item_struct(
            item, COG_BAND_METADATA_STRUCT
        )
    ids = [str(v) for v in table.column("id").to_pylist()]
    for band in band_codes:
        values = [by_record.get(rid, {}).get(band) for rid in ids]
        column = pa.array(values, type=COG_BAND_METADATA_STRUCT)
        name = f"{band}_metadata"
        idx = table.schema.get_field_index(name)
        table = (
            table.set_column(idx, name, column) if idx >= 0 else table.append_column(name, column)
        )
    return table


def _hint(url: str) -> str:
    hints = [
        "check that the URLs are reachable from this machine",
        "pass backend=/cloud_config= for private buckets",
    ]
    if url.startswith("s3://") or ".s3." in url or "amazonaws.com" in url:
        hints.append("requester-pays buckets (Landsat, NAIP) need AWS credentials")
    if "blob.core.windows.net" in url:
        hints.append("Planetary Computer assets need SAS-signed URLs (planetary-computer)")
    return "; ".join(hints)


def parse_asset_headers(urls: list[str], max_concurrent: int, backend: Any) -> pa.RecordBatch:
    """The headers of ``urls`` parsed in one call into the Rust core (one row per URL: ``url``,
    ``error``, ``error_kind``, ``metadata``), for :func:`enrich_records`'s ``parsed``."""
    from rasteret._backends import io_options
    from rasteret.options import get_options
    from rasteret.read import engine as _read

    options = io_options(backend, max_concurrent=max(1, int(max_concurrent)))
    bar = None
    if get_options().progress and urls:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(urls), desc="COG headers", unit="file")

    def progress(done: int) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()

    try:
        return _read.parse_headers(urls, options=options, progress=progress)
    finally:
        if bar is not None:
            bar.n = len(urls)
            bar.close()


def _georeferencing_errors(errors: list[str | None], metadata: pa.StructArray) -> list[str | None]:
    """Headers that parsed but cannot be placed on a map count as failures too."""
    if metadata.type.get_field_index("geo_transform") < 0:
        return errors
    out = list(errors)
    valid = metadata.is_valid().to_pylist()
    for i, gt in enumerate(metadata.field("geo_transform").to_pylist()):
        if out[i] is not None or not valid[i]:
            continue
        if not gt:
            out[i] = "missing GeoTIFF georeferencing tags (ModelPixelScale/Tiepoint/Transformation)"
        elif abs(gt[1]) > 1e-12 or abs(gt[3]) > 1e-12:
            out[i] = f"Rotated/sheared affine transforms are not supported (geotransform {gt})"
    return out


async def enrich_table_with_cog_metadata(
    table: pa.Table,
    url_index: dict[str, dict[str, dict[str, Any]]],
    band_codes: Sequence[str],
    *,
    max_concurrent: int = 300,
    batch_size: int = 100,
    backend: Any = None,
) -> pa.Table:
    """Parse every distinct asset header once and add ``{band}_metadata`` columns.

    The awaitable form of :func:`enrich_records` (``batch_size`` is accepted and unused:
    every URL goes to the Rust core in one call). The parse runs on the calling thread, so
    Ctrl-C interrupts it at once.

    Raises
    ------
    ValueError
        Nothing parsed at all, or one record's assets disagree on the CRS.
    """
    return enrich_records(
        table, url_index, band_codes, max_concurrent=max_concurrent, backend=backend
    )


def enrich_records(
    table: pa.Table,
    url_index: dict[str, dict[str, dict[str, Any]]],
    band_codes: Sequence[str],
    *,
    max_concurrent: int = 300,
    backend: Any = None,
    failures_out: list[tuple[str, str]] | None = None,
    parsed: Sequence[pa.RecordBatch] = (),
) -> pa.Table:
    """Parse every distinct asset header of ``url_index`` once (one call into the Rust core)
    and add one ``{band}_metadata`` column per band code.

    Assets that cannot be read get null metadata and are reported (:func:`report_failures`);
    with ``failures_out``, they are appended there instead (``(url, error)``), for a caller
    that reports the failures of several calls together. ``parsed`` holds headers already
    parsed (:func:`parse_asset_headers`, e.g. while the items were still being found): their
    URLs are not fetched again.

    Raises
    ------
    ValueError
        Nothing parsed at all, or one record's assets disagree on the CRS.
    """
    urls = sorted({item["url"] for bands in url_index.values() for item in bands.values()})
    if not urls:
        return add_band_metadata_columns(table, band_codes, [])
    # Runs on this thread on purpose: the Rust core checks for Ctrl-C while it waits.
    have = {u for b in parsed for u in b.column("url").to_pylist()}
    missing = [u for u in urls if u not in have]
    batch = _one_batch(
        [*parsed, parse_asset_headers(missing, max_concurrent, backend)] if missing else parsed
    )
    row_of = {u: i for i, u in enumerate(batch.column("url").to_pylist())}
    metadata = batch.column("metadata")
    errors = _georeferencing_errors(batch.column("error").to_pylist(), metadata)
    failures = [(u, e) for u, e in zip(urls, (errors[row_of[u]] for u in urls), strict=True) if e]
    if failures_out is not None:
        failures_out.extend(failures)
    else:
        report_failures(failures, urls)
    epsg_col = (
        metadata.field("crs_epsg").to_pylist()
        if metadata.type.get_field_index("crs_epsg") >= 0
        else [None] * len(urls)
    )
    ids = [str(v) for v in table.column("id").to_pylist()]
    record_epsg: list[int | None] = []
    for rid in ids:
        codes = {
            epsg_col[row_of[item["url"]]]
            for item in url_index.get(rid, {}).values()
            if not errors[row_of[item["url"]]]
        } - {None}
        if len(codes) > 1:
            raise ValueError(
                f"Conflicting CRS values detected for record {rid!r}: EPSG {sorted(codes)} "
                "across its assets"
            )
        record_epsg.append(codes.pop() if codes else None)
    for band in band_codes:
        table = _add_band_column(table, ids, band, url_index, row_of, errors, metadata)
    return _backfill_crs(table, record_epsg)


def _one_batch(batches: Sequence[pa.RecordBatch]) -> pa.RecordBatch:
    """The rows of ``batches`` (the same schema) as one batch."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(list(batches)).combine_chunks().to_batches()[0]


def report_failures(failures: list[tuple[str, str]], urls: Sequence[str]) -> None:
    """Warn about the assets of a build that could not be read (``(url, error)`` pairs of
    ``urls``), or raise when none could.

    Raises
    ------
    ValueError
        Every asset failed (the first ones are listed, with a hint).
    """
    if not failures:
        return
    listed = "\n".join(f"  {u}: {e}" for u, e in failures[:_MAX_LISTED_FAILURES])
    if len(failures) == len(urls):
        raise ValueError(
            "COG header enrichment failed for all assets in this build. Common fixes: "
            f"{_hint(urls[0])}.\n{listed}"
        )
    more = len(failures) - _MAX_LISTED_FAILURES
    warnings.warn(
        f"{len(failures)} of {len(urls)} assets could not be read; their band metadata is "
        f"null:\n{listed}" + (f"\n  ... and {more} more" if more > 0 else ""),
        UserWarning,
        stacklevel=3,
    )


def _add_band_column(
    table: pa.Table,
    ids: list[str],
    band: str,
    url_index: dict[str, dict[str, dict[str, Any]]],
    row_of: dict[str, int],
    errors: list[str | None],
    metadata: pa.StructArray,
) -> pa.Table:
    planar = (
        metadata.field("planar_configuration").to_pylist()
        if metadata.type.get_field_index("planar_configuration") >= 0
        else [1] * len(metadata)
    )
    take = np.full(len(ids), -1, dtype=np.int64)
    sliced: dict[int, int] = {}
    for i, rid in enumerate(ids):
        item = url_index.get(rid, {}).get(band)
        if item is None:
            continue
        row = row_of[item["url"]]
        if errors[row]:
            continue
        take[i] = row
        if planar[row] == 2:
            sliced[i] = int(item.get("band_index") or 0)
    indices = pa.array(take, mask=take < 0)
    column = metadata.take(indices)
    if sliced:
        values = column.to_pylist()
        for i, band_index in sliced.items():
            if values[i] is not None:
                values[i] = slice_tile_tables_for_band(metadata=values[i], band_index=band_index)
        column = pa.array(values, type=metadata.type)
    name = f"{band}_metadata"
    idx = table.schema.get_field_index(name)
    if idx >= 0:
        return table.set_column(idx, name, column)
    return table.append_column(name, column)


def _backfill_crs(table: pa.Table, record_epsg: list[int | None]) -> pa.Table:
    existing = (
        table.column("proj:epsg").to_pylist()
        if "proj:epsg" in table.column_names
        else [None] * table.num_rows
    )
    merged = [e if isinstance(e, int) else h for e, h in zip(existing, record_epsg, strict=True)]
    if all(v is None for v in merged) and "proj:epsg" not in table.column_names:
        return table
    epsg = pa.array(merged, pa.int32())
    old_crs = (
        table.column("crs").to_pylist() if "crs" in table.column_names else [None] * table.num_rows
    )
    crs = pa.array(
        [c if v is None else f"EPSG:{v}" for v, c in zip(merged, old_crs, strict=True)],
        pa.string(),
    )
    for name, arr in (("proj:epsg", epsg), ("crs", crs)):
        idx = table.schema.get_field_index(name)
        table = table.set_column(idx, name, arr) if idx >= 0 else table.append_column(name, arr)
    return table


def asset_bands(table: pa.Table) -> list[str]:
    t = table.schema.field("assets").type
    if pa.types.is_struct(t):
        return sorted(t.field(i).name for i in range(t.num_fields))
    keys: set[str] = set()
    for row in table.column("assets").to_pylist():
        if row:
            keys.update(k for k, _ in (row.items() if isinstance(row, dict) else row))
    return sorted(keys)


def enrich_record_table(
    table: pa.Table,
    *,
    band_codes: list[str] | None,
    max_concurrent: int,
    backend: Any,
    failures_out: list[tuple[str, str]] | None = None,
) -> pa.Table:
    """Add ``{band}_metadata`` columns by parsing every asset header (see
    :func:`enrich_records`, also for ``failures_out``)."""
    if "assets" not in table.column_names:
        logger.warning("no assets column: skipping COG enrichment")
        return table
    bands = list(band_codes) if band_codes else asset_bands(table)
    url_index = build_url_index_from_assets(table, bands)
    if not url_index:
        logger.warning("no asset URLs found: skipping COG enrichment")
        return table
    return enrich_records(
        table,
        url_index,
        bands,
        max_concurrent=max_concurrent,
        backend=backend,
        failures_out=failures_out,
    )


def asset_urls(table: pa.Table, band_codes: list[str]) -> list[str]:
    """The distinct asset URLs of ``band_codes`` in ``table`` (what an enrichment parses)."""
    url_index = build_url_index_from_assets(table, band_codes)
    return sorted({item["url"] for bands in url_index.values() for item in bands.values()})
