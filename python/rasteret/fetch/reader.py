"""Tile-level reads: :class:`COGTileRequest` and :class:`COGReader` (byte ranges through a
storage backend, tiles decoded by the Rust core)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret._backends import create_backend, io_options
from rasteret.errors import RemoteIOError, UnsupportedCogError
from rasteret.fetch.layout import HEADER_FIELDS, layout_struct, needs_header_fields
from rasteret.read.engine import decode_tile, read_header
from rasteret.types import CogMetadata

__all__ = ["COGReader", "COGTileRequest"]

logger = logging.getLogger(__name__)

#: Merged ranges of one URL fetched at the same time.
_RANGES_IN_FLIGHT = 20


@dataclass
class COGTileRequest:
    """One tile to read: ``size`` bytes at ``offset`` of ``url``, the tile at (``row``,
    ``col``) of the grid ``metadata`` describes; ``band_index`` picks the sample of a chunky
    multi-sample tile (None: the whole tile)."""

    url: str
    offset: int
    size: int
    row: int
    col: int
    metadata: CogMetadata
    band_index: int | None = None


class COGReader:
    """Reads and decodes COG tiles; use as ``async with COGReader() as reader``.

    Parameters
    ----------
    max_concurrent
        Byte-range reads in flight at once (also the Rust core's limit for
        :func:`~rasteret.fetch.cog.read_cog` calls given this reader).
    backend
        Any ``backend=`` value (``rasteret.create_backend(...)``, an ``ObstoreBackend`` or an
        object with async ``get_range(url, start, length)``); None: the default auto-routing
        backend, created on enter.

    For a plain :class:`~rasteret.types.CogMetadata` (not from
    :class:`~rasteret.fetch.header_parser.AsyncCOGHeaderParser`), the header fields decoding
    needs (byte order, JPEG tables, LERC parameters) are parsed once per URL and kept for the
    reader's life.
    """

    def __init__(self, max_concurrent: int = 150, backend: Any = None) -> None:
        self.max_concurrent = max_concurrent
        self.backend = backend
        self._semaphore: asyncio.Semaphore | None = None
        self._header_fields: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> COGReader:
        self._semaphore = asyncio.Semaphore(self.max_concurrent)
        if self.backend is None:
            self.backend = create_backend()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def core_options(self) -> dict[str, Any]:
        """The Rust core's I/O options for this reader (its backend and concurrency)."""
        return io_options(self.backend, max_concurrent=self.max_concurrent)

    def merge_ranges(
        self, requests: Sequence[COGTileRequest], gap_threshold: int = 1024
    ) -> list[tuple[int, int]]:
        """Sorted ``(start, end)`` byte ranges covering every request, ranges less than
        ``gap_threshold`` bytes apart merged (``start <= previous end + gap_threshold``)."""
        merged: list[tuple[int, int]] = []
        for start, end in sorted((r.offset, r.offset + r.size) for r in requests):
            if merged and start <= merged[-1][1] + gap_threshold:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    async def layout(self, url: str, metadata: CogMetadata) -> pa.StructScalar:
        """The tile layout the Rust core reads for ``metadata`` at ``url`` (parsing the
        header once per URL when ``metadata`` lacks fields decoding needs)."""
        if not needs_header_fields(metadata):
            return layout_struct(metadata)
        found = self._header_fields.get(url)
        if found is None:
            header = await asyncio.to_thread(read_header, url, options=self.core_options())
            found = {name: header[name].as_py() for name in HEADER_FIELDS}
            self._header_fields[url] = found
        return layout_struct(metadata, found)

    async def read_merged_tiles(
        self, requests: Sequence[COGTileRequest], debug: bool = False
    ) -> dict[tuple[int, int, int | None], np.ndarray]:
        """Fetch and decode the tiles of ``requests``.

        Requests are grouped by URL; each group's byte ranges are merged
        (:meth:`merge_ranges`) and fetched up to 20 at a time. Each distinct tile
        (offset, size, metadata) is decoded once, and chunky multi-sample tiles give one
        ``(tile_height, tile_width)`` array per requested ``band_index`` (bands of one tile
        share its fetch and decoding). Tiles of 0 bytes (sparse) are nodata-filled (0
        without nodata). Arrays are read-only.

        Returns
        -------
        ``{(row, col, band_index): array}``

        Raises
        ------
        RuntimeError
            Two requests share a ``(row, col, band_index)`` key.
        OSError
            A merged range came back shorter than requested
            (:class:`~rasteret.errors.RemoteIOError`), or the fetch failed.
        NotImplementedError
            A chunky multi-sample tile requested without ``band_index``.
        ValueError
            ``band_index`` outside the samples of a chunky tile.
        """
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_concurrent)
        if self.backend is None:
            self.backend = create_backend()
        by_url: dict[str, list[COGTileRequest]] = {}
        for req in requests:
            by_url.setdefault(req.url, []).append(req)
        out: dict[tuple[int, int, int | None], np.ndarray] = {}
        for url, group in by_url.items():
            tiles = await self._fetch_tiles(url, group)
            layouts = {}
            for req in group:
                if id(req.metadata) not in layouts:
                    struct = await self.layout(url, req.metadata)
                    layouts[id(req.metadata)] = struct.as_py()
            decoded = await asyncio.to_thread(_decode_all, group, tiles, layouts)
            for req, tile in zip(group, decoded, strict=True):
                key = (req.row, req.col, req.band_index)
                if key in out:
                    raise RuntimeError(f"Duplicate tile request key {key} for {url}")
                out[key] = tile
            if debug:
                logger.info("%s: %d tiles from %d requests", url, len(tiles), len(group))
        return out

    async def _fetch_tiles(
        self, url: str, group: Sequence[COGTileRequest]
    ) -> dict[tuple[int, int], bytes]:
        """``{(offset, size): bytes}`` of every non-empty tile of ``group``."""
        wanted = [r for r in group if r.size > 0]
        ranges = self.merge_ranges(wanted)
        bodies: list[bytes] = []
        for first in range(0, len(ranges), _RANGES_IN_FLIGHT):
            chunk = ranges[first : first + _RANGES_IN_FLIGHT]
            bodies += await asyncio.gather(*(self._get(url, s, e) for s, e in chunk))
        tiles: dict[tuple[int, int], bytes] = {}
        spans = list(zip(ranges, bodies, strict=True))
        for req in wanted:
            for (start, end), body in spans:
                if start <= req.offset < end:
                    part = body[req.offset - start : req.offset - start + req.size]
                    if len(part) != req.size:
                        raise RemoteIOError(
                            f"Merged tile range was shorter than expected for {url}: tile "
                            f"offset={req.offset}, expected={req.size} bytes, got={len(part)}."
                        )
                    tiles[(req.offset, req.size)] = part
                    break
        return tiles

    async def _get(self, url: str, start: int, end: int) -> bytes:
        assert self._semaphore is not None
        async with self._semaphore:
            body = bytes(await self.backend.get_range(url, start, end - start))
        if len(body) != end - start:
            raise RemoteIOError(
                f"Truncated backend range response for {url}: requested bytes={start}..{end}, "
                f"expected {end - start} bytes, got {len(body)}."
            )
        return body


