"""The one place where probabilities become integer frequencies.

Every coder gets its (start, freq) pairs from here, so the rule "every symbol that may
occur has freq >= 1 and the frequencies sum to exactly 2**precision" is enforced once.
Everything is integer arithmetic: encoder and decoder compute identical tables on any
machine.
"""

from __future__ import annotations

import numpy as np


def counts_to_freqs(counts: np.ndarray, precision: int) -> np.ndarray:
    """Scale symbol counts to frequencies summing to 2**precision.

    Symbols with a zero count get frequency 0 (they cannot occur); every other symbol gets
    at least 1. The remainder left by flooring goes to the largest fractional parts, which
    keeps the coded size within a hair of the empirical entropy.
    """
    counts = np.asarray(counts, dtype=np.int64)
    present = counts > 0
    used = int(present.sum())
    total_freq = 1 << precision
    if used == 0:
        return np.zeros_like(counts)
    if used > total_freq:
        raise ValueError(f"{used} symbols cannot fit in precision {precision}")
    total = int(counts.sum())
    spare = total_freq - used
    scaled = counts * spare
    freqs = np.where(present, 1 + scaled // total, 0)
    left = total_freq - int(freqs.sum())
    if left:
        # Largest remainders first; ties broken by symbol value so the result is unique.
        remainders = np.where(present, scaled % total, -1)
        order = np.lexsort((np.arange(len(counts)), -remainders))
        freqs[order[:left]] += 1
    return freqs


def cumulative(freqs: np.ndarray) -> np.ndarray:
    """Starts of each symbol's slot range: starts[s] = sum(freqs[:s]); one extra end entry."""
    starts = np.zeros(len(freqs) + 1, dtype=np.int64)
    np.cumsum(freqs, out=starts[1:])
    return starts


def cdf_to_starts(cdf: np.ndarray, cdf_bits: int, symbol: np.ndarray | int, alphabet: int,
                  precision: int) -> np.ndarray:
    """Map a monotone integer CDF value at the lower edge of ``symbol`` to a slot start.

    ``cdf`` in [0, 2**cdf_bits] must be non-decreasing in ``symbol``, 0 at symbol 0 and
    2**cdf_bits at symbol == alphabet. Reserving one slot per symbol and sharing the rest in
    proportion to the CDF gives every symbol freq >= 1 and a total of exactly 2**precision.
    """
    spare = np.int64((1 << precision) - alphabet)
    return ((np.asarray(cdf, dtype=np.int64) * spare) >> np.int64(cdf_bits)) + symbol
