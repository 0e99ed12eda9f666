"""The decoder's pixel steps with compiled kernels: bbzip.natural.pixels.decode_row's work,
one pixel position of every lane per step, in a few calls instead of some two hundred.

Per step: one kernel gathers the causal taps and the MED predictions, BLAS multiplies the
taps by every head's first layer at once; per channel, one kernel completes the first
layer, BLAS runs the two hidden layers (a kernel requantises each) and the output layer,
and one kernel requantises the outputs, builds the mixtures, finds each lane's symbol
from its rANS slot, pops it and writes it to the tiles and the canvas. Every value is the
numpy path's (bbzip/natural/kernels.py says how); the lanes' heads are one array that
the messages of all lane groups view, so a kernel pops them all.
"""

from __future__ import annotations

import numpy as np

from bbzip.natural.compiled import ACT, ACT_LIMIT, OUTPUT_LIMIT, PRECISION, K, Tables
from bbzip.natural.constants import BLOCK, HIDDEN, MIXTURES
from bbzip.natural.kernels import _inline, _kernel, _mixture, _params, _start
from bbzip.natural.network import CAUSAL
from bbzip.natural.pixels import PAD_SIDE, PAD_TOP

# numba caches a kernel under its own file's stamp, and these kernels inline helpers of
# bbzip/natural/kernels.py: so an edit there must change this file too, or a warm cache
# would serve kernels built from the old helpers. This digest of kernels.py does that
# (tests/test_natural_compiled.py checks it).
KERNELS_DIGEST = "226f451812c9085d"


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


@_kernel
def prepare(grid, row, col, rows, cols, channels, context, tiles, pred, base, point):
    """The step's causal taps (as floats, (taps, lanes), channel-major) from the lane-minor
    canvas ``grid`` at (row + rows[t], col + cols[t]), and the MED predictions, their
    network inputs and the mixtures' centres (channel-major, lanes last)."""
    lanes = context.shape[1]
    taps = rows.shape[0]
    for ch in range(channels):
        for t in range(taps):
            for i in range(lanes):
                context[ch * taps + t, i] = grid[row + rows[t], col + cols[t], ch, i]
    for ch in range(pred.shape[0]):
        for i in range(lanes):
            v = _med(tiles, i, row, col, ch, 128, False)
            pred[ch, i], base[ch, i] = v, v
            point[ch, i] = np.float64((v - 128) << 4)


@_kernel
def first_layer(spatial, part, point, inputs, weight_t, offset, scale, features, limit, h):
    """Head.__call__'s first layer, lanes last: its taps' share ``spatial[part:part +
    hidden]`` plus the pointwise inputs' product, requantised, plus the block's features
    ((C * hidden, lanes)), ReLU."""
    for j in range(h.shape[0]):
        for i in range(h.shape[1]):
            h[j, i] = spatial[part + j, i] + offset[j]
        for m in range(inputs):  # exact integer sums: their order cannot matter
            w = weight_t[m, j]
            for i in range(h.shape[1]):
                h[j, i] += point[m, i] * w
        for i in range(h.shape[1]):
            v = min(max(np.floor(h[j, i] * scale[j]), -limit), limit) + features[part + j, i]
            h[j, i] = max(v, 0.0)


@_kernel
def requantise(y, offset, scale, low, high):
    """Layer.__call__ after its product, lanes last, in place: floor((y + offset) * scale),
    clipped."""
    for j in range(y.shape[0]):
        for i in range(y.shape[1]):
            y[j, i] = min(max(np.floor((y[j, i] + offset[j]) * scale[j]), low), high)


