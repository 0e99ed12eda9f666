"""The coordinate descent of a channel's corrections on the numpy path (small blocks, where
numba is not worth loading): the trials, order and integer sums of a plain descent that
recomputes every mixture per trial, on a cache of each subpixel's mixture instead, so a
trial recomputes only what its output moves (as bbzip.natural.calibrate_kernels.descend
does compiled). A block of a few thousand pixels spent most of its time here."""

from __future__ import annotations

import numpy as np

from bbzip.fixedpoint.cost import code_length
from bbzip.fixedpoint.fixed import ACT_BITS, CDF_BITS, scale_index
from bbzip.natural.constants import MIXTURES
from bbzip.natural.mixture import GAP_SHIFT, HALF, INDEX_SHIFT, LEVELS


class _Mixtures:
    """Each subpixel's mixture under the corrections so far: logits, means (with the
    half-unit edge offset), inverse scales, weights and their sums, and each component's
    logistic at both edges of the subpixel's value."""

    def __init__(self, tables, params: np.ndarray, truth: np.ndarray, adjust: np.ndarray, units: np.ndarray):
        k = MIXTURES
        self.tables, self.params, self.units = tables, params, units
        self.truth = truth.astype(np.int64)
        self.edge = (self.truth << ACT_BITS)[:, None]
        self.sigmoid, self.top = tables.sigmoid, len(tables.sigmoid) - 1
        self.offset = (len(tables.sigmoid) // 2) << INDEX_SHIFT
        self.spare = (1 << tables.pixel_precision) - LEVELS
        moved = params + adjust * units
        self.logits = moved[:, :k]
        self.means = moved[:, k : 2 * k] + HALF
        self.inv = self.scales(moved[:, 2 * k :])
        self.weights = self.weights_of(self.logits)
        self.at_low, self.at_high = self.logistics(self.means, self.inv)

    def scales(self, log_scales: np.ndarray) -> np.ndarray:
        tables = self.tables
        return tables.inv_scale[scale_index(log_scales, tables.log_scale_min, len(tables.inv_scale))]

    def weights_of(self, logits: np.ndarray) -> np.ndarray:
        neg_exp = self.tables.neg_exp
        gap = np.minimum(logits.max(axis=1, keepdims=True) - logits, (len(neg_exp) << GAP_SHIFT) - 1)
        return neg_exp[gap >> GAP_SHIFT]

    def logistics(self, means: np.ndarray, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logistic of components (means, inv: (n, m)) at both edges of each value."""
        edges = self.edge if means.ndim == 2 else self.edge[:, 0]
        low = ((edges - means) * inv + self.offset) >> INDEX_SHIFT
        high = ((edges + (1 << ACT_BITS) - means) * inv + self.offset) >> INDEX_SHIFT
        return self.sigmoid[np.clip(low, 0, self.top)], self.sigmoid[np.clip(high, 0, self.top)]

    def cost(self, cdf_low: np.ndarray, cdf_high: np.ndarray, totals: np.ndarray) -> int:
        """The code length of every value (units 2**-COST_BITS bits), summed, from its
        mixture's weighted sums of logistics at both edges (Mixtures.starts)."""
        truth, precision = self.truth, self.tables.pixel_precision
        low = np.where(truth <= 0, 0, (((cdf_low // totals) * self.spare) >> CDF_BITS) + truth)
        top = (((cdf_high // totals) * self.spare) >> CDF_BITS) + truth + 1
        high = np.where(truth >= LEVELS - 1, 1 << precision, top)
        return int(code_length(high - low, precision).sum())

    def total_cost(self) -> int:
        return self.cost((self.at_low * self.weights).sum(axis=1), (self.at_high * self.weights).sum(axis=1),
                         self.weights.sum(axis=1))


def descend(tables, params: np.ndarray, truth: np.ndarray, adjust: np.ndarray, units: np.ndarray,
            strides: tuple[int, ...]) -> tuple[np.ndarray, int, int]:
    """calibration._descend on the numpy path: from corrections ``adjust`` in steps of each
    of ``strides``. Returns (corrections, cost at the start, cost at the end)."""
    k = MIXTURES
    params = params.astype(np.int64)
    adjust = adjust.astype(np.int64).copy()
    cache = _Mixtures(tables, params, truth, adjust, units)
    start = best = cache.total_cost()
    for stride in strides:
        for j in range(3 * k):
            c0 = j % k
            if j >= k:  # a mean or a log-scale moves component c0's logistic alone
                others = np.arange(k) != c0
                rest_low = (cache.at_low[:, others] * cache.weights[:, others]).sum(axis=1)
                rest_high = (cache.at_high[:, others] * cache.weights[:, others]).sum(axis=1)
            moved = False
            for sign in (stride, -stride):
                if sign < 0 and moved:  # back to the value before the last move: it cost more
                    continue
                while abs(adjust[j] + sign) <= 127:
                    move = sign * units[j]
                    if j < k:
                        logits = cache.logits.copy()
                        logits[:, c0] += move
                        weights = cache.weights_of(logits)
                        totals = weights.sum(axis=1)
                        cost = cache.cost((cache.at_low * weights).sum(axis=1), (cache.at_high * weights).sum(axis=1),
                                          totals)
                    else:
                        mean, inv = cache.means[:, c0], cache.inv[:, c0]
                        if j < 2 * k:
                            mean = mean + move
                        else:
                            inv = cache.scales(params[:, j] + (adjust[j] + sign) * units[j])
                        low, high = cache.logistics(mean, inv)
                        w = cache.weights[:, c0]
                        cost = cache.cost(rest_low + low * w, rest_high + high * w, cache.weights.sum(axis=1))
                    if cost >= best:
                        break
                    best, moved = cost, True
                    adjust[j] += sign
                    if j < k:
                        cache.logits, cache.weights = logits, weights
                    else:
                        cache.means[:, c0], cache.inv[:, c0] = mean, inv
                        cache.at_low[:, c0], cache.at_high[:, c0] = low, high
    return adjust, start, best
