"""The encoder's calibration loops compiled with numba (imported by bbzip.natural.calibration
on the compiled path): the coordinate descent of a channel's corrections.

The same trials in the same order with the same integer sums as calibration._descend (so
the same choices, on every machine), arranged for speed: a trial that moves one component's
mean or log-scale adds that component's logistic to the others' sum, kept per subpixel for
the coordinate; a quotient by the mixture's weight sum is a float product by its reciprocal,
corrected to the exact floor (the numerator is below 2**53, so the product is off by at most
one); a code length's integer logarithm finds its exponent without branches.

These kernels call only helpers of this module, and every number they need is an argument,
none a global: numba's cache would keep stale copies of either.
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
    PRECISION,
    SCALE_LOW,
    SCALE_SHIFT,
    SIGMOID_OFFSET,
    SIGMOID_TOP,
    SPARE,
    K,
)


def _kernel(fn, **options):
    """numba's njit with its on-disk cache; where no cache directory is writable, compiled
    afresh in each process."""
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, **options)(fn)


def _inline(fn):
    return _kernel(fn, inline="always")

@_inline
def _scalars(consts):
    """The constants as a tuple: a kernel indexes it with constants, so they live in
    registers (loads from an int64 array could not leave a loop that stores int64s)."""
    return (consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6], consts[7], consts[8],
            consts[9], consts[10], consts[11], consts[12], consts[13], consts[14], consts[15], consts[16], consts[17],
            consts[18], consts[19])



@_inline
def _quotient(cdf, total, inverse):
    """cdf // total for 0 <= cdf < 2**53, 0 < total, inverse = 1.0 / total."""
    q = np.int64(cdf * inverse)
    if q * total > cdf:
        return q - 1
    if (q + 1) * total <= cdf:
        return q + 1
    return q


@_inline
def _log2(v, table, consts):
    """bbzip.fixedpoint.cost.log2_fixed for one integer 1 <= v < 2**63."""
    exponent, rest = np.int64(0), v
    for bits in (32, 16, 8, 4, 2, 1):  # floor(log2 v) by halving the range, without branches
        shift = np.int64((rest >> bits) != 0) * bits
        rest >>= shift
        exponent += shift
    m = consts[MANTISSA]
    if exponent < m:
        return (exponent << consts[COST]) + table[(v << (m - exponent)) - (np.int64(1) << m)]
    below = exponent - m
    index = (v >> below) - (np.int64(1) << m)
    rest = v & ((np.int64(1) << below) - 1)
    return (exponent << consts[COST]) + table[index] + (((table[index + 1] - table[index]) * rest) >> below)


@_inline
def _length(truth, cdf_low, cdf_high, total, inverse, table, consts):
    """The code length of ``truth`` from its mixture's weighted CDF sums at both edges."""
    low = np.int64(0) if truth <= 0 else (((_quotient(cdf_low, total, inverse) * consts[SPARE]) >> consts[CDF])
                                          + truth)
    high = (np.int64(1) << consts[PRECISION]) if truth >= 255 else (
        ((_quotient(cdf_high, total, inverse) * consts[SPARE]) >> consts[CDF]) + truth + 1)
    return (consts[PRECISION] << consts[COST]) - _log2(high - low, table, consts)


@_inline
def _logistic(edge, mean, inv, sigmoid, consts):
    x = ((edge - mean) * inv + consts[SIGMOID_OFFSET]) >> consts[INDEX_SHIFT]
    return sigmoid[min(max(x, 0), consts[SIGMOID_TOP])]


