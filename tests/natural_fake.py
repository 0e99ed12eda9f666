"""A lossless stand-in for bbzip.natural, with the interface in the team guide: enough to test
detection, framing, choice and round trips before (and independently of) the real model.

The payload is zlib of the pixels' horizontal differences, so smooth test images code small.
"""

from __future__ import annotations

import sys
import zlib
from types import SimpleNamespace

import numpy as np

from bbzip.errors import CorruptError, MissingModelError, UnsupportedError


class FakeNaturalModel:
    model_id = b"natfake0"
    name = "fake-natural"


MODEL = FakeNaturalModel()


MIN_SIZE = 2  # as the real coder, it refuses some shapes (the real one: under 8 pixels)


def encode(model, images: np.ndarray) -> bytes:
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[3] in (1, 3)
    assert min(images.shape) >= 1 and model is MODEL
    if min(images.shape[1:3]) < MIN_SIZE:
        raise UnsupportedError("the stand-in takes images of at least 2x2")
    diffs = np.diff(images, axis=2, prepend=np.uint8(0))
    return zlib.compress(diffs.tobytes(), 9)


def decode(model, data, shape, workers: int = 1) -> np.ndarray:
    size = int(np.prod(shape))
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(bytes(data), size + 1)
    except zlib.error as exc:
        raise CorruptError(f"fake natural payload: {exc}") from None
    if len(raw) != size or not inflater.eof or inflater.unused_data:
        raise CorruptError("fake natural payload has the wrong size")
    return np.cumsum(np.frombuffer(raw, np.uint8).reshape(shape), axis=2, dtype=np.uint8)


def find_model(model_id, extra=()):
    if model_id != MODEL.model_id:
        raise MissingModelError(f"model {model_id.hex()} is not installed")
    return MODEL


def backend(with_model: bool = True) -> SimpleNamespace:
    return SimpleNamespace(encode=encode, decode=decode, default_model=lambda: MODEL if with_model else None,
                           find_model=find_model, model_class=FakeNaturalModel)


def install() -> None:
    """Route bbzip's natural-image coder to this stand-in (for console-script shims)."""
    from bbzip.images import coder

    coder.backend = backend


if __name__ == "__main__":  # a console script with the stand-in installed: tests' shim
    install()
    from bbzip.cli import main

    sys.argv[0] = "bbzip"
    sys.exit(main())
