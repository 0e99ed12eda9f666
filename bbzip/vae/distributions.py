"""Integer CDFs for the coder: pixel mixtures of logistics, binary pixels, discretised
Gaussian latents.

All reduce to "slot start of symbol s" functions that are monotone in s with every
symbol at least one slot wide, evaluated at any symbol without tabulating the alphabet:
encoding needs two evaluations per symbol, decoding bisects. The pixel classes are the
plain statement of the model's pixel likelihoods, which the coder's fused paths
(``likelihood`` for encoding, ``stepper`` and ``compiled`` for decoding) reproduce and the
tests compare them with; the coder codes latents with these classes directly.
"""

from __future__ import annotations

import numpy as np

from bbzip.ans.quantise import cdf_to_starts
from bbzip.ans.rans import Message
from bbzip.vae.fixed import (
    ACT_BITS,
    CDF_BITS,
    TABLE_STEP_BITS,
    logit_to_t,
    lookup,
    scale_index,
    standardise,
)

PIXEL_VALUES = 256
_HALF = 1 << (ACT_BITS - 1)
_FULL = 1 << CDF_BITS


class PixelMixtures:
    """Discretised logistic mixtures for M pixels, from head outputs (M, 3K)."""

    def __init__(self, head_out: np.ndarray, tables) -> None:
        k = head_out.shape[-1] // 3
        logits = head_out[..., :k].T
        self.means = head_out[..., k : 2 * k].T
        log_scales = head_out[..., 2 * k :].T
        self.inv_scales = tables.inv_scale[scale_index(log_scales, tables.log_scale_min, len(tables.inv_scale))]
        gap = np.minimum(logits.max(axis=0) - logits, (len(tables.neg_exp) << (ACT_BITS - TABLE_STEP_BITS)) - 1)
        self.weights = tables.neg_exp[gap >> (ACT_BITS - TABLE_STEP_BITS)]
        self.weight_sum = self.weights.sum(axis=0)
        self.sigmoid = tables.sigmoid
        self.precision = tables.pixel_precision

    def starts(self, symbols: np.ndarray) -> np.ndarray:
        """Slot start of each pixel's symbol (0..256; 256 gives the total)."""
        edge = (symbols.astype(np.int64) << ACT_BITS) - _HALF
        if symbols.ndim == 2:  # several probe symbols per pixel: (probes, pixels)
            t = standardise(edge[None], self.means[:, None], self.inv_scales[:, None])
            weights = self.weights[:, None]
        else:
            t = standardise(edge, self.means, self.inv_scales)
            weights = self.weights
        cdf = (weights * lookup(self.sigmoid, t)).sum(axis=0) // self.weight_sum
        cdf = np.where(symbols <= 0, 0, np.where(symbols >= PIXEL_VALUES, _FULL, cdf))
        return cdf_to_starts(cdf, CDF_BITS, symbols, PIXEL_VALUES, self.precision)


class PixelBernoulli:
    """Binary pixels (symbols 0 and 1) for M pixels, from head outputs (M, 1): P(1) is the
    logistic of the logit, read from the same table as the mixtures' logistic."""

    def __init__(self, head_out: np.ndarray, tables) -> None:
        one = lookup(tables.sigmoid, logit_to_t(np.ascontiguousarray(head_out[..., 0])))
        self.zero_cdf = _FULL - one  # the CDF at symbol 1, P(0), units 2**-CDF_BITS
        self.precision = tables.pixel_precision

    def starts(self, symbols: np.ndarray) -> np.ndarray:
        cdf = np.where(symbols <= 0, 0, np.where(symbols >= 2, _FULL, self.zero_cdf))
        return cdf_to_starts(cdf, CDF_BITS, symbols, 2, self.precision)


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