@_inline
def _find(slot, guess, means, inv_scales, weights, total, sigmoid, consts):
    """The symbol whose slot range [low, high) holds ``slot``, and that range: a gallop
    from ``guess`` (up or down, doubling its steps) brackets it, a bisection pins it."""
    low = _start(guess, means, inv_scales, weights, total, sigmoid, consts)
    if low <= slot:
        bracket, step = guess, 1
        while True:
            end = min(bracket + step, 256)
            high = _start(end, means, inv_scales, weights, total, sigmoid, consts)
            if high > slot:
                break
            bracket, low, step = end, high, 2 * step
    else:
        end, high, step = guess, low, 1
        while True:
            bracket = max(end - step, 0)
            low = _start(bracket, means, inv_scales, weights, total, sigmoid, consts)
            if low <= slot:
                break
            end, high, step = bracket, low, 2 * step
    while end - bracket > 1:  # start(bracket) <= slot < start(end): the symbol is unique
        middle = (bracket + end) >> 1
        probe = _start(middle, means, inv_scales, weights, total, sigmoid, consts)
        if probe <= slot:
            bracket, low = middle, probe
        else:
            end, high = middle, probe
    return bracket, low, high


@_kernel
def pop_channel(out, offset, scale, k, adjust, offsets, pred, base, residual, point, inside, head, tiles, grid, row,
                col, margins, consts, sigmoid, inv_scale, neg_exp):
    """Channel k of one pixel of every lane: requantise the head's outputs ``out`` ((3 + k)
    * K, lanes; in place), build the mixture, find the symbol whose slot range holds the
    head's slot, pop it (the head is not refilled) and record it in the tiles and, after
    the last channel, the canvas (``margins``: its top and left ones). Returns how many
    heads fell below 2**32."""
    kk, c = consts[K], pred.shape[0]
    limit = np.float64(consts[OUTPUT_LIMIT])
    precision = consts[PRECISION]
    mask, shift = np.uint64((1 << precision) - 1), np.uint64(precision)
    low_head = np.uint64(1) << np.uint64(32)
    p = np.empty(3 * kk, np.int64)
    means, inv_scales, weights = np.empty(kk, np.int64), np.empty(kk, np.int64), np.empty(kk, np.int64)
    for j in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[j, i] = min(max(np.floor((out[j, i] + offset[j]) * scale[j]), -limit), limit)
    by_lane, residual_by_lane = out.T, residual.T
    under = 0
    for i in range(out.shape[1]):
        symbol = 0
        if inside[i]:
            _params(by_lane, i, adjust, offsets[i], base[k, i], residual_by_lane, k, consts, p)
            total = _mixture(p, consts, inv_scale, neg_exp, means, inv_scales, weights)
            slot = np.int64(head[i] & mask)
            centre = np.int64(0)
            for m in range(kk):
                centre += weights[m] * (means[m] >> consts[ACT])
            symbol, low, high = _find(slot, min(max(centre // total, 0), 255), means, inv_scales, weights, total,
                                      sigmoid, consts)
            value = np.uint64(high - low) * (head[i] >> shift) + np.uint64(slot - low)
            head[i] = value
            under += value < low_head
        tiles[row, col, k, i] = symbol
        residual[k, i] = symbol - pred[k, i]
        point[c + k, i] = np.float64(residual[k, i] << 6)
        if k == 0:  # R and B centre on this G plus the MED of their difference from G
            for ch in range(1, c):
                base[ch, i] = min(max(symbol + _med(tiles, i, row, col, ch, 0, True), 0), 255)
        if k == c - 1:
            for ch in range(c):
                grid[row + margins[0], col + margins[1], ch, i] = (np.int64(tiles[row, col, ch, i]) - 128) << 4 if inside[i] else 0
    return under


class Stepper:
    """Decodes pixel rows of every lane with the step kernels, on lane-minor copies of the
    canvas and tiles (a step reads each lane's neighbourhood: with lanes last, those reads
    are contiguous), each row copied in before it is decoded and written back after."""

    def __init__(self, model, net, canvas, tiles: np.ndarray, calib, message):
        self.net, self.canvas, self.tiles = net, canvas, tiles
        self.kernels = Tables(model.tables)
        self.messages = getattr(message, "messages", [message])
        self.head = np.concatenate([m.head for m in self.messages])
        start = 0
        for m in self.messages:  # every group's message works on its part of one array
            m.head, start = self.head[start : start + m.lanes], start + m.lanes
        lanes, c = len(tiles), canvas.channels
        self.c = c
        # Zeros (as the canvas's pixels and the tiles are before any row), filled row by row:
        # pages untouched by the rows decoded take no memory.
        self.grid = np.zeros(canvas.data.shape[1:] + (lanes,), dtype=canvas.data.dtype)
        self.tiles_t = np.zeros(tiles.shape[1:] + (lanes,), dtype=tiles.dtype)
        self.rows = np.array([dy for dy, _ in CAUSAL], dtype=np.int64) + PAD_TOP
        self.cols = np.array([dx for _, dx in CAUSAL], dtype=np.int64) + PAD_SIDE
        self.context = np.empty((canvas.depth * len(CAUSAL), lanes))
        self.spatial = np.empty((c * HIDDEN, lanes))
        self.spatial_w = np.ascontiguousarray(net.spatial_t.T)
        self.pred, self.base = np.empty((c, lanes), np.int64), np.empty((c, lanes), np.int64)
        self.residual = np.zeros((c, lanes), np.int64)
        self.point = np.zeros((2 * c, lanes))
        self.hidden = [np.empty((HIDDEN, lanes)) for _ in range(3)]
        self.outs = [np.empty(((3 + k) * MIXTURES, lanes)) for k in range(c)]
        self.weights = [[np.ascontiguousarray(layer.weight_t.T) for layer in (head.layer1, head.layer2, head.out)]
                        for head in net.heads]
        no_adjust = np.zeros((0, 3 * MIXTURES), np.int64)
        self.adjust = [no_adjust if calib.adjust is None else np.ascontiguousarray(calib.adjust[:, k]) for k in range(c)]
        self.offsets = [np.ascontiguousarray(calib.offsets[:, k]) for k in range(c)]
        self.limit = float(self.kernels.consts[ACT_LIMIT])
        self.margins = np.array([PAD_TOP, PAD_SIDE], dtype=np.int64)

    def row(self, features: np.ndarray, row: int) -> None:
        canvas, tiles, net, kernels, c = self.canvas, self.tiles_t, self.net, self.kernels, self.c
        h0, h1, h2 = self.hidden
        features = np.ascontiguousarray(features.transpose(1, 2, 0))  # (block columns, C * hidden, lanes)
        self.grid[PAD_TOP + row] = canvas.data[:, PAD_TOP + row].transpose(1, 2, 0)  # its validity (open_row)
        inside_row = np.ascontiguousarray(canvas.inside_row(row).T)
        for col in range(canvas.tiling.tw):
            inside = inside_row[col]
            prepare(self.grid, row, col, self.rows, self.cols, canvas.depth, self.context, tiles, self.pred, self.base,
                    self.point)
            np.matmul(self.spatial_w, self.context, out=self.spatial)
            for k, head in enumerate(net.heads):
                first_layer(self.spatial, k * HIDDEN, self.point, c + k, head.point_t, head.offset, head.scale,
                            features[col // BLOCK], self.limit, h0)
                w1, w2, w3 = self.weights[k]
                for layer, w, x, y in ((head.layer1, w1, h0, h1), (head.layer2, w2, h1, h2)):
                    np.matmul(w, x, out=y)
                    requantise(y, layer.offset, layer.scale, 0.0, self.limit)
                np.matmul(w3, h2, out=self.outs[k])
                if pop_channel(self.outs[k], head.out.offset, head.out.scale, k, self.adjust[k], self.offsets[k],
                               self.pred, self.base, self.residual, self.point, inside, self.head, tiles, self.grid,
                               row, col, self.margins, kernels.consts, kernels.sigmoid, kernels.inv_scale, kernels.neg_exp):
                    for message in self.messages:
                        message.refill(message.head)
        self.tiles[:, row] = tiles[row].transpose(2, 0, 1)
        canvas.data[:, PAD_TOP + row] = self.grid[PAD_TOP + row].transpose(2, 0, 1)