def _decode_all(
    group: Sequence[COGTileRequest],
    tiles: dict[tuple[int, int], bytes],
    layouts: dict[int, dict[str, Any]],
) -> list[np.ndarray]:
    """One array per request: each distinct (offset, size, metadata) decoded once."""
    decoded: dict[tuple[int, int, int], np.ndarray] = {}
    out = []
    for req in group:
        layout = layouts[id(req.metadata)]
        key = (req.offset, req.size, id(req.metadata))
        tile = decoded.get(key)
        if tile is None:
            body = tiles.get((req.offset, req.size))
            tile = decoded[key] = _empty_tile(layout) if body is None else decode_tile(body, layout)
        out.append(_band(tile, req.band_index, req.url))
    return out


def _empty_tile(layout: dict[str, Any]) -> np.ndarray:
    """A sparse (0-byte) tile: nodata, or 0 when the file has none."""
    dtype = np.dtype(layout["dtype"])
    chunky = int(layout.get("planar_configuration") or 1) != 2
    samples = int(layout.get("samples_per_pixel") or 1) if chunky else 1
    shape = (int(layout["tile_height"]), int(layout["tile_width"]))
    nodata = layout.get("nodata")
    fill = 0 if nodata is None or (np.isnan(nodata) and dtype.kind != "f") else nodata
    tile = np.full(shape + ((samples,) if samples > 1 else ()), fill, dtype=dtype)
    tile.setflags(write=False)
    return tile


def _band(tile: np.ndarray, band_index: int | None, url: str) -> np.ndarray:
    if tile.ndim == 2:
        return tile
    samples = tile.shape[2]
    if band_index is None:
        raise UnsupportedCogError(
            f"Chunky multi-sample TIFF tiles ({samples} samples per pixel) require an explicit "
            f"band_index to select the requested sample: {url}"
        )
    if not 0 <= band_index < samples:
        raise ValueError(f"band_index {band_index} out of range for {samples} samples")
    return tile[:, :, band_index]
