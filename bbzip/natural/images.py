"""Reading training images of any size: PGM (P5), PPM (P6), NPY, gzipped or not."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np

from bbzip.errors import UnsupportedError

_PNM = re.compile(rb"(P[56])(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)\s")


def parse_pnm(raw: bytes) -> np.ndarray | None:
    """(H, W, C) uint8 pixels of an 8-bit binary PGM/PPM, or None if ``raw`` is not one."""
    match = _PNM.match(raw[:4096])
    if not match:
        return None
    channels = 1 if match.group(1) == b"P5" else 3
    width, height, maxval = (int(match.group(i)) for i in (2, 3, 4))
    size = width * height * channels
    if not 1 <= maxval <= 255 or len(raw) - match.end() < size or width < 1 or height < 1:
        return None
    return np.frombuffer(raw, np.uint8, size, match.end()).reshape(height, width, channels)


def load_image_file(path: Path) -> np.ndarray:
    """One image file as (H, W, C) uint8, or (N, H, W, C) for an NPY stack flattened to a list
    by ``load_images``."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    image = parse_pnm(raw)
    if image is not None:
        return image
    if raw.startswith(b"\x93NUMPY"):
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if array.dtype == np.uint8 and array.ndim in (2, 3):
            return array[..., None] if array.ndim == 2 else array
    raise UnsupportedError(f"{path}: not an 8-bit PGM, PPM or uint8 NPY image")
