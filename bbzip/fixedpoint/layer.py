"""One requantised integer layer: the step every network of bbzip is built from.

Weights are integers, activations integers in units of 2**-ACT_BITS held in float64; each
output channel adds its bias and a rounding half, scales by 2**-shift and floors. Every
partial sum stays below 2**53 (``invariants`` checks it when a model is loaded or frozen),
so the float64 product is exact whatever order the BLAS adds in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bbzip.fixedpoint.fixed import ACT_LIMIT


@dataclass(frozen=True)
class Layer:
    """y = floor((x @ weight.T + bias + half) * 2**-shift), per output channel."""

    weight_t: np.ndarray  # (in, out) float64 of integers
    offset: np.ndarray  # bias + rounding half, float64 of integers
    scale: np.ndarray  # 2**-shift, float64 (exact)

    @classmethod
    def from_arrays(cls, weight: np.ndarray, bias: np.ndarray, shift: np.ndarray) -> Layer:
        weight = np.asarray(weight, dtype=np.float64)
        shift = np.asarray(shift, dtype=np.int64)
        return cls(np.ascontiguousarray(weight.reshape(len(shift), -1).T),
                   np.asarray(bias, np.float64) + np.ldexp(1.0, shift - 1),
                   np.ldexp(1.0, -shift))

    def __call__(self, x: np.ndarray, relu: bool, limit: int = ACT_LIMIT) -> np.ndarray:
        y = x @ self.weight_t
        y += self.offset
        y *= self.scale
        np.floor(y, out=y)
        np.maximum(y, 0 if relu else -limit, out=y)
        return np.minimum(y, limit, out=y)
