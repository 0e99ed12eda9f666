"""PNG files as bytes around pixels: the chunk walk (CRCs checked) and IHDR; the row filters
are in png_rows.py. Standard library only, so that block splitting imports nothing heavy;
no zlib here, so that decoding never depends on it.

Supported: colour types 0 (gray), 2 (RGB), 4 (gray+alpha) and 6 (RGBA), 8 or 16 bits,
non-interlaced. Anything else is left to the other coders.
"""

from __future__ import annotations

import binascii
import struct
from typing import NamedTuple

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
# Pixel bytes one PNG block may decode to: a 15 MP RGBA photo's (59 MB) and more, while
# the whole rows, filtered and deflated at once, cost a few times that in memory.
# (Decoders also bound the claim by the block's size: png_coder.py.)
MAX_PIXEL_BYTES = 96 << 20
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
