"""The decoder's whole pixel row in one compiled call: bbzip.natural.pixels.decode_row's
work for every position of a row and every lane of one lane group, with no Python between
the steps.

A step (one pixel position of every lane) gathers the causal taps, the MED predictions, runs
the taps' product of every head, then per channel the head (first layer, two hidden
layers, outputs), the mixture, the symbol search, the rANS pop and the refill of the heads
that fell below 2**W from the group's tail, and writes the symbols to the tiles and the
canvas. Every value is the numpy path's (bbzip/natural/kernels.py says how):

* The network's products are float64 loops over integers, each lane's inputs contiguous
  (lane-major scratch) so that the sum over a layer's inputs vectorises, four lanes by
  four outputs at a time sharing each load. They are compiled with LLVM's ``reassoc`` and
  ``contract`` flags (numba's fastmath, no others): reordering a sum or fusing a multiply
  and an add may round only where a value is not an integer below 2**53, and
  bbzip/fixedpoint/invariants.py bounds sum(|weight|) * input + |bias| below 2**53 for
  every layer, so every partial sum in any order is exact and every value is the BLAS's.
  Requantisation (floor((y + offset) * 2**-shift), clipped) is exact as before.
* The pop and the refill are Message.pop's and Message.refill's: the heads under 2**W, in
  ascending lane order, take the top words of the tail, the lowest lane the deepest.

A lane group's lanes share one tail and no other state with other groups, so the caller
runs a row group by group (each call its lanes ``lo``..``hi``); the scratch arrays are
indexed by global lane and padded by seven rows, so the products' four-lane blocks may run
past ``hi`` into rows no one reads.
"""

from __future__ import annotations

import numpy as np

from bbzip.natural.compiled import ACT, OUTPUT_LIMIT, PRECISION, WORD
from bbzip.natural.context_kernel import context_class
from bbzip.natural.kernels import HIDDEN, MIXTURES, _inline, _kernel, _mixture, _params, _start

# numba caches a kernel under its own file's stamp, and these kernels inline helpers of
# bbzip/natural/kernels.py: so an edit there must change this file too, or a warm cache
# would serve kernels built from the old helpers. This digest of kernels.py does that
# (tests/test_natural_compiled.py checks it).
KERNELS_DIGEST = "c7b63b7023f26757"
CONTEXT_DIGEST = "c07c578465e5e4b6"  # likewise of bbzip/natural/context_kernel.py

# Exact under the model invariants (module docstring); no flag that assumes away NaNs.
EXACT_FASTMATH = {"reassoc", "contract"}


def _fast(fn):
    return _kernel(fn, fastmath=EXACT_FASTMATH)


@_inline
def _med(tiles, i, row, col, ch, corner, difference):
    """pixels._med_at for one lane and channel (difference: of channel ch minus channel 0);
    ``tiles`` lane-minor, (th, tw, C, lanes)."""
    if row == 0 and col == 0:
        return np.int64(corner)
    if row == 0 or col == 0:
        r0, c0 = (row, col - 1) if row == 0 else (row - 1, 0)
        return np.int64(tiles[r0, c0, ch, i]) - (np.int64(tiles[r0, c0, 0, i]) if difference else 0)
    a, b = np.int64(tiles[row, col - 1, ch, i]), np.int64(tiles[row - 1, col, ch, i])
    c = np.int64(tiles[row - 1, col - 1, ch, i])
    if difference:
        a -= tiles[row, col - 1, 0, i]
        b -= tiles[row - 1, col, 0, i]
        c -= tiles[row - 1, col - 1, 0, i]
    lo, hi = min(a, b), max(a, b)
    return lo if c >= hi else (hi if c <= lo else a + b - c)


@_inline
def _product(x, weight, outputs, y, offset, scale, low, high, lo, hi):
    """y[l, :outputs] = x[l] @ weight[:outputs].T for lanes lo..hi, requantised
    (Layer.__call__ after its product), in blocks of four lanes by four outputs (outputs: a
    multiple of four) that share each load. Every layer after the first takes HIDDEN
    inputs: a literal count, so the sums unroll."""
    for l in range(lo, hi, 4):
        for o in range(0, outputs, 4):
            a0, a1, a2, a3, b0, b1, b2, b3 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            c0, c1, c2, c3, d0, d1, d2, d3 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            for m in range(HIDDEN):
                w0, w1, w2, w3 = weight[o, m], weight[o + 1, m], weight[o + 2, m], weight[o + 3, m]
                x0, x1, x2, x3 = x[l, m], x[l + 1, m], x[l + 2, m], x[l + 3, m]
                a0 += w0 * x0
                a1 += w0 * x1
                a2 += w0 * x2
                a3 += w0 * x3
                b0 += w1 * x0
                b1 += w1 * x1
                b2 += w1 * x2
                b3 += w1 * x3
                c0 += w2 * x0
                c1 += w2 * x1
                c2 += w2 * x2
                c3 += w2 * x3
                d0 += w3 * x0
                d1 += w3 * x1
                d2 += w3 * x2
                d3 += w3 * x3
            for q, sums in enumerate(((a0, a1, a2, a3), (b0, b1, b2, b3), (c0, c1, c2, c3), (d0, d1, d2, d3))):
                for t, v in enumerate(sums):
                    y[l + t, o + q] = min(max(np.floor((v + offset[o + q]) * scale[o + q]), low), high)


