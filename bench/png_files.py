"""PNG files as writers make them, for the PNG bench and tests: libpng's way with zlib
(adaptive per-row filters by the minimum sum of absolute differences, the stream cut into
IDAT chunks of 8192 bytes), with any zlib parameters, or with a filter type fixed."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from bbzip.images import png, png_rows

COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def adaptive_filters(raw: np.ndarray, bpp: int) -> np.ndarray:
    """libpng's heuristic: per row the filter whose bytes, read as signed, sum smallest
    in absolute value (ties to the lower type)."""
    height = raw.shape[0]
    costs = np.empty((5, height), np.int64)
    for kind in range(5):
        rows = np.frombuffer(png_rows.filter_rows(raw, np.full(height, kind, np.uint8), bpp), np.uint8)
        signed = rows.reshape(height, -1)[:, 1:].view(np.int8).astype(np.int64)
        costs[kind] = np.abs(signed).sum(axis=1)
    return costs.argmin(axis=0).astype(np.uint8)


def write_png(pixels: np.ndarray, level: int = 6, strategy: int = zlib.Z_FILTERED, mem_level: int = 8,
              window_bits: int = 15, filters: int | None = None, idat_size: int = 8192,
              compress=None) -> bytes:
    """A PNG of ``pixels`` (H, W) or (H, W, C), uint8 or big-endian-written uint16.
    ``filters``: None for adaptive, else one type for every row. ``compress``: a function
    of the filtered bytes giving the zlib stream (another writer), else zlib with the
    parameters given."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    raw = pixels.astype(">u2").view(np.uint8) if depth == 16 else pixels
    raw = np.ascontiguousarray(raw).reshape(height, -1)
    bpp = channels * depth // 8
    types = adaptive_filters(raw, bpp) if filters is None else np.full(height, filters, np.uint8)
    filtered = png_rows.filter_rows(raw, types, bpp)
    if compress is None:
        deflater = zlib.compressobj(level, zlib.DEFLATED, window_bits, mem_level, strategy)
        row = 1 + raw.shape[1]  # a row at a time with Z_NO_FLUSH, then Z_FINISH, as libpng feeds zlib
        stream = b"".join(deflater.compress(filtered[i : i + row]) for i in range(0, len(filtered), row))
        stream += deflater.flush()
    else:
        stream = compress(filtered)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, COLOR_TYPES[channels], 0, 0, 0)
    out = [png.SIGNATURE, png.chunk_bytes(b"IHDR", ihdr)]
    for start in range(0, len(stream), idat_size):
        out.append(png.chunk_bytes(b"IDAT", stream[start : start + idat_size]))
    out.append(png.chunk_bytes(b"IEND", b""))
    return b"".join(out)
