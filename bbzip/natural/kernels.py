"""The natural-image coder's per-subpixel work compiled with numba (imported only through
bbzip.natural.compiled, when numba is installed and a block is large enough).

numpy spends a decode step's time on call overhead (some two hundred calls on arrays of a
few hundred lanes), and the encoder's calibration on temporaries of mixtures evaluated a
few dozen times. These kernels do the same integer arithmetic per subpixel in loops: the
mixture outputs (bbzip.natural.network.mixture_outputs), the slot starts
(bbzip.natural.mixture.Mixtures), the code lengths (bbzip.fixedpoint.cost), the rANS push and
pop (bbzip.ans.rans.Message), operation for operation, on int64 and uint64 values (numba,
like numpy, turns int64 op uint64 into float64, so mixed expressions cast explicitly).
The network's matrix products stay in numpy (BLAS); the layers' requantisation around them
is floats holding exact integers, as in numpy, so the order of a sum cannot matter.

Every number a kernel needs is an argument (``compiled.Tables``), none a global: numba's cache
would otherwise keep a stale value after an edit of the module that defines it.
``tests/test_natural_compiled.py`` checks that both paths give the same bytes.
"""

from __future__ import annotations

import numba
import numpy as np

from bbzip.natural.compiled import (
    ACT,
    CDF,
    GAP_CAP,
    GAP_SHIFT,
    HALF,
    INDEX_SHIFT,
    MEAN_HIGH,
    MEAN_LOW,
    PRECISION,
    SCALE_LOW,
    SCALE_SHIFT,
    SIGMOID_OFFSET,
    SIGMOID_TOP,
    SPARE,
    WORD,
    K,
)


def _kernel(fn, **options):
    """numba's njit with its on-disk cache; where no cache directory is writable, compiled
    afresh in each process."""
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, **options)(fn)


# constants.MIXTURES and constants.HIDDEN as literals: loops of a known trip count unroll
# and vectorise (the decoder's row kernel runs 30% faster than with counts read from
# ``consts``). Frozen into the compiled code, so they live in this module, whose edits
# refresh every kernel that uses them (fused.KERNELS_DIGEST); a test checks they agree.
MIXTURES = 4
HIDDEN = 32


def _inline(fn):
    """A kernel's helper, inlined where it is called."""
    return _kernel(fn, inline="always")


@_inline
def _params(out, i, adjust, scale_offset, base, residual, nres, consts, p, k):
    """mixture_outputs for row i of ``out`` (head outputs, integers in any dtype) into p;
    ``k``: the mixture's components (consts[K], or the literal MIXTURES)."""
    for j in range(3 * k):
        v = np.int64(out[i, j])
        if adjust.shape[0]:
            v += adjust[i if adjust.shape[0] > 1 else 0, j]
        p[j] = v
    for c in range(k):
        p[2 * k + c] += scale_offset
        m = p[k + c] + (np.int64(base) << consts[ACT])
        for r in range(nres):
            m += np.int64(out[i, (3 + r) * k + c]) * residual[i, r]
        p[k + c] = min(max(m, consts[MEAN_LOW]), consts[MEAN_HIGH])


@_inline
def _mixture(p, consts, inv_scale, neg_exp, means, inv_scales, weights, k):
    """Mixtures.__init__ for one subpixel's params p: fills means (with the half-unit
    edge offset), inverse scales and weights; returns the weights' sum."""
    largest = p[0]
    for c in range(1, k):
        largest = max(largest, p[c])
    total = np.int64(0)
    for c in range(k):
        means[c] = p[k + c] + consts[HALF]
        j = (p[2 * k + c] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
        inv_scales[c] = inv_scale[min(max(j, 0), inv_scale.shape[0] - 1)]
        weights[c] = neg_exp[min(largest - p[c], consts[GAP_CAP]) >> consts[GAP_SHIFT]]
        total += weights[c]
    return total


@_inline
def _start(symbol, means, inv_scales, weights, total, sigmoid, consts, k):
    """Mixtures.starts for one symbol 0..256 of one subpixel."""
    if symbol <= 0:
        return np.int64(0)
    if symbol >= 256:
        return np.int64(1) << consts[PRECISION]
    edge = np.int64(symbol) << consts[ACT]
    cdf = np.int64(0)
    for c in range(k):
        x = ((edge - means[c]) * inv_scales[c] + consts[SIGMOID_OFFSET]) >> consts[INDEX_SHIFT]
        cdf += sigmoid[min(max(x, 0), consts[SIGMOID_TOP])] * weights[c]
    return (((cdf // total) * consts[SPARE]) >> consts[CDF]) + symbol


@_kernel
def mixture_cache(out, base, residual, nres, consts, inv_scale, neg_exp, means, weights, totals, scales):
    """Each row's mixture with no offset (means with the half-unit edge offset, weights,
    their sum) and its log-scale outputs, once for many calls of group_costs."""
    k = consts[K]
    p = np.empty(3 * k, np.int64)
    inv = np.empty(k, np.int64)
    no_adjust = np.zeros((0, 3 * k), np.int64)
    for i in range(out.shape[0]):
        _params(out, i, no_adjust, 0, base[i], residual, nres, consts, p, k)
        totals[i] = _mixture(p, consts, inv_scale, neg_exp, means[i], inv, weights[i], k)
        for c in range(k):
            scales[i, c] = p[2 * k + c]


@_kernel
def push_rows(head, starts, freqs, precision, words, size, consts):
    """Message.push of starts[s], freqs[s] on every lane for s from the last row to the
    first; overflowing words go to ``words`` from ``size`` on (room for one a push and
    lane). Returns the new size."""
    word = consts[WORD]
    renorm = np.uint64(2 * word - precision)
    shift, low_bits = np.uint64(precision), np.uint64((1 << word) - 1)
    for s in range(starts.shape[0] - 1, -1, -1):
        for i in range(head.shape[0]):
            f = np.uint64(freqs[s, i])
            h = head[i]
            if (h >> renorm) >= f:
                words[size] = h & low_bits
                size += 1
                h >>= np.uint64(word)
            head[i] = ((h // f) << shift) + (h % f) + np.uint64(starts[s, i])
    return size
