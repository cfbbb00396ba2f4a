"""Record columns of a file-backed collection, kept in memory once a read has loaded them.

Every read of a collection scans its records for the columns it needs (ids, footprints, the
``{band}_metadata`` tile tables). Over Parquet files that scan costs tens of milliseconds
each time, and a session reads the same collection many times, through ever new filtered
views (each read narrows the query to its AOIs). A :class:`ColumnCache` belongs to one
unfiltered dataset and is shared by all its views: the first scan loads the requested
columns of every record (plus the light columns filters refer to), later scans filter those
in memory with the view's expression, which gives the rows in the same order as a scan of
the files would.

Only collections of at most :data:`ROW_LIMIT` records whose loaded columns stay within
:data:`BYTE_BUDGET` are held; larger ones are scanned with their filters pushed down, as
before. In-memory datasets need no cache.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from rasteret.records.rows import take_rows

__all__ = ["BYTE_BUDGET", "ROW_LIMIT", "ColumnCache"]

#: Most records a collection may hold for its columns to be kept in memory.
ROW_LIMIT = 200_000
#: Most bytes of columns kept per collection; past it the cache lets go and scans instead.
BYTE_BUDGET = 512 * 1024 * 1024
#: Name of the row-number column a filter is evaluated with (not a record column).
_ROW = "__rasteret_row__"


def _light(name: str) -> bool:
    """Columns loaded with any request: everything but the per-band tile tables, so that
    filters (dates, bbox, cloud cover, ids, splits) can be evaluated in memory."""
    return not name.endswith("_metadata")


class ColumnCache:
    """Columns of every record of ``dataset``, loaded on demand and kept (thread-safe)."""

    def __init__(self, dataset: ds.Dataset) -> None:
        self._dataset = dataset
        self._columns: dict[str, pa.ChunkedArray] = {}
        self._nbytes = 0
        self._lock = threading.Lock()
        # a table in memory is filtered as fast as a cache would be
        self._usable: bool | None = None if isinstance(dataset, ds.FileSystemDataset) else False

    @property
    def nbytes(self) -> int:
        """Bytes of the columns held."""
        return self._nbytes

    def scan(self, columns: list[str] | None, expression: ds.Expression | None) -> pa.Table | None:
        """``columns`` of the records matching ``expression``, from memory (loading what is
        missing first); ``None`` when this dataset is not cached (the caller scans it)."""
        schema = self._dataset.schema
        wanted = list(schema.names) if columns is None else list(columns)
        with self._lock:
            if self._usable is None:
                self._usable = self._dataset.count_rows() <= ROW_LIMIT
            if not self._usable:
                return None
            missing = [
                n
                for n in dict.fromkeys([*filter(_light, schema.names), *wanted])
                if n not in self._columns and n in schema.names
            ]
            if missing:
                loaded = self._dataset.to_table(columns=missing)
                self._nbytes += loaded.nbytes
                if self._nbytes > BYTE_BUDGET:
                    self._usable = False
                    self._columns.clear()
                    self._nbytes = 0
                    return None
                self._columns.update(zip(missing, loaded.columns, strict=True))
            names = [n for n in schema.names if n in self._columns]
            table = pa.Table.from_arrays(
                [self._columns[n] for n in names],
                schema=pa.schema([schema.field(n) for n in names], metadata=schema.metadata),
            )
        if any(n not in table.column_names for n in wanted):
            return None  # a column the dataset does not have: let the scan raise its error
        if expression is None:
            return table.select(wanted)
        # Evaluate the filter on the light columns only, with each row's number attached,
        # then take the wanted columns of the matching rows: filtering the whole table would
        # copy every tile table through the query engine (milliseconds a call, even for a
        # dozen records).
        light = table.select([n for n in table.column_names if _light(n)])
        light = light.append_column(_ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        try:
            rows = light.filter(expression).column(_ROW)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError):
            return None  # refers to a column not held (a tile table): scan the files
        return take_rows(table.select(wanted), np.sort(rows.to_numpy()))  # files' row order
