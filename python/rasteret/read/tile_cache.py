"""A per-process LRU of decoded tiles for TorchGeo chips (what GDAL's block cache does for
TorchGeo's own reader): chips that overlap, revisit a scene or stack dates reuse tiles
instead of fetching and decoding them again.

Missing tiles of one request are read in ONE call into the Rust core (whole tiles, pixels
outside the image pre-filled with the fill value), then every window is assembled from tiles.
With ``readahead_rows`` (set by the dataset when all its decoded tiles fit in half the
cache), a missing tile brings the rest of its tile row along: those tiles follow it in the
file, so they come in the same requests, and later chips in that row need no round trip.
``lookup`` / ``fetch`` / ``assemble`` are the three steps, so a caller can serve the windows
whose tiles are all cached while the missing ones are fetched on another thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.read import engine as _read
from rasteret.read.shared_tiles import SharedTileStore

#: Default budget of decoded tiles per process (each DataLoader worker has its own).
DEFAULT_TILE_CACHE_BYTES = 256 * 1024 * 1024


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


@dataclass(frozen=True)
class WindowSpec:
    """One window to read: source identity, tile grid and the window in image pixels."""

    url: str
    band_index: int
    layout_row: int
    window: tuple[int, int, int, int]  # col_off, row_off, width, height (may leave the image)
    dtype: np.dtype
    fill: Any
    tile_width: int
    tile_height: int
    width: int
    height: int


_Key = tuple[str, int, int, int]  # url, band_index, tile row, tile col


@dataclass
class TileLookup:
    """What :meth:`TileCache.lookup` found for a list of windows: per window its tile keys,
    the tiles at hand, the tiles still to fetch (with a window that needs each) and, after
    :meth:`TileCache.fetch`, the tiles that could not be read (with why)."""

    got: dict[_Key, np.ndarray] = field(default_factory=dict)
    missing: dict[_Key, WindowSpec] = field(default_factory=dict)
    keys: list[list[_Key]] = field(default_factory=list)
    failed: dict[_Key, BaseException] = field(default_factory=dict)

    def ready(self, window: int) -> bool:
        """Whether every tile of window ``window`` is at hand."""
        return all(k in self.got for k in self.keys[window])

    def error(self, window: int) -> BaseException | None:
        """Why window ``window`` cannot be assembled (its first failed tile), or None."""
        return next((self.failed[k] for k in self.keys[window] if k in self.failed), None)


class TileCache:
    """LRU of decoded tiles bounded by ``max_bytes``, in front of an optional ``shared``
    store (tiles other processes of the same dataset have read)."""

    def __init__(
        self,
        max_bytes: int = DEFAULT_TILE_CACHE_BYTES,
        shared: SharedTileStore | None = None,
        readahead_rows: bool = False,
    ) -> None:
        self.max_bytes = int(max_bytes)
        self.shared = shared
        self.readahead_rows = readahead_rows
        self._tiles: OrderedDict[_Key, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # chips may be read from several threads
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._tiles)

    def _put(self, key: _Key, tile: np.ndarray) -> None:
        if tile.nbytes > self.max_bytes:
            return
        with self._lock:
            previous = self._tiles.pop(key, None)
            if previous is not None:
                self._bytes -= previous.nbytes
            self._tiles[key] = tile
            self._bytes += tile.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._tiles.popitem(last=False)
                self._bytes -= old.nbytes

    def _get(self, key: _Key) -> np.ndarray | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    @staticmethod
    def _tiles_of(spec: WindowSpec) -> list[tuple[int, int]]:
        c0, r0, w, h = spec.window
        cc0, cc1 = max(c0, 0), min(c0 + w, spec.width)
        rr0, rr1 = max(r0, 0), min(r0 + h, spec.height)
        if cc1 <= cc0 or rr1 <= rr0:
            return []
        tw, th = spec.tile_width, spec.tile_height
        return [
            (ty, tx)
            for ty in range(rr0 // th, (rr1 - 1) // th + 1)
            for tx in range(cc0 // tw, (cc1 - 1) // tw + 1)
        ]

    def read(
        self,
        specs: list[WindowSpec],
        take: Callable[[tuple[int, ...]], pa.Array],
        options: dict[str, Any],
        failures: dict[int, BaseException] | None = None,
    ) -> list[np.ndarray]:
        """Every window of ``specs`` as a ``(height, width)`` array (fill outside the image).

        ``take(rows)`` returns the plan's layout column for those layout rows. A window with
        a tile that cannot be read raises its exception; with ``failures`` given, it is
        recorded there instead (window index -> exception; its array is all fill).
        """
        found = self.lookup(specs)
        self.fetch(found, take, options)
        outs = []
        for i, (spec, keys) in enumerate(zip(specs, found.keys, strict=True)):
            error = found.error(i)
            if error is None:
                outs.append(self.assemble(spec, keys, found.got))
            elif failures is None:
                raise error
            else:
                failures[i] = error
                outs.append(np.full((spec.window[3], spec.window[2]), spec.fill, spec.dtype))
        return outs

    def lookup(self, specs: list[WindowSpec]) -> TileLookup:
        """The tiles ``specs`` need: those this process (or the shared store) already has,
        and those still to :meth:`fetch`."""
        found = TileLookup()
        for spec in specs:
            keys = []
            for ty, tx in self._tiles_of(spec):
                key = (spec.url, spec.band_index, ty, tx)
                keys.append(key)
                if key in found.got or key in found.missing:
                    continue
                tile = self._get(key)
                if tile is None and self.shared is not None:
                    tile = self.shared.get(key, (spec.tile_height, spec.tile_width), spec.dtype)
                    if tile is not None:
                        self._put(key, tile)
                if tile is None:
                    found.missing[key] = spec
                    self.misses += 1
                else:
                    found.got[key] = tile
                    self.hits += 1
            found.keys.append(keys)
        return found

    def fetch(
        self,
        found: TileLookup,
        take: Callable[[tuple[int, ...]], pa.Array],
        options: dict[str, Any],
    ) -> None:
        """Read every missing tile of ``found`` in ONE call into the Rust core, add them to
        ``found.got`` and to the cache (and the shared store); tiles that cannot be read go to
        ``found.failed``. Safe to run on another thread while :meth:`assemble` serves windows
        whose tiles were all found."""
        if not found.missing:
            return
        if self.readahead_rows:
            self._add_rows(found)
        keys = list(found.missing)
        sources = [found.missing[k] for k in keys]
        failures: dict[int, BaseException] = {}
        tiles = _read.read_flat(
            [s.url for s in sources],
            take(tuple(s.layout_row for s in sources)),
            [s.band_index for s in sources],
            [
                (k[3] * s.tile_width, k[2] * s.tile_height, s.tile_width, s.tile_height)
                for k, s in zip(keys, sources, strict=True)
            ],
            [s.dtype for s in sources],
            [s.fill for s in sources],
            options=options,
            failures=failures,
        )
        fetched = {}
        for i, (key, tile) in enumerate(zip(keys, tiles, strict=True)):
            if i in failures:
                found.failed[key] = failures[i]
                continue
            tile = tile.copy()  # own memory: evicting one tile frees it
            fetched[key] = tile
            self._put(key, tile)
            if self.shared is not None:
                self.shared.put(key, tile)
        found.got.update(fetched)
        found.missing.clear()

    def _add_rows(self, found: TileLookup) -> None:
        """Add the uncached tiles of every missing tile's row to ``found.missing``."""
        with self._lock:
            for (url, band, ty, _), spec in list(found.missing.items()):
                for tx in range(-(-spec.width // spec.tile_width)):
                    key = (url, band, ty, tx)
                    if key not in found.got and key not in self._tiles:
                        found.missing.setdefault(key, spec)

    @staticmethod
    def assemble(spec: WindowSpec, keys: list[_Key], got: dict[_Key, np.ndarray]) -> np.ndarray:
        """The window of ``spec`` from its tiles ``keys`` (all in ``got``)."""
        c0, r0, w, h = spec.window
        if c0 >= 0 and r0 >= 0 and c0 + w <= spec.width and r0 + h <= spec.height:
            out = np.empty((h, w), dtype=spec.dtype)  # the tiles cover every pixel
        else:
            out = np.full((h, w), spec.fill, dtype=spec.dtype)
        tw, th = spec.tile_width, spec.tile_height
        for key in keys:
            ty, tx = key[2], key[3]
            x0, x1 = max(c0, tx * tw), min(c0 + w, tx * tw + tw, spec.width)
            y0, y1 = max(r0, ty * th), min(r0 + h, ty * th + th, spec.height)
            if x1 <= x0 or y1 <= y0:
                continue
            out[y0 - r0 : y1 - r0, x0 - c0 : x1 - c0] = got[key][
                y0 - ty * th : y1 - ty * th, x0 - tx * tw : x1 - tx * tw
            ]
        return out
