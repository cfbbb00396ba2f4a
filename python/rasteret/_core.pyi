"""Typed stubs of rasteret's Rust core (``rasteret._core``).

Every function releases the GIL for its I/O and decoding, checks for Ctrl-C every 100 ms,
and raises the classes of :mod:`rasteret.errors` (``RemoteNotFoundError`` for 404s,
``RemotePermissionError`` for 401/403, ``RemoteIOError`` after retries, ``CogHeaderError`` for
corrupt files or tiles, ``UnsupportedCogError`` for unsupported features, ``ValueError`` for bad
arguments).

Options (``options=`` dict, all optional): ``max_concurrent`` (requests in flight, 150),
``retry_attempts`` (4), ``retry_backoff_ms`` (100), ``timeout_ms`` (30000),
``coalesce_gap_bytes`` (1024), ``max_merged_bytes`` (4 MiB), ``store_options`` (dict of
object-store keys such as ``aws_endpoint``, ``aws_region``, ``aws_skip_signature``),
``readahead_bytes`` (65536), ``tiles_per_batch`` (16), ``batches_in_flight`` (16),
``max_bytes_in_flight`` (compressed bytes of the batches in flight, 128 MiB),
``max_bytes_received`` (HTTP response bytes received but not yet decoded, per read, 16 MiB;
further bodies wait in the socket buffers), ``backend``
(a :class:`CloudBackend`, whose settings route and sign every request, or any object with an
async ``get_range(url, start, length)``, which then serves every byte: the core awaits
its coroutines through ``rasteret._bridge``).
"""

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal, Self, final

import numpy as np
import pyarrow as pa

__all__ = [
    "CloudBackend",
    "__version__",
    "fetch_ranges",
    "fetch_objects",
    "build_profile",
    "parse_headers",
    "read_windows",
    "decode_tile",
    "rasterize_polygons",
    "zonal_stats",
    "TileCache",
]

__version__: str
build_profile: str

def parse_headers(
    urls: Sequence[str],
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> pa.RecordBatch:
    """Parse the COG headers of ``urls`` concurrently.

    Parameters
    ----------
    urls
        Local paths, ``file://``, ``http(s)://``, ``s3://``, ``gs://``, ``az://`` URLs.
    options
        I/O options (see the module docstring).
    progress
        Called with the number of finished URLs, about every 100 ms.

    Returns
    -------
    pyarrow.RecordBatch
        One row per URL, in order: ``url``, ``error`` (message or null), ``error_kind``
        (exception class name or null) and ``metadata``: the ``{band}_metadata`` struct of
        documented in docs/schema.md, with our fields appended (``bits_per_sample``,
        ``sample_format``,
        ``little_endian``, ``tiled``, ``jpeg_tables``, ``lerc_parameters``,
        ``ycbcr_subsampling``, ``new_subfile_type``, ``bigtiff``, ``file_size``, ``crs_epsg``,
        ``crs_wkt``, ``raster_type``, ``geo_transform``, ``scales``, ``offsets``, ``overviews``
        (list of layout structs, largest first) and ``mask`` (layout struct)). A URL that
        fails does not fail the call: its ``metadata`` is null and ``error`` says why.
    """

def read_windows(
    plan: Any,
    out: np.ndarray,
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], object] | None = None,
    tile_cache: TileCache | None = None,
) -> pa.RecordBatch:
    """Read many pixel windows into one preallocated buffer, in one call.

    Parameters
    ----------
    plan
        Any Arrow record batch (PyCapsule protocol) with columns ``url``, ``layout`` (a
        ``{band}_metadata`` struct or an overview/mask entry; or a dictionary array of such
        structs, each distinct layout then parsed once), ``band_index`` (sample of the
        file), ``col_off``, ``row_off``, ``width``, ``height`` (window in image pixels; may
        extend past the image), ``out_offset`` and ``out_row_stride`` (bytes).
    out
        C-contiguous 1-D ``uint8`` view of the output array. Pixels outside an image are left
        as they are (pre-fill with the fill value); sparse tiles are filled with nodata or 0.
    options
        I/O options (see the module docstring).
    progress
        Called as ``progress(done, total)`` with tiles read / tiles to read, about every
        100 ms and once at the end (not called for reads through ``tile_cache``).
    tile_cache
        Assemble the windows from this cache's decoded tiles: only tiles it does not hold
        are fetched (whole tiles, in one engine read) and kept in it.

    Returns
    -------
    pyarrow.RecordBatch
        The windows that failed, one row each in plan order (empty when every window was
        read): ``row`` (int64, the plan row), ``url`` (as in the plan), ``error_kind`` (the
        name of the exception class the failure maps to, e.g. ``"RemoteNotFoundError"``,
        ``"CogHeaderError"``) and ``error`` (its message, naming the URL). A tile that cannot
        be fetched or decoded fails every window that needs it, and a window whose file
        layout is corrupt or unsupported fails alone; the other windows are read in full.
        The output bytes of a failed window are unspecified.

    Raises
    ------
    ValueError
        The plan is malformed (missing column, null or inconsistent row: window, stride,
        band index), ``out`` is too small or not contiguous, or an option is invalid.
    KeyboardInterrupt
        Ctrl-C stopped the read.
    """

