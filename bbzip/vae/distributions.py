"""Integer CDFs of the digit coder's pixels: mixtures of logistics and binary pixels.

Both reduce to "slot start of symbol s" functions that are monotone in s with every
symbol at least one slot wide, evaluated at any symbol without tabulating the alphabet:
encoding needs two evaluations per symbol, decoding searches. These classes are the plain
statement of the model's pixel likelihoods, which the coder's fused paths (``likelihood``
for encoding, ``stepper`` and ``compiled`` for decoding) reproduce and the tests compare
them with. Latents, coded the same way, live in ``bbzip.fixedpoint.coding``.
"""

from __future__ import annotations

import numpy as np

from bbzip.ans.quantise import cdf_to_starts
from bbzip.fixedpoint.fixed import (
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
