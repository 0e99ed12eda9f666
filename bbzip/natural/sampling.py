"""The encoder's sample of a block's pixels for its calibration: a fixed, deterministic
subset of positions in every tile, and the network's outputs there.

The calibration compares code lengths of a sample, so its cost follows the sample's size,
not the block's: at most one position in EVERY of a block (all of a small one), and never
more than CAP positions. The positions of a tile are spread like a diagonal lattice that
moves from tile to tile, so that every row, every position of an 8x8 block and both rows
of an interlaced image are sampled.
"""

from __future__ import annotations

import numpy as np

from bbzip.natural.constants import BLOCK, HIDDEN, MIXTURES
from bbzip.natural.network import med, pixel_input, residual_input

EVERY = 8  # one position in this many, for blocks of FULL * EVERY positions or more
FULL = 8192  # blocks of at most this many positions are sampled whole
CAP = 1 << 15  # positions, at most


def sample_every(positions: int) -> int:
    """One position in how many a block of ``positions`` is sampled at."""
    return max(1, min(EVERY, positions // FULL), -(-positions // CAP))


class Sample:
    """Per channel k: head outputs ``outs[k]``; and per sampled position: centres ``base``
    (n, C), residuals (n, C), true values (n, C), and the lane of each (lane-major order)."""

    def __init__(self, net, canvas, features: np.ndarray, values: np.ndarray, fast=None):
        """``fast``: bbzip.natural.compiled.Tables, for compiled loops (the same values)."""
        self.fast, self._mixtures = fast, {}
        inside = canvas.inside
        self.every = sample_every(int(inside.sum()))
        lanes, rows, cols = np.nonzero(inside & _lattice(inside.shape, self.every))
        self.lanes, self.inside_of_lane = lanes, inside.reshape(len(inside), -1).sum(axis=1)
        self.sampled_of_lane = np.bincount(lanes, minlength=len(inside))
        self.truth = values[lanes, rows, cols].astype(np.int64)
        if fast:  # compiled, a pass of positions at a time (bbzip.natural.encode_rows): the same values
            from bbzip.natural.encode_rows import point_outputs

            self.outs, _, self.base, self.residual = point_outputs(net, canvas, features, values, lanes, rows, cols)
        else:
            self.outs, self.base, self.residual = _outputs(net, canvas, features, values, lanes, rows, cols,
                                                           self.truth)
        # Contiguous columns: the compiled loops crawl on strided arrays.
        c = canvas.channels
        self.base_of = [np.ascontiguousarray(self.base[:, k]) for k in range(c)]
        self.truth_of = [np.ascontiguousarray(self.truth[:, k]) for k in range(c)]

    def __len__(self) -> int:
        return len(self.lanes)

    def mixtures(self, k: int) -> tuple[np.ndarray, ...]:
        """Channel k's mixtures with no offset, for the compiled costs (kernels.group_costs)."""
        if k not in self._mixtures:
            n, fast = len(self), self.fast
            arrays = (np.empty((n, MIXTURES), np.int64), np.empty((n, MIXTURES), np.int64), np.empty(n, np.int64),
                      np.empty((n, MIXTURES), np.int64))
            fast.kernels.mixture_cache(self.outs[k], self.base_of[k], self.residual, k, fast.consts, fast.inv_scale,
                                       fast.neg_exp, *arrays)
            self._mixtures[k] = arrays
        return self._mixtures[k]


def _lattice(shape: tuple[int, int, int], every: int) -> np.ndarray:
    """(lanes, th, tw): position (r, q) of lane l is sampled when (q + 5r + 7l) % every == 0."""
    lanes, th, tw = shape
    index = np.arange(tw)[None, None, :] + 5 * np.arange(th)[None, :, None] + 7 * np.arange(lanes)[:, None, None]
    return index % every == 0


def _med(values: np.ndarray, lanes: np.ndarray, rows: np.ndarray, cols: np.ndarray, corner: int) -> np.ndarray:
    """MED predictions (n, C) at the given positions, as bbzip.natural.pixels computes them."""
    up, left = np.maximum(rows - 1, 0), np.maximum(cols - 1, 0)
    a = values[lanes, rows, left].astype(np.int64)
    b = values[lanes, up, cols].astype(np.int64)
    c = values[lanes, up, left].astype(np.int64)
    return med(a, b, c, rows[:, None], cols[:, None], corner)


def _outputs(net, canvas, features: np.ndarray, values: np.ndarray, lanes: np.ndarray, rows: np.ndarray,
             cols: np.ndarray, truth: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """Every head's outputs at the sampled positions (the values of pixels.row_outputs), and
    there the mixture centres and residuals (n, C)."""
    c = canvas.channels
    pred = _med(values, lanes, rows, cols, 128)
    residual = truth - pred
    base = pred
    if c > 1:
        difference = _med(values[..., 1:] - values[..., :1], lanes, rows, cols, 0)
        base = np.concatenate([pred[:, :1], np.clip(truth[:, :1] + difference, 0, 255)], axis=1)
    points = [np.concatenate([pixel_input(pred), residual_input(residual[:, :k])], axis=1).astype(np.float64)
              for k in range(c)]
    context = canvas.flat[lanes[:, None], canvas.offset(rows, cols)[:, None] + canvas.taps[None]].astype(np.float64)
    feats = features[lanes, rows // BLOCK, cols // BLOCK]
    spatial = net.spatial(context)
    outs = [head(spatial[:, k * HIDDEN : (k + 1) * HIDDEN], points[k], feats[:, k * HIDDEN : (k + 1) * HIDDEN])
            for k, head in enumerate(net.heads)]
    return outs, base, residual
