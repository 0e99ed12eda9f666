"""Loading a user's training images (no torch here): IDX files, .npy arrays, PGM directories.

The network's layers are fixed to 28x28 inputs (two stride-2 convolutions down to 7x7 and
back), so other sizes are refused with a message: they need a model with other layer
shapes, i.e. changes to bbzip/training/model.py and the integer runtime alike.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bbzip.errors import UnsupportedError
from bbzip.images.detect import DIGIT_SHAPE, SNIFF_BYTES, sniff

SIZE = (28, 28)
_SIZE_NOTE = "only 28x28 images can be trained on (the network's layer shapes are fixed to it)"


def load_images(paths: list[str | Path]) -> np.ndarray:
    """Every image in ``paths`` (files or directories of PGMs) as one (N, 28, 28) uint8 array."""
    parts = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".pgm" and p.is_file())
            if not files:
                raise UnsupportedError(f"{path}: no .pgm files in this directory")
            parts += [_load_file(p) for p in files]
        else:
            parts.append(_load_file(path))
    images = np.concatenate(parts) if parts else np.zeros((0, *SIZE), np.uint8)
    if len(images) == 0:
        raise UnsupportedError("no images to train on")
    return images


def _load_file(path: Path) -> np.ndarray:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UnsupportedError(f"{path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UnsupportedError(f"{path}: bad gzip data ({exc})") from None
    layout = sniff(raw[:SNIFF_BYTES])
    if layout is None or layout.shape != DIGIT_SHAPE:
        raise UnsupportedError(f"{path}: not a 28x28 8-bit IDX, PGM or NPY image file; {_SIZE_NOTE}")
    start = len(layout.header)
    count = min(layout.count, (len(raw) - start) // (SIZE[0] * SIZE[1]))
    if count < layout.count:
        raise UnsupportedError(f"{path}: truncated ({count} of {layout.count} images)")
    return np.frombuffer(raw, np.uint8, count * SIZE[0] * SIZE[1], start).reshape(count, *SIZE)
