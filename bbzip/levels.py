"""What each compression level does with a block of general data (not a recognised image).

    1      zstd (fast settings); stored when nothing shrinks. Never a network.
    2-7    zstd at the level's settings; static order-0 rANS instead when the byte counts
           say it is smaller (skewed i.i.d. bytes); stored when nothing shrinks. When
           order-0 beats zstd's fastest settings on samples, zstd is not run at all.
    8      also LZMA (xz -6 settings) when a fast LZMA run on samples says it may win.
    9      also LZMA with xz -6e settings: the smallest of every coder.

Blocks of at most TINY_BLOCK bytes get the smallest of LZMA, order-0 and stored at every
level. Recognised images get the learned coder from LEARNED_MIN_LEVEL up. Decompression never
needs the level: every block names its coder.
"""

from __future__ import annotations

import lzma
import math
from collections.abc import Callable

from bbzip.coders import registry

LEARNED_MIN_LEVEL = 4
STORED_ID = 0x7F
# Blocks this small take milliseconds with any coder, so they get the smallest of LZMA,
# order-0 and stored at every level, and a small file never pays for importing zstd.
TINY_BLOCK = 16 << 10
ORDER0_MIN_LEVEL = 2
LZMA_MIN_LEVEL = 8
# Below this, running LZMA outright is cheaper than deciding whether to.
SMALL_BLOCK = 64 << 10
SAMPLE_BYTES = 32 << 10
# zstd's slower settings crawl through skewed i.i.d. bytes (14 MB/s at level 6 against 200
# at level 1, measured on geometric bytes) only to lose to order-0, which LZ matching cannot
# help there. So levels 2-7 first compare order-0 with zstd's fastest settings on three
# samples of this size, and skip zstd when order-0 wins: long-range repeats that the samples
# cannot see are the price, and level 8 up never skip.
LZ_SAMPLE_BYTES = 256 << 10
# Byte counts on every 16th byte predict order-0's size to well within this margin on any
# block big enough to matter; the full count runs only when the prediction is close.
_SAMPLE_STRIDE = 16
_SAMPLE_MARGIN = 1.03

Report = Callable[[int], None] | None


def encode_general(block: bytes, level: int, workers: int = 1, report: Report = None) -> tuple[int, bytes]:
    """(coder_id, payload): the smallest of the level's candidates for ``block``."""
    if len(block) <= TINY_BLOCK:
        best = _try_order0(block, _smaller(_lzma(block, 9), (STORED_ID, bytes(block))))
        return best if len(best[1]) < len(block) else (STORED_ID, bytes(block))
    from bbzip.coders.zstd_coder import ZstdCoder

    zstd = ZstdCoder()
    if ORDER0_MIN_LEVEL <= level < LZMA_MIN_LEVEL and _order0_beats_lz(block):
        best = (STORED_ID, block)  # order-0 is tried below, against stored only
    else:
        # Where LZMA follows, the pool's other threads are likely inside LZMA (90 MB each).
        best = (zstd.coder_id, zstd.encode(block, level, workers, report, turns=level < LZMA_MIN_LEVEL))
    counts = None  # the block's byte counts, when LZMA's test has taken them (one pass, not two)
    if level >= LZMA_MIN_LEVEL:
        may_win, counts = _lzma_may_win(block)
        if may_win:
            # LZMA holds about 90 MB for up to a minute per block, beside the other workers'
            # LZMA: the zstd payload it competes with (20 MB for a 32 MiB block of binaries)
            # is not kept alive meanwhile, but made again where LZMA loses (the samples make
            # that rare). Same bytes either way.
            to_beat = len(best[1])
            best = None
            best = _lzma(block, level)
            if len(best[1]) >= to_beat:
                best = None
                best = (zstd.coder_id, zstd.encode(block, level, workers, turns=False))
    if level >= ORDER0_MIN_LEVEL:
        best = _try_order0(block, best, counts)
    return best if len(best[1]) < len(block) else (STORED_ID, bytes(block))


