"""The record rows a lazy (Dask) read ships to its tasks.

The records a read needs (only the columns it reads, tile tables included) are cut into
shards of at most :data:`SHARD_ROWS` rows, each one graph key holding an Arrow table: Dask
sends a shard to a worker once, however many of its tasks use it. A task gets, per shard it
needs, the key and the shard rows it uses, and gathers them into one table
(:func:`gather_rows`). Building the graph costs one Arrow ``take`` per shard, not per task
(a ``take`` of the wide, nested layout structs costs milliseconds whatever the row count).

Dask runs a task where its inputs are: were the single shard of a small read (up to
:data:`SHARD_ROWS` records) one key, every task would run on the worker that holds it while
the others idle. That shard is therefore given under up to :data:`MAX_COPIES` keys (one per
task at most, and only while the copies add at most :data:`COPY_BYTES` of transfers), each
copy serving a run of consecutive tasks (neighbouring chunks): the copies land on different
workers and take their tasks with them. The graph holds the one table object under all its
keys (pickled once). A larger read has one key per shard.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = ["COPY_BYTES", "MAX_COPIES", "SHARD_ROWS", "RecordShards", "gather_rows"]

#: Most record rows in one shard.
SHARD_ROWS = 4096

#: Most keys one shard is given under (see the module doc).
MAX_COPIES = 8

#: Most bytes the extra copies of a shard may add to what Dask sends to workers.
COPY_BYTES = 16 * 1024 * 1024


class RecordShards:
    """``table``'s rows as graph keys for ``tasks`` tasks (see the module doc)."""

    def __init__(self, table: pa.Table, tasks: int = 1) -> None:
        self.name = f"rasteret-records-{uuid.uuid4().hex}"
        self._table = table
        self._count = max(1, -(-table.num_rows // SHARD_ROWS))
        self._tasks = max(1, tasks)
        self.copies = 1
        if self._count == 1:
            self.copies = max(1, min(MAX_COPIES, self._tasks, COPY_BYTES // (table.nbytes + 1)))

    def layer(self) -> dict[Any, pa.Table]:
        """The graph layer: each shard's table under its :attr:`copies` keys."""
        shards = [self._table]
        if self._count > 1:
            shards = [
                self._table.take(
                    pa.array(np.arange(s * SHARD_ROWS, min((s + 1) * SHARD_ROWS, len(self._table))))
                )
                for s in range(self._count)
            ]
        return {
            (self.name, s * self.copies + c): shard
            for s, shard in enumerate(shards)
            for c in range(self.copies)
        }

    def parts(self, rows: list[int], task: int = 0) -> list[list[Any]]:
        """What task number ``task`` (of the ``tasks``, counted in graph order) needs to
        gather ``rows`` (ascending table rows): ``[[shard key, shard rows], ...]`` for
        :func:`gather_rows`, which returns them in the same order."""
        copy = min(task, self._tasks - 1) * self.copies // self._tasks
        by_shard: dict[int, list[int]] = {}
        for r in rows:
            by_shard.setdefault(r // SHARD_ROWS, []).append(r % SHARD_ROWS)
        return [
            [(self.name, s * self.copies + copy), np.array(local, np.int64)]
            for s, local in by_shard.items()
        ]


def gather_rows(parts: list[list[Any]]) -> pa.Table:
    """The rows of ``parts`` (shard tables, resolved by Dask, and their rows) as one table."""
    tables = [shard.take(pa.array(rows)) for shard, rows in parts]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
