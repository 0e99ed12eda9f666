"""What image a byte string starts with, from its header alone (stdlib; numpy for NPY).

Known layouts, every one 8-bit and read in C order:
* PGM (P5) and PPM (P6): any width and height, maxval 1..255, comments and whitespace kept;
* NPY uint8, C order, shaped (H, W), (H, W, 3), (N, H, W) (W not 2 or 4) or (N, H, W, 3);
* IDX unsigned byte (magic 00 00 08 03): N x H x W.
The header is kept verbatim by every coder, so the output is byte-identical. A header that
promises more than the input holds is the reader's concern (blocks.py): detection never
allocates by what a header claims, and refuses images too large for one block outright.
"""

from __future__ import annotations

import re
import struct
from typing import NamedTuple

# A whole image must fit one block, under the container's 64 MiB raw limit; bigger ones
# (or absurd dimensions) go to the other coders without anything being allocated for them.
MAX_IMAGE_BYTES = 32 << 20
# Enough input to hold any header detection accepts (NPY headers are capped by numpy).
SNIFF_BYTES = 65536 + 16
_PNM_SCAN = 4096
_SEP = rb"(?:\s|#[^\r\n]*[\r\n])+"
_PNM = re.compile(rb"P([56])" + _SEP + rb"(\d{1,9})" + _SEP + rb"(\d{1,9})" + _SEP + rb"(\d{1,9})\s")
_NPY_MAGIC = b"\x93NUMPY"
MAGIC_BYTES = len(_NPY_MAGIC)
_IDX_MAGIC = b"\x00\x00\x08\x03"
DIGIT_SHAPE = (28, 28, 1)


class ImageLayout(NamedTuple):
    kind: str  # "pgm", "ppm", "npy" or "idx"
    header: bytes  # verbatim, up to the first pixel
    count: int  # images the header promises
    height: int
    width: int
    channels: int  # 1 (gray) or 3 (RGB, interleaved)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, self.channels

    @property
    def image_bytes(self) -> int:
        return self.height * self.width * self.channels


def may_be_image(head: bytes) -> bool:
    """False when the first MAGIC_BYTES rule every layout out (most data, at once)."""
    return head[:2] in (b"P5", b"P6") or head.startswith((_NPY_MAGIC, _IDX_MAGIC))


def sniff(prefix: bytes) -> ImageLayout | None:
    """The image layout ``prefix`` starts with, or None. Cheap on anything else: each
    format is rejected on its first bytes."""
    head = prefix[:2]
    if head in (b"P5", b"P6"):
        layout = _sniff_pnm(prefix)
    elif head == b"\x93N":
        layout = _sniff_npy(prefix)
    elif head == b"\x00\x00":
        layout = _sniff_idx(prefix)
    else:
        return None
    if layout is None or layout.count < 1 or min(layout.shape) < 1:
        return None
    return layout if layout.image_bytes <= MAX_IMAGE_BYTES else None


def _sniff_pnm(prefix: bytes) -> ImageLayout | None:
    match = _PNM.match(prefix[:_PNM_SCAN])
    if not match:
        return None
    width, height, maxval = (int(match.group(i)) for i in (2, 3, 4))
    if not 1 <= maxval <= 255:
        return None  # 16-bit samples (maxval > 255) or an invalid 0
    gray = match.group(1) == b"5"
    return ImageLayout("pgm" if gray else "ppm", match.group(0), 1, height, width, 1 if gray else 3)


def _sniff_idx(prefix: bytes) -> ImageLayout | None:
    if len(prefix) < 16 or prefix[:4] != _IDX_MAGIC:
        return None
    count, rows, cols = struct.unpack(">III", prefix[4:16])
    return ImageLayout("idx", prefix[:16], count, rows, cols, 1)


def read_npy_header(prefix: bytes):
    """(shape, fortran, dtype, header length) of the NPY header ``prefix`` starts with, or
    None; numpy's own reader, with every error it raises on hostile headers caught."""
    if not prefix.startswith(_NPY_MAGIC):
        return None
    import io
    import warnings
    from tokenize import TokenError

    from numpy.lib import format as npy_format

    stream = io.BytesIO(prefix[:SNIFF_BYTES])
    try:
        with warnings.catch_warnings():  # numpy warns about Python 2 headers; we only read them
            warnings.simplefilter("ignore")
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
            else:
                return None  # 3.0 only differs for non-Latin-1 field names: never our images
    except (ValueError, TypeError, SyntaxError, EOFError, OverflowError, MemoryError, RecursionError,
            TokenError):  # what numpy's parser raises on hostile headers
        return None
    return tuple(shape), fortran, dtype, stream.tell()


def _sniff_npy(prefix: bytes) -> ImageLayout | None:
    import numpy as np

    header = read_npy_header(prefix)
    if header is None:
        return None
    shape, fortran, dtype, end = header
    if fortran or dtype != np.dtype(np.uint8) or dtype.fields is not None:
        return None
    shape = tuple(shape)
    if len(shape) == 2:
        count, (height, width), channels = 1, shape, 1
    elif len(shape) == 3 and shape[2] == 3:
        count, (height, width, channels) = 1, shape
    elif len(shape) == 3 and shape[2] not in (2, 4):  # (H, W, 2|4): alpha, files.py's
        (count, height, width), channels = shape, 1
    elif len(shape) == 4 and shape[3] == 3:
        count, height, width, channels = shape
    else:
        return None
    return ImageLayout("npy", prefix[:end], count, height, width, channels)
