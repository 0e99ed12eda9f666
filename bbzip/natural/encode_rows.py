"""The encoder's slots of a block row of every tile at once, on the compiled path: the
pixel rows that one set of latent features serves go through the network together, a
pass of _CHUNK positions at a time (bbzip.natural.encode_kernels). The same values as
bbzip.natural.pixels.row_slots, row by row."""

from __future__ import annotations

import numpy as np

from bbzip.fixedpoint.fixed import ACT_LIMIT
from bbzip.natural.constants import BLOCK, HIDDEN, MIXTURES
from bbzip.natural.network import OUTPUT_LIMIT

# Positions per pass: each layer's buffers (a few hundred bytes a position) stay in a
# core's cache, and the matrix products are large enough for BLAS to run near its peak.
_CHUNK = 1024


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
        self.offsets = [np.ascontiguousarray(calib.offsets[:, k], dtype=np.int64) for k in range(c)]
        self.heights = np.ascontiguousarray(canvas.heights, dtype=np.int64)
        self.widths = np.ascontiguousarray(canvas.widths, dtype=np.int64)
        n = min(_CHUNK, canvas.lanes * BLOCK * canvas.tiling.tw)
        self.context = np.empty((n, len(canvas.taps)))
        self.pred, self.base, self.residual = np.empty((3, n, c), dtype=np.int64)
        self.hidden = np.empty((n, HIDDEN))

    def slots(self, feats: np.ndarray, rows: range) -> tuple[np.ndarray, np.ndarray]:
        """(start, freq) of every subpixel of pixel rows ``rows`` (one block row) of every
        tile, shaped (len(rows) * tw * C, lanes): rows, then columns, then channels, as
        row_slots' arrays one under the other. ``feats``: the block row's features."""
        k_, net, canvas, tw = self.kernels, self.net, self.canvas, self.canvas.tiling.tw
        c, lanes, fast = canvas.channels, canvas.lanes, self.fast
        per_lane = len(rows) * tw
        offsets = canvas.offset(np.repeat(np.arange(rows.start, rows.stop), tw), np.tile(np.arange(tw), len(rows)))
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        feats = np.ascontiguousarray(feats, dtype=np.float64)
        starts = np.empty((per_lane * c, lanes), dtype=np.int64)
        freqs = np.empty_like(starts)
        limit = float(ACT_LIMIT)
        for first in range(0, lanes * per_lane, _CHUNK):
            m = min(_CHUNK, lanes * per_lane - first)
            context, pred, base, residual = self.context[:m], self.pred[:m], self.base[:m], self.residual[:m]
            k_.gather_rows(canvas.flat, self.values, offsets, canvas.taps, first, tw, rows.start, context, pred, base,
                           residual)
            spatial = context @ net.spatial_t
            for k, head in enumerate(net.heads):
                h = self.hidden[:m]
                k_.first_layer(pred, residual, k, head.point_t, spatial, k * HIDDEN, head.offset, head.scale, feats,
                               first, per_lane, tw, BLOCK, limit, h)
                for layer in (head.layer1, head.layer2):
                    h = h @ layer.weight_t
                    k_.requantise(h, layer.offset, layer.scale, 0.0, limit)
                k_.head_slots(h @ head.out.weight_t, head.out.offset, head.out.scale, float(OUTPUT_LIMIT),
                              self.adjust[k], self.offsets[k], base, residual, self.values, k, self.heights,
                              self.widths, first, per_lane, tw, rows.start, fast.consts, fast.sigmoid, fast.inv_scale,
                              fast.neg_exp, starts, freqs)
        return starts, freqs
