"""Code lengths in integer fixed point, for the encoder's choices.

The calibration compares estimated code lengths, sum(precision - log2(freq)), and the
winner decides bytes. numpy's log2 runs SIMD kernels that may differ in the last bit from
one CPU to another, and a float sum depends on its order; so the encoder measures lengths
in units of 2**-COST_BITS bits with integers only: a table of log2 on 12-bit mantissas,
built by repeated squaring in uint64, interpolated linearly (error below 2**-22 bits).
Sums of these integers are exact in any order. The same numbers come from the numpy path
here and from the compiled one (bbzip/natural/kernels.py), which reads the same table.
"""

from __future__ import annotations

import numpy as np

COST_BITS = 24
COST_ONE = 1 << COST_BITS  # one bit
MANTISSA_BITS = 12  # the table covers m / 2**12 for m in [2**12, 2**13]
_Q = 31  # the squaring's fixed point: [1, 2) as uint64 values in [2**31, 2**32)


def _log2_table() -> np.ndarray:
    """log2(m / 2**12) * 2**COST_BITS, rounded down, for m in [2**12, 2**13]: the binary
    digits of the logarithm by repeated squaring (x in [1, 2): square; a result of 2 or
    more is a digit 1, halved). Integers only, so the same table on every machine."""
    x = np.arange(1 << MANTISSA_BITS, 1 << (MANTISSA_BITS + 1), dtype=np.uint64) << np.uint64(_Q - MANTISSA_BITS)
    table = np.zeros(len(x) + 1, dtype=np.int64)
    two = np.uint64(2 << _Q)
    for bit in range(COST_BITS - 1, -1, -1):
        x = (x * x) >> np.uint64(_Q)  # x < 2**32, so x * x < 2**64: exact in uint64
        high = x >= two
        table[:-1] += high.astype(np.int64) << bit
        x = np.where(high, x >> np.uint64(1), x)
    table[-1] = COST_ONE  # log2(2)
    return table


LOG2_TABLE = _log2_table()


def log2_fixed(values: np.ndarray) -> np.ndarray:
    """log2(v) * 2**COST_BITS (int64) for integers 1 <= v < 2**52: the exponent, plus the
    table at the top 12 bits below the leading one, plus the linear interpolation of the
    bits under them."""
    v = np.asarray(values, dtype=np.int64)
    exponent = np.frexp(v.astype(np.float64))[1].astype(np.int64) - 1  # floor(log2 v), exact
    below = np.maximum(exponent - MANTISSA_BITS, 0)  # bits under the mantissa's 13
    mantissa = np.where(exponent >= MANTISSA_BITS, v >> below, v << np.maximum(MANTISSA_BITS - exponent, 0))
    rest = v & ((1 << below) - 1)  # zero when there are no bits under the mantissa
    index = mantissa - (1 << MANTISSA_BITS)
    low = LOG2_TABLE[index]
    step = LOG2_TABLE[index + 1] - low
    return (exponent << COST_BITS) + low + ((step * rest) >> below)


def code_length(freqs: np.ndarray, precision: int) -> np.ndarray:
    """precision - log2(freq) in units of 2**-COST_BITS bits (int64)."""
    return (precision << COST_BITS) - log2_fixed(freqs)
