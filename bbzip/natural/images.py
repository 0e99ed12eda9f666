"""Reading training images of any size: PGM (P5), PPM (P6), NPY, gzipped or not."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from bbzip.errors import UnsupportedError
from bbzip.images.detect import pnm_layout


def parse_pnm(raw: bytes) -> np.ndarray | None:
    """(H, W, C) uint8 pixels of an 8-bit binary PGM/PPM, or None if ``raw`` is not one."""
    layout = pnm_layout(raw)
    if layout is None or len(raw) - len(layout.header) < layout.image_bytes:
        return None
    return np.frombuffer(raw, np.uint8, layout.image_bytes, len(layout.header)).reshape(layout.shape)


def load_image_file(path: Path) -> np.ndarray:
    """One image file as (H, W, C) uint8 (the first image of an NPY stack)."""
    return load_file(path)[0]


def load_file(path: Path) -> list[np.ndarray]:
    """Every image in a PGM, PPM or uint8 NPY file ((H, W), (H, W, 3), (N, H, W) or
    (N, H, W, 3)), gzipped or not, as (H, W, C) arrays."""
    try:
        raw = Path(path).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise UnsupportedError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    image = parse_pnm(raw)
    if image is not None:
        return [image]
    if raw.startswith(b"\x93NUMPY"):
        try:
            array = np.load(io.BytesIO(raw), allow_pickle=False)
        except ValueError as exc:
            raise UnsupportedError(f"{path}: {exc}") from None
        if array.dtype == np.uint8:
            if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3):
                array = array[None]
            if array.ndim == 3:
                array = array[..., None]
            if array.ndim == 4 and array.shape[-1] in (1, 3):
                return list(array)
    raise UnsupportedError(f"{path}: not an 8-bit PGM, PPM or uint8 NPY image")


def load_images(paths: list[str | Path]) -> list[np.ndarray]:
    """Every image in ``paths`` (files, or directories of .pgm/.ppm/.npy files, gzipped or not)."""
    images: list[np.ndarray] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and
                           p.name.lower().removesuffix(".gz").rsplit(".", 1)[-1] in ("pgm", "ppm", "npy"))
            if not files:
                raise UnsupportedError(f"{path}: no .pgm, .ppm or .npy files in this directory")
            for file in files:
                images += load_file(file)
        else:
            images += load_file(path)
    if not images:
        raise UnsupportedError("no images to train on")
    return images
