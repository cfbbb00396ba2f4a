""":class:`~rasteret.types.CogMetadata` and the tile layout the Rust core reads.

A :class:`CogMetadata` describes tiles, dtype and georeferencing, but not everything decoding
needs: the byte order of the file, the stored bit depth, JPEG tables and LERC parameters live
only in the TIFF header. A header parse therefore returns a :class:`ParsedCogMetadata`, which
carries those fields along; for a plain :class:`CogMetadata` the reader parses the header
once per URL to recover them (:func:`needs_header_fields`), so big-endian and JPEG files
always decode correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa

from rasteret.errors import UnsupportedCogError
from rasteret.types import CogMetadata

__all__ = [
    "HEADER_FIELDS",
    "ParsedCogMetadata",
    "layout_struct",
    "metadata_from_header",
    "native_dtype",
    "needs_header_fields",
]

#: Header fields decoding needs that :class:`CogMetadata` has no place for.
HEADER_FIELDS = (
    "little_endian",
    "bits_per_sample",
    "sample_format",
    "jpeg_tables",
    "lerc_parameters",
)

#: (SampleFormat, BitsPerSample) pairs a CogMetadata can describe: whole-byte samples.
_DTYPES = {
    (1, 8): "uint8",
    (1, 16): "uint16",
    (1, 32): "uint32",
    (1, 64): "uint64",
    (2, 8): "int8",
    (2, 16): "int16",
    (2, 32): "int32",
    (2, 64): "int64",
    (3, 16): "float16",
    (3, 32): "float32",
    (3, 64): "float64",
}

_LAYOUT_TYPE = pa.struct(
    [
        ("image_width", pa.int64()),
        ("image_height", pa.int64()),
        ("tile_width", pa.int64()),
        ("tile_height", pa.int64()),
        ("dtype", pa.string()),
        ("predictor", pa.int32()),
        ("compression", pa.int32()),
        ("tile_offsets", pa.list_(pa.int64())),
        ("tile_byte_counts", pa.list_(pa.int64())),
        ("nodata", pa.float64()),
        ("samples_per_pixel", pa.int32()),
        ("planar_configuration", pa.int32()),
        ("photometric", pa.int32()),
        ("little_endian", pa.bool_()),
        ("bits_per_sample", pa.int32()),
        ("sample_format", pa.int32()),
        ("jpeg_tables", pa.binary()),
        ("lerc_parameters", pa.list_(pa.int64())),
    ]
)


@dataclass
class ParsedCogMetadata(CogMetadata):
    """A :class:`CogMetadata` from a header parse.

    ``header_fields`` holds the header values decoding needs beyond the CogMetadata fields
    (``little_endian``, ``bits_per_sample``, ``sample_format``, ``jpeg_tables``,
    ``lerc_parameters``); it takes no part in comparisons or ``repr``.
    """

    header_fields: dict[str, Any] = field(
        default_factory=dict, repr=False, compare=False, kw_only=True
    )


def native_dtype(metadata: CogMetadata) -> np.dtype:
    """numpy dtype of ``metadata`` (accepts a numpy dtype, a name or a pyarrow type)."""
    dtype = metadata.dtype
    if hasattr(dtype, "to_pandas_dtype"):
        dtype = dtype.to_pandas_dtype()
    return np.dtype(dtype)


def metadata_from_header(header: dict[str, Any], url: str) -> ParsedCogMetadata:
    """The :class:`ParsedCogMetadata` of a parsed header (a ``{band}_metadata`` dict).

    Raises
    ------
    UnsupportedCogError
        (a ``NotImplementedError``) for a striped TIFF, samples that are not 8/16/32/64-bit
        integers or 16/32/64-bit floats, or a file without georeferencing tags.
    """
    if header.get("tiled") is False:
        raise UnsupportedCogError(
            f"Rasteret requires a tiled GeoTIFF/COG (no TileOffsets/TileByteCounts): {url}"
        )
    sample_format, bits = header.get("sample_format"), header.get("bits_per_sample")
    if (sample_format, bits) not in _DTYPES:
        raise UnsupportedCogError(
            f"Unsupported TIFF dtype: SampleFormat={sample_format}, BitsPerSample={bits} ({url})"
        )
    if header.get("transform") is None:
        raise UnsupportedCogError(
            "Missing GeoTIFF georeferencing tags (no ModelTransformationTag and no "
            f"ModelPixelScaleTag+ModelTiepointTag): {url}"
        )
    plain = CogMetadata.from_dict(header, crs=header.get("crs_epsg"))
    values = {f.name: getattr(plain, f.name) for f in fields(CogMetadata)}
    return ParsedCogMetadata(
        **values, header_fields={name: header.get(name) for name in HEADER_FIELDS}
    )


def needs_header_fields(metadata: CogMetadata) -> bool:
    """Whether decoding ``metadata`` needs header fields it does not carry: the byte order
    of multi-byte samples, JPEG tables or LERC parameters."""
    if isinstance(metadata, ParsedCogMetadata):
        return False
    return native_dtype(metadata).itemsize > 1 or (metadata.compression or 1) in (7, 34887)


def layout_struct(
    metadata: CogMetadata, header_fields: dict[str, Any] | None = None
) -> pa.StructScalar:
    """The layout struct the Rust core reads for ``metadata``; ``header_fields`` (see
    :data:`HEADER_FIELDS`) override those of a :class:`ParsedCogMetadata`."""
    extra = dict(metadata.header_fields) if isinstance(metadata, ParsedCogMetadata) else {}
    extra.update(header_fields or {})
    row = {
        "image_width": int(metadata.width),
        "image_height": int(metadata.height),
        "tile_width": int(metadata.tile_width or metadata.width),
        "tile_height": int(metadata.tile_height or metadata.height),
        "dtype": native_dtype(metadata).name,
        "predictor": int(metadata.predictor or 1),
        "compression": int(metadata.compression or 1),
        "tile_offsets": [int(v) for v in metadata.tile_offsets or []],
        "tile_byte_counts": [int(v) for v in metadata.tile_byte_counts or []],
        "nodata": None if metadata.nodata is None else float(metadata.nodata),
        "samples_per_pixel": int(metadata.samples_per_pixel or 1),
        "planar_configuration": int(metadata.planar_configuration or 1),
        "photometric": metadata.photometric,
        **{name: extra.get(name) for name in HEADER_FIELDS},
    }
    return pa.array([row], type=_LAYOUT_TYPE)[0]
