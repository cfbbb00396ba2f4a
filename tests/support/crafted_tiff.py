"""Hand-made TIFF bytes for the memory-bound tests: georeferenced one-IFD files whose header
claims more than any reader should allocate, and compressed tiles that inflate far past their
tile ("decompression bombs") in DEFLATE, ZSTD and LZW.

Every file is a classic little-endian TIFF with 8-bit single-band tiles, a ModelPixelScale +
ModelTiepoint georeference and EPSG:32633, so ``build_from_table`` can enrich a record table
pointing at it, and GDAL (the test oracle) can open it.
"""

from __future__ import annotations

import struct
import zlib

__all__ = [
    "ORIGIN",
    "deflate_bomb",
    "lzw_bomb",
    "single_tile_tiff",
    "tile_grid_tiff",
    "zstd_bomb",
]

#: Upper-left corner (EPSG:32633 metres) of every crafted image; pixels are 10 m.
ORIGIN = (500_000.0, 5_000_000.0)
PIXEL_METRES = 10.0

_SHORT, _LONG, _DOUBLE = 3, 4, 12


def _classic_tiff(entries: list[tuple[int, int, int, bytes]]) -> bytes:
    """A classic little-endian TIFF: one IFD (at byte 8) of (tag, type, count, value-bytes)
    entries, values longer than 4 bytes stored right after it."""
    extra_at = 8 + 2 + 12 * len(entries) + 4
    ifd = bytearray(struct.pack("<H", len(entries)))
    extra = bytearray()
    for tag, typ, count, value in sorted(entries):
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHII", tag, typ, count, extra_at + len(extra))
            extra += value
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + bytes(ifd) + bytes(extra)


def _entries(
    width: int, height: int, tile: int, compression: int, offsets: bytes, counts: bytes, n: int
) -> list[tuple[int, int, int, bytes]]:
    x0, y0 = ORIGIN
    return [
        (256, _LONG, 1, struct.pack("<I", width)),
        (257, _LONG, 1, struct.pack("<I", height)),
        (258, _SHORT, 1, struct.pack("<H", 8)),
        (259, _SHORT, 1, struct.pack("<H", compression)),
        (262, _SHORT, 1, struct.pack("<H", 1)),
        (277, _SHORT, 1, struct.pack("<H", 1)),
        (322, _SHORT, 1, struct.pack("<H", tile)),
        (323, _SHORT, 1, struct.pack("<H", tile)),
        (324, _LONG, n, offsets),
        (325, _LONG, n, counts),
        (33550, _DOUBLE, 3, struct.pack("<3d", PIXEL_METRES, PIXEL_METRES, 0.0)),
        (33922, _DOUBLE, 6, struct.pack("<6d", 0.0, 0.0, 0.0, x0, y0, 0.0)),
        # GeoKeyDirectory: version 1.1.0, 1 key: ProjectedCSTypeGeoKey = 32633
        (34735, _SHORT, 8, struct.pack("<8H", 1, 1, 0, 1, 3072, 0, 1, 32633)),
    ]


