"""Slot starts of discretised logistic mixtures, fused for the per-pixel decode loop.

The same integer CDF as bbzip.vae.distributions.PixelMixtures (tables from the model file,
bbzip/fixedpoint/fixed.py's fixed point), with the standardise-then-index steps folded into one
shift: floor(floor(x / 2**10) / 2**6) == floor(x / 2**16), and clipping the table index
equals clipping t first. On the small arrays of one decode step numpy's per-call cost
dominates, so fewer calls is what makes decoding fast. Encoder and decoder both use this
class, so they agree by construction.
"""

from __future__ import annotations

import numpy as np

from bbzip.fixedpoint.fixed import (
    ACT_BITS,
    CDF_BITS,
    CDF_INDEX_SHIFT,
    SCALE_INDEX_SHIFT,
    scale_index,
)
from bbzip.natural.constants import MIXTURES

LEVELS = 256
HALF = 1 << (ACT_BITS - 1)  # a symbol's bin starts half a unit below it
INDEX_SHIFT = CDF_INDEX_SHIFT  # (edge - mean) * inv_scale -> sigmoid table index
GAP_SHIFT = SCALE_INDEX_SHIFT  # logit gaps -> neg_exp table index


class Mixtures:
    """M pixels' mixtures from (M, 3K) head outputs: logits, means (pixel units * 2**10),
    log-scales."""

    __slots__ = (
        "inv_scales",
        "means",
        "offset",
        "precision",
        "sigmoid",
        "spare",
        "top",
        "weight_sum",
        "weights",
    )

    def __init__(self, params: np.ndarray, tables) -> None:
        k = MIXTURES
        params = params.T
        logits, log_scales = params[:k], params[2 * k : 3 * k]
        self.means = params[k : 2 * k] + HALF  # probes are edges at symbol - 1/2
        self.inv_scales = tables.inv_scale[scale_index(log_scales, tables.log_scale_min, len(tables.inv_scale))]
        gap = logits.max(axis=0) - logits
        np.minimum(gap, (len(tables.neg_exp) << GAP_SHIFT) - 1, out=gap)
        self.weights = tables.neg_exp[gap >> GAP_SHIFT]
        self.weight_sum = self.weights.sum(axis=0)
        self.sigmoid = tables.sigmoid
        self.top = len(tables.sigmoid) - 1
        self.offset = (len(tables.sigmoid) // 2) << INDEX_SHIFT
        self.precision = tables.pixel_precision
        self.spare = (1 << self.precision) - LEVELS

    def interior_starts(self, symbols: np.ndarray) -> np.ndarray:
        """Slot starts of symbols in 1..255, shaped (probes, M) or (M,)."""
        x = (symbols.astype(np.int64) << ACT_BITS)[None] - self.means.reshape((MIXTURES,) + (1,) * (symbols.ndim - 1) + (-1,))
        x *= self.inv_scales.reshape(x.shape[:1] + (1,) * (symbols.ndim - 1) + x.shape[-1:])
        x += self.offset
        x >>= INDEX_SHIFT
        np.maximum(x, 0, out=x)
        np.minimum(x, self.top, out=x)
        cdf = self.sigmoid[x]
        cdf *= self.weights.reshape(x.shape[:1] + (1,) * (symbols.ndim - 1) + x.shape[-1:])
        cdf = cdf.sum(axis=0) // self.weight_sum
        cdf *= self.spare
        cdf >>= CDF_BITS
        return cdf + symbols

    def starts(self, symbols: np.ndarray) -> np.ndarray:
        """Slot starts of any symbols 0..256 (256 gives the total)."""
        inner = self.interior_starts(np.clip(symbols, 1, LEVELS - 1))
        return np.where(symbols <= 0, 0, np.where(symbols >= LEVELS, 1 << self.precision, inner))

    def subset(self, index: np.ndarray) -> Mixtures:
        part = object.__new__(Mixtures)
        for name in ("means", "inv_scales", "weights"):
            setattr(part, name, getattr(self, name)[:, index])
        part.weight_sum = self.weight_sum[index]
        part.sigmoid, part.top = self.sigmoid, self.top
        part.offset, part.precision, part.spare = self.offset, self.precision, self.spare
        return part

    def guess(self) -> np.ndarray:
        """The weighted mean of the components, rounded down to a symbol: a search start."""
        centre = (self.weights * (self.means >> ACT_BITS)).sum(axis=0) // self.weight_sum
        return centre
