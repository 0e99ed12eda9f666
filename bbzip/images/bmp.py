"""Windows BMP files with 24- or 32-bit pixels (BI_RGB, or BI_BITFIELDS with the usual
byte masks), bottom-up or top-down: where their pixels lie. Everything else of the file
(headers, palette, row padding, trailing bytes) stays plain bytes of the block."""

from __future__ import annotations

import struct

from bbzip.images.layout import DOWN, MAX_SIDE, UP, Picture, Span

MAGIC = b"BM"
# BITMAPINFOHEADER and its later versions (V2, V3, V4, V5): the fields read here agree.
_INFO_SIZES = (40, 52, 56, 108, 124)
_BGRA_MASKS = (0x00FF0000, 0x0000FF00, 0x000000FF)


def looks_like(prefix: bytes) -> bool:
    return len(prefix) >= 30 and prefix[:2] == MAGIC and struct.unpack_from("<I", prefix, 14)[0] in _INFO_SIZES


def parse(block: bytes) -> list[Picture] | None:
    """The one image of a BMP file, or None when it is not one this module takes."""
    if not looks_like(block) or len(block) < 54:
        return None
    offset = struct.unpack_from("<I", block, 10)[0]
    info = struct.unpack_from("<I", block, 14)[0]
    width, height, planes, bpp, compression = struct.unpack_from("<iiHHI", block, 18)
    if planes != 1 or bpp not in (24, 32) or width < 1 or height == 0 or compression not in (0, 3):
        return None
    if compression == 3:
        if bpp != 32:
            return None
        # Masks follow a 40-byte header, or sit inside the longer ones at the same place.
        if len(block) < 14 + 40 + 12 or struct.unpack_from("<III", block, 54) != _BGRA_MASKS:
            return None
        if info == 40 and offset < 14 + 40 + 12:
            return None  # pixels would overlap the masks
    rows = abs(height)
    if width > MAX_SIDE or rows > MAX_SIDE:
        return None
    pixel_bytes = bpp // 8
    pitch = (width * bpp + 31) // 32 * 4
    if offset < 14 + info or offset + (rows - 1) * pitch + width * pixel_bytes > len(block):
        return None
    # Blue, green, red (and the fourth byte, alpha or unused) in the file; RGB(A) in the array.
    perm = (2, 1, 0, 3) if bpp == 32 else (2, 1, 0)
    span = Span(offset, 0, 0, rows, width, pitch, UP if height > 0 else DOWN)
    return [Picture(rows, width, pixel_bytes, 1, "<", perm, (span,))]
