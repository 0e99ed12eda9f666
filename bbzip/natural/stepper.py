"""The decoder's pixel rows with compiled kernels: bbzip.natural.pixels.decode_row's work,
a whole row of a lane group per call of bbzip.natural.fused.decode_row.

The stepper keeps lane-minor copies of the canvas and the tiles (a step reads each lane's
neighbourhood: with lanes last, those reads are contiguous), each row copied in before it
is decoded and written back after, and the model's weights stacked as the kernel takes
them. Every value is the numpy path's; the lanes' heads are one array that the messages of
all lane groups view. The messages are a decoder's (they never borrow past their tail).
"""

from __future__ import annotations

import numpy as np

from bbzip.errors import CorruptError
from bbzip.natural.compiled import ACT_LIMIT, Tables
from bbzip.natural.constants import HIDDEN, MIXTURES
from bbzip.natural.context_classes import stepper_table
from bbzip.natural.network import CAUSAL, VALID
from bbzip.natural.pixels import PAD_SIDE, PAD_TOP

# Pixel positions (columns x lanes) of one pass of the known taps' product.
_PASS_ROWS = 4096


def _stack(arrays, shape) -> np.ndarray:
    """Arrays of different leading sizes in one zero-padded float array of ``shape``."""
    out = np.zeros(shape)
    for k, a in enumerate(arrays):
        out[(k,) + tuple(slice(0, n) for n in a.shape)] = a
    return out


class Validity:
    """The validity taps' share of the taps' product: a validity tap reads VALID where its
    position is inside the lane's image (0 <= row < height, 0 <= column < width) and 0 in
    the margins, so its sum follows from the position and the lane's extent. Lanes fall in
    a few classes of extent (whole tiles, the image's right and bottom edges); a row's table
    holds each class's sum at each column, exact integers as BLAS's would be."""

    def __init__(self, canvas, offsets: list[tuple[int, int]], weights: np.ndarray):
        extents = np.stack([canvas.heights, canvas.widths], axis=1).astype(np.int64)
        self.extents, lane_class = np.unique(extents, axis=0, return_inverse=True)
        self.lane_class = np.ascontiguousarray(lane_class.reshape(-1), dtype=np.int64)
        self.dy, self.dx = (np.array(v, dtype=np.int64)[:, None] for v in zip(*offsets))
        self.columns = np.arange(canvas.tiling.tw)[None, :] + self.dx  # (taps, columns)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64) * VALID

    def row(self, row: int) -> np.ndarray:
        """(classes, columns, C * HIDDEN): the validity taps' product at each column of ``row``."""
        rows = row + self.dy
        heights, widths = (e[:, None, None] for e in self.extents.T)
        inside = (rows >= 0) & (rows < heights) & (self.columns >= 0) & (self.columns < widths)
        return np.ascontiguousarray(inside.transpose(0, 2, 1).astype(np.float64) @ self.weights)


