"""Sizing of the per-process decoded-tile cache TorchGeo chips are read through.

The cache itself is :class:`rasteret.read.engine.TileCache` (the Rust core's LRU of decoded
tiles, what GDAL's block cache does for TorchGeo's own reader): chips that overlap, revisit a
scene or stack dates reuse tiles instead of fetching and decoding them again. A cached read
fetches the missing tiles of all its windows in ONE engine call (whole tiles), keeps them,
and copies every window out of its tiles in Rust. With ``readahead_rows`` (set when all of a
dataset's decoded tiles fit in half the cache) a missing tile brings the rest of its tile
row: those tiles follow it in the file, so they arrive in the same requests.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from rasteret.read.engine import TileCache

__all__ = [
    "DEFAULT_TILE_CACHE_BYTES",
    "TileCache",
    "chunk_tile_cache",
    "decoded_tile_bytes",
    "new_tile_cache",
]

#: Default budget of decoded tiles per process (each DataLoader worker has its own).
DEFAULT_TILE_CACHE_BYTES = 256 * 1024 * 1024

_chunk_cache: TileCache | None = None


def chunk_tile_cache() -> TileCache:
    """This process's cache for the tasks of lazy (Dask) reads, made on first use.

    Output chunks that meet inside a COG tile each need that tile: tasks of neighbouring
    chunks that run in one worker process decode it once. Tiles are keyed by URL, image,
    band and position, so a COG rewritten in place under the same URL while a worker lives
    can be served from its old tiles (the index the graph was built from is just as stale).
    The cache object itself is fork-safe: a forked child starts with an empty one.
    """
    global _chunk_cache
    if _chunk_cache is None:
        _chunk_cache = TileCache(DEFAULT_TILE_CACHE_BYTES)
    return _chunk_cache


def decoded_tile_bytes(layouts: pa.Array) -> int:
    """Bytes of every tile of every layout in ``layouts`` (a layout struct column), decoded:
    what a tile cache holding all of them would take (untiled or unknown layouts count 0)."""
    total = 0
    for w, h, tw, th, dtype in zip(
        *(layouts.field(k).to_pylist() for k in _GRID_FIELDS), strict=True
    ):
        if not (w and h and tw and th and dtype):
            continue
        try:
            size = np.dtype(dtype).itemsize
        except TypeError:
            continue
        total += -(-w // tw) * -(-h // th) * tw * th * size
    return total


_GRID_FIELDS = ("image_width", "image_height", "tile_width", "tile_height", "dtype")


def new_tile_cache(max_bytes: int, layouts: pa.Array) -> TileCache:
    """A cache of ``max_bytes`` for reads of ``layouts``, reading whole tile rows ahead when
    every tile of every layout fits in half of it."""
    return TileCache(max_bytes, readahead_rows=decoded_tile_bytes(layouts) <= max_bytes // 2)