@_kernel
def descend(params, truth, units, adjust, strides, constants, sigmoid, inv_scale, neg_exp, table):
    """calibration._descend's coordinate descent of a channel's corrections, from the
    corrections ``adjust`` in steps of each of ``strides``. Returns (corrections, cost at the
    start, cost at the end)."""
    consts = _scalars(constants)
    k = consts[K]
    n = params.shape[0]
    one = np.int64(1) << consts[ACT]
    adjust = adjust.copy()
    logits, means, inv, weights = (np.empty((n, k), np.int64), np.empty((n, k), np.int64),
                                   np.empty((n, k), np.int64), np.empty((n, k), np.int64))
    at_low, at_high = np.empty((n, k), np.int64), np.empty((n, k), np.int64)
    totals, inverses = np.empty(n, np.int64), np.empty(n)
    edges = np.empty(n, np.int64)
    rest_low, rest_high = np.empty(n, np.int64), np.empty(n, np.int64)  # the other components' sums
    trial = np.empty((n, k), np.int64)  # a trial's weights, or its component's logistic at both edges
    trial_total = np.empty(n, np.int64)
    scales = inv_scale.shape[0]
    best = np.int64(0)
    for i in range(n):
        edges[i] = np.int64(truth[i]) << consts[ACT]
        for c in range(k):
            logits[i, c] = params[i, c] + adjust[c] * units[c]
        largest = logits[i, 0]
        for c in range(1, k):
            largest = max(largest, logits[i, c])
        totals[i] = 0
        cdf_low, cdf_high = np.int64(0), np.int64(0)
        for c in range(k):
            means[i, c] = params[i, k + c] + adjust[k + c] * units[k + c] + consts[HALF]
            j = (params[i, 2 * k + c] + adjust[2 * k + c] * units[2 * k + c] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
            inv[i, c] = inv_scale[min(max(j, 0), scales - 1)]
            weights[i, c] = neg_exp[min(largest - logits[i, c], consts[GAP_CAP]) >> consts[GAP_SHIFT]]
            totals[i] += weights[i, c]
            at_low[i, c] = _logistic(edges[i], means[i, c], inv[i, c], sigmoid, consts)
            at_high[i, c] = _logistic(edges[i] + one, means[i, c], inv[i, c], sigmoid, consts)
            cdf_low += at_low[i, c] * weights[i, c]
            cdf_high += at_high[i, c] * weights[i, c]
        inverses[i] = 1.0 / totals[i]
        best += _length(np.int64(truth[i]), cdf_low, cdf_high, totals[i], inverses[i], table, consts)
    start = best
    for stride in strides:
        for j in range(3 * k):
            c0 = j % k
            if j >= k:  # a mean or a log-scale moves component c0's logistic alone
                for i in range(n):
                    rest_low[i], rest_high[i] = np.int64(0), np.int64(0)
                    for c in range(k):
                        if c != c0:
                            rest_low[i] += at_low[i, c] * weights[i, c]
                            rest_high[i] += at_high[i, c] * weights[i, c]
            moved = False
            for sign in (stride, -stride):
                # After moves up, the first step down is the value before the last move,
                # which cost more than the best: the trial would stop the walk.
                if sign < 0 and moved:
                    continue
                while abs(adjust[j] + sign) <= 127:
                    move = sign * units[j]
                    cost = np.int64(0)
                    if j < k:  # a logit: new weights
                        for i in range(n):
                            largest = logits[i, 0] + (move if c0 == 0 else 0)
                            for c in range(1, k):
                                largest = max(largest, logits[i, c] + (move if c == c0 else 0))
                            total = np.int64(0)
                            cdf_low, cdf_high = np.int64(0), np.int64(0)
                            for c in range(k):
                                logit = logits[i, c] + (move if c == c0 else 0)
                                w = neg_exp[min(largest - logit, consts[GAP_CAP]) >> consts[GAP_SHIFT]]
                                trial[i, c] = w
                                total += w
                                cdf_low += at_low[i, c] * w
                                cdf_high += at_high[i, c] * w
                            trial_total[i] = total
                            cost += _length(np.int64(truth[i]), cdf_low, cdf_high, total, 1.0 / total, table, consts)
                    else:
                        for i in range(n):
                            mean, scale = means[i, c0], inv[i, c0]
                            if j < 2 * k:
                                mean += move
                            else:
                                index = (params[i, j] + adjust[j] * units[j] + move - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
                                scale = inv_scale[min(max(index, 0), scales - 1)]
                            low = _logistic(edges[i], mean, scale, sigmoid, consts)
                            high = _logistic(edges[i] + one, mean, scale, sigmoid, consts)
                            trial[i, 0], trial[i, 1] = low, high
                            w = weights[i, c0]
                            cost += _length(np.int64(truth[i]), rest_low[i] + low * w, rest_high[i] + high * w,
                                            totals[i], inverses[i], table, consts)
                    if cost >= best:
                        break
                    best = cost
                    adjust[j] += sign
                    moved = True
                    for i in range(n):  # the trial becomes the cache
                        if j < k:
                            logits[i, c0] += move
                            totals[i] = trial_total[i]
                            inverses[i] = 1.0 / trial_total[i]
                            for c in range(k):
                                weights[i, c] = trial[i, c]
                        else:
                            if j < 2 * k:
                                means[i, c0] += move
                            else:
                                index = (params[i, j] + adjust[j] * units[j] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
                                inv[i, c0] = inv_scale[min(max(index, 0), scales - 1)]
                            at_low[i, c0], at_high[i, c0] = trial[i, 0], trial[i, 1]
    return adjust, start, best


@_kernel
def group_costs(means, weights, totals, scales, truth, offsets, group, groups, constants, sigmoid, inv_scale, table):
    """Code lengths (units 2**-COST bits) summed per group (rows with group < 0 skipped),
    row i coded with log-scale offset offsets[i], from mixture_cache's arrays (means with
    the half-unit edge offset, weights, their sums, log-scale outputs): a candidate moves
    the log-scales alone. The values of calibration._group_costs' numpy path."""
    consts = _scalars(constants)
    k = consts[K]
    costs = np.zeros(groups, np.int64)
    one = np.int64(1) << consts[ACT]
    scales_top = inv_scale.shape[0] - 1
    for i in range(truth.shape[0]):
        if group[i] < 0:
            continue
        edge = np.int64(truth[i]) << consts[ACT]
        cdf_low, cdf_high = np.int64(0), np.int64(0)
        for c in range(k):
            index = (scales[i, c] + offsets[i] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
            inv = inv_scale[min(max(index, 0), scales_top)]
            cdf_low += _logistic(edge, means[i, c], inv, sigmoid, consts) * weights[i, c]
            cdf_high += _logistic(edge + one, means[i, c], inv, sigmoid, consts) * weights[i, c]
        costs[group[i]] += _length(np.int64(truth[i]), cdf_low, cdf_high, totals[i], 1.0 / totals[i], table, consts)
    return costs