class Stepper:
    """Decodes pixel rows of every lane with bbzip.natural.fused.decode_row, on lane-minor
    copies of the canvas and tiles."""

    def __init__(self, model, net, canvas, tiles: np.ndarray, calib, message):
        from bbzip.natural import fused

        self.fused = fused
        self.canvas, self.tiles = canvas, tiles
        self.heights, self.widths = (np.ascontiguousarray(e, dtype=np.int64) for e in (canvas.heights, canvas.widths))
        self.kernels = Tables(model.tables)
        self.messages = getattr(message, "messages", [message])
        self.head = np.concatenate([m.head for m in self.messages])
        self.bounds, start = [], 0
        for m in self.messages:  # every group's message works on its part of one array
            m.head = self.head[start : start + m.lanes]
            self.bounds.append((start, start + m.lanes))
            start += m.lanes
        lanes, c = len(tiles), canvas.channels
        # Zeros (as the canvas's pixels and the tiles are before any row), filled row by row:
        # pages untouched by the rows decoded take no memory.
        self.grid = np.zeros(canvas.data.shape[1:] + (lanes,), dtype=canvas.data.dtype)
        self.tiles_t = np.zeros(tiles.shape[1:] + (lanes,), dtype=tiles.dtype)
        self.margins = np.array([PAD_TOP, PAD_SIDE], dtype=np.int64)
        # The taps' product split in three exact sums: the pixels of the rows above, for the
        # whole row by BLAS; the validity taps, which follow from the position and the lane's
        # extent alone, a table per row (Validity); the row's own pixels to the left, per step.
        taps = [(ch, dy + PAD_TOP, dx + PAD_SIDE) for ch in range(canvas.depth) for dy, dx in CAUSAL]
        known = [t for t, (ch, dy, _) in enumerate(taps) if dy < PAD_TOP and ch < c]
        validity = [t for t, (ch, _, _) in enumerate(taps) if ch == c]
        stepped = [t for t, (ch, dy, _) in enumerate(taps) if dy == PAD_TOP and ch < c]
        self.known_taps, self.taps = (np.array([taps[t] for t in part], dtype=np.int64) for part in (known, stepped))
        self.known_w = np.ascontiguousarray(net.spatial_t[known])
        self.validity = Validity(canvas, [CAUSAL[t % len(CAUSAL)] for t in validity], net.spatial_t[validity])
        heads, outputs = net.heads, (2 + c) * MIXTURES
        self.net = (np.ascontiguousarray(net.spatial_t[stepped]), _stack([h.point_t for h in heads], (c, 2 * c, HIDDEN)))
        # Columns a pass: its known products stay a few megabytes however many lanes.
        self.step = max(1, _PASS_ROWS // lanes)
        self.known_context = np.empty((len(known), self.step * lanes))
        self.known = np.empty((self.step * lanes, c * HIDDEN))
        self.first = np.array([[h.offset for h in heads], [h.scale for h in heads]], dtype=np.float64)
        layers = [[h.layer1 for h in heads], [h.layer2 for h in heads]]
        self.hidden = (np.array([[layer.weight_t.T for layer in ls] for ls in layers], dtype=np.float64),
                       np.array([[[layer.offset for layer in ls], [layer.scale for layer in ls]] for ls in layers]))
        self.output = (_stack([h.out.weight_t.T for h in heads], (c, outputs, HIDDEN)),
                       np.stack([_stack([h.out.offset for h in heads], (c, outputs)),
                                 _stack([h.out.scale for h in heads], (c, outputs))]))
        adjust = (np.zeros((c, 0, 3 * MIXTURES), np.int64) if calib.adjust is None
                  else calib.adjust.transpose(1, 0, 2))
        if calib.context is not None:  # rows k * K + class (bbzip.natural.context_classes)
            adjust = stepper_table(calib, c)
        self.adjust = np.ascontiguousarray(adjust, dtype=np.int64)
        self.offsets = np.ascontiguousarray(calib.offsets, dtype=np.int64)
        self.limit = float(self.kernels.consts[ACT_LIMIT])
        padded = lanes + 7  # the products' four-lane blocks run up to three rows past a group
        self.scratch = (np.zeros((padded, len(stepped))), np.zeros((padded, c * HIDDEN)),
                        np.zeros((padded, HIDDEN)), np.zeros((padded, HIDDEN)), np.zeros((padded, outputs)),
                        np.zeros((padded, 2 * c)), np.zeros((3, padded, c), np.int64))

    def row(self, features: np.ndarray, row: int) -> None:
        canvas, tables = self.canvas, self.kernels
        features = np.ascontiguousarray(features, dtype=np.float64)  # (lanes, block columns, C * hidden)
        self.grid[PAD_TOP + row] = canvas.data[:, PAD_TOP + row].transpose(1, 2, 0)  # its validity (open_row)
        valid = self.validity.row(row)
        for start in range(0, canvas.tiling.tw, self.step):
            cols = np.array([start, min(start + self.step, canvas.tiling.tw)], dtype=np.int64)
            rows = (cols[1] - cols[0]) * len(self.head)
            self.fused.gather_known(self.grid, row, cols, self.known_taps, self.known_context)
            known = self.known[:rows]
            np.matmul(self.known_context[:, :rows].T, self.known_w, out=known)
            for message, (lo, hi) in zip(self.messages, self.bounds):
                size = self.fused.decode_row(row, cols, lo, hi, self.grid, self.tiles_t, self.heights, self.widths,
                                             self.margins, self.taps, known, valid, self.validity.lane_class,
                                             features, self.net, self.first,
                                             self.hidden, self.output, self.adjust, self.offsets, self.head,
                                             message.tail_room(0), message.tail_words, tables.consts, tables.sigmoid,
                                             tables.inv_scale, tables.neg_exp, self.scratch, self.limit)
                if size < 0:
                    raise CorruptError("compressed data ends early (rANS tail exhausted)")
                message.drop_tail_words(size)
        self.tiles[:, row] = self.tiles_t[row].transpose(2, 0, 1)
        canvas.data[:, PAD_TOP + row] = self.grid[PAD_TOP + row].transpose(2, 0, 1)


def warm(model, channels: int = 3) -> None:
    """Loads the row kernels as a decode calls them (numba's cache, on their first call), at
    a fraction of a tiny image's coding: one row of an 8x8 image from a message with no tail,
    which runs out (the error is the expected end)."""
    from bbzip.natural.calibration import calibration
    from bbzip.natural.pixels import Canvas
    from bbzip.natural.tiles import Tiling

    tiling = Tiling.of(1, 8, 8, 8)
    canvas = Canvas(tiling, channels, lazy=True)
    tiles = np.zeros((1, tiling.th, tiling.tw, channels), np.uint8)
    calib = calibration(np.zeros(3, np.int64), None, None, tiling.lane_origins()[0], channels)
    message = model.read_message(model.new_message(1).to_bytes(), 1)  # a decoder's, as read from a file
    stepper = Stepper(model, model.network(channels), canvas, tiles, calib, message)
    canvas.open_row(0)
    try:
        stepper.row(np.zeros((1, tiling.tw // 8, channels * HIDDEN)), 0)
    except CorruptError:
        pass
