"""Coding symbols under integer CDFs, and the discretised Gaussian latents of both VAEs.

A distribution here is anything with ``starts(symbols)``: slot starts that are monotone in
the symbol, every symbol at least one slot wide. Encoding pushes (start, start of the next
symbol); decoding finds the symbol whose range holds the slot by a 4-ary search, so no
alphabet is ever tabulated. The digit and the natural-image coders code their latents with
``LatentPosteriors`` and these two functions.
"""

from __future__ import annotations

import numpy as np

from bbzip.ans.quantise import cdf_to_starts
from bbzip.ans.rans import Message
from bbzip.fixedpoint.fixed import CDF_BITS, lookup, scale_index, standardise

_FULL = 1 << CDF_BITS


class LatentPosteriors:
    """Diagonal Gaussians discretised into the prior's equal-mass buckets, for M latents."""

    def __init__(self, means: np.ndarray, log_sigmas: np.ndarray, tables) -> None:
        self.means = means
        self.inv_sigmas = tables.inv_sigma[scale_index(log_sigmas, tables.log_sigma_min, len(tables.inv_sigma))]
        self.edges = tables.latent_edges  # int64, bucket j spans [edges[j], edges[j+1])
        self.phi = tables.normal_cdf
        self.buckets = len(self.edges) - 1
        self.precision = tables.posterior_precision

    def starts(self, buckets: np.ndarray) -> np.ndarray:
        t = standardise(self.edges[np.clip(buckets, 0, self.buckets)], self.means, self.inv_sigmas)
        cdf = lookup(self.phi, t)
        cdf = np.where(buckets <= 0, 0, np.where(buckets >= self.buckets, _FULL, cdf))
        return cdf_to_starts(cdf, CDF_BITS, buckets, self.buckets, self.precision)


def push(message: Message, dist, symbols: np.ndarray) -> None:
    low = dist.starts(symbols)
    message.push(low, dist.starts(symbols + 1) - low, dist.precision)


def pop(message: Message, dist, alphabet: int) -> np.ndarray:
    n = len(dist.means) if dist.means.ndim == 1 else dist.means.shape[-1]
    symbols, low, high = _search(dist, message.peek(n, dist.precision).astype(np.int64), alphabet)
    message.pop(low, high - low, dist.precision)
    return symbols


_PROBES = np.arange(1, 4, dtype=np.int64)[:, None]


def _search(dist, slots: np.ndarray, alphabet: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lane's symbol and its slot range [low, high), by 4-ary search on the starts.

    ``alphabet`` is a power of four or twice one. Three probes per round in one wide call:
    on arrays this small numpy's per-call cost dominates, so fewer, wider calls win.
    """
    n = len(slots)
    lanes = np.arange(n)
    low = np.zeros(n, dtype=np.int64)
    bounds = np.empty((5, n), dtype=np.int64)
    bounds[0] = 0
    bounds[4] = 1 << dist.precision
    width = alphabet
    while width > 1:
        if width % 4:  # one binary round first for odd powers of two
            width //= 2
            mid = dist.starts(low + width)
            right = mid <= slots
            bounds[0] = np.where(right, mid, bounds[0])
            bounds[4] = np.where(right, bounds[4], mid)
            low += width * right
            continue
        width //= 4
        bounds[1:4] = dist.starts(low + width * _PROBES)
        below = (bounds[1:4] <= slots).sum(axis=0)
        low += width * below
        low_start = bounds[below, lanes]
        bounds[4] = bounds[below + 1, lanes]
        bounds[0] = low_start
    return low, bounds[0], bounds[4]
