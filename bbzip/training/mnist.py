"""Read MNIST IDX files (optionally gzipped) into uint8 arrays; no torch here."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def read_idx_images(path: str | Path) -> np.ndarray:
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, count, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: not an IDX uint8 image file (magic {magic:#x})")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)
