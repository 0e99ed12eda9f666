"""One array chunk to one self-describing bbzip payload and back (numpy and bbzip only).

The payload is a complete .bbz stream (docs/FORMAT.md) whose content is the chunk as an NPY
file (format 1.0, or 2.0 when numpy needs it). The NPY header carries the chunk's dtype and
shape, so a payload decodes alone, without the array's metadata. bbzip's own detection picks
the coder: NPY uint8 of shape (H, W), (H, W, 3), (N, H, W) or (N, H, W, 3) is an image and goes
to the learned coder (and wider image types as the image detector learns them); anything
else goes to the generic coders. Specified in docs/ZARR.md.
"""

from __future__ import annotations

import io
import os

import numpy as np

from bbzip import api
from bbzip.errors import BBZError, CorruptError, UnsupportedError

ModelPath = str | os.PathLike


def encode_chunk(chunk, level: int = api.DEFAULT_LEVEL, coder: str = "auto",
                 model: ModelPath | None = None) -> bytes:
    """The payload for ``chunk`` (any ndarray-like; C order keeps the learned coder in play)."""
    array = np.asarray(chunk)
    if array.dtype.hasobject:
        raise UnsupportedError("bbzip cannot store object arrays (use an object codec first)")
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    npy = io.BytesIO()
    # A Fortran-ordered chunk stays Fortran-ordered (numpy writes the flag), so that zarr's
    # order="F" arrays get their memory layout back; such chunks take the generic coders.
    np.lib.format.write_array(npy, array, allow_pickle=False)
    return api.compress(npy.getvalue(), coder=coder, model=model, level=level)


def decode_chunk(payload, models: tuple[ModelPath, ...] = ()) -> np.ndarray:
    """The array a payload holds, with its dtype and shape; CorruptError if it holds none."""
    data = api.decompress(bytes(memoryview(payload)), models=models)
    return npy_array(data)


def npy_array(data: bytes) -> np.ndarray:
    """An NPY file's array, refusing pickles, short data and anything after the array."""
    stream = io.BytesIO(data)
    try:
        array = np.lib.format.read_array(stream, allow_pickle=False)
    except (ValueError, TypeError, SyntaxError, EOFError, OverflowError, MemoryError) as exc:
        raise CorruptError(f"payload is not an NPY array: {exc}") from None
    if stream.tell() != len(data):
        raise CorruptError("payload has bytes after its array")
    return array


def config_error(level, coder) -> BBZError | None:
    """Why a codec configuration cannot work, checked when the codec is made (not per chunk)."""
    if level not in api.LEVELS:
        return UnsupportedError(f"unknown level {level!r}; choose from 1 to 9")
    if coder not in api.CODER_NAMES:
        return UnsupportedError(f"unknown coder {coder!r}; choose from {', '.join(api.CODER_NAMES)}")
    return None