def tile_grid_tiff(width: int, height: int, tile: int) -> bytes:
    """A header for a ``width`` x ``height`` image in ``tile``-pixel tiles whose TileOffsets /
    TileByteCounts entries (one per tile, as the TIFF requires) point past the end of the
    file: the arrays it claims are as large as the tile count makes them (4 bytes a tile)."""
    n = -(-width // tile) * -(-height // tile)
    far = struct.pack("<I", 1 << 31)
    return _classic_tiff(_entries(width, height, tile, 1, far, far, n))


def single_tile_tiff(
    tile: int, compression: int, data: bytes, *, byte_count: int | None = None
) -> bytes:
    """A ``tile`` x ``tile`` image of one tile, ``data`` stored right after the header;
    its TileByteCounts entry is ``byte_count`` (default: ``len(data)``)."""
    count = len(data) if byte_count is None else byte_count

    def header(offset: int) -> bytes:
        return _classic_tiff(
            _entries(tile, tile, tile, compression, struct.pack("<I", offset), _u32(count), 1)
        )

    offset = len(header(0))
    return header(offset) + data


def _u32(v: int) -> bytes:
    return struct.pack("<I", v)


# ----------------------------------------------------------------------------- bombs
# Each bomb holds `pixels` (the tile's real content) followed by `total - len(pixels)` zero
# bytes, is a valid stream of its codec, and costs far fewer bytes than it decodes to.


def deflate_bomb(pixels: bytes, total: int) -> bytes:
    """A zlib stream of ``pixels`` then zeros, ``total`` bytes decoded (about 1/1000 of it
    stored: DEFLATE cannot do better). Built from one compressed 1 MiB block of zeros
    repeated: a full flush makes every block independent of the ones before."""
    chunk = 1 << 20
    zeros = total - len(pixels)
    assert zeros >= 0 and zeros % chunk == 0, "total - len(pixels) must be whole MiB"
    c = zlib.compressobj(9)
    head = c.compress(pixels) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "a fully flushed block depends on what came before"
    tail = c.flush(zlib.Z_FINISH)[:-4]  # the final (empty) block, without the checksum
    # Adler-32 over zeros: `a` stays, `b` grows by `a` per byte
    adler = zlib.adler32(pixels)
    a, b = adler & 0xFFFF, adler >> 16
    b = (b + zeros * a) % 65521
    return head + block * (zeros // chunk) + tail + struct.pack(">I", (b << 16) | a)


def zstd_bomb(pixels: bytes, total: int) -> bytes:
    """A ZSTD frame of ``pixels`` (raw blocks) then zeros as 128 KiB RLE blocks of 4 bytes
    each, ``total`` bytes decoded (about 1/32768 of the zeros stored). No content size in
    the frame header (as libtiff writes ZSTD tiles); a 128 KiB window."""
    block = 128 << 10
    zeros = total - len(pixels)
    assert zeros > 0 and zeros % block == 0, "total - len(pixels) must be whole 128 KiB blocks"

    def header(size: int, kind: int, last: bool) -> bytes:
        return struct.pack("<I", (size << 3) | (kind << 1) | int(last))[:3]

    frame = bytearray(struct.pack("<I", 0xFD2FB528) + bytes([0x00, (17 - 10) << 3]))
    for start in range(0, len(pixels), block):
        raw = pixels[start : start + block]
        frame += header(len(raw), 0, False) + raw
    rle = header(block, 1, False) + b"\x00"
    return bytes(frame) + rle * (zeros // block - 1) + header(block, 1, True) + b"\x00"


def lzw_bomb(pixels: bytes, total: int) -> bytes:
    """A TIFF LZW stream (MSB-first codes, early code-width change) of ``pixels`` then
    zeros, ``total`` bytes decoded (about 1/1300 of it stored). After a Clear code, codes
    258, 259, ... each repeat the previous string plus one zero (the "KwKwK" case), so the
    n-th code decodes to n + 1 zeros."""
    clear, eoi = 256, 257
    codes: list[int] = []
    for start in range(0, len(pixels), 2048):  # literals, a Clear before each table fills
        codes.append(clear)
        codes.extend(pixels[start : start + 2048])
    left = total - len(pixels)
    while left > 0:  # one cycle: Clear, literal 0, then 258, 259, ... up to 4093
        codes += [clear, 0]
        left -= 1
        code = 258
        while code <= 4093 and left >= code - 256:
            codes.append(code)
            left -= code - 256
            code += 1
        if code <= 4093:  # fewer zeros left than the next code makes: literals
            for start in range(0, left, 2048):
                codes.append(clear)
                codes.extend([0] * min(2048, left - start))
            left = 0
    codes.append(eoi)
    return _pack_lzw(codes)


def _pack_lzw(codes: list[int]) -> bytes:
    """Pack LZW codes MSB-first with TIFF's code widths: 9 bits, growing one code early
    (at 511, 1023 and 2047 table entries); a Clear resets the table to 258 entries."""
    acc, nbits = 0, 0
    entries, first = 258, True
    chunks = []
    for code in codes:
        width = 9 if entries < 511 else 10 if entries < 1023 else 11 if entries < 2047 else 12
        acc = (acc << width) | code
        nbits += width
        if nbits >= 4096:
            whole = nbits - nbits % 8
            chunks.append((acc >> (nbits - whole)).to_bytes(whole // 8, "big"))
            acc &= (1 << (nbits - whole)) - 1
            nbits -= whole
        if code == 256:
            entries, first = 258, True
        elif first:
            first = False
        else:
            entries += 1
    if nbits:
        pad = (8 - nbits % 8) % 8
        chunks.append((acc << pad).to_bytes((nbits + pad) // 8, "big"))
    return b"".join(chunks)
