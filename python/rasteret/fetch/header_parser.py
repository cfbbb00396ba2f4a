"""COG header parsing: :class:`AsyncCOGHeaderParser` over the Rust core's header parser, and
two helpers reading GeoTIFF keys from a tag dictionary.

Kept on purpose where a pure-Python TIFF parser would differ: JPEG-compressed files parse
(the core decodes JPEG tiles); big-endian (``MM``) files parse and their pixels are
byte-swapped correctly on read; only IFD0 (the full-resolution image) is described, so
overviews, internal masks and SubIFDs are ignored.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from rasteret._backends import io_options
from rasteret.fetch.layout import ParsedCogMetadata, metadata_from_header
from rasteret.read.engine import header_error, parse_headers
from rasteret.types import CogMetadata

__all__ = ["AsyncCOGHeaderParser", "get_crs_from_tiff_tags", "get_raster_type_from_geokeys"]

logger = logging.getLogger(__name__)

_GEO_KEY_DIRECTORY = 34735
_GEO_DOUBLE_PARAMS = 34736
_GEO_ASCII_PARAMS = 34737
_PROJECTED_CRS_KEY = 3072
_GEOGRAPHIC_CRS_KEY = 2048
_RASTER_TYPE_KEY = 1025
_EPSG_IN_WKT = re.compile(r'ID\["EPSG",(\d+)\]')
#: Parsed headers a parser keeps (least recently parsed dropped first).
_CACHE_ENTRIES = 1000


def _geo_keys(tags: Mapping[int, Any]) -> dict[int, tuple[int, int, int]]:
    """``{key id: (tag location, count, value or offset)}`` of the GeoKeyDirectory (34735):
    a 4-value header whose last value is the key count, then 4 values per key."""
    directory = tags.get(_GEO_KEY_DIRECTORY)
    if not directory:
        return {}
    values = [int(v) for v in directory]
    keys: dict[int, tuple[int, int, int]] = {}
    for start in range(4, 4 + 4 * values[3], 4):
        key_id, location, count, value = values[start : start + 4]
        keys[key_id] = (location, count, value)
    return keys


def get_crs_from_tiff_tags(tags: Mapping[int, Any]) -> int | None:
    """EPSG code of a GeoTIFF from its tags (``{tag id: tuple of values}``), or None.

    Looks first for ``ID["EPSG",<n>]`` in the GeoAsciiParams text (34737, a 1-tuple string or
    a string), then in the GeoKeyDirectory (34735) for ProjectedCRSGeoKey (3072, preferred)
    or GeographicTypeGeoKey (2048), stored inline or in GeoDoubleParams (34736). The
    user-defined code 32767 is returned as it is. A malformed directory gives None.
    """
    text = tags.get(_GEO_ASCII_PARAMS)
    if isinstance(text, tuple | list):
        text = text[0] if text else ""
    if isinstance(text, str):
        found = _EPSG_IN_WKT.search(text)
        if found:
            return int(found.group(1))
    try:
        keys = _geo_keys(tags)
    except (TypeError, ValueError, IndexError):
        logger.debug("malformed GeoKeyDirectory: %r", tags.get(_GEO_KEY_DIRECTORY))
        return None
    doubles = tags.get(_GEO_DOUBLE_PARAMS) or ()
    for key_id in (_PROJECTED_CRS_KEY, _GEOGRAPHIC_CRS_KEY):
        location, count, value = keys.get(key_id, (None, 0, 0))
        if count != 1:
            continue
        if location == 0:
            return value
        if location == _GEO_DOUBLE_PARAMS and 0 <= value < len(doubles):
            return int(doubles[value])
    return None


def get_raster_type_from_geokeys(tags: Mapping[int, Any]) -> int:
    """GTRasterTypeGeoKey (1025) of the GeoKeyDirectory (34735): 1 PixelIsArea, 2 PixelIsPoint.

    1 when the key is absent, not stored inline, or the directory is malformed.
    """
    try:
        location, count, value = _geo_keys(tags).get(_RASTER_TYPE_KEY, (None, 0, 1))
    except (TypeError, ValueError, IndexError):
        return 1
    return value if location == 0 and count == 1 else 1


class AsyncCOGHeaderParser:
    """Parse the headers of tiled GeoTIFFs/COGs into :class:`~rasteret.types.CogMetadata`.

    Each batch of ``batch_size`` URLs is one call into the Rust core, which fetches the
    headers concurrently (at most ``max_concurrent`` requests in flight, each attempted up to
    ``retry_attempts`` times) through ``backend`` (any ``backend=`` value; None routes local
    paths, ``file://``, ``http(s)://``, ``s3://``, ``gs://`` and Azure URLs by default). The
    call runs in a worker thread, so the event loop stays free. Parsed headers are kept for
    ``cache_ttl`` seconds (at most 1000 URLs per parser).

    The metadata returned are :class:`~rasteret.fetch.layout.ParsedCogMetadata`: CogMetadata
    that also carry the header's byte order, bit depth, JPEG tables and LERC parameters, so
    :func:`~rasteret.fetch.cog.read_cog` needs no second header parse. ``transform`` is
    ``[scale_x, translate_x, scale_y, translate_y]``, PixelIsPoint files shifted by half a
    pixel to PixelIsArea; ``crs`` is the EPSG code (32767 for user-defined) or None.

    Use as ``async with AsyncCOGHeaderParser() as parser: ...`` (or without ``async with``).

    Raises
    ------
    NotImplementedError
        (:class:`~rasteret.errors.UnsupportedCogError`) for a striped TIFF, samples that are
        not whole-byte integers or 16/32/64-bit floats, a file without georeferencing, or a
        compression or layout the core does not read.
    ValueError
        (:class:`~rasteret.errors.CogHeaderError`) for a corrupt or truncated TIFF.
    OSError
        (``FileNotFoundError``, ``PermissionError``, :class:`~rasteret.errors.RemoteIOError`)
        when the bytes cannot be fetched.
    """

    def __init__(
        self,
        max_concurrent: int = 300,
        batch_size: int = 100,
        cache_ttl: int = 3600,
        retry_attempts: int = 3,
        backend: Any = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.max_concurrent = max_concurrent
        self.batch_size = batch_size
        self.cache_ttl = cache_ttl
        self.retry_attempts = retry_attempts
        self.backend = backend
        self._options = io_options(
            backend, max_concurrent=max_concurrent, retry_attempts=retry_attempts
        )
        self._cache: OrderedDict[str, tuple[float, ParsedCogMetadata]] = OrderedDict()

    async def __aenter__(self) -> AsyncCOGHeaderParser:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def process_cog_headers_batch(self, urls: Sequence[str]) -> list[CogMetadata | None]:
        """Parse the header of every URL, in batches of ``batch_size``.

        Returns one :class:`~rasteret.types.CogMetadata` per URL, in the order of ``urls``.
        No entry is None: the first URL (in order) whose header cannot be parsed raises its
        error, which ends the whole call (as a build does on one bad asset).
        """
        urls = [str(u) for u in urls]
        out: list[CogMetadata | None] = []
        for start in range(0, len(urls), self.batch_size):
            batch = urls[start : start + self.batch_size]
            parsed = await self._parse_batch(batch)
            out.extend(parsed)
            logger.debug("parsed %d of %d COG headers", start + len(batch), len(urls))
        return out

    async def parse_cog_header(self, url: str) -> CogMetadata:
        """The :class:`~rasteret.types.CogMetadata` of one URL (errors as in the class doc)."""
        (metadata,) = await self._parse_batch([str(url)])
        return metadata

    async def _parse_batch(self, urls: list[str]) -> list[CogMetadata]:
        now = time.monotonic()
        found: dict[str, ParsedCogMetadata] = {}
        for url in dict.fromkeys(urls):
            hit = self._cache.get(url)
            if hit is not None and hit[0] > now:
                found[url] = hit[1]
        missing = [u for u in dict.fromkeys(urls) if u not in found]
        if missing:
            batch = await asyncio.to_thread(parse_headers, missing, options=self._options)
            for row, url in enumerate(missing):
                err = header_error(batch, row)
                if err is not None:
                    raise err
                header = batch.column("metadata")[row].as_py()
                found[url] = metadata_from_header(header, url)
            self._remember(found, missing, now)
        return [copy.deepcopy(found[u]) for u in urls]

    def _remember(self, found: dict[str, ParsedCogMetadata], urls: list[str], now: float) -> None:
        if self.cache_ttl <= 0:
            return
        for url in urls:
            self._cache[url] = (now + self.cache_ttl, found[url])
            self._cache.move_to_end(url)
        while len(self._cache) > _CACHE_ENTRIES:
            self._cache.popitem(last=False)
