"""The decoder's per-lane work of one pixel step, compiled with numba when it is installed.

numpy runs a pixel step as some eighty calls on arrays of at most a few hundred lanes, so
its cost is call overhead, and a 5,000-digit block takes 20,000 steps. The network head's
three small matrix products stay in numpy (BLAS does them well); the elementwise work
between them is two compiled calls, and everything after them, per lane, one more: the
mixture's weights and scales, the CDF at symbols 1 and 255, a bisection for the pixels in
between and the rANS pop (``Message.refill`` then runs as on the numpy path, when a head
fell below 2**32). The arithmetic is the numpy path's, operation for operation, on int64
and uint64 values (never a float: numba, like numpy, would turn int64 op uint64 into a
float64, so every mixed expression casts explicitly); ``tests/test_vae.py`` checks that
both paths decode the same symbols and leave the same message.

numba is optional (the ``fast`` extra, which ``make install`` installs): without it, or for
blocks too small to repay its import, ``stepper`` runs the numpy path.
"""

from __future__ import annotations

import warnings

import numpy as np

from bbzip.fixedpoint.fixed import (
    ACT_BITS,
    CDF_BITS,
    CDF_HALF_TABLE,
    CDF_INDEX_SHIFT,
    SCALE_INDEX_SHIFT,
)

_WORD_BITS = 32  # Message's word size for the digit coder: a head below 2**32 refills

try:
    import numba
except ImportError:  # the numpy path serves alone
    numba = None


def available() -> bool:
    return numba is not None


def constants() -> np.ndarray:
    """What ``mixture_pop`` needs of the fixed-point conventions, read now: numba's cache is
    keyed on this file alone, so a kernel that read them as globals could outlive a change
    to them (tests/test_vae.py checks that no kernel reads a global number)."""
    return np.array([ACT_BITS, CDF_BITS, CDF_INDEX_SHIFT, SCALE_INDEX_SHIFT, CDF_HALF_TABLE, _WORD_BITS],
                    dtype=np.int64)


def _kernel(*signatures):
    """numba's njit, compiled now for ``signatures`` with its on-disk cache, so a process
    compiles nothing a previous one compiled; where no cache directory is writable,
    compiled afresh in each process. A cache numba cannot write costs a recompile, not an
    error: its warnings are kept off stderr, here only (the filter is not process-wide)."""

    def wrap(fn):
        if numba is None:
            return fn
        from numba.core.errors import NumbaWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaWarning)
            try:
                return numba.njit(list(signatures), cache=True)(fn)
            except RuntimeError:  # numba: "cannot cache function ...: no locator available"
                return numba.njit(list(signatures))(fn)

    return wrap


@_kernel("int64(int64, int64[:], int64[:], int64[:], int64, int64[:], int64, int64, int64, int64, int64, int64)")
def _start(symbol, means, inv_scales, weights, weight_sum, sigmoid, half, spare, k, act_bits, index_shift, cdf_bits):
    """Slot start of ``symbol`` (1..255) under one lane's mixture: stepper._starts for one
    probe, one lane (fixed.slot_starts for its last step: numba's cache would not see a
    change to a function of another file that a kernel calls)."""
    edge = (symbol << act_bits) - (np.int64(1) << (act_bits - 1))
    total = np.int64(0)
    for c in range(k):
        t = ((edge - means[c]) * inv_scales[c]) >> index_shift
        if t < -half:
            t = -half
        elif t > half - 1:
            t = half - 1
        total += sigmoid[t + half] * weights[c]
    cdf = total // weight_sum
    return ((cdf * spare) >> cdf_bits) + symbol


@_kernel("void(float64[:, :], float32[:, :], float64[:, :], int64)",
         "void(float64[:, :], float64[:, :], float64[:, :], int64)")
