"""The encoder's per-pixel work on many pixel rows of every tile at once, compiled with numba
(imported only through bbzip.natural.encode_rows, on the compiled path).

The encoder knows every pixel before it codes one, so the network inputs of a whole block
row (8 pixel rows of every lane: the rows one set of latent features serves) are gathered
in one pass, and each head's layers run as a few large matrix products (BLAS, in numpy)
with their requantisation, first layer and mixture slots here: per pass, a handful of
calls instead of bbzip.natural.pixels' dozens per pixel row. The arithmetic is the
numpy path's (bbzip.natural.pixels.row_slots, network.Head, mixture.Mixtures), operation
for operation, on exact integers, so the bytes are the same.

These kernels call only helpers of this module: numba's cache would keep a stale copy of a
helper imported from another module after that module changed. Every number they need is
an argument (bbzip.natural.compiled.Tables' constants), none a global, for the same reason.
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
    """A kernel's helper, inlined where it is called."""
    return _kernel(fn, inline="always")

@_inline
def _scalars(consts):
    """The constants as a tuple: a kernel indexes it with constants, so they live in
    registers (loads from an int64 array could not leave a loop that stores int64s)."""
    return (consts[0], consts[1], consts[2], consts[3], consts[4], consts[5], consts[6], consts[7], consts[8],
            consts[9], consts[10], consts[11], consts[12], consts[13], consts[14], consts[15], consts[16], consts[17],
            consts[18], consts[19])



@_inline
def _med(a, b, c, row, col, corner):
    """network.med for one subpixel: LOCO-I's median edge detector, tile edges its own."""
    if row == 0:
        return corner if col == 0 else a
    if col == 0:
        return b
    lo, hi = min(a, b), max(a, b)
    if c >= hi:
        return lo
    if c <= lo:
        return hi
    return a + b - c


@_inline
def _neighbours(values, lane, row, col, ch, difference):
    """The left, upper and upper-left values of one subpixel (channel ch less channel 0 with
    ``difference``); a neighbour outside the tile reads 0 (med never uses it)."""
    a = b = c = np.int64(0)
    if col > 0:
        a = values[lane, row, col - 1, ch] - (values[lane, row, col - 1, 0] if difference else 0)
    if row > 0:
        b = values[lane, row - 1, col, ch] - (values[lane, row - 1, col, 0] if difference else 0)
        if col > 0:
            c = values[lane, row - 1, col - 1, ch] - (values[lane, row - 1, col - 1, 0] if difference else 0)
    return a, b, c


@_inline
def _gather_one(flat, values, lane, row, col, at, taps, width, i, context, pattern, j, pred, base, residual):
    """Position (lane, row, col) of the tiles, at canvas offset ``at``: its causal taps of
    pixel channels (``taps``, as floats) into row i of ``context`` and which of its causal
    positions lie in the tile's image (``width`` columns) into pattern[i] (16 * min(row, 3)
    + 4 * min(col, 3) + min(width - 1 - col, 3), for a position in the image: the validity
    taps' share of the product is a sum per pattern); and per channel the MED prediction,
    the mixture centre (pixels._colour_base) and the residual (value less prediction) into
    row j of the others."""
    for t in range(taps.shape[0]):
        context[i, t] = flat[lane, at + taps[t]]
    pattern[i] = 16 * min(row, 3) + 4 * min(col, 3) + min(max(width - 1 - col, 0), 3)
    green = values[lane, row, col, 0]
    for ch in range(values.shape[3]):
        a, b, u = _neighbours(values, lane, row, col, ch, False)
        p = _med(a, b, u, row, col, np.int64(128))
        pred[j, ch] = p
        residual[j, ch] = values[lane, row, col, ch] - p
        if ch == 0:
            base[j, ch] = p
        else:
            a, b, u = _neighbours(values, lane, row, col, ch, True)
            base[j, ch] = min(max(green + _med(a, b, u, row, col, np.int64(0)), 0), 255)


@_kernel
def gather_rows(flat, values, offsets, taps, widths, first, tw, first_row, block, context, pattern, pred, base, residual,
                feat_index):
    """_gather_one for positions first, first + 1, ... of (lane, r, col) in the pixel rows
    first_row + r (``offsets``: each position's canvas offset, r-major); ``feat_index``:
    the row of the block row's features (lanes * tw / block, F) each position reads."""
    per_lane = offsets.shape[0]
    columns = tw // block
    for i in range(context.shape[0]):
        lane, q = divmod(first + i, per_lane)
        row, col = first_row + q // tw, q % tw
        _gather_one(flat, values, lane, row, col, offsets[q], taps, widths[lane], i, context, pattern, i, pred, base,
                    residual)
        feat_index[i] = lane * columns + col // block


