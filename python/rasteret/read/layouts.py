"""Facts about image layouts (the ``{band}_metadata`` structs and their overview entries) that
need no I/O: sample dtype, an overview's layout, whether windows lie inside their image."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rasteret.records.rows import take_rows

__all__ = ["dtype_of", "inside_image", "layout_column", "overview_layout", "planning_dicts"]


def dtype_of(layout: pa.StructScalar | dict[str, Any]) -> np.dtype:
    """numpy dtype of a layout (metadata struct, overview entry or plain dict)."""
    value = layout["dtype"]  # field access only: no conversion of the whole struct
    return np.dtype(value.as_py() if isinstance(value, pa.Scalar) else value)


def overview_layout(metadata: pa.StructScalar, level: int) -> pa.StructScalar:
    """Layout of overview ``level`` (0-based, largest first) carrying the image's nodata."""
    overviews = metadata["overviews"]
    n = len(overviews)
    if not 0 <= level < n:
        raise ValueError(f"overview level {level} out of range: the file has {n} overview(s)")
    entry = overviews[level]
    arr = pa.array([entry.as_py()], type=entry.type)
    nodata = pa.array([metadata["nodata"].as_py()], type=pa.float64())
    fields = [arr.type.field(i) for i in range(arr.type.num_fields)]
    children = [arr.field(i) for i in range(arr.type.num_fields)]
    merged = pa.StructArray.from_arrays(
        [*children, nodata], fields=[*fields, pa.field("nodata", pa.float64())]
    )
    return merged[0]


def inside_image(layouts: pa.Array, win: np.ndarray) -> np.ndarray:
    """Per window: whether ``(col_off, row_off, width, height)`` lies wholly inside its
    layout's image (unknown sizes count as outside)."""
    structs = layouts.dictionary if isinstance(layouts, pa.DictionaryArray) else layouts
    width = structs.field("image_width").to_numpy(zero_copy_only=False).astype(np.float64)
    height = structs.field("image_height").to_numpy(zero_copy_only=False).astype(np.float64)
    if isinstance(layouts, pa.DictionaryArray):
        idx = layouts.indices.to_numpy(zero_copy_only=False)
        width, height = width[idx], height[idx]
    return (
        (win[:, 0] >= 0)
        & (win[:, 1] >= 0)
        & (win[:, 0] + win[:, 2] <= width)
        & (win[:, 1] + win[:, 3] <= height)
    )


#: Fields of a ``{band}_metadata`` struct that planning reads as they are.
_PLANNING_FIELDS = (
    "image_width", "image_height", "tile_width", "tile_height", "dtype", "transform",
    "nodata", "samples_per_pixel", "planar_configuration",
)  # fmt: skip


def planning_dicts(column: pa.ChunkedArray | pa.Array) -> list[dict[str, Any] | None]:
    """Per row of a ``{band}_metadata`` column, a dict of what read planning looks at: the
    scalar fields and the transform as they are, ``tile_offsets``/``tile_byte_counts`` as
    ``range`` objects of their lengths (only their presence and length are checked) and
    ``mask`` as ``True`` when the file has an internal mask; None for a null row.

    Converting whole structs (every tile offset) to Python costs far more than planning."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    names = {array.type.field(i).name for i in range(array.type.num_fields)}
    values = {f: array.field(f).to_pylist() for f in _PLANNING_FIELDS if f in names}
    for f in ("tile_offsets", "tile_byte_counts"):
        if f in names:
            lengths = pc.list_value_length(array.field(f)).to_pylist()
            values[f] = [None if n is None else range(n) for n in lengths]
    if "mask" in names:
        values["mask"] = [True if v else None for v in array.field("mask").is_valid().to_pylist()]
    valid = array.is_valid().to_pylist()
    return [{f: v[i] for f, v in values.items()} if ok else None for i, ok in enumerate(valid)]


def layout_column(table: pa.Table, reads: list[tuple[str, int]]) -> pa.DictionaryArray:
    """A read plan's ``layout`` column: for each ``(band, record row)`` of ``reads``, that
    row of the table's ``{band}_metadata`` column, dictionary-encoded (each distinct layout
    is held, and parsed by the core, once however many windows read it).

    Raises
    ------
    ValueError
        The bands' metadata columns have different types.
    """
    by_band: dict[str, dict[int, int]] = {}  # band -> distinct rows -> position in the band
    for band, row in reads:
        rows = by_band.setdefault(band, {})
        if row not in rows:
            rows[row] = len(rows)
    parts = [
        take_rows(table.column(f"{band}_metadata"), np.fromiter(rows, np.int64)).combine_chunks()
        for band, rows in by_band.items()
    ]
    first = parts[0].type  # (hashing nested struct types is slow)
    if any(not p.type.equals(first) for p in parts):
        raise ValueError("bands of one read have differently typed metadata columns")
    offsets = dict(zip(by_band, np.cumsum([0] + [len(p) for p in parts]).tolist(), strict=False))
    keys = [offsets[band] + by_band[band][row] for band, row in reads]
    values = parts[0] if len(parts) == 1 else pa.concat_arrays(parts)
    return pa.DictionaryArray.from_arrays(pa.array(keys, pa.int32()), values)
