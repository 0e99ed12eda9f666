"""Recognising image inputs by their first bytes, and cutting them into whole-image blocks.

Known layouts, all 28x28 8-bit grayscale:
* MNIST IDX (magic 00 00 08 03, dimensions N x 28 x 28), any N;
* binary PGM (P5, 28 28, maxval 255, or maxval 1 for binary images), comments and
  whitespace preserved;
* NPY arrays of uint8 shaped (N, 28, 28) or (28, 28), C order.
Header bytes are kept verbatim, so decompression returns the input byte for byte.
Anything else, or any bytes beyond the images a header promises, goes to the other coders.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

IMAGE_BYTES = 28 * 28
_PGM = re.compile(rb"P5(?:\s|#[^\n]*\n)+28(?:\s|#[^\n]*\n)+28(?:\s|#[^\n]*\n)+(?:255|1)\s")
_NPY_MAGIC = b"\x93NUMPY"


class ImageLayout(NamedTuple):
    kind: str  # "idx", "pgm" or "npy"
    header: bytes
    images: int


def sniff(prefix: bytes) -> ImageLayout | None:
    """The image layout ``prefix`` starts with, or None."""
    return _sniff_idx(prefix) or _sniff_pgm(prefix) or _sniff_npy(prefix)


def _sniff_idx(prefix: bytes) -> ImageLayout | None:
    if len(prefix) < 16 or prefix[:4] != b"\x00\x00\x08\x03":
        return None
    count, rows, cols = struct.unpack(">III", prefix[4:16])
    if (rows, cols) != (28, 28):
        return None
    return ImageLayout("idx", prefix[:16], count)


def _sniff_pgm(prefix: bytes) -> ImageLayout | None:
    match = _PGM.match(prefix[:4096])
    if not match:
        return None
    return ImageLayout("pgm", match.group(0), 1)


def _sniff_npy(prefix: bytes) -> ImageLayout | None:
    if not prefix.startswith(_NPY_MAGIC) or len(prefix) < 10:
        return None
    major = prefix[6]
    if major == 1:
        size, start = struct.unpack("<H", prefix[8:10])[0], 10
    elif major in (2, 3) and len(prefix) >= 12:
        size, start = struct.unpack("<I", prefix[8:12])[0], 12
    else:
        return None
    if size > 65536 or len(prefix) < start + size:
        return None
    import ast  # only NPY headers need it; keep start-up light

    try:
        header = ast.literal_eval(prefix[start : start + size].decode("latin1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("descr") not in ("|u1", "<u1", ">u1", "u1"):
        return None
    if header.get("fortran_order") is not False:
        return None
    shape = header.get("shape")
    if shape == (28, 28):
        count = 1
    elif isinstance(shape, tuple) and len(shape) == 3 and shape[1:] == (28, 28) and isinstance(shape[0], int):
        count = shape[0]
    else:
        return None
    return ImageLayout("npy", prefix[: start + size], count)


class ImageSegment(NamedTuple):
    """A block of ``header`` (possibly empty) followed by ``images`` whole images."""

    layout: ImageLayout
    header_bytes: int
    images: int


class ImageStream:
    """Yields (block bytes, ImageSegment or None) for an input that starts with images."""

    def __init__(self, layout: ImageLayout, first: bytes, src: BinaryIO, block_size: int):
        self.layout, self.first, self.src, self.block_size = layout, first, src, block_size

    @classmethod
    def sniff(cls, first: bytes, src: BinaryIO, block_size: int) -> ImageStream | None:
        layout = sniff(first)
        return None if layout is None else cls(layout, first, src, block_size)

    def __iter__(self) -> Iterator[tuple[bytes, ImageSegment | None]]:
        from bbzip.api import _read_full

        buffer = self.first
        header = len(self.layout.header)
        left = self.layout.images
        per_block = max(1, (self.block_size - header) // IMAGE_BYTES)
        while left:
            want = header + min(left, per_block) * IMAGE_BYTES
            if len(buffer) < want:
                buffer += _read_full(self.src, want - len(buffer))
            count = min(left, (len(buffer) - header) // IMAGE_BYTES)
            if count <= 0:
                break  # the input ends before the images its header promises
            size = header + count * IMAGE_BYTES
            yield buffer[:size], ImageSegment(self.layout, header, count)
            buffer, header, left = buffer[size:], 0, left - count
        # Whatever is left (a short header-only file, trailing bytes) is ordinary data.
        while True:
            if len(buffer) < self.block_size:
                buffer += _read_full(self.src, self.block_size - len(buffer))
            if not buffer:
                return
            yield buffer[: self.block_size], None
            buffer = buffer[self.block_size :]


def pixels_in_block(raw_size: int) -> int:
    """Pixels in a VAE block of raw_size bytes (headers are a few bytes, never an image)."""
    return (raw_size // IMAGE_BYTES) * IMAGE_BYTES