@_kernel
def gather_points(flat, values, lanes, rows, cols, offsets, taps, widths, first, block_rows, block_cols, block, context,
                  pattern, pred, base, residual, feat_index):
    """_gather_one for positions first, first + 1, ... of the lists (lanes, rows, cols,
    canvas offsets); ``feat_index``: the row of the features (lanes * block_rows *
    block_cols, F) each position reads."""
    for i in range(context.shape[0]):
        p = first + i
        lane, row, col = lanes[p], rows[p], cols[p]
        _gather_one(flat, values, lane, row, col, offsets[p], taps, widths[lane], i, context, pattern, p, pred, base,
                    residual)
        feat_index[i] = (lane * block_rows + row // block) * block_cols + col // block


@_kernel
def first_layer(pred, residual, k, point_t, spatial, valid, pattern, part, offset, scale, feats, feat_index, limit, h):
    """Head k's first layer (network.Head.__call__): relu(clip(floor((point @ point_t +
    spatial + validity + offset) * scale), +-limit) + features), where point is the MED
    inputs (v - 128) * 16 of every channel and the residuals * 64 of channels before k, the
    validity taps' product of row i is row pattern[i] of ``valid``, and row i adds row
    feat_index[i] of ``feats``. Every sum is of exact integers: its order cannot matter."""
    width = h.shape[1]
    c = pred.shape[1]
    acc = np.empty(width)  # a local row: no aliasing to rule out, so the loops vectorise
    for i in range(h.shape[0]):
        kind = pattern[i]
        for j in range(width):
            acc[j] = spatial[i, part + j] + valid[kind, part + j] + offset[j]
        for m in range(c + k):
            x = float((pred[i, m] - 128) * 16) if m < c else float(residual[i, m - c] * 64)
            for j in range(width):
                acc[j] += x * point_t[m, j]
        f = feat_index[i]
        for j in range(width):
            v = min(max(np.floor(acc[j] * scale[j]), -limit), limit) + feats[f, part + j]
            h[i, j] = max(v, 0.0)


@_kernel
def requantise(y, offset, scale, low, high):
    """Layer.__call__ after its product, in place: floor((y + offset) * scale), clipped."""
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] = min(max(np.floor((y[i, j] + offset[j]) * scale[j]), low), high)


@_inline
def _start(symbol, means, inv_scales, weights, total, inverse, sigmoid, consts):
    """Mixtures.starts for one symbol 0..256 of one subpixel; ``inverse``: 1.0 / total.
    The quotient is the float product corrected to the exact floor: the weighted sum is
    below 2**53 (2**30 a logistic, 2**16 a weight, K of them), so it is off by one at most."""
    if symbol <= 0:
        return np.int64(0)
    if symbol >= 256:
        return np.int64(1) << consts[PRECISION]
    edge = np.int64(symbol) << consts[ACT]
    cdf = np.int64(0)
    for m in range(consts[K]):
        x = ((edge - means[m]) * inv_scales[m] + consts[SIGMOID_OFFSET]) >> consts[INDEX_SHIFT]
        cdf += sigmoid[min(max(x, 0), consts[SIGMOID_TOP])] * weights[m]
    q = np.int64(cdf * inverse)
    if q * total > cdf:
        q -= 1
    elif (q + 1) * total <= cdf:
        q += 1
    return ((q * consts[SPARE]) >> consts[CDF]) + symbol


@_kernel
def head_slots(y, offset, scale, limit, adjust, classes, cls, lane_offsets, base, residual, values, k, heights, widths,
               first, per_lane, tw, first_row, constants, sigmoid, inv_scale, neg_exp, starts, freqs):
    """Head k's output layer after its product ``y`` (requantised here, as Layer.__call__
    with ``limit``), then each subpixel's mixture (network.mixture_outputs with the lane's
    log-scale offset and corrections ``adjust``: (lanes, 3K), or (lanes * classes, 3K) row
    lane * classes + cls[i] with context classes (bbzip.natural.context_classes), or none)
    and the slot of its
    value: (start, freq) into row ((r * tw + col) * C + k) of starts and freqs, column
    lane. Positions outside the image get the no-op (0, 2**precision)."""
    consts = _scalars(constants)
    kk = consts[K]
    c = values.shape[3]
    p = np.empty(3 * kk, np.int64)
    out = np.empty(y.shape[1], np.int64)
    means, inv_scales, weights = np.empty(kk, np.int64), np.empty(kk, np.int64), np.empty(kk, np.int64)
    full = np.int64(1) << consts[PRECISION]
    for i in range(y.shape[0]):
        lane, q = divmod(first + i, per_lane)
        r, col = q // tw, q % tw
        slot = (r * tw + col) * c + k
        row = first_row + r
        if row >= heights[lane] or col >= widths[lane]:
            starts[slot, lane], freqs[slot, lane] = 0, full
            continue
        for j in range(y.shape[1]):
            out[j] = np.int64(min(max(np.floor((y[i, j] + offset[j]) * scale[j]), -limit), limit))
        which = lane * classes + cls[i] if classes > 1 else lane
        for j in range(3 * kk):
            p[j] = out[j] + (adjust[which, j] if adjust.shape[0] else 0)
        largest = p[0]
        for m in range(1, kk):
            largest = max(largest, p[m])
        total = np.int64(0)
        for m in range(kk):
            mean = p[kk + m] + (np.int64(base[i, k]) << consts[ACT])
            for e in range(k):
                mean += out[(3 + e) * kk + m] * residual[i, e]
            means[m] = min(max(mean, consts[MEAN_LOW]), consts[MEAN_HIGH]) + consts[HALF]
            index = (p[2 * kk + m] + lane_offsets[lane] - consts[SCALE_LOW]) >> consts[SCALE_SHIFT]
            inv_scales[m] = inv_scale[min(max(index, 0), inv_scale.shape[0] - 1)]
            weights[m] = neg_exp[min(largest - p[m], consts[GAP_CAP]) >> consts[GAP_SHIFT]]
            total += weights[m]
        truth = values[lane, row, col, k]
        inverse = 1.0 / total
        low = _start(truth, means, inv_scales, weights, total, inverse, sigmoid, consts)
        starts[slot, lane] = low
        freqs[slot, lane] = _start(truth + 1, means, inv_scales, weights, total, inverse, sigmoid, consts) - low
