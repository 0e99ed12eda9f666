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


BINARIZE_SEED = 0  # binarized MNIST (test set, bench) is defined by this seed


def binarize(images: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """Stochastic binarisation: a pixel is 1 with probability value/255 (pixel > uniform noise).

    Without ``rng`` the result is the fixed binarized set for seed BINARIZE_SEED.
    """
    rng = np.random.default_rng(BINARIZE_SEED) if rng is None else rng
    return (images > rng.random(images.shape) * 255).astype(np.uint8)