@_inline
def _find(slot, guess, means, inv_scales, weights, total, sigmoid, consts):
    """The symbol whose slot range [low, high) holds ``slot``, and that range: a gallop
    from ``guess`` (up or down, doubling its steps) brackets it, a bisection pins it."""
    low = _start(guess, means, inv_scales, weights, total, sigmoid, consts, MIXTURES)
    if low <= slot:
        bracket, step = guess, 1
        while True:
            end = min(bracket + step, 256)
            high = _start(end, means, inv_scales, weights, total, sigmoid, consts, MIXTURES)
            if high > slot:
                break
            bracket, low, step = end, high, 2 * step
    else:
        end, high, step = guess, low, 1
        while True:
            bracket = max(end - step, 0)
            low = _start(bracket, means, inv_scales, weights, total, sigmoid, consts, MIXTURES)
            if low <= slot:
                break
            end, high, step = bracket, low, 2 * step
    while end - bracket > 1:  # start(bracket) <= slot < start(end): the symbol is unique
        middle = (bracket + end) >> 1
        probe = _start(middle, means, inv_scales, weights, total, sigmoid, consts, MIXTURES)
        if probe <= slot:
            bracket, low = middle, probe
        else:
            end, high = middle, probe
    return bracket, low, high


@_kernel
def gather_known(grid, row, cols, taps, context):
    """The taps of the rows above row ``row`` (their pixels), for columns cols[0]..cols[1]
    of every lane, as floats, transposed:
    context[tap, (col - cols[0]) * lanes + lane] (so that the copy runs along the lanes).
    ``taps``: (channel, row, column) of each, margins included."""
    lanes = grid.shape[3]
    for s in range(taps.shape[0]):
        r, ch = row + taps[s, 1], taps[s, 0]
        for col in range(cols[0], cols[1]):
            first, q = (col - cols[0]) * lanes, col + taps[s, 2]
            for i in range(lanes):
                context[s, first + i] = grid[r, q, ch, i]


