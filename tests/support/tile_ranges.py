"""Which COG tiles an HTTP Range request fetched, from GDAL's view of the file's tile layout
(band 1, full resolution): for tests that check what a read asked the server for."""

from __future__ import annotations

import re

import rasterio

__all__ = ["request_tiles", "tile_byte_ranges"]


def tile_byte_ranges(path) -> dict[tuple[int, int], tuple[int, int]]:
    """The byte range ``[start, end]`` of every tile ``(row, col)`` of band 1 of ``path``."""
    out = {}
    with rasterio.open(path) as src:
        th, tw = src.block_shapes[0]
        for row in range(-(-src.height // th)):
            for col in range(-(-src.width // tw)):
                start = int(src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
                size = int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
                out[(row, col)] = (start, start + size - 1)
    return out


def request_tiles(
    range_header: str | None, ranges: dict[tuple[int, int], tuple[int, int]]
) -> list[tuple[int, int]] | None:
    """The tiles ``(row, col)`` whose bytes a ``bytes=first-last`` request overlaps (a
    coalesced request covers several); None for a request without a bounded range."""
    match = re.fullmatch(r"bytes=(\d+)-(\d+)", range_header or "")
    if not match:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    return [tile for tile, (start, end) in ranges.items() if first <= end and last >= start]
