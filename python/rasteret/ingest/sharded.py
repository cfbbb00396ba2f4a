"""Header enrichment of a build split into Dask tasks (``shards=N`` of ``build_from_table``,
``build_from_stac`` and ``build``; a STAC search or catalog walk stays on the client).

The prepared record table is cut into ``N`` row ranges. Each range is one Dask task, run on
the active scheduler (the current ``distributed.Client`` when there is one, else Dask's local
scheduler): it parses its records' COG headers (the same Rust enrichment as a serial build)
and writes its rows, ``{band}_metadata`` columns included, as ``part-<k>.parquet`` into a
staging directory. A part is written under a temporary name and renamed into place, so a
task that Dask re-runs (its worker died, or it raised and ``retries`` allow another try)
replaces its part and never adds a second one. When every part is there, the client reads
them back in order and the build continues as a serial one (normalisation, then the atomic
publish of the collection); the staging directory is removed whether the build succeeds or
fails, so a failed build leaves no collection and no part behind.

Workers must reach the staging directory: any path on one machine (``LocalCluster``), a
shared filesystem on a multi-node cluster (it lies beside the collection's workspace, or in
the system temporary directory for an in-memory build).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rasteret.ingest.enrich import asset_bands, asset_urls, enrich_record_table, report_failures

__all__ = ["check_shards", "enrich_in_shards", "enrich_shard"]

#: Times Dask retries a failed shard on the distributed scheduler.
SHARD_RETRIES = 2


def enrich_shard(
    part: pa.Table,
    index: int,
    staging: str,
    band_codes: list[str] | None,
    max_concurrent: int,
    backend: Any,
) -> tuple[str, list[tuple[str, str]]]:
    """Enrich one shard's records and write them as ``part-<index>.parquet`` in ``staging``
    (the task a worker runs); returns the part's path and the assets that failed (reported
    by the client for the whole build, as a serial build reports them)."""
    failures: list[tuple[str, str]] = []
    enriched = enrich_record_table(
        part,
        band_codes=band_codes,
        max_concurrent=max_concurrent,
        backend=backend,
        failures_out=failures,
    )
    final = Path(staging) / f"part-{index:05d}.parquet"
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    try:
        pq.write_table(enriched, temporary)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    return str(final), failures


def check_shards(shards: int | None) -> None:
    """Refuse a ``shards`` that is not None or a positive integer (``bool`` included).

    Raises
    ------
    ValueError
        ``shards`` is not a positive integer.
    """
    if shards is None:
        return
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a positive integer, got {shards!r}")


def _active_client() -> Any:
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # no client
        return None


def enrich_in_shards(
    table: pa.Table,
    shards: int,
    *,
    workspace_dir: str | os.PathLike[str] | None,
    band_codes: list[str] | None,
    max_concurrent: int,
    backend: Any,
) -> pa.Table:
    """``table`` with its ``{band}_metadata`` columns, parsed by ``shards`` Dask tasks (see the
    module doc); rows keep their order.

    Raises
    ------
    ValueError
        ``shards`` is not a positive integer.
    Exception
        The first error of a shard that failed (after Dask's retries), as a serial build
        raises it; nothing is kept.
    """
    import dask

    if shards is None:
        raise ValueError("shards must be a positive integer, got None")
    check_shards(shards)
    bands = list(band_codes) if band_codes else asset_bands(table)
    urls = asset_urls(table, bands) if "assets" in table.column_names else []
    if not urls:  # nothing to parse: the serial path says why
        return enrich_record_table(
            table, band_codes=band_codes, max_concurrent=max_concurrent, backend=backend
        )
    local = workspace_dir is not None and "://" not in str(workspace_dir)
    # beside the collection's directory (never inside: publishing replaces that directory)
    parent = Path(workspace_dir).parent if local else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rasteret-shards-", dir=parent))
    try:
        step = -(-table.num_rows // shards) or 1
        tasks = [
            dask.delayed(enrich_shard, pure=False)(
                table.slice(start, step).combine_chunks(),
                k,
                str(staging),
                bands,
                max_concurrent,
                backend,
                dask_key_name=f"rasteret-enrich-{staging.name}-{k}",
            )
            for k, start in enumerate(range(0, table.num_rows, step))
        ]
        client = _active_client()
        if client is not None:
            done = client.gather(client.compute(tasks, retries=SHARD_RETRIES))
        else:
            done = list(dask.compute(*tasks))
        report_failures([f for _, failed in done for f in failed], urls)
        parts = [pq.read_table(path) for path, _ in done]
        return pa.concat_tables(parts, promote_options="default")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
