"""PGM/PPM with 16-bit samples (maxval 256..65535, big-endian as Netpbm writes them) and NPY
arrays that detect.py's 8-bit gray/RGB layouts leave out: uint16 of either byte order, and
uint8 or uint16 with 2 (gray+alpha) or 4 (RGBA) channels. Where their pixels lie; the
header and anything after the pixels stay plain bytes of the block."""

from __future__ import annotations

import re

from bbzip.images.detect import SNIFF_BYTES, read_npy_header
from bbzip.images.layout import MAX_SIDE, Picture, Span

_SEP = rb"(?:\s|#[^\r\n]*[\r\n])+"
_PNM = re.compile(rb"P([56])" + _SEP + rb"(\d{1,9})" + _SEP + rb"(\d{1,9})" + _SEP + rb"(\d{1,9})\s")
_PNM_SCAN = 4096
NPY_MAGIC = b"\x93NUMPY"
# Images of one NPY array, at most: each is coded on its own.
MAX_IMAGES = 64


def looks_like_pnm16(prefix: bytes) -> bool:
    match = _PNM.match(prefix[:_PNM_SCAN])
    return bool(match) and 256 <= int(match.group(4)) <= 65535


def parse_pnm16(block: bytes) -> list[Picture] | None:
    match = _PNM.match(block[:_PNM_SCAN])
    if not match or not 256 <= int(match.group(4)) <= 65535:
        return None
    width, height = int(match.group(2)), int(match.group(3))
    channels = 1 if match.group(1) == b"5" else 3
    return _contiguous(block, match.end(), 1, height, width, channels, 2, ">")


def _contiguous(block: bytes, offset: int, count: int, height: int, width: int, channels: int, depth: int,
                order: str) -> list[Picture] | None:
    """``count`` images stored one after another, row by row, from ``offset``."""
    if not (1 <= count <= MAX_IMAGES and 1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        return None
    pitch = width * channels * depth
    if offset + count * height * pitch > len(block):
        return None
    identity = tuple(range(channels))
    return [Picture(height, width, channels, depth, order, identity,
                    (Span(offset + i * height * pitch, 0, 0, height, width, pitch),)) for i in range(count)]


def looks_like_npy(prefix: bytes) -> bool:
    return prefix.startswith(NPY_MAGIC) and _npy_layout(prefix) is not None


def parse_npy(block: bytes) -> list[Picture] | None:
    layout = _npy_layout(block)
    return None if layout is None else _contiguous(block, *layout)


def _npy_layout(block: bytes):
    """(offset, count, height, width, channels, depth, order) of an NPY array this module
    takes, or None."""
    header = read_npy_header(block[:SNIFF_BYTES])
    if header is None:
        return None
    shape, fortran, dtype, offset = header
    if fortran or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    if dtype.kind != "u" or dtype.itemsize not in (1, 2) or dtype.fields is not None:
        return None
    if len(shape) == 2:
        count, (height, width), channels = 1, shape, 1
    elif len(shape) == 3 and 1 <= shape[2] <= 4:
        count, (height, width, channels) = 1, shape
    elif len(shape) == 3:
        (count, height, width), channels = shape, 1
    elif len(shape) == 4 and 1 <= shape[3] <= 4:
        count, height, width, channels = shape
    else:
        return None
    if dtype.itemsize == 1 and channels in (1, 3):
        return None  # detect.py's layouts: the natural coder takes them as they are
    order = ">" if dtype.str[0] == ">" else "<"
    return offset, count, height, width, channels, dtype.itemsize, order
