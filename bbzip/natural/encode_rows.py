"""The encoder's slots of a block row of every tile at once, on the compiled path: the
pixel rows that one set of latent features serves go through the network together, a
pass of _CHUNK positions at a time (bbzip.natural.encode_kernels). The same values as
bbzip.natural.pixels.row_slots, row by row."""

from __future__ import annotations

import numpy as np

from bbzip.fixedpoint.fixed import ACT_LIMIT
from bbzip.natural import context_classes
from bbzip.natural.constants import BLOCK, HIDDEN, MIXTURES
from bbzip.natural.network import CAUSAL, OUTPUT_LIMIT, TAPS, VALID

# Positions per pass: each layer's buffers (a few hundred bytes a position) stay in a
# core's cache, and the matrix products are large enough for BLAS to run near its peak.
_CHUNK = 1024


class Taps:
    """The taps' product split in two: the pixel channels' taps by BLAS, the validity
    channel's (a function of which causal positions lie in the tile's image, so of 64
    patterns: encode_kernels._gather_one) a sum per pattern, added in the first layer.
    Sums of the same exact integers: the same values, a quarter fewer products."""

    def __init__(self, net, canvas):
        pixels = TAPS * canvas.channels
        self.taps = np.ascontiguousarray(canvas.taps[:pixels])  # channel-major: validity last
        self.weights = np.ascontiguousarray(net.spatial_t[:pixels])
        validity = net.spatial_t[pixels:]
        sums = np.zeros((4, 4, 4, validity.shape[1]))
        for above in range(4):
            for left in range(4):
                for right in range(4):
                    inside = [dy >= -above and -left <= dx <= right for dy, dx in CAUSAL]
                    sums[above, left, right] = VALID * validity[inside].sum(axis=0)
        self.valid = sums.reshape(64, -1)
        self.widths = np.ascontiguousarray(canvas.widths, dtype=np.int64)


class BlockRows:
    """A block's fixed inputs for the slots of its block rows: the network, the canvas of
    network inputs, the tiles' values (lanes, th, tw, C; int64) and the calibration."""

    def __init__(self, net, canvas, values: np.ndarray, calib, fast):
        from bbzip.natural import encode_kernels

        self.kernels, self.fast = encode_kernels, fast
        self.net, self.canvas, self.values = net, canvas, np.ascontiguousarray(values, dtype=np.int64)
        c = canvas.channels
        no_adjust = np.zeros((0, 3 * MIXTURES), dtype=np.int64)
        self.adjust = [no_adjust if calib.adjust is None else np.ascontiguousarray(calib.adjust[:, k]) for k in range(c)]
        self.classes = 1
        if calib.context is not None:  # (lanes, C, K, 3K): rows lane * K + class of channel k
            lanes, _, self.classes, size = calib.context.shape
            self.adjust = [np.ascontiguousarray(calib.context[:, k].reshape(lanes * self.classes, size), dtype=np.int64)
                           for k in range(c)]
        self.no_classes = np.zeros(0, dtype=np.int64)
        self.offsets = [np.ascontiguousarray(calib.offsets[:, k], dtype=np.int64) for k in range(c)]
        self.heights = np.ascontiguousarray(canvas.heights, dtype=np.int64)
        self.widths = np.ascontiguousarray(canvas.widths, dtype=np.int64)
        self.taps = Taps(net, canvas)
        n = min(_CHUNK, canvas.lanes * BLOCK * canvas.tiling.tw)
        self.context = np.empty((n, len(self.taps.taps)))
        self.pattern = np.empty(n, dtype=np.int64)
        self.pred, self.base, self.residual = np.empty((3, n, c), dtype=np.int64)
        self.hidden = np.empty((n, HIDDEN))
        self.feat_index = np.empty(n, dtype=np.int64)

    def slots(self, feats: np.ndarray, rows: range) -> tuple[np.ndarray, np.ndarray]:
        """(start, freq) of every subpixel of pixel rows ``rows`` (one block row) of every
        tile, shaped (len(rows) * tw * C, lanes): rows, then columns, then channels, as
        row_slots' arrays one under the other. ``feats``: the block row's features
        (lanes, tw / BLOCK, F)."""
        k_, net, canvas, tw = self.kernels, self.net, self.canvas, self.canvas.tiling.tw
        c, lanes, fast = canvas.channels, canvas.lanes, self.fast
        per_lane = len(rows) * tw
        offsets = canvas.offset(np.repeat(np.arange(rows.start, rows.stop), tw), np.tile(np.arange(tw), len(rows)))
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        feats = np.ascontiguousarray(feats, dtype=np.float64).reshape(-1, feats.shape[-1])
        starts = np.empty((per_lane * c, lanes), dtype=np.int64)
        freqs = np.empty_like(starts)
        for first in range(0, lanes * per_lane, _CHUNK):
            m = min(_CHUNK, lanes * per_lane - first)
            context, pred, base, residual = self.context[:m], self.pred[:m], self.base[:m], self.residual[:m]
            k_.gather_rows(canvas.flat, self.values, offsets, self.taps.taps, self.widths, first, tw, rows.start, BLOCK,
                           context, self.pattern[:m], pred, base, residual, self.feat_index[:m])
            spatial = context @ self.taps.weights
            if self.classes > 1:
                lane, q = np.divmod(np.arange(first, first + m), per_lane)
                row, col = rows.start + q // tw, q % tw
            for k, head in enumerate(net.heads):
                cls = self.no_classes if self.classes == 1 else context_classes.classes_at(
                    self.values, lane, row, col, k, self.widths, residual, self.classes)
                h = hidden(k_, head, k, spatial, self.taps.valid, self.pattern[:m], pred, residual, feats,
                           self.feat_index[:m], self.hidden[:m])
                k_.head_slots(h @ head.out.weight_t, head.out.offset, head.out.scale, float(OUTPUT_LIMIT),
                              self.adjust[k], self.classes, cls, self.offsets[k], base, residual, self.values, k, self.heights,
                              self.widths, first, per_lane, tw, rows.start, fast.consts, fast.sigmoid, fast.inv_scale,
                              fast.neg_exp, starts, freqs)
        return starts, freqs


