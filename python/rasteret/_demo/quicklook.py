"""A PNG quick-look of an AOI: true colour and NDVI side by side.

:func:`compose` turns reflectance arrays into one RGB ``uint8`` image (true colour on the
left, NDVI on the right, separated by a white gap of :data:`GAP` pixels); :func:`write_png`
saves it with matplotlib when installed and otherwise with a small zlib PNG encoder, so the
demo needs no plotting library. Both give an image of exactly ``(H, 2 * W + GAP)`` pixels.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["GAP", "compose", "ndvi", "write_png"]

#: Width in pixels of the white gap between the two panels.
GAP = 8

# NDVI colour ramp: blue (water) -> brown (bare) -> yellow -> green (dense vegetation)
_RAMP_AT = np.array([-0.5, 0.0, 0.3, 0.9])
_RAMP_RGB = np.array(
    [[33, 102, 172], [140, 81, 10], [246, 232, 130], [1, 102, 44]], dtype=np.float64
)


def ndvi(red: np.ndarray, nir: np.ndarray, nodata: float = 0) -> np.ndarray:
    """``(nir - red) / (nir + red)`` as float32; NaN where either band is nodata."""
    r = red.astype(np.float32)
    n = nir.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (n - r) / (n + r)
    out[(red == nodata) | (nir == nodata)] = np.nan
    return out


def _true_colour(
    red: np.ndarray, green: np.ndarray, blue: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """One linear stretch for all three bands (2-98 % of their valid pixels), gamma 0.8."""
    rgb = np.stack([red, green, blue], axis=-1).astype(np.float64)
    if not valid.any():
        return np.zeros(rgb.shape, dtype=np.uint8)
    lo, hi = np.percentile(rgb[valid], (2, 98))
    scaled = (rgb - lo) / max(hi - lo, 1.0)
    return (np.clip(scaled, 0, 1) ** 0.8 * 255).astype(np.uint8)


def compose(
    blue: np.ndarray, green: np.ndarray, red: np.ndarray, nir: np.ndarray, nodata: float = 0
) -> np.ndarray:
    """The side-by-side quick-look ``uint8[H, 2 * W + GAP, 3]`` of one AOI.

    Parameters
    ----------
    blue, green, red, nir
        2-D reflectance arrays of one scene, all of the same shape.
    nodata
        Value marking pixels outside the AOI (drawn black).

    Returns
    -------
    numpy.ndarray
        True colour (one 2-98 % stretch for the three bands) on the left, NDVI on a
        blue-brown-yellow-green ramp on the right.
    """
    valid = (blue != nodata) & (green != nodata) & (red != nodata)
    rgb = _true_colour(red, green, blue, valid)
    rgb[~valid] = 0
    v = ndvi(red, nir, nodata)
    colour = np.stack(
        [np.interp(np.nan_to_num(v, nan=-1.0), _RAMP_AT, _RAMP_RGB[:, c]) for c in range(3)],
        axis=-1,
    ).astype(np.uint8)
    colour[np.isnan(v)] = 0
    h, w = red.shape
    out = np.full((h, 2 * w + GAP, 3), 255, dtype=np.uint8)
    out[:, :w] = rgb
    out[:, w + GAP :] = colour
    return out


def _png_bytes(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(h))  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def write_png(path: Path, rgb: np.ndarray) -> str:
    """Write ``uint8[H, W, 3]`` to ``path`` as PNG; returns the writer used.

    The writer is ``"matplotlib"`` when matplotlib imports, else ``"zlib"`` (built in).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib import image
    except ImportError:
        path.write_bytes(_png_bytes(rgb))
        return "zlib"
    image.imsave(path, rgb, format="png")
    return "matplotlib"
