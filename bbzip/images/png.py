"""PNG files as bytes around pixels: the chunk walk (CRCs checked), IHDR, and the row
filters both ways. What the png block coder (png_coder.py) and block splitting need; no
zlib here, so that decoding never depends on it.

Supported: colour types 0 (gray), 2 (RGB), 4 (gray+alpha) and 6 (RGBA), 8 or 16 bits,
non-interlaced. Anything else is left to the other coders.
"""

from __future__ import annotations

import binascii
import struct
from typing import NamedTuple

import numpy as np

from bbzip.deflate._jit import jit
from bbzip.errors import CorruptError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
# Pixel bytes one PNG block may decode to (the natural coder's block bound; a tiny PNG of
# a huge flat image must not make the decoder allocate by what IHDR claims).
MAX_PIXEL_BYTES = 32 << 20
_CHUNK_MAX = (1 << 31) - 1


class Header(NamedTuple):
    width: int
    height: int
    depth: int  # bits per sample: 8 or 16
    color_type: int

    @property
    def channels(self) -> int:
        return CHANNELS[self.color_type]

    @property
    def sample_bytes(self) -> int:
        return self.depth // 8

    @property
    def bpp(self) -> int:  # bytes per pixel, the filters' left-neighbour distance
        return self.channels * self.sample_bytes

    @property
    def row_bytes(self) -> int:
        return self.width * self.bpp

    @property
    def filtered_size(self) -> int:  # the inflated IDAT stream: a filter byte per row
        return self.height * (1 + self.row_bytes)


def read_header(ihdr: bytes) -> Header | None:
    """The image IHDR's 13 bytes describe, or None when it is not one we take."""
    if len(ihdr) != 13:
        return None
    width, height, depth, color_type, compression, filter_method, interlace = struct.unpack(">IIBBBBB", ihdr)
    if not (0 < width < 1 << 31 and 0 < height < 1 << 31) or depth not in (8, 16) or color_type not in CHANNELS:
        return None
    if compression or filter_method or interlace:
        return None
    header = Header(width, height, depth, color_type)
    return header if header.filtered_size <= MAX_PIXEL_BYTES + header.height else None


class Chunk(NamedTuple):
    kind: bytes
    offset: int  # of its length field
    length: int  # of its data

    @property
    def data_start(self) -> int:
        return self.offset + 8

    @property
    def end(self) -> int:
        return self.offset + 12 + self.length


def walk(buf, check_crc: bool) -> list[Chunk] | None:
    """The chunks of the PNG file ``buf`` starts with, up to and including IEND, or None
    when it is not a whole PNG (bad structure or CRC, IHDR not first)."""
    if bytes(buf[:8]) != SIGNATURE:
        return None
    chunks, pos, size = [], 8, len(buf)
    while True:
        if pos + 12 > size:
            return None
        length, kind = struct.unpack(">I4s", buf[pos : pos + 8])
        if length > _CHUNK_MAX or pos + 12 + length > size:
            return None
        chunk = Chunk(kind, pos, length)
        if check_crc:
            crc = binascii.crc32(buf[pos + 4 : chunk.end - 4])
            if crc != int.from_bytes(buf[chunk.end - 4 : chunk.end], "big"):
                return None
        if not chunks and kind != b"IHDR":
            return None
        chunks.append(chunk)
        pos = chunk.end
        if kind == b"IEND":
            return chunks


def png_length(buf) -> int | None:
    """Bytes of the supported PNG file ``buf`` starts with (it must be whole in ``buf``),
    or None. Block splitting calls this: no CRC is computed here."""
    if bytes(buf[:8]) != SIGNATURE:
        return None
    chunks = walk(buf, False)
    if chunks is None:
        return None
    ihdr = chunks[0]
    if read_header(bytes(buf[ihdr.data_start : ihdr.data_start + ihdr.length])) is None:
        return None
    if not any(chunk.kind == b"IDAT" for chunk in chunks):
        return None
    return chunks[-1].end


def chunk_bytes(kind: bytes, data: bytes) -> bytes:
    crc = binascii.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@jit
def _unfilter(filtered, height, row_bytes, bpp, raw, types):
    """Undo the row filters; False when a row names an unknown filter type."""
    for y in range(height):
        kind = filtered[y, 0]
        types[y] = kind
        if kind > 4:
            return False
        for x in range(row_bytes):
            v = np.int64(filtered[y, x + 1])
            a = np.int64(raw[y, x - bpp]) if x >= bpp else 0
            b = np.int64(raw[y - 1, x]) if y > 0 else 0
            if kind == 1:
                v += a
            elif kind == 2:
                v += b
            elif kind == 3:
                v += (a + b) >> 1
            elif kind == 4:
                c = np.int64(raw[y - 1, x - bpp]) if x >= bpp and y > 0 else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                v += a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            raw[y, x] = v & 0xFF
    return True


def unfilter(filtered: bytes, header: Header) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows of raw bytes, filter type per row) of an inflated IDAT stream, or None."""
    rows = np.frombuffer(filtered, np.uint8).reshape(header.height, 1 + header.row_bytes)
    raw = np.zeros((header.height, header.row_bytes), np.uint8)
    types = np.zeros(header.height, np.uint8)
    if not _unfilter(rows, header.height, header.row_bytes, header.bpp, raw, types):
        return None
    return raw, types


def filter_rows(raw: np.ndarray, types: np.ndarray, bpp: int) -> bytes:
    """The IDAT stream before deflate: each row's filter type byte, then the row filtered
    with it (PNG's filters None, Sub, Up, Average, Paeth), in bands of rows at once."""
    height, row_bytes = raw.shape
    if types.size and types.max() > 4:
        raise CorruptError("PNG block names an unknown row filter")
    out = np.empty((height, 1 + row_bytes), np.uint8)
    out[:, 0] = types
    band = max(1, (1 << 20) // max(1, row_bytes))
    for top in range(0, height, band):
        rows = slice(top, min(height, top + band))
        above = raw[top - 1 : top].astype(np.int16) if top else np.zeros((1, row_bytes), np.int16)
        out[rows, 1:] = _filter_band(raw[rows].astype(np.int16), above, types[rows], bpp)
    return out.tobytes()


def _filter_band(x: np.ndarray, above: np.ndarray, types: np.ndarray, bpp: int) -> np.ndarray:
    b = np.concatenate((above, x[:-1]))
    a = np.zeros_like(x)
    c = np.zeros_like(x)
    if bpp < x.shape[1]:
        a[:, bpp:] = x[:, :-bpp]
        c[:, bpp:] = b[:, :-bpp]
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))  # Paeth
    for kind, predictor in ((0, 0), (1, a), (2, b), (3, (a + b) >> 1)):
        rows = types == kind
        if rows.any():
            predicted[rows] = predictor if kind == 0 else predictor[rows]
    return ((x - predicted) & 0xFF).astype(np.uint8)
