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
    COST,
    GAP_CAP,
    GAP_SHIFT,
    HALF,
    INDEX_SHIFT,
    MANTISSA,
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


@_inline
def _log2(v, table, consts):
    """bbzip.fixedpoint.cost.log2_fixed for one integer v >= 1."""
    exponent, rest = 0, v
    for bits in (32, 16, 8, 4, 2, 1):  # floor(log2 v) by halving the range
        if rest >> bits:
            rest >>= bits
            exponent += bits
    m = consts[MANTISSA]
    if exponent < m:
        return (np.int64(exponent) << consts[COST]) + table[(v << (m - exponent)) - (np.int64(1) << m)]
    below = exponent - m
    index = (v >> below) - (np.int64(1) << m)
    rest = v & ((np.int64(1) << below) - 1)
    return ((np.int64(exponent) << consts[COST]) + table[index]
            + (((table[index + 1] - table[index]) * rest) >> below))


@_kernel
def slot_ranges(out, adjust, offsets, base, residual, nres, truth, inside, consts, sigmoid, inv_scale, neg_exp,
                starts, freqs):
    """The encoder's (start, freq) of each row's subpixel ``truth``; rows not ``inside``
    get the no-op (0, 2**precision)."""
    k = consts[K]
    p = np.empty(3 * k, np.int64)
    means, inv_scales, weights = np.empty(k, np.int64), np.empty(k, np.int64), np.empty(k, np.int64)
    for i in range(out.shape[0]):
        if not inside[i]:
            starts[i], freqs[i] = 0, np.int64(1) << consts[PRECISION]
            continue
        _params(out, i, adjust, offsets[i], base[i], residual, nres, consts, p, k)
        total = _mixture(p, consts, inv_scale, neg_exp, means, inv_scales, weights, k)
        low = _start(truth[i], means, inv_scales, weights, total, sigmoid, consts, k)
        starts[i] = low
        freqs[i] = _start(truth[i] + 1, means, inv_scales, weights, total, sigmoid, consts, k) - low


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
def group_costs(means, weights, totals, scales, truth, offsets, group, groups, consts, sigmoid, inv_scale, table):
    """Code lengths (units 2**-COST bits) summed per group (rows with group < 0 skipped),
    row i coded with log-scale offset offsets[i], from mixture_cache's arrays (a candidate
    moves the log-scales alone)."""
    k = consts[K]
    costs = np.zeros(groups, np.int64)
    inv = np.empty(k, np.int64)
    top = consts[PRECISION] << consts[COST]
    for i in range(truth.shape[0]):
        if group[i] < 0:
            continue
        for c in range(k):
            index = (scales[i, c] + offsets[i] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
            inv[c] = inv_scale[min(max(index, 0), inv_scale.shape[0] - 1)]
        low = _start(truth[i], means[i], inv, weights[i], totals[i], sigmoid, consts, k)
        high = _start(truth[i] + 1, means[i], inv, weights[i], totals[i], sigmoid, consts, k)
        costs[group[i]] += top - _log2(high - low, table, consts)
    return costs


@_inline
def _interior(edge, mean, inv, sigmoid, consts):
    x = ((edge - mean) * inv + consts[SIGMOID_OFFSET]) >> consts[INDEX_SHIFT]
    return sigmoid[min(max(x, 0), consts[SIGMOID_TOP])]


@_inline
def _length(truth, cdf_low, cdf_high, total, table, consts):
    """The code length of ``truth`` from its mixture's weighted CDF sums at both edges."""
    low = np.int64(0) if truth <= 0 else (((cdf_low // total) * consts[SPARE]) >> consts[CDF]) + truth
    high = (np.int64(1) << consts[PRECISION]) if truth >= 255 else (
        (((cdf_high // total) * consts[SPARE]) >> consts[CDF]) + truth + 1)
    return (consts[PRECISION] << consts[COST]) - _log2(high - low, table, consts)


@_kernel
def descend(params, truth, units, adjust, strides, consts, sigmoid, inv_scale, neg_exp, table):
    """calibration._descend's coordinate descent of a channel's corrections, whole: the
    same trials in the same order with the same sums (adjusted_cost's), on a cache of each
    subpixel's mixture (weights, and the logistic at both edges per component), so a trial
    recomputes only what its output moves. From the corrections ``adjust`` in steps of
    each of ``strides``. Returns (corrections, cost at the start, cost at the end)."""
    k = consts[K]
    n = params.shape[0]
    adjust = adjust.copy()
    logits, means, inv, weights = (np.empty((n, k), np.int64), np.empty((n, k), np.int64),
                                   np.empty((n, k), np.int64), np.empty((n, k), np.int64))
    at_low, at_high = np.empty((n, k), np.int64), np.empty((n, k), np.int64)
    totals = np.empty(n, np.int64)
    trial_a = np.empty((n, k), np.int64)  # a trial's weights, or its component's logistic at both edges
    trial_total = np.empty(n, np.int64)
    scales = inv_scale.shape[0]
    best = np.int64(0)
    for i in range(n):
        edge = np.int64(truth[i]) << consts[ACT]
        for c in range(k):
            logits[i, c] = params[i, c] + adjust[c] * units[c]
        largest = logits[i, 0]
        for c in range(1, k):
            largest = max(largest, logits[i, c])
        totals[i] = 0
        for c in range(k):
            means[i, c] = params[i, k + c] + adjust[k + c] * units[k + c] + consts[HALF]
            j = (params[i, 2 * k + c] + adjust[2 * k + c] * units[2 * k + c] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
            inv[i, c] = inv_scale[min(max(j, 0), scales - 1)]
            weights[i, c] = neg_exp[min(largest - logits[i, c], consts[GAP_CAP]) >> consts[GAP_SHIFT]]
            totals[i] += weights[i, c]
            at_low[i, c] = _interior(edge, means[i, c], inv[i, c], sigmoid, consts)
            at_high[i, c] = _interior(edge + (np.int64(1) << consts[ACT]), means[i, c], inv[i, c], sigmoid, consts)
        cdf_low, cdf_high = np.int64(0), np.int64(0)
        for c in range(k):
            cdf_low += at_low[i, c] * weights[i, c]
            cdf_high += at_high[i, c] * weights[i, c]
        best += _length(np.int64(truth[i]), cdf_low, cdf_high, totals[i], table, consts)
    start = best
    for stride in strides:
        for j in range(3 * k):
            for sign in (stride, -stride):
                while abs(adjust[j] + sign) <= 127:
                    cost = np.int64(0)
                    c0 = j % k
                    for i in range(n):  # the trial: output j moved by sign units
                        edge = np.int64(truth[i]) << consts[ACT]
                        cdf_low, cdf_high = np.int64(0), np.int64(0)
                        if j < k:  # a logit: new weights
                            largest = logits[i, 0] + (sign * units[j] if c0 == 0 else 0)
                            for c in range(1, k):
                                largest = max(largest, logits[i, c] + (sign * units[j] if c == c0 else 0))
                            trial_total[i] = 0
                            for c in range(k):
                                logit = logits[i, c] + (sign * units[j] if c == c0 else 0)
                                w = neg_exp[min(largest - logit, consts[GAP_CAP]) >> consts[GAP_SHIFT]]
                                trial_a[i, c] = w
                                trial_total[i] += w
                                cdf_low += at_low[i, c] * w
                                cdf_high += at_high[i, c] * w
                            total = trial_total[i]
                        else:  # a mean or a log-scale: component c0's logistic at both edges
                            mean, scale = means[i, c0], inv[i, c0]
                            if j < 2 * k:
                                mean += sign * units[j]
                            else:
                                index = (params[i, j] + adjust[j] * units[j] + sign * units[j] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
                                scale = inv_scale[min(max(index, 0), scales - 1)]
                            trial_a[i, 0] = _interior(edge, mean, scale, sigmoid, consts)
                            trial_a[i, 1] = _interior(edge + (np.int64(1) << consts[ACT]), mean, scale, sigmoid, consts)
                            for c in range(k):
                                if c == c0:
                                    cdf_low += trial_a[i, 0] * weights[i, c]
                                    cdf_high += trial_a[i, 1] * weights[i, c]
                                else:
                                    cdf_low += at_low[i, c] * weights[i, c]
                                    cdf_high += at_high[i, c] * weights[i, c]
                            total = totals[i]
                        cost += _length(np.int64(truth[i]), cdf_low, cdf_high, total, table, consts)
                    if cost >= best:
                        break
                    best = cost
                    adjust[j] += sign
                    for i in range(n):  # the trial becomes the cache
                        if j < k:
                            logits[i, c0] += sign * units[j]
                            totals[i] = trial_total[i]
                            for c in range(k):
                                weights[i, c] = trial_a[i, c]
                        else:
                            if j < 2 * k:
                                means[i, c0] += sign * units[j]
                            else:
                                index = (params[i, j] + adjust[j] * units[j] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
                                inv[i, c0] = inv_scale[min(max(index, 0), scales - 1)]
                            at_low[i, c0], at_high[i, c0] = trial_a[i, 0], trial_a[i, 1]
    return adjust, start, best


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



@_kernel
def requantise_rows(y, offset, scale, low, high):
    """Layer.__call__ after its product, in place: floor((y + offset) * scale), clipped."""
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = min(max(np.floor((y[i, j] + offset[j]) * scale[j]), low), high)


@_kernel
def gather(flat, offsets, taps, first, context):
    """Rows first, first + 1, ... of Canvas.context as floats: row lane * positions + q
    holds flat[lane, offsets[q] + taps]."""
    positions = offsets.shape[0]
    for r in range(context.shape[0]):
        lane, q = divmod(first + r, positions)
        for t in range(taps.shape[0]):
            context[r, t] = flat[lane, offsets[q] + taps[t]]


@_kernel
def first_layer_rows(point, weight_t, spatial, offset, scale, features, limit, h):
    """Head.__call__'s first layer: relu(clip(floor((point @ weight_t + spatial + offset)
    * scale), +-limit) + features), into h; every array contiguous (numba's loops on a
    strided or offset view are many times slower)."""
    width = h.shape[1]
    acc = np.empty(width)  # a local row: no aliasing to rule out, so the loops vectorise
    for i in range(h.shape[0]):
        for j in range(width):
            acc[j] = spatial[i, j] + offset[j]
        for m in range(point.shape[1]):  # exact integer sums: their order cannot matter
            x = point[i, m]
            for j in range(width):
                acc[j] += x * weight_t[m, j]
        for j in range(width):
            v = min(max(np.floor(acc[j] * scale[j]), -limit), limit) + features[i, j]
            h[i, j] = max(v, 0.0)