def context_layer(pre, features, out, limit):
    """out[:hidden] = relu(clip(floor(pre), +-limit) + features.T): the context layer's
    requantised output plus the pixel's features; ``pre`` (hidden, lanes), ``features``
    (lanes, hidden)."""
    for j in range(pre.shape[0]):
        for i in range(pre.shape[1]):
            v = np.floor(pre[j, i])
            if v < -limit:
                v = -limit
            elif v > limit:
                v = limit
            v += features[i, j]
            out[j, i] = v if v > 0.0 else 0.0


@_kernel("void(float64[:, :], int64, int64)")
def requantise_rows(values, rows, limit):
    """values[:rows] = clip(floor(values[:rows]), 0, limit), in place."""
    for j in range(rows):
        for i in range(values.shape[1]):
            v = np.floor(values[j, i])
            values[j, i] = 0.0 if v < 0.0 else (limit if v > limit else v)


@_kernel("int64(float64[:, :], int64, uint64[:], int64[:], int64[:], int64[:], int64, int64, int64[:], int64[:])")
def mixture_pop(outputs, limit, head, inv_scale, weight_of_gap, sigmoid, spare, precision, symbols, consts):
    """Pop one pixel on every lane: ``outputs`` (3k, lanes) the head's last layer before
    its floor and clip to +-limit (logits, means, log-scales), ``head`` the lanes' uint64
    heads (updated in place, not refilled); the symbols go to ``symbols``. Returns how many
    heads fell below 2**word_bits. ``inv_scale`` and ``weight_of_gap`` are the stepper's
    extended tables (negative indices wrap), ``sigmoid`` the logistic table in its original
    order; ``consts`` is ``constants()``."""
    act_bits, cdf_bits, index_shift, scale_shift, half, word_bits = (
        consts[0], consts[1], consts[2], consts[3], consts[4], consts[5])
    k = outputs.shape[0] // 3
    params = np.empty((3 * k, outputs.shape[1]), np.int64)
    for c in range(3 * k):
        for i in range(outputs.shape[1]):
            v = np.floor(outputs[c, i])
            params[c, i] = np.int64(-limit if v < -limit else (limit if v > limit else v))
    means = np.empty(k, np.int64)
    inv_scales = np.empty(k, np.int64)
    weights = np.empty(k, np.int64)
    mask = np.uint64((1 << precision) - 1)
    shift = np.uint64(precision)
    scale_table = inv_scale.shape[0]
    full = np.int64(1) << precision
    low_head = np.uint64(1) << np.uint64(word_bits)
    shape = (half, np.int64(spare), np.int64(k), act_bits, index_shift, cdf_bits)
    under = 0
    for i in range(head.shape[0]):
        largest = params[0, i]
        for c in range(1, k):
            if params[c, i] > largest:
                largest = params[c, i]
        weight_sum = np.int64(0)
        for c in range(k):
            means[c] = params[k + c, i]
            j = params[2 * k + c, i] >> scale_shift
            inv_scales[c] = inv_scale[j + scale_table if j < 0 else j]
            weights[c] = weight_of_gap[(largest - params[c, i]) >> scale_shift]
            weight_sum += weights[c]
        slot = np.int64(head[i] & mask)
        one = _start(1, means, inv_scales, weights, weight_sum, sigmoid, *shape)
        if slot < one:
            symbol, low, high = 0, np.int64(0), one
        else:
            top = _start(255, means, inv_scales, weights, weight_sum, sigmoid, *shape)
            if slot >= top:
                symbol, low, high = 255, top, full
            else:
                # start(lo) <= slot < start(hi) throughout; the answer is unique.
                lo, hi, low, high = 1, 255, one, top
                while hi - lo > 1:
                    mid = (lo + hi) >> 1
                    s = _start(mid, means, inv_scales, weights, weight_sum, sigmoid, *shape)
                    if s <= slot:
                        lo, low = mid, s
                    else:
                        hi, high = mid, s
                symbol = lo
        value = np.uint64(high - low) * (head[i] >> shift) + np.uint64(slot - low)
        head[i] = value
        under += value < low_head
        symbols[i] = symbol
    return under