def hidden(kernels, head, k: int, spatial: np.ndarray, valid: np.ndarray, pattern: np.ndarray, pred: np.ndarray,
           residual: np.ndarray, feats: np.ndarray, feat_index: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Head k's last hidden layer (network.Head.__call__ before its output layer) at a pass's
    positions: ``spatial``, the pixel taps' product of every head, and ``valid``, the
    validity taps' per pattern (Taps); ``feats`` (rows, C * HIDDEN), the features, row
    feat_index[i] for position i; ``out``, the first layer's buffer."""
    limit = float(ACT_LIMIT)
    kernels.first_layer(pred, residual, k, head.point_t, spatial, valid, pattern, k * HIDDEN, head.offset, head.scale,
                        feats, feat_index, limit, out)
    h = out
    for layer in (head.layer1, head.layer2):
        h = h @ layer.weight_t
        kernels.requantise(h, layer.offset, layer.scale, 0.0, limit)
    return h


def point_outputs(net, canvas, features: np.ndarray, values: np.ndarray, lanes: np.ndarray, rows: np.ndarray,
                  cols: np.ndarray) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """Every head's outputs (requantised, as network.Head.__call__) at the positions
    (lanes, rows, cols) of the tiles, with the latent features ``features`` (lanes, th /
    BLOCK, tw / BLOCK, C * HIDDEN); and there the MED predictions, mixture centres and
    residuals (n, C)."""
    from bbzip.natural import encode_kernels as k_

    n, c = len(lanes), canvas.channels
    lanes, rows, cols = (np.ascontiguousarray(a, dtype=np.int64) for a in (lanes, rows, cols))
    offsets = np.ascontiguousarray(canvas.offset(rows, cols), dtype=np.int64)
    values = np.ascontiguousarray(values, dtype=np.int64)
    feats = np.ascontiguousarray(features, dtype=np.float64).reshape(-1, features.shape[-1])
    outs = [np.empty((n, head.out.weight_t.shape[1])) for head in net.heads]
    pred, base, residual = np.empty((3, n, c), dtype=np.int64)
    taps = Taps(net, canvas)
    size = max(1, min(_CHUNK, n))
    context, buffer = np.empty((size, len(taps.taps))), np.empty((size, HIDDEN))
    feat_index, pattern = np.empty((2, size), np.int64)
    for first in range(0, n, _CHUNK):
        part = slice(first, min(first + _CHUNK, n))
        m = part.stop - first
        k_.gather_points(canvas.flat, values, lanes, rows, cols, offsets, taps.taps, taps.widths, first,
                         features.shape[1], features.shape[2], BLOCK, context[:m], pattern[:m], pred, base, residual,
                         feat_index[:m])
        spatial = context[:m] @ taps.weights
        for k, head in enumerate(net.heads):
            h = hidden(k_, head, k, spatial, taps.valid, pattern[:m], pred[part], residual[part], feats,
                       feat_index[:m], buffer[:m]) @ head.out.weight_t
            k_.requantise(h, head.out.offset, head.out.scale, -float(OUTPUT_LIMIT), float(OUTPUT_LIMIT))
            outs[k][part] = h
    return outs, pred, base, residual
