"""Fixed-point conventions and the integer lookup tables of the frozen model.

Every value the coder turns into a probability is an integer computed by integer-exact
operations, so any machine, BLAS, thread count or batch size gives identical frequencies:

* activations are integers in units of 2**-ACT_BITS;
* network weights are integers; their partial sums stay below 2**53, so a float64 matrix
  product is exact whatever order the BLAS adds in, and scaling by a power of two then
  flooring is exact too;
* nonlinearities of probabilities (logistic, Gaussian CDF, exp) come from tables stored in
  the model file, computed once by the freeze step; nothing calls libm at coding time.
"""

from __future__ import annotations

import numpy as np

ACT_BITS = 10  # activations: integer / 2**10
ACT_LIMIT = (1 << (ACT_BITS + 7)) - 1  # clip at |a| < 128, which bounds every partial sum
WEIGHT_LIMIT = (1 << 11) - 1  # weights fit 12 signed bits
MIN_SHIFT, MAX_SHIFT = 1, 40  # a layer's requantising shifts (2**(shift - 1) is its rounding half)
EXACT_LIMIT = 1 << 53  # every partial sum of a float64 product stays below this: exact
T_BITS = 16  # standardised distances t = (edge - mean) / scale: integer / 2**16
T_RANGE = 16  # t is clipped to [-16, 16): beyond that the CDFs are 0 or 1 to 2**-23
CDF_STEP_BITS = 10  # CDF tables are sampled every 2**-10: dense enough to need no interpolation
TABLE_STEP_BITS = 6  # exp-type tables (scales, mixture weights) are sampled every 2**-6
CDF_BITS = 30  # CDF values: integer / 2**30
EXP_BITS = 16  # mixture weights and inverse scales: integer / 2**16
# A symbol's edge less a mean spans under 2**22 units, a latent's under 2**19: times an
# inverse scale below 2**31 the product stays below 2**53.
INV_SCALE_LIMIT = (1 << 31) - 1
TABLE_LIMIT = 1 << 16  # entries of an exp-type table at most

# (edge - mean) * inv_scale, in units 2**-(ACT_BITS + EXP_BITS), to CDF table steps
# (2**-CDF_STEP_BITS): standardise() then lookup() in one shift, which the coder's fused
# paths use; shifting before clipping gives the same index (floors are monotone and the
# table's bounds are multiples of the step).
CDF_INDEX_SHIFT = ACT_BITS + EXP_BITS - CDF_STEP_BITS
CDF_HALF_TABLE = T_RANGE << CDF_STEP_BITS  # entries of a CDF table on each side of 0
SCALE_INDEX_SHIFT = ACT_BITS - TABLE_STEP_BITS  # log-scales and logit gaps to exp-table steps

EDGE_SENTINEL = 1 << 30  # latent bucket edges past both ends (never standardised)

_T_SHIFT = T_BITS - CDF_STEP_BITS
_T_OFFSET = T_RANGE << T_BITS
_T_MAX = (T_RANGE << T_BITS) - 1


def cdf_table(fn) -> np.ndarray:
    """Sample a CDF on [-16, 16) every 2**-10 at bin centres (freeze time only: float maths)."""
    grid = (np.arange(-T_RANGE << CDF_STEP_BITS, T_RANGE << CDF_STEP_BITS) + 0.5) / (1 << CDF_STEP_BITS)
    table = np.round(fn(grid) * (1 << CDF_BITS)).astype(np.int64)
    return np.maximum.accumulate(np.clip(table, 0, 1 << CDF_BITS))


def log_scale_table(low: float, high: float) -> np.ndarray:
    """exp(-s) * 2**16 for s = low + (i + 0.5) * 2**-6 (freeze time only)."""
    steps = round((high - low) * (1 << TABLE_STEP_BITS)) + 1
    s = low + (np.arange(steps) + 0.5) / (1 << TABLE_STEP_BITS)
    return np.round(np.exp(-s) * (1 << EXP_BITS)).astype(np.int64)


def neg_exp_table() -> np.ndarray:
    """exp(-d) * 2**16 for d = i * 2**-6, d in [0, 16) (freeze time only)."""
    d = np.arange(T_RANGE << TABLE_STEP_BITS) / (1 << TABLE_STEP_BITS)
    return np.round(np.exp(-d) * (1 << EXP_BITS)).astype(np.int64)


def standardise(edge: np.ndarray, mean: np.ndarray, inv_scale: np.ndarray) -> np.ndarray:
    """t = (edge - mean) * inv_scale in units of 2**-16, clipped; all int64."""
    t = ((edge - mean) * inv_scale) >> (ACT_BITS + EXP_BITS - T_BITS)
    # np.minimum/maximum rather than np.clip: clip's Python overhead dominates small arrays.
    return np.minimum(np.maximum(t, -_T_OFFSET, out=t), _T_MAX, out=t)


def logit_to_t(logit: np.ndarray) -> np.ndarray:
    """A fixed-point logit (units 2**-ACT_BITS) as a clipped table argument t."""
    t = logit << (T_BITS - ACT_BITS)
    return np.minimum(np.maximum(t, -_T_OFFSET, out=t), _T_MAX, out=t)


def lookup(table: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Table value at t (units 2**-16, already clipped); monotone when the table is."""
    return table[(t + _T_OFFSET) >> _T_SHIFT]


def slot_starts(cdf: np.ndarray, spare: int, symbols, out: np.ndarray | None = None) -> np.ndarray:
    """Slot starts of symbols from the CDF at their lower edges (int64, units 2**-CDF_BITS,
    overwritten): one slot for each symbol below, and the CDF's share of the ``spare``
    slots (2**precision less the alphabet), so every symbol gets at least one slot.
    ``bbzip.ans.quantise.cdf_to_starts`` is the same rule for any CDF precision."""
    cdf *= spare
    cdf >>= CDF_BITS
    return np.add(cdf, symbols, out=out)


def scale_index(log_scale: np.ndarray, low: float, size: int) -> np.ndarray:
    """Index into a log_scale_table for fixed-point log-scales (units 2**-10)."""
    index = (log_scale - round(low * (1 << ACT_BITS))) >> (ACT_BITS - TABLE_STEP_BITS)
    return np.minimum(np.maximum(index, 0, out=index), size - 1, out=index)