@_fast
def decode_row(row, cols, lo, hi, grid, tiles, heights, widths, margins, taps, known, valid, lane_class, features, net,
               first, hidden, output, adjust, offsets, head, words, size, consts, sigmoid, inv_scale, neg_exp, scratch,
               limit):
    """Pops columns cols[0]..cols[1] of pixel row ``row`` of lanes lo..hi into the lane-minor
    ``tiles`` and ``grid`` (the canvas, ``margins`` its top and left ones), refilling the
    heads from ``words``, the group's tail of ``size`` words. Returns the tail's new size,
    -1 when it ran out.

    ``known``: ((col - cols[0]) * lanes + lane, C * HIDDEN), the taps' product of every
    head over the pixels of the rows above (gather_known's, by BLAS); ``valid``: (class,
    column, C * HIDDEN), the validity taps' product for each lane's ``lane_class``
    (stepper.Validity); the step adds the product of ``taps`` ((channel, row, column) each),
    the same row's pixels to the left.
    ``net``: (those taps' weights (taps, C * HIDDEN), the heads' point weights (C, 2C,
    HIDDEN)); ``first``: the first layers' offsets and scales (2, C, HIDDEN); ``hidden``:
    layer 1 and 2 weights (2, C, HIDDEN, HIDDEN), offsets and scales (2, 2, C, HIDDEN);
    ``output``: weights (C, (2 + C) * K, HIDDEN), offsets and scales (2, C, (2 + C) * K);
    ``scratch``: lane-major float rows (context, spatial, two hidden, outputs, points) and
    int rows (predictions, centres, residuals)."""
    spatial_w, point_w = net
    first_offset, first_scale = first[0], first[1]
    hidden_w, hidden_q = hidden
    out_w, out_q = output
    context, spatial, h0, h1, out, point, ints = scratch
    pred, base, residual = ints[0], ints[1], ints[2]
    c = tiles.shape[2]
    lanes = tiles.shape[3]
    kk = MIXTURES  # consts[K], as the literal the helpers unroll over
    out_limit = np.float64(consts[OUTPUT_LIMIT])
    precision = consts[PRECISION]
    mask, shift = np.uint64((1 << precision) - 1), np.uint64(precision)
    word = np.uint64(consts[WORD])
    low_head = np.uint64(1) << word
    p = np.empty(3 * kk, np.int64)
    means, inv_scales, weights = np.empty(kk, np.int64), np.empty(kk, np.int64), np.empty(kk, np.int64)
    for col in range(cols[0], cols[1]):
        first_row = (col - cols[0]) * lanes
        for i in range(lo, hi):
            for s in range(taps.shape[0]):
                context[i, s] = grid[row + taps[s, 1], col + taps[s, 2], taps[s, 0], i]
            v = lane_class[i]
            for o in range(spatial.shape[1]):  # outputs innermost: vectorises as it stands
                spatial[i, o] = known[first_row + i, o] + valid[v, col, o]
            for s in range(taps.shape[0]):
                x = context[i, s]
                for o in range(spatial.shape[1]):
                    spatial[i, o] += x * spatial_w[s, o]
            for ch in range(c):
                v = _med(tiles, i, row, col, ch, 128, False)
                pred[i, ch], base[i, ch] = v, v
                point[i, ch] = np.float64((v - 128) << 4)
        block = col >> 3
        for k in range(c):
            hw = h0.shape[1]
            part = k * hw
            for i in range(lo, hi):  # Head.__call__'s first layer, ReLU
                for j in range(hw):
                    h0[i, j] = spatial[i, part + j] + first_offset[k, j]
                for m in range(c + k):
                    x = point[i, m]
                    for j in range(hw):
                        h0[i, j] += x * point_w[k, m, j]
                for j in range(hw):
                    v = min(max(np.floor(h0[i, j] * first_scale[k, j]), -limit), limit) + features[i, block, part + j]
                    h0[i, j] = max(v, 0.0)
            _product(h0, hidden_w[0, k], hw, h1, hidden_q[0, 0, k], hidden_q[0, 1, k], 0.0, limit, lo, hi)
            _product(h1, hidden_w[1, k], hw, h0, hidden_q[1, 0, k], hidden_q[1, 1, k], 0.0, limit, lo, hi)
            _product(h0, out_w[k], (3 + k) * kk, out, out_q[0, k], out_q[1, k], -out_limit, out_limit, lo, hi)
            under = 0
            adjust_k = adjust[k]
            classes = adjust.shape[0] // c  # corrections per context class: rows k * classes + class
            for i in range(lo, hi):
                symbol = 0
                if row < heights[i] and col < widths[i]:
                    if classes > 1:
                        adjust_k = adjust[k * classes + context_class(tiles, i, row, col, k, residual, widths[i], classes)]
                    _params(out, i, adjust_k, offsets[i, k], base[i, k], residual, k, consts, p, MIXTURES)
                    total = _mixture(p, consts, inv_scale, neg_exp, means, inv_scales, weights, MIXTURES)
                    slot = np.int64(head[i] & mask)
                    centre = np.int64(0)
                    for m in range(kk):
                        centre += weights[m] * (means[m] >> consts[ACT])
                    symbol, low, high = _find(slot, min(max(centre // total, 0), 255), means, inv_scales, weights,
                                              total, sigmoid, consts)
                    value = np.uint64(high - low) * (head[i] >> shift) + np.uint64(slot - low)
                    head[i] = value
                    under += value < low_head
                tiles[row, col, k, i] = symbol
                residual[i, k] = symbol - pred[i, k]
                point[i, c + k] = np.float64(residual[i, k] << 6)
                if k == 0:  # R and B centre on this G plus the MED of their difference from G
                    for ch in range(1, c):
                        base[i, ch] = min(max(symbol + _med(tiles, i, row, col, ch, 0, True), 0), 255)
            if under:  # Message.refill: ascending lanes take the top words, the lowest the deepest
                if under > size:
                    return -1
                size -= under
                taken = size
                for i in range(lo, hi):
                    if head[i] < low_head:
                        head[i] = (head[i] << word) | np.uint64(words[taken])
                        taken += 1
        for i in range(lo, hi):
            inside = row < heights[i] and col < widths[i]
            for ch in range(c):
                value = (np.int64(tiles[row, col, ch, i]) - 128) << 4 if inside else 0
                grid[row + margins[0], col + margins[1], ch, i] = value
    return size
