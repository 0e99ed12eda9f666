"""Pixel arrays of any common kind through the natural-image model and back, exactly.

    encode_planes(model, array) -> bytes
    decode_planes(model, data, shape, dtype) -> array

``array`` is (H, W, C), uint8 or uint16, C = 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA).
The colour planes go to the natural-image model (a gray or RGB image); alpha and, for 16-bit
samples, the bits below the top eight are coded beside them. Every choice is the encoder's
and is written in the payload, so the decoder follows without deciding anything. The byte
layout is docs/FORMAT.md's "planes payload".

16-bit samples: the bits every sample has zero at the bottom (``shift``) are dropped, and of
the ``bits`` significant ones that remain, the top eight (or all, when eight or fewer) form
an 8-bit image for the model. The ``low = bits - 8`` bits below are coded as they are, or as
the difference from a prediction that the decoder can make from the decoded top bits alone
(a 3x3 binomial smoothing of the top bits' cell centres, clamped into the pixel's cell):
the top bits say where in its cell a pixel of a smooth picture lies. Integers throughout.
"""

from __future__ import annotations

import numpy as np

from bbzip.coders import registry
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.images import coder as natural_block
from bbzip.images.layout import MAX_SIDE

# Colour: the natural model's payload, or the model-free coders' on the raw plane bytes.
NATURAL, GENERIC = 0, 1
# Alpha: one value everywhere, or a plane (alpha samples, big-endian when 16-bit).
CONSTANT, PLANE = 0, 1
# Low bits of 16-bit samples: as they are, or less the prediction (mod 2**low).
RAW_LOW, PREDICTED_LOW = 0, 1
_GENERIC_IDS = {registry.BY_NAME[name].coder_id for name in ("stored", "lzma", "order0", "zstd")}


def _check_array(array: np.ndarray) -> None:
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4) or array.dtype not in (np.uint8, np.uint16):
        raise UnsupportedError("planes take (H, W, C) uint8 or uint16 arrays with C in 1..4")
    if min(array.shape[:2]) < 1 or max(array.shape[:2]) > MAX_SIDE:
        raise UnsupportedError("planes take images of 1 to 2**24 pixels a side")


def _split(c: int) -> tuple[int, bool]:
    """(colour channels, has alpha) of a C-channel array."""
    return (3 if c >= 3 else 1), c in (2, 4)


def encode_planes(model, array: np.ndarray) -> bytes:
    _check_array(array)
    c = array.shape[2]
    colours, alpha = _split(c)
    depth = 2 if array.dtype == np.uint16 else 1
    out = bytearray([c, depth])
    colour = array[..., :colours]
    if depth == 2:
        values = colour.astype(np.uint32)
        shift = _common_zero_bits(values)
        values >>= shift
        bits = int(values.max()).bit_length()
        low = max(0, bits - 8)
        out += bytes([shift, bits])
        top = (values >> low).astype(np.uint8)
    else:
        top, low = np.ascontiguousarray(colour), 0
    out += _encode_colour(model, top)
    if low:
        out += _encode_low(values & ((1 << low) - 1), top, low)
    if alpha:
        out += _encode_alpha(array[..., -1])
    return bytes(out)


def decode_planes(model, data: bytes | memoryview, shape: tuple[int, int, int], dtype) -> np.ndarray:
    """The array ``encode_planes`` coded; CorruptError on anything inconsistent. The caller
    bounds ``shape`` (it sizes the output); nothing else here is allocated by the payload."""
    dtype = np.dtype(dtype)
    h, w, c = shape
    try:
        _check_array(np.empty((min(h, 1), min(w, 1), c), dtype))
    except UnsupportedError:
        raise CorruptError("planes payload: invalid shape or sample type") from None
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise CorruptError("planes payload: invalid shape")
    view = memoryview(data)
    depth = 2 if dtype == np.uint16 else 1
    if len(view) < 2 or view[0] != c or view[1] != depth:
        raise CorruptError("planes payload does not match its image's shape")
    colours, alpha = _split(c)
    pos, shift, low = 2, 0, 0
    if depth == 2:
        if len(view) < 4 or view[2] > 15 or view[3] > 16 or view[2] + view[3] > 16:
            raise CorruptError("planes payload has invalid 16-bit sample bits")
        shift, bits, pos = view[2], view[3], 4
        low = max(0, bits - 8)
    top, pos = _decode_colour(model, view, pos, (h, w, colours))
    out = np.empty((h, w, c), dtype)
    if low:
        lows, pos = _decode_low(view, pos, top, low)
        out[..., :colours] = ((top.astype(np.uint32) << low | lows) << shift).astype(dtype)
    elif depth == 2:
        out[..., :colours] = top.astype(dtype) << shift
    else:
        out[..., :colours] = top
    if alpha:
        out[..., -1], pos = _decode_alpha(view, pos, (h, w), dtype)
    if pos != len(view):
        raise CorruptError("planes payload has trailing bytes")
    return out


def _common_zero_bits(values: np.ndarray) -> int:
    """Trailing zero bits every sample has (0 for an all-zero plane)."""
    combined = int(np.bitwise_or.reduce(values, axis=None))
    if not combined:
        return 0
    return (combined & -combined).bit_length() - 1


# -- colour ----------------------------------------------------------------------------
def _encode_colour(model, top: np.ndarray) -> bytes:
    coder_id, generic = natural_block._encode_plain(top.tobytes())
    best = bytes([GENERIC, coder_id]) + encode_varint(len(generic)) + generic
    natural = natural_block.backend()
    if natural is not None and model is not None:
        try:
            payload = natural.encode(model, top[None])
        except UnsupportedError:
            payload = None
        if payload is not None and len(payload) + 1 + len(encode_varint(len(payload))) < len(best):
            best = bytes([NATURAL]) + encode_varint(len(payload)) + payload
    return best


