"""PNG's row filters both ways: undone at compress time (compiled with numba when present),
applied when a png block is decoded (numpy, a band of rows at a time)."""

from __future__ import annotations

import numpy as np

from bbzip.deflate._jit import jit
from bbzip.errors import CorruptError
from bbzip.images.png import Header


@jit
def _unfilter(filtered, height, row_bytes, bpp, raw, types):
    """Undo the row filters; False when a row names an unknown filter type."""
    for y in range(height):
        kind = filtered[y, 0]
        types[y] = kind
        if kind > 4:
            return False
        for x in range(row_bytes):
            v = np.int64(filtered[y, x + 1])
            a = np.int64(raw[y, x - bpp]) if x >= bpp else 0
            b = np.int64(raw[y - 1, x]) if y > 0 else 0
            if kind == 1:
                v += a
            elif kind == 2:
                v += b
            elif kind == 3:
                v += (a + b) >> 1
            elif kind == 4:
                c = np.int64(raw[y - 1, x - bpp]) if x >= bpp and y > 0 else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                v += a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            raw[y, x] = v & 0xFF
    return True


def unfilter(filtered: bytes, header: Header) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows of raw bytes, filter type per row) of an inflated IDAT stream, or None."""
    rows = np.frombuffer(filtered, np.uint8).reshape(header.height, 1 + header.row_bytes)
    raw = np.zeros((header.height, header.row_bytes), np.uint8)
    types = np.zeros(header.height, np.uint8)
    if not _unfilter(rows, header.height, header.row_bytes, header.bpp, raw, types):
        return None
    return raw, types


def filter_rows(raw: np.ndarray, types: np.ndarray, bpp: int) -> bytes:
    """The IDAT stream before deflate: each row's filter type byte, then the row filtered
    with it (PNG's filters None, Sub, Up, Average, Paeth), in bands of rows at once."""
    height, row_bytes = raw.shape
    if types.size and types.max() > 4:
        raise CorruptError("PNG block names an unknown row filter")
    out = np.empty((height, 1 + row_bytes), np.uint8)
    out[:, 0] = types
    band = max(1, (1 << 20) // max(1, row_bytes))
    for top in range(0, height, band):
        rows = slice(top, min(height, top + band))
        above = raw[top - 1 : top].astype(np.int16) if top else np.zeros((1, row_bytes), np.int16)
        out[rows, 1:] = _filter_band(raw[rows].astype(np.int16), above, types[rows], bpp)
    return out.tobytes()


def _filter_band(x: np.ndarray, above: np.ndarray, types: np.ndarray, bpp: int) -> np.ndarray:
    b = np.concatenate((above, x[:-1]))
    a = np.zeros_like(x)
    c = np.zeros_like(x)
    if bpp < x.shape[1]:
        a[:, bpp:] = x[:, :-bpp]
        c[:, bpp:] = b[:, :-bpp]
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))  # Paeth
    for kind, predictor in ((0, 0), (1, a), (2, b), (3, (a + b) >> 1)):
        rows = types == kind
        if rows.any():
            predicted[rows] = predictor if kind == 0 else predictor[rows]
    return ((x - predicted) & 0xFF).astype(np.uint8)