def decode_tile(
    data: bytes,
    *,
    compression: int,
    width: int,
    rows: int,
    bits_per_sample: int = 8,
    sample_format: int = 1,
    samples: int = 1,
    predictor: int = 1,
    little_endian: bool = True,
    photometric: int | None = None,
    jpeg_tables: bytes | None = None,
    lerc_parameters: list[int] | None = None,
    nodata: float | None = None,
    rows_needed: int | None = None,
) -> bytes:
    """Decode one compressed tile into native-endian samples (``rows_needed`` rows)."""

def rasterize_polygons(
    geometries: Sequence[bytes],
    transforms: Sequence[Sequence[float]],
    shapes: Sequence[tuple[int, int]],
    *,
    all_touched: bool = False,
    windows: Sequence[tuple[int, int, int, int]] | None = None,
) -> list[np.ndarray]:
    """One boolean ``(height, width)`` mask per WKB Polygon/MultiPolygon of ``geometries``,
    ``True`` where ``rasterio.features.geometry_mask(..., invert=True)`` (GDAL's rasterizer)
    would burn it on the grid of the matching ``(a, b, c, d, e, f)`` transform.

    With ``windows``, mask ``i`` is only the part ``(row_off, col_off, height, width)`` of
    grid ``i``: pixel for pixel what the whole grid's mask holds there (crossings are
    computed on the whole grid).

    Raises ``ValueError`` (naming the geometry's index) for malformed WKB, a non-polygonal
    geometry, a non-finite coordinate or a transform that cannot be inverted.
    """

def zonal_stats(
    plan: Any,
    geometries: Sequence[bytes],
    *,
    mask_plan: Any = None,
    all_touched: bool = False,
    options: dict[str, Any] | None = None,
    strip_bytes: int | None = None,
    batch_bytes: int | None = None,
) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """Pixel statistics of polygons over image windows, reduced as the windows are decoded.

    Parameters
    ----------
    plan
        The columns of a ``read_windows`` plan, one row per (geometry, image band): the
        window is the geometry's whole bounds window on the image (it may reach outside;
        only its part inside the image is read; ``out_offset``/``out_row_stride`` are
        ignored). Also ``geometry`` (int64, index into ``geometries``), ``a, b, c, d, e, f``
        (float64, the transform of the window's pixel (0, 0)) and optionally ``nodata``
        (float64, null: none; the value left out of the statistics; without the column,
        the layout's ``nodata``).
    geometries
        WKB Polygons/MultiPolygons, in the CRS of the rows that use them.
    mask_plan
        Internal-mask windows (uint8 layouts, 0 = invalid): the read columns plus ``row``
        (int64, the plan row it masks; its window is taken from that row).
    all_touched
        Burn every pixel a polygon touches, not only those whose centre it covers (GDAL's
        rules, as ``rasterize_polygons``).
    options
        I/O options, as ``read_windows``.
    strip_bytes, batch_bytes
        Decoded bytes of one strip (rows of a window reduced at once) and of one batch
        (strips read in one pass) at most; defaults 16 MiB and 64 MiB.

    Returns
    -------
    tuple of pyarrow.RecordBatch
        Per plan row ``count`` (int64: burnt pixels inside the image that are valid in the
        mask, not NaN and not nodata), ``sum``, ``mean``, ``min``, ``max``, ``std``
        (float64, population; null when ``count`` is 0 or the row failed); and the failure
        report of ``read_windows`` (rows whose tiles could not be read, or whose polygon
        could not be rasterized).

    Raises
    ------
    ValueError
        A malformed plan or WKB, a geometry index out of range.
    """