def _decode_colour(model, view: memoryview, pos: int, shape: tuple[int, int, int]) -> tuple[np.ndarray, int]:
    method, pos = _byte(view, pos)
    if method == GENERIC:
        raw, pos = _read_generic(view, pos, shape[0] * shape[1] * shape[2])
        return np.frombuffer(raw, np.uint8).reshape(shape), pos
    if method != NATURAL:
        raise CorruptError("planes payload names no valid colour coding")
    natural = natural_block.backend()
    if natural is None or model is None:
        raise CorruptError("planes payload needs the natural-image model")
    size, pos = _size(view, pos)
    images = natural.decode(model, view[pos : pos + size], (1, *shape))
    if images.shape != (1, *shape) or images.dtype.kind not in "ui":
        raise CorruptError("planes payload decoded to the wrong shape")
    if images.dtype != np.uint8:
        if images.min() < 0 or images.max() > 255:
            raise CorruptError("planes payload decoded to values beyond 8 bits")
        images = images.astype(np.uint8)
    return images[0], pos + size


# -- low bits of 16-bit samples --------------------------------------------------------
def predict_low(top: np.ndarray, low: int) -> np.ndarray:
    """Where in its cell of 2**low values each sample probably lies, from the top bits of it
    and its 8 neighbours (edges repeated): the 3x3 binomial mean of the cells' centres,
    clamped into the sample's own cell. Integer arithmetic, identical everywhere."""
    centre = (top.astype(np.int64) << low) + (1 << (low - 1))
    padded = np.pad(centre, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows = padded[:-2] + 2 * padded[1:-1] + padded[2:]
    smooth = rows[:, :-2] + 2 * rows[:, 1:-1] + rows[:, 2:]
    base = top.astype(np.int64) << low
    guess = np.clip((smooth + 8) >> 4, base, base + (1 << low) - 1) - base
    return guess.astype(np.uint32)


def _encode_low(lows: np.ndarray, top: np.ndarray, low: int) -> bytes:
    mask = (1 << low) - 1
    options = [(RAW_LOW, lows)]
    options.append((PREDICTED_LOW, (lows - predict_low(top, low)) & mask))
    best = None
    for method, plane in options:
        coder_id, payload = natural_block._encode_plain(plane.astype(np.uint8).tobytes())
        coded = bytes([method, coder_id]) + encode_varint(len(payload)) + payload
        if best is None or len(coded) < len(best):
            best = coded
    return best


def _decode_low(view: memoryview, pos: int, top: np.ndarray, low: int) -> tuple[np.ndarray, int]:
    method, pos = _byte(view, pos)
    if method not in (RAW_LOW, PREDICTED_LOW):
        raise CorruptError("planes payload names no valid low-bit coding")
    raw, pos = _read_generic(view, pos, top.size)
    plane = np.frombuffer(raw, np.uint8).reshape(top.shape).astype(np.uint32)
    mask = (1 << low) - 1
    if plane.size and int(plane.max()) > mask:
        raise CorruptError("planes payload has low bits out of range")
    if method == PREDICTED_LOW:
        plane = (plane + predict_low(top, low)) & mask
    return plane, pos


# -- alpha -----------------------------------------------------------------------------
def _encode_alpha(alpha: np.ndarray) -> bytes:
    first = int(alpha.flat[0])
    if (alpha == first).all():
        return bytes([CONSTANT]) + encode_varint(first)
    raw = alpha.astype(">u2").tobytes() if alpha.dtype == np.uint16 else alpha.tobytes()
    coder_id, payload = natural_block._encode_plain(raw)
    return bytes([PLANE, coder_id]) + encode_varint(len(payload)) + payload


def _decode_alpha(view: memoryview, pos: int, shape: tuple[int, int], dtype: np.dtype) -> tuple[np.ndarray, int]:
    method, pos = _byte(view, pos)
    if method == CONSTANT:
        value, pos = decode_varint(view, pos, int(np.iinfo(dtype).max))
        return np.full(shape, value, dtype), pos
    if method != PLANE:
        raise CorruptError("planes payload names no valid alpha coding")
    raw, pos = _read_generic(view, pos, shape[0] * shape[1] * dtype.itemsize)
    samples = np.frombuffer(raw, ">u2" if dtype == np.uint16 else np.uint8)
    return samples.reshape(shape).astype(dtype), pos


# -- framing ---------------------------------------------------------------------------
def _byte(view: memoryview, pos: int) -> tuple[int, int]:
    if pos >= len(view):
        raise CorruptError("planes payload is truncated")
    return view[pos], pos + 1


def _size(view: memoryview, pos: int) -> tuple[int, int]:
    size, pos = decode_varint(view, pos, len(view) - pos)
    if size > len(view) - pos:
        raise CorruptError("planes payload is truncated")
    return size, pos


def _read_generic(view: memoryview, pos: int, raw_size: int) -> tuple[bytes, int]:
    """A model-free coder's output of exactly ``raw_size`` bytes: coder byte, size, payload."""
    coder_id, pos = _byte(view, pos)
    if coder_id not in _GENERIC_IDS:
        raise CorruptError("planes payload names no valid model-free coder")
    size, pos = _size(view, pos)
    raw = registry.model_free(coder_id).decode(bytes(view[pos : pos + size]), raw_size)
    if len(raw) != raw_size:
        raise CorruptError("planes payload has a plane of the wrong length")
    return raw, pos + size
