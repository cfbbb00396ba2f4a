"""The record rows a lazy (Dask) read ships to its tasks.

The records a read needs (only the columns it reads, tile tables included) are cut into
shards of at most :data:`SHARD_ROWS` rows, each one graph key holding an Arrow table: Dask
sends a shard to a worker once, however many of its tasks use it. A task gets, per shard it
needs, the key and the shard rows it uses, and gathers them into one table
(:func:`gather_rows`). Building the graph costs one Arrow ``take`` per shard, not per task
(a ``take`` of the wide, nested layout structs costs milliseconds whatever the row count).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["SHARD_ROWS", "RecordShards", "gather_rows"]

#: Most record rows in one shard.
SHARD_ROWS = 4096


class RecordShards:
    """``table``'s rows as graph keys (see the module doc)."""

    def __init__(self, table: pa.Table) -> None:
        self.name = f"rasteret-records-{uuid.uuid4().hex}"
        self._table = table
        self._count = max(1, -(-table.num_rows // SHARD_ROWS))

    def layer(self) -> dict[Any, pa.Table]:
        """The graph layer: one key per shard, its value the shard's table."""
        if self._count == 1:
            return {(self.name, 0): self._table}
        return {
            (self.name, s): self._table.take(
                pa.array(np.arange(s * SHARD_ROWS, min((s + 1) * SHARD_ROWS, len(self._table))))
            )
            for s in range(self._count)
        }

    def parts(self, rows: list[int]) -> list[list[Any]]:
        """What a task needs to gather ``rows`` (ascending table rows):
        ``[[shard key, shard rows], ...]`` for :func:`gather_rows`, which returns them in
        the same order."""
        by_shard: dict[int, list[int]] = {}
        for r in rows:
            by_shard.setdefault(r // SHARD_ROWS, []).append(r % SHARD_ROWS)
        return [[(self.name, s), np.array(local, np.int64)] for s, local in by_shard.items()]


def gather_rows(parts: list[list[Any]]) -> pa.Table:
    """The rows of ``parts`` (shard tables, resolved by Dask, and their rows) as one table."""
    tables = [shard.take(pa.array(rows)) for shard, rows in parts]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