def fetch_ranges(
    url: str,
    ranges: Sequence[tuple[int, int]],
    *,
    options: dict[str, Any] | None = None,
) -> list[bytes]:
    """Bytes of each ``(start, length)`` range of ``url`` (nearby ranges merged, fetched
    concurrently, retried); a range past the end of the object is a ``CogHeaderError``."""

def fetch_objects(
    urls: Sequence[str],
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> pa.RecordBatch:
    """Fetch the whole object at each of ``urls`` concurrently (small documents such as STAC
    JSON: one request each up to 1 MiB, one more for larger ones; at most 1 GiB), with the
    routing, retries and concurrency limit of range reads.

    Parameters
    ----------
    urls
        Local paths, ``file://``, ``http(s)://``, ``s3://``, ``gs://``, ``az://`` URLs.
    options
        I/O options (see the module docstring).
    progress
        Called with the number of finished URLs, about every 100 ms.

    Returns
    -------
    pyarrow.RecordBatch
        One row per URL, in order: ``url``, ``error`` (message naming the URL, or null),
        ``error_kind`` (exception class name or null) and ``data`` (``large_binary``, the
        object's bytes; null when it failed). A URL that fails does not fail the call.
    """

@final
class CloudBackend:
    """Settings of the auto-routing backend (``rasteret.create_backend``).

    S3 configuration of a bucket: ``default_s3_config`` overlaid by ``s3_overrides[bucket]``,
    then the AWS environment for what they leave unset (endpoint, region, plain HTTP,
    credentials). ``skip_signature=true`` keeps a bucket anonymous (except requester-pays);
    access keys in the configuration, then the credential provider, then the environment's
    keys sign. ``credential_provider`` (any callable, sync or async, returning a credential
    dict with ``expires_at``) is called only when no credential is cached or the cached one
    is within ``min(60 s, lifetime / 4)`` of expiring, or after a server rejected it.
    ``credential_scope`` limits the provider to one kind of store; others are configured as
    if there were no provider (the environment, else anonymous access).
    """

    def __new__(
        cls,
        *,
        url_patterns: dict[str, str] | None = None,
        default_s3_config: dict[str, Any] | None = None,
        s3_overrides: dict[str, dict[str, Any]] | None = None,
        credential_provider: Callable[[], Any] | None = None,
        credential_scope: Literal["s3", "gcs", "azure", "http"] | None = None,
    ) -> Self: ...
    def credential_fetches(self) -> int:
        """How many times the credential provider has been called."""
    def s3_config(self, bucket: str) -> dict[str, str]:
        """The resolved object_store S3 settings of ``bucket``, environment included
        (``aws_skip_signature: "true"`` when requests are anonymous; secrets masked)."""

@final
class TileCache:
    """A per-process LRU of decoded tiles, bounded by ``max_bytes``.

    Pass it to :func:`read_windows` to assemble windows from tiles read before. Keys are
    ``(url, ifd, band, tile row, tile col)``. A process forked from the one that filled it
    starts empty; :meth:`share` adds a directory of tile files that every process of one
    dataset reads and writes (the DataLoader workers of one TorchGeo dataset).

    Parameters
    ----------
    max_bytes
        Budget of decoded tile bytes kept in memory; least recently used tiles go first.
    readahead_rows
        A missing tile brings the rest of its tile row (the tiles that follow it in a COG,
        fetched in the same requests).

    Raises
    ------
    ValueError
        ``max_bytes`` is negative.
    """

    def __new__(cls, max_bytes: int, readahead_rows: bool = False) -> Self: ...
    @property
    def max_bytes(self) -> int: ...
    @property
    def readahead_rows(self) -> bool: ...
    @property
    def hits(self) -> int:
        """Tiles found in memory or in the shared directory, over this cache's life."""
    @property
    def misses(self) -> int:
        """Tiles that had to be fetched, over this cache's life."""
    @property
    def shared_hits(self) -> int:
        """Tiles found in the shared directory (written by any process sharing it)."""
    @property
    def nbytes(self) -> int:
        """Decoded bytes held in memory."""
    def __len__(self) -> int:
        """Tiles held in memory."""
    def clear(self) -> None:
        """Drop every tile held in memory (the shared directory is left as it is)."""
    def share(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        """Also keep tiles as files in ``directory`` (created on first write), at most about
        ``max_bytes`` of them (oldest removed first), and look tiles up there."""
    def read_held(self, plan: Any, out: np.ndarray) -> list[bool]:
        """Read the rows of a :func:`read_windows` plan whose tiles are all held (in memory or
        in the shared directory) into ``out``, without fetching anything; per row, whether
        it was read (the others are left untouched)."""
