"""A deflate encoder of bbzip's own that writes, bit for bit, what zlib 1.2.12 to 1.3.x
writes for one input given whole (or streamed with Z_NO_FLUSH, then Z_FINISH), for levels
1-9, strategies default, filtered, Huffman-only, RLE and fixed, memLevel 1-9 and windowBits
9-15. Decoding a .bbz that holds a regenerated stream runs this, never the zlib of the
machine (whose forks write other streams for the same input).

The algorithm is zlib's (docs/FORMAT.md, "Deflate regeneration", states it); lz77 finds the
matches and block ends, emit chooses and writes the blocks. With numba (the ``fast`` extra)
both run compiled; without it the same code runs as Python, much slower.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bbzip.deflate import emit, lz77, peek
from bbzip.errors import UnsupportedError

STRATEGIES = {"default": lz77.DEFAULT, "filtered": lz77.FILTERED, "huffman": lz77.HUFFMAN_ONLY, "rle": lz77.RLE,
              "fixed": lz77.FIXED}


class Params(NamedTuple):
    level: int  # 1-9
    strategy: int  # zlib's Z_DEFAULT_STRATEGY 0, Z_FILTERED 1, Z_HUFFMAN_ONLY 2, Z_RLE 3, Z_FIXED 4
    mem_level: int  # 1-9
    window_bits: int  # 9-15

    def check(self) -> Params:
        if not (1 <= self.level <= 9 and 0 <= self.strategy <= 4 and 1 <= self.mem_level <= 9
                and 9 <= self.window_bits <= 15):
            raise UnsupportedError(f"deflate parameters out of range: {tuple(self)}")
        return self


LIBPNG_DEFAULT = Params(6, lz77.FILTERED, 8, 15)


def _run(data: np.ndarray, params: Params, max_blocks: int) -> tuple[bytes, bool]:
    n = data.shape[0]
    sym_limit = (1 << (params.mem_level + 6)) - 1
    room = n + 1 if max_blocks <= 0 else min(n + 1, max_blocks * sym_limit + 2)
    dists = np.zeros(room, np.uint16)
    lcs = np.zeros(room, np.uint8)
    blocks = np.zeros((n // sym_limit + 2, 5), np.int64)
    _, nblocks, final = lz77.parse(data, params.level, params.strategy, params.mem_level, params.window_bits,
                                   max_blocks, dists, lcs, blocks)
    # Each symbol costs at most 31 bits for 3 bytes or 9 for one; trees and stored
    # headers at most a few hundred bytes a block.
    covered = int(blocks[nblocks - 1, 3]) if nblocks else 0
    out = np.zeros(covered + covered // 2 + 320 * (nblocks + 1), np.uint8)
    kinds = np.zeros(nblocks, np.int64)
    size = emit.write_blocks(data, dists, lcs, blocks, nblocks, params.strategy == lz77.FIXED, final, out, kinds)
    return out[:size].tobytes(), final


def _as_array(data) -> np.ndarray:
    return np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1).view(np.uint8)


def deflate(data, params: Params) -> bytes:
    """The raw deflate stream (no zlib header or trailer) zlib writes for ``data``."""
    params.check()
    return _run(_as_array(data), params, 0)[0]


def zlib_stream(data, params: Params) -> bytes:
    """The whole zlib stream: header as deflateInit2 writes it, deflate data, Adler-32."""
    params.check()
    cmf = 8 | ((params.window_bits - 8) << 4)
    if params.strategy >= lz77.HUFFMAN_ONLY and params.strategy != lz77.FIXED or params.level < 2:
        flevel = 0
    else:
        flevel = 1 if params.level < 6 else 2 if params.level == 6 else 3
    head = (cmf << 8) | (flevel << 6)
    head += 31 - head % 31
    return bytes((head >> 8, head & 0xFF)) + deflate(data, params) + adler32(data).to_bytes(4, "big")


def adler32(data) -> int:
    arr = _as_array(data)
    a, b = 1, 0
    for start in range(0, arr.shape[0], 5552):  # sums stay exact in int64 within a chunk
        chunk = arr[start : start + 5552].astype(np.int64)
        k = chunk.shape[0]
        b = (b + k * a + int(np.dot(np.arange(k, 0, -1, dtype=np.int64), chunk))) % 65521
        a = (a + int(chunk.sum())) % 65521
    return (b << 16) | a


def matches_prefix(data, params: Params, target: bytes, max_blocks: int = 1) -> bool:
    """Whether the first ``max_blocks`` blocks zlib would write with ``params`` begin
    ``target`` (a quick test that rejects most wrong parameters after one block)."""
    out, final = _run(_as_array(data), params, max_blocks)
    if final:
        return out == target
    whole = out[:-1]  # the last byte may still be waiting for the next block's bits
    return target[: len(whole)] == whole


def possible(params: Params, first: peek.FirstBlock) -> bool:
    """Whether zlib with ``params`` could have written a stream that starts with ``first``."""
    limit = (1 << (params.mem_level + 6)) - 1
    if first.kind != emit.STORED and (first.symbols > limit or not first.final and first.symbols != limit):
        return False
    if first.farthest > (1 << params.window_bits) - lz77.MIN_LOOKAHEAD:
        return False
    if params.strategy == lz77.FILTERED and params.level >= 4 and 0 < first.shortest <= 5:
        return False  # deflate_slow drops such matches under Z_FILTERED
    if params.strategy == lz77.HUFFMAN_ONLY and first.shortest or params.strategy == lz77.RLE and first.farthest > 1:
        return False
    return not (params.strategy == lz77.FIXED and first.kind == emit.DYNAMIC)


def find_params(data, target: bytes, candidates) -> Params | None:
    """The first of ``candidates`` whose stream is exactly ``target`` (raw deflate);
    candidates that its first block rules out are not run."""
    arr = _as_array(data)
    first = peek.first_block(target)
    if first is None:
        return None
    for params in candidates:
        if not possible(params, first):
            continue
        if matches_prefix(arr, params, target) and _run(arr, params, 0)[0] == target:
            return params
    return None