def encode_named(name: str, block: bytes, level: int, workers: int = 1, report: Report = None) -> bytes:
    """The payload of coder ``name``, at the level's settings where the coder has any."""
    coder = registry.model_free_coder(name)
    if name == "zstd":
        return coder.encode(block, level, workers, report)
    return coder.encode(block)


def _try_order0(block: bytes, best: tuple[int, bytes], counts=None) -> tuple[int, bytes]:
    to_beat = min(len(best[1]), len(block))
    if len(block) <= TINY_BLOCK and _order0_floor(block) >= to_beat:
        return best  # decided without numpy, whose import is most of a small file's time
    from bbzip.coders import order0

    if counts is None and len(block) >= 64 * _SAMPLE_STRIDE:
        import numpy as np

        sample = np.frombuffer(block, dtype=np.uint8)[::_SAMPLE_STRIDE]
        if order0.estimate_size(order0.byte_counts(sample)) * _SAMPLE_STRIDE > _SAMPLE_MARGIN * to_beat:
            return best
    if counts is None:
        counts = order0.byte_counts(block)
    if order0.estimate_size(counts) >= to_beat:
        return best
    payload = order0.Order0Coder().encode(block, counts)
    return (order0.Order0Coder.coder_id, payload) if len(payload) < len(best[1]) else best


def _lzma_may_win(block: bytes) -> tuple[bool, object]:
    """Whether LZMA may beat order-0's exact size and stored: a full run on data it cannot
    shrink costs about 0.5 s per MiB. Preset 0 on samples is a pessimistic stand-in.
    Returns (that, the block's byte counts if they were taken)."""
    if len(block) <= SMALL_BLOCK:
        return True, None
    from bbzip.coders import order0

    counts = order0.byte_counts(block)
    to_beat = min(order0.estimate_size(counts), len(block))
    return lzma_sample_ratio(block) < to_beat / len(block), counts


def _lzma(block: bytes, level: int) -> tuple[int, bytes]:
    lzma_coder = registry.model_free_coder("lzma")
    return lzma_coder.coder_id, lzma_coder.encode(block, extreme=level >= 9)


def _smaller(first: tuple[int, bytes], second: tuple[int, bytes]) -> tuple[int, bytes]:
    """The smaller candidate; ``second`` on a tie."""
    return first if len(first[1]) < len(second[1]) else second


def _order0_floor(block: bytes) -> float:
    """A lower bound on order-0's payload bytes (its estimate, and its size): the 34 bytes of
    lanes, precision and bitmap it always writes, and the block's empirical entropy, which no
    quantised table codes below (one byte of slack for the float sum)."""
    from collections import Counter

    n = len(block)
    return 33 + sum(c * math.log2(n / c) for c in Counter(block).values()) / 8


def _samples(block: bytes, size: int) -> list[bytes]:
    """The block's first, middle and last ``size`` bytes."""
    middle = len(block) // 2
    return [block[:size], block[middle : middle + size], block[-size:]]


def _order0_beats_lz(block: bytes) -> bool:
    if len(block) < 4 * LZ_SAMPLE_BYTES:
        return False  # zstd on the whole block costs little more than deciding
    from bbzip.coders import order0
    from bbzip.coders.zstd_coder import ZstdCoder

    samples = _samples(block, LZ_SAMPLE_BYTES)
    lz = sum(len(ZstdCoder().encode(sample, 1)) for sample in samples)
    return order0.estimate_size(order0.byte_counts(b"".join(samples))) < lz


def lzma_sample_ratio(block: bytes) -> float:
    """Compressed/raw ratio of LZMA preset 0 on three 32 KiB samples of the block."""
    samples = _samples(block, SAMPLE_BYTES)
    fast = [{"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": SAMPLE_BYTES}]
    packed = sum(len(lzma.compress(s, format=lzma.FORMAT_RAW, filters=fast)) for s in samples)
    return packed / sum(map(len, samples))
