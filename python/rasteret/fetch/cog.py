"""Tile-level COG reads: :func:`read_cog` (one band for an AOI, a window or the whole image),
:class:`COGReader` / :class:`COGTileRequest` (raw tiles), and the tile arithmetic helpers
:func:`compute_tile_indices`, :func:`merge_tiles`, :func:`apply_mask_and_crop`.

These wrap rasteret's Rust core (byte-range fetching, decoding, placement). Kept on purpose
where a pure-Python decoder would differ: JPEG tiles decode, big-endian files are
byte-swapped correctly, and sparse (0-byte) tiles read as fill.
"""

from __future__ import annotations

from rasteret.fetch.read import CogReadResult, read_cog
from rasteret.fetch.reader import COGReader, COGTileRequest
from rasteret.fetch.tiles import apply_mask_and_crop, compute_tile_indices, merge_tiles

__all__ = [
    "COGReader",
    "COGTileRequest",
    "CogReadResult",
    "apply_mask_and_crop",
    "compute_tile_indices",
    "merge_tiles",
    "read_cog",
]
