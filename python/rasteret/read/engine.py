"""The only module that calls the Rust core's header and read functions.

It turns header rows and pixel windows into the Arrow plan ``_core.read_windows`` expects,
allocates the output once, and maps per-URL header errors and per-window read failures to
:mod:`rasteret.errors` classes.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rasteret import _core, errors
from rasteret._sigint import interruptible
from rasteret.read.grid import fill_value
from rasteret.read.layouts import dtype_of, inside_image, overview_layout

#: A per-process LRU of decoded tiles (``rasteret._core.TileCache``): reads given one
#: assemble their windows from tiles read before and fetch only the missing ones.
TileCache = _core.TileCache

#: Polygon masks with GDAL's rasterization rules (``rasteret._core.rasterize_polygons``).
rasterize_polygons = _core.rasterize_polygons

#: Per-window pixel statistics, reduced as the windows are decoded (``_core.zonal_stats``).
zonal_stats = _core.zonal_stats

_ERROR_CLASSES: dict[str, type[BaseException]] = {
    "RemoteNotFoundError": errors.RemoteNotFoundError,
    "RemotePermissionError": errors.RemotePermissionError,
    "RemoteIOError": errors.RemoteIOError,
    "CogHeaderError": errors.CogHeaderError,
    "UnsupportedCogError": errors.UnsupportedCogError,
    "ValueError": ValueError,
    "KeyboardInterrupt": KeyboardInterrupt,
    "RuntimeError": RuntimeError,
}


def parse_headers(
    urls: Sequence[str],
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> pa.RecordBatch:
    """Parse many COG headers concurrently (see ``rasteret._core.parse_headers``); Ctrl-C
    stops it promptly, also inside ``asyncio.run`` (builds run there)."""
    with interruptible():
        return _core.parse_headers(list(urls), options=options, **_progress_kw(progress))


def _read_windows(
    plan: pa.RecordBatch,
    buffer: np.ndarray,
    options: dict[str, Any] | None,
    progress: Callable[[int, int], object] | None,
    failures: dict[int, BaseException] | None = None,
    tile_cache: TileCache | None = None,
) -> None:
    """One ``_core.read_windows`` call; Ctrl-C stops it promptly (also in ``asyncio.run``).

    Windows that failed go to ``failures`` (plan row -> exception) when it is given; without
    it the failure of the first failed row is raised.
    """
    plan = with_byte_order(plan, options)
    kw = _progress_kw(progress)
    if tile_cache is not None:
        kw["tile_cache"] = tile_cache
    with interruptible():
        report = _core.read_windows(plan, buffer, options=options, **kw)
    by_row = window_errors(report)
    if failures is not None:
        failures.update(by_row)
    elif by_row:
        raise by_row[min(by_row)]


def _struct_fields(structs: pa.StructArray) -> dict[str, pa.Array]:
    """The child arrays of ``structs`` (offset-adjusted), by name."""
    names = [structs.type.field(i).name for i in range(structs.type.num_fields)]
    return dict(zip(names, structs.flatten(), strict=True))


def _sample_bits(fields: dict[str, pa.Array]) -> list[int]:
    """Bits per sample of each layout (``bits_per_sample``, else from ``dtype``)."""
    if "bits_per_sample" in fields:
        return [int(b or 8) for b in fields["bits_per_sample"].to_pylist()]
    return [np.dtype(d).itemsize * 8 if d else 8 for d in fields["dtype"].to_pylist()]


def with_byte_order(plan: pa.RecordBatch, options: dict[str, Any] | None) -> pa.RecordBatch:
    """``plan`` whose multi-byte layouts all state their byte order.

    Layouts made by a build always carry ``little_endian``. Layouts assembled from the
    documented ``{band}_metadata`` fields alone (``add_band_metadata_columns``) do not, and
    the core would read a big-endian file's samples byte-swapped; those files' headers are
    parsed here (concurrently, one request per file) to fill it in.

    Raises
    ------
    rasteret.errors.CogHeaderError
        (or the error class of the failure) A header needed for its byte order cannot be read.
    """
    layout = plan.column("layout")
    dictionary = pa.types.is_dictionary(layout.type)
    structs = layout.dictionary if dictionary else layout
    if not isinstance(structs, pa.StructArray) or len(structs) == 0:
        return plan
    if "little_endian" in structs.type.names and structs.field("little_endian").null_count == 0:
        return plan  # every layout a build made states it: nothing to look up
    fields = _struct_fields(structs)
    if "dtype" not in fields and "bits_per_sample" not in fields:
        return plan  # the core rejects such a plan with its own error
    stated = fields.get("little_endian")
    values = stated.to_pylist() if stated is not None else [None] * len(structs)
    bits = _sample_bits(fields)
    missing = {k for k, v in enumerate(values) if v is None and bits[k] > 8}
    if not missing:
        return plan
    keys = layout.indices.to_pylist() if dictionary else list(range(len(layout)))
    urls = plan.column("url").to_pylist()
    url_of: dict[int, str] = {}
    for row, key in enumerate(keys):
        if key is not None:
            url_of.setdefault(key, urls[row])
    headers = parse_headers(sorted({url_of[k] for k in missing if k in url_of}), options=options)
    little: dict[str, bool] = {}
    for row, url in enumerate(headers.column("url").to_pylist()):
        failed = header_error(headers, row)
        if failed is not None:
            raise failed
        little[url] = bool(headers.column("metadata")[row]["little_endian"].as_py())
    filled = [
        little.get(url_of.get(k, ""), True) if k in missing else v for k, v in enumerate(values)
    ]
    fields["little_endian"] = pa.array(filled, pa.bool_())
    rebuilt = pa.StructArray.from_arrays(
        list(fields.values()), names=list(fields), mask=structs.is_null()
    )
    if dictionary:
        rebuilt = pa.DictionaryArray.from_arrays(layout.indices, rebuilt)
    return plan.set_column(plan.schema.get_field_index("layout"), "layout", rebuilt)


def _error_of(kind: str | None, message: str) -> BaseException:
    """The :mod:`rasteret.errors` exception (or builtin) named ``kind``, with ``message``."""
    return _ERROR_CLASSES.get(kind or "RuntimeError", RuntimeError)(message)


def header_error(batch: pa.RecordBatch, row: int) -> BaseException | None:
    """The exception for a failed row of :func:`parse_headers` (None when it succeeded)."""
    message = batch.column("error")[row].as_py()
    if message is None:
        return None
    return _error_of(batch.column("error_kind")[row].as_py(), message)


def window_errors(report: pa.RecordBatch) -> dict[int, BaseException]:
    """Plan row -> the exception its window failed with, from the failure report of
    ``_core.read_windows`` (the same class and message the read raises for that window)."""
    rows = report.column("row").to_pylist()
    kinds = report.column("error_kind").to_pylist()
    messages = report.column("error").to_pylist()
    return {
        row: _error_of(kind, message)
        for row, kind, message in zip(rows, kinds, messages, strict=True)
    }


def read_header(url: str, *, options: dict[str, Any] | None = None) -> pa.StructScalar:
    """Parse one header; raise the mapped exception when it fails."""
    batch = parse_headers([url], options=options)
    err = header_error(batch, 0)
    if err is not None:
        raise err
    return batch.column("metadata")[0]


def decode_tile(data: bytes, layout: dict[str, Any]) -> np.ndarray:
    """Decode one compressed tile of ``layout`` (``{band}_metadata`` fields as a dict, plus the
    header's ``little_endian``, ``bits_per_sample``, ``sample_format``, ``jpeg_tables``,
    ``lerc_parameters`` when known) into a read-only native-endian array of shape
    ``(tile_height, tile_width)``, or ``(tile_height, tile_width, samples)`` for a chunky
    multi-sample layout. Without ``little_endian`` the bytes are taken as little-endian."""
    dtype = dtype_of(layout)
    bits, sample_format = layout.get("bits_per_sample"), layout.get("sample_format")
    if bits is None or sample_format is None:
        bits, sample_format = dtype.itemsize * 8, {"u": 1, "i": 2, "f": 3}[dtype.kind]
    chunky = int(layout.get("planar_configuration") or 1) != 2
    samples = int(layout.get("samples_per_pixel") or 1) if chunky else 1
    rows, width = int(layout["tile_height"]), int(layout["tile_width"])
    little_endian = layout.get("little_endian")
    raw = _core.decode_tile(
        bytes(data),
        compression=int(layout.get("compression") or 1),
        width=width,
        rows=rows,
        bits_per_sample=int(bits),
        sample_format=int(sample_format),
        samples=samples,
        predictor=int(layout.get("predictor") or 1),
        little_endian=True if little_endian is None else bool(little_endian),
        photometric=layout.get("photometric"),
        jpeg_tables=layout.get("jpeg_tables"),
        lerc_parameters=layout.get("lerc_parameters"),
        nodata=layout.get("nodata"),
    )
    tile = np.frombuffer(raw, dtype=dtype)
    return tile.reshape((rows, width, samples) if samples > 1 else (rows, width))


def _progress_kw(progress: Callable[[int, int], object] | None) -> dict[str, Any]:
    """``progress=`` for ``_core.read_windows`` only when a callback is given."""
    return {} if progress is None else {"progress": progress}


@dataclass(frozen=True)
class WindowRead:
    """One window of one image: what to read and where it lands in the output.

    ``index`` selects the output slot along the first axis (``out[index]``).
    """

    url: str
    layout: pa.StructScalar
    col_off: int
    row_off: int
    width: int
    height: int
    band_index: int = 0
    index: int = 0


_PLAN_COLUMNS = (
    "url",
    "layout",
    "band_index",
    "col_off",
    "row_off",
    "width",
    "height",
    "out_offset",
    "out_row_stride",
)


def _plan(
    urls: Sequence[str] | pa.Array,
    layouts: pa.Array,
    band_index: Any,
    col_off: Any,
    row_off: Any,
    width: Any,
    height: Any,
    out_offset: Any,
    out_row_stride: Any,
) -> pa.RecordBatch:
    """The Arrow plan ``_core.read_windows`` reads (integer columns from array-likes).

    ``layouts`` may be a struct array (one layout per window) or a dictionary array of
    structs (windows index a few distinct layouts; the core parses each one once).
    """
    ints = [
        pa.array(np.asarray(v, dtype=np.int64))
        for v in (col_off, row_off, width, height, out_offset, out_row_stride)
    ]
    url_array = urls if isinstance(urls, pa.Array) else pa.array(list(urls), pa.string())
    # the core mis-reads struct layouts that carry an array offset (a slice: it panics on
    # the list children), so hand it unsliced copies (the dictionary of a dictionary plan is
    # small; a sliced struct column is copied once)
    if isinstance(layouts, pa.DictionaryArray):
        if layouts.dictionary.offset:
            layouts = pa.DictionaryArray.from_arrays(
                layouts.indices, pa.concat_arrays([layouts.dictionary])
            )
    elif layouts.offset:
        layouts = pa.concat_arrays([layouts])
    return pa.RecordBatch.from_arrays(
        [
            url_array,
            layouts,
            pa.array(np.asarray(band_index, dtype=np.int32)),
            *ints,
        ],
        names=list(_PLAN_COLUMNS),
    )


def _layout_column(reads: Sequence[WindowRead]) -> pa.Array:
    """The ``layout`` column of a plan: each distinct layout converted once, dictionary
    encoded (the core parses each distinct layout once)."""
    slot_of: dict[int, int] = {}
    unique: list[pa.StructScalar] = []
    indices = np.empty(len(reads), dtype=np.int64)
    for i, r in enumerate(reads):
        key = id(r.layout)
        slot = slot_of.get(key)
        if slot is None:
            slot = slot_of[key] = len(unique)
            unique.append(r.layout)
        indices[i] = slot
    types = {u.type for u in unique}
    if len(types) != 1:
        raise ValueError("all reads of one call must share one layout struct type")
    distinct = pa.array([u.as_py() for u in unique], type=unique[0].type)
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), distinct)


def read_into(
    reads: Sequence[WindowRead],
    out: np.ndarray,
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> np.ndarray:
    """Read every window into ``out[index, :height, :width]`` in ONE call into Rust.

    ``out`` must be C-contiguous with shape ``(N, H, W)`` and the dtype of every layout.
    ``progress(done, total)`` is called with tiles read so far / tiles to read.
    """
    if out.ndim != 3 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous (N, H, W) array")
    n, h, w = out.shape
    for r in reads:
        if not 0 <= r.index < n:
            raise ValueError(f"output index {r.index} out of range for {n} slots")
        if r.width > w or r.height > h:
            raise ValueError(f"window {r.width}x{r.height} larger than the output {w}x{h}")
    checked: set[int] = set()  # dtype check once per distinct layout, not per read
    for r in reads:
        if id(r.layout) in checked:
            continue
        checked.add(id(r.layout))
        if dtype_of(r.layout) != out.dtype:
            raise ValueError(f"{r.url}: dtype {dtype_of(r.layout)} differs from out {out.dtype}")
    if not reads:
        return out
    return read_column_into(
        [r.url for r in reads],
        _layout_column(reads),
        [(r.col_off, r.row_off, r.width, r.height) for r in reads],
        out,
        slots=np.array([r.index for r in reads], dtype=np.int64),
        band_index=np.array([r.band_index for r in reads], dtype=np.int32),
        options=options,
        progress=progress,
    )


def read_column_into(
    urls: Sequence[str] | pa.Array,
    layouts: pa.Array,
    windows: np.ndarray,
    out: np.ndarray,
    *,
    slots: np.ndarray | None = None,
    band_index: np.ndarray | None = None,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], object] | None = None,
) -> np.ndarray:
    """Read window ``i`` (``windows[i] = (col_off, row_off, width, height)``) of ``urls[i]``,
    laid out as ``layouts[i]`` (a struct or dictionary column straight from a header batch or
    collection: no per-row conversion), into ``out[slots[i], :height, :width]`` in ONE call.

    ``out`` must be C-contiguous ``(N, H, W)`` of the layouts' dtype; ``slots`` defaults to
    ``0..n-1``. Pixels outside an image are left as they are in ``out``.
    """
    if out.ndim != 3 or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous (N, H, W) array")
    n_slots, h, w = out.shape
    win = np.asarray(windows, dtype=np.int64).reshape(-1, 4)
    n = len(win)
    slot = np.arange(n, dtype=np.int64) if slots is None else np.asarray(slots, dtype=np.int64)
    if n == 0:
        return out
    if slot.min() < 0 or slot.max() >= n_slots:
        raise ValueError(f"output slots must lie in 0..{n_slots - 1}")
    if (win[:, 2] > w).any() or (win[:, 3] > h).any():
        raise ValueError(f"a window is larger than the output {w}x{h}")
    structs = layouts.dictionary if isinstance(layouts, pa.DictionaryArray) else layouts
    for name in pc.unique(structs.field("dtype")).to_pylist():
        if name is not None and np.dtype(name) != out.dtype:
            raise ValueError(f"a layout has dtype {name}, out is {out.dtype}")
    row_stride = w * out.dtype.itemsize
    plan = _plan(
        urls,
        layouts,
        np.zeros(n, dtype=np.int32) if band_index is None else band_index,
        win[:, 0],
        win[:, 1],
        win[:, 2],
        win[:, 3],
        slot * h * row_stride,
        np.full(n, row_stride),
    )
    flat = out.reshape(-1).view(np.uint8)
    _read_windows(plan, flat, options, progress)
    return out


def read_window(
    url: str,
    metadata: pa.StructScalar,
    window: tuple[int, int, int, int],
    *,
    bands: Sequence[int] | None = None,
    overview_level: int | None = None,
    options: dict[str, Any] | None = None,
) -> np.ndarray:
    """Read ``window = (col_off, row_off, width, height)`` of ``bands`` (0-based samples) as
    ``(len(bands), height, width)``; pixels outside the image are nodata or 0."""
    layout = metadata if overview_level is None else overview_layout(metadata, overview_level)
    spp = layout["samples_per_pixel"].as_py() or 1
    band_list = list(range(spp)) if bands is None else list(bands)
    dtype = dtype_of(layout)
    col_off, row_off, width, height = (builtins.int(v) for v in window)
    out = np.full((len(band_list), height, width), fill_value(metadata, dtype), dtype=dtype)
    reads = [
        WindowRead(url, layout, col_off, row_off, width, height, band_index=b, index=i)
        for i, b in enumerate(band_list)
    ]
    return read_into(reads, out, options=options)


def metadata_column_ok(batch: pa.RecordBatch) -> pa.Array:
    """Boolean mask of rows whose header parsed."""
    return pc.is_null(batch.column("error"))


def read_flat(
    urls: Sequence[str],
    layouts: pa.Array,
    band_index: Sequence[int],
    windows: Sequence[tuple[int, int, int, int]],
    dtypes: Sequence[np.dtype],
    fills: Sequence[Any],
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], object] | None = None,
    failures: dict[int, BaseException] | None = None,
    tile_cache: TileCache | None = None,
) -> list[np.ndarray]:
    """Read windows of possibly different shapes and dtypes in ONE call into Rust.

    One byte buffer holds every output (each aligned to the largest itemsize); each is
    pre-filled with its fill value, so pixels outside an image or in sparse tiles end up as
    nodata (or 0).
    Returns one ``(height, width)`` array per window, views into that buffer.
    ``progress(done, total)`` is called with tiles read so far / tiles to read.

    A window that cannot be read (missing file, corrupt tile...) raises its exception; with
    ``failures`` given, it is recorded there instead (window index -> exception, its array
    then holds no meaningful pixels) and the other windows are still returned.

    With ``tile_cache``, windows are assembled from the decoded tiles it holds; only the
    missing tiles are fetched (whole) and kept in it (``progress`` is then not called).
    """
    buffer, outs, plan = _flat_plan(urls, layouts, band_index, windows, dtypes, fills)
    if plan is not None:
        _read_windows(plan, buffer, options, progress, failures, tile_cache)
    return outs


def read_held(
    tile_cache: TileCache,
    urls: Sequence[str],
    layouts: pa.Array,
    band_index: Sequence[int],
    windows: Sequence[tuple[int, int, int, int]],
    dtypes: Sequence[np.dtype],
    fills: Sequence[Any],
    *,
    options: dict[str, Any] | None = None,
) -> tuple[list[np.ndarray], list[bool]]:
    """The windows of :func:`read_flat` that ``tile_cache`` can serve without fetching a
    tile, read in one call: the arrays (as :func:`read_flat` returns them) and, per window,
    whether it was read (the arrays of the others hold no meaningful pixels)."""
    buffer, outs, plan = _flat_plan(urls, layouts, band_index, windows, dtypes, fills)
    if plan is None:
        return outs, []
    return outs, tile_cache.read_held(with_byte_order(plan, options), buffer)


def _flat_plan(
    urls: Sequence[str],
    layouts: pa.Array,
    band_index: Sequence[int],
    windows: Sequence[tuple[int, int, int, int]],
    dtypes: Sequence[np.dtype],
    fills: Sequence[Any],
) -> tuple[np.ndarray, list[np.ndarray], pa.RecordBatch | None]:
    """The byte buffer of a :func:`read_flat`, its ``(height, width)`` views (windows that
    reach outside their image pre-filled) and the plan writing into it (None for no
    window)."""
    n = len(urls)
    offsets = np.zeros(n, dtype=np.int64)
    strides = np.zeros(n, dtype=np.int64)
    total = 0
    # every window starts aligned to the largest itemsize (a multiple of every other one):
    # windows of one dtype then follow each other with no gap
    align = max((dt.itemsize for dt in dtypes), default=1)
    for i, ((_, _, w, h), dt) in enumerate(zip(windows, dtypes, strict=True)):
        offsets[i] = total
        strides[i] = w * dt.itemsize
        total += -(-(w * h * dt.itemsize) // align) * align
    buffer = np.empty(max(total, 8), dtype=np.uint8)
    win = np.asarray(windows, dtype=np.int64).reshape(n, 4)
    # the core writes every pixel of a window inside its image (sparse tiles included): only
    # windows reaching outside need the fill first (and the rest stay untouched until the
    # core's threads write them)
    inside = inside_image(layouts, win) if n else np.zeros(0, dtype=bool)
    outs: list[np.ndarray] = []
    for i, ((_, _, w, h), dt, fill) in enumerate(zip(windows, dtypes, fills, strict=True)):
        start = int(offsets[i])
        view = buffer[start : start + w * h * dt.itemsize].view(dt).reshape(h, w)
        if not inside[i]:
            view.fill(fill)
        outs.append(view)
    if n == 0:
        return buffer, outs, None
    plan = _plan(
        urls, layouts, band_index, win[:, 0], win[:, 1], win[:, 2], win[:, 3], offsets, strides
    )
    return buffer, outs, plan


def read_blocks(
    urls: Sequence[str] | pa.Array,
    layouts: pa.Array,
    band_index: np.ndarray,
    col_off: np.ndarray,
    row_off: np.ndarray,
    size: int,
    dtype: np.dtype,
    fill: Any,
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int, int], object] | None = None,
    failures: dict[int, BaseException] | None = None,
) -> np.ndarray:
    """Read ``n`` square ``size x size`` windows of one dtype in ONE call into Rust.

    Returns ``(n, size, size)``; pixels outside an image keep ``fill``. Vectorised for
    point sampling (hundreds of thousands of tiny windows; shared tiles are read once).
    Pass ``layouts`` as a dictionary array when many windows share few images.
    Failed windows raise, or with ``failures`` given are recorded there (window index ->
    exception) as in :func:`read_flat`.
    """
    n = len(urls)
    out = np.full((n, size, size), fill, dtype=dtype)
    if n == 0:
        return out
    item = dtype.itemsize
    plan = _plan(
        urls,
        layouts,
        band_index,
        col_off,
        row_off,
        np.full(n, size),
        np.full(n, size),
        np.arange(n) * size * size * item,
        np.full(n, size * item),
    )
    flat = out.reshape(-1).view(np.uint8)
    _read_windows(plan, flat, options, progress, failures)
    return out


def fetch_objects(
    urls: Sequence[str],
    *,
    options: dict[str, Any] | None = None,
    progress: Callable[[int], object] | None = None,
) -> list[bytes | BaseException]:
    """Whole bodies of ``urls`` (small documents such as STAC JSON), fetched concurrently with
    the routing and retries of range reads (one request each up to 1 MiB); a URL that failed
    gives its exception (named URL, :mod:`rasteret.errors` class) in its place."""
    with interruptible():
        batch = _core.fetch_objects(list(urls), options=options, **_progress_kw(progress))
    bodies = batch.column("data").to_pylist()
    return [header_error(batch, row) or body for row, body in enumerate(bodies)]
