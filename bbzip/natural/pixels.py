"""The pixels of every lane's tile: the canvas of network inputs, the encoder's slots of a
row and the decoder's pops of a row."""

from __future__ import annotations

import functools

import numpy as np

from bbzip.ans.rans import Message
from bbzip.fixedpoint.fixed import ACT_BITS
from bbzip.natural import context_classes
from bbzip.natural.constants import BLOCK, HIDDEN
from bbzip.natural.mixture import Mixtures
from bbzip.natural.network import CAUSAL, VALID, med, mixture_outputs, pixel_input, residual_input
from bbzip.natural.search import search_near
from bbzip.natural.tiles import Tiling, zeros_on_demand

PAD_TOP, PAD_SIDE = 3, 3  # canvas margins: the causal window reaches 3 up, 3 left and right

class Canvas:
    """Per-lane tiles with margins, as network inputs: C pixel channels and validity."""

    def __init__(self, tiling: Tiling, channels: int, part: slice = slice(None), lazy: bool = False):
        """``lazy``: the validity channel of a row is written by ``open_row``, when the decoder
        reaches it, so that memory follows the rows decoded, not the size a header claims
        (tiles.zeros_on_demand)."""
        self.tiling, self.channels = tiling, channels
        self.depth = channels + 1
        self.width = tiling.tw + 2 * PAD_SIDE
        self.heights, self.widths = (e[part] for e in tiling.lane_extent())
        self.lanes = len(self.heights)
        shape = (self.lanes, tiling.th + PAD_TOP, self.width, self.depth)
        self.data = zeros_on_demand(shape, np.int16) if lazy else np.zeros(shape, np.int16)
        if not lazy:
            for row in range(tiling.th):
                self.open_row(row)
        self.flat = self.data.reshape(self.lanes, -1)
        channel_major = [(dy * self.width + dx) * self.depth + ch for ch in range(self.depth) for dy, dx in CAUSAL]
        self.taps = np.array(channel_major, dtype=np.int64)

    @functools.cached_property
    def inside(self) -> np.ndarray:
        """(lanes, th, tw): which positions of each tile are in the image (the encoder's)."""
        rows = np.arange(self.tiling.th)[None, :, None] < self.heights[:, None, None]
        return rows & (np.arange(self.tiling.tw)[None, None, :] < self.widths[:, None, None])

    def inside_row(self, row: int) -> np.ndarray:
        """``inside[:, row]`` without the whole array."""
        return (row < self.heights)[:, None] & (np.arange(self.tiling.tw)[None, :] < self.widths[:, None])

    def open_row(self, row: int) -> None:
        """Writes row ``row``'s validity channel."""
        t = self.tiling
        self.data[:, PAD_TOP + row, PAD_SIDE : PAD_SIDE + t.tw, self.channels] = np.where(self.inside_row(row), VALID, 0)

    def offset(self, row, col):
        return ((row + PAD_TOP) * self.width + col + PAD_SIDE) * self.depth

    def fill(self, tiles: np.ndarray) -> None:
        t = self.tiling
        values = np.where(self.inside[..., None], pixel_input(tiles), 0)
        self.data[:, PAD_TOP:, PAD_SIDE : PAD_SIDE + t.tw, : self.channels] = values

    def pixel_inputs(self) -> np.ndarray:
        """The tiles as network inputs (lanes, th, tw, C): outside the image reads as 128."""
        t = self.tiling
        return self.data[:, PAD_TOP:, PAD_SIDE : PAD_SIDE + t.tw, : self.channels]

    def context(self, offsets: np.ndarray) -> np.ndarray:
        """Causal taps (channel-major) at flat offsets: (lanes, positions) -> (lanes * positions, taps)."""
        return self.flat[:, offsets[:, None] + self.taps[None]].reshape(-1, len(self.taps))


def _med_inputs(tiles: np.ndarray, row: int, cols: np.ndarray, corner: int = 128) -> np.ndarray:
    """MED predictions (lanes, positions, C) for row ``row`` at columns ``cols`` of every tile."""
    def at(r, cs):
        if r < 0:
            return np.full(tiles.shape[:1] + cs.shape + tiles.shape[-1:], 128, dtype=np.int64)
        return tiles[:, r, np.maximum(cs, 0)].astype(np.int64)
    a, b, c = at(row, cols - 1), at(row - 1, cols), at(row - 1, cols - 1)
    r = np.full(cols.shape, row)[None, :, None]
    return med(a, b, c, r, cols[None, :, None], corner)


def _colour_base(pred: np.ndarray, green: np.ndarray, difference_med: np.ndarray) -> np.ndarray:
    """Each channel's mixture centre before the network's offset: MED for G; this pixel's G
    plus the MED prediction of the channel's difference from G for R and B, in 0..255."""
    if pred.shape[1] == 1:
        return pred
    return np.concatenate([pred[:, :1], np.clip(green[:, None] + difference_med, 0, 255)], axis=1)


def row_outputs(net, canvas: Canvas, feats: np.ndarray, values: np.ndarray, row: int):
    """The encoder's view of one pixel row of every tile, vectorised over the row: per channel
    the head outputs, and the centres, residuals and true values (rows: lane-major)."""
    t, c = canvas.tiling, canvas.channels
    cols = np.arange(t.tw)
    pred = _med_inputs(values, row, cols).reshape(-1, c)
    feats = feats[:, cols // BLOCK].reshape(-1, feats.shape[-1])
    truth = values[:, row].reshape(-1, c)
    residual = truth - pred
    if c > 1:
        near = values[:, max(row - 1, 0) : row + 1]  # the rows MED reads: this one and the one above
        difference = _med_inputs(near[..., 1:] - near[..., :1], min(row, 1), cols, corner=0).reshape(-1, c - 1)
        base = _colour_base(pred, truth[:, 0], difference)
    else:
        base = pred
    points = [np.concatenate([pixel_input(pred), residual_input(residual[:, :k])], axis=1).astype(np.float64)
              for k in range(c)]
    spatial = net.spatial(canvas.context(canvas.offset(row, cols)).astype(np.float64))
    outs = []
    for k in range(c):
        part = slice(k * HIDDEN, (k + 1) * HIDDEN)
        outs.append(net.heads[k](spatial[:, part], points[k], feats[:, part]))
    return outs, base, residual, truth


def row_slots(model, net, canvas: Canvas, feats: np.ndarray, values: np.ndarray, row: int, calib):
    """(start, freq) of every subpixel of one pixel row of every tile, shaped (tw * C, lanes),
    columns then channels: the encoder's side of ``decode_row``. ``calib``: the block's
    bbzip.natural.calibration.Calibration. The compiled encoder's equivalent is
    bbzip.natural.encode_rows.BlockRows.slots."""
    t, c = canvas.tiling, canvas.channels
    precision = model.tables.pixel_precision
    starts = np.zeros((t.tw, c, canvas.lanes), dtype=np.int64)
    freqs = np.full((t.tw, c, canvas.lanes), 1 << precision, dtype=np.int64)
    inside = canvas.inside[:, row].T  # (tw, lanes)
    outs, base, residual, truth = row_outputs(net, canvas, feats, values, row)
    for k in range(c):
        offset = np.repeat(calib.offsets[:, k], t.tw)  # rows are lane-major
        adjust = context_classes.row_adjust(calib, k, values, row, residual, canvas.widths, t.tw)
        params = mixture_outputs(outs[k], base[:, k], residual[:, :k], offset, adjust)
        mixtures = Mixtures(params, model.tables)
        low = mixtures.starts(truth[:, k]).reshape(canvas.lanes, t.tw).T
        high = mixtures.starts(truth[:, k] + 1).reshape(canvas.lanes, t.tw).T
        starts[:, k] = np.where(inside, low, 0)
        freqs[:, k] = np.where(inside, high - low, 1 << precision)
    return starts.reshape(-1, canvas.lanes), freqs.reshape(-1, canvas.lanes)


# Log-scale offsets are in units of 1/16 (bbzip/natural/calibration.py chooses them).
OFFSET_UNIT = 1 << (ACT_BITS - 4)


def decode_row(model, net, message: Message, canvas: Canvas, feats: np.ndarray, tiles: np.ndarray,
                row: int, calib) -> None:
    """Pop one pixel row of every tile, in raster then channel order, into tiles and canvas."""
    tables = model.tables
    precision = tables.pixel_precision
    full = 1 << precision
    lanes, c = len(tiles), canvas.channels
    point = np.empty((lanes, 2 * c))  # MED inputs, then the residuals decoded so far
    residual = np.zeros((lanes, c), dtype=np.int64)
    inside_row = canvas.inside_row(row)
    for col in range(canvas.tiling.tw):
        inside = inside_row[:, col]
        everywhere = bool(inside.all())
        spatial = net.spatial(canvas.context(np.array([canvas.offset(row, col)])).astype(np.float64))
        pred = _med_at(tiles, row, col)
        point[:, :c] = pixel_input(pred)
        base = pred
        block_feats = feats[:, col // BLOCK]
        for k in range(c):
            part = slice(k * HIDDEN, (k + 1) * HIDDEN)
            out = net.heads[k](spatial[:, part], point[:, : c + k], block_feats[:, part])
            adjust = context_classes.step_adjust(calib, k, tiles, row, col, residual, canvas.widths)
            params = mixture_outputs(out, base[:, k], residual[:, :k], calib.offsets[:, k], adjust)
            mixtures = Mixtures(params, tables)
            symbols, low, high = search_near(message, mixtures)
            if everywhere:
                message.pop(low, high - low, precision)
            else:
                message.pop(np.where(inside, low, 0), np.where(inside, high - low, full), precision)
                symbols = np.where(inside, symbols, 0)
            tiles[:, row, col, k] = symbols
            residual[:, k] = symbols - pred[:, k]
            point[:, c + k] = residual_input(residual[:, k])
            if k == 0 and c > 1:
                difference = _med_at(tiles, row, col, corner=0, difference=True)
                base = _colour_base(pred, symbols, difference)
        canvas.data[:, PAD_TOP + row, PAD_SIDE + col, :c] = np.where(inside[:, None], pixel_input(tiles[:, row, col]), 0)


def _med_at(tiles: np.ndarray, row: int, col: int, corner: int = 128, difference: bool = False) -> np.ndarray:
    """MED predictions (lanes, C) at one position of every tile; with ``difference``, of the
    channels after the first minus the first (corner 0)."""
    def at(r, q):  # the tiles may be bytes: differences and MED need wider integers
        pixel = tiles[:, r, q].astype(np.int64)
        return pixel[:, 1:] - pixel[:, :1] if difference else pixel
    up, left = max(row - 1, 0), max(col - 1, 0)  # med() reads only the neighbours that exist
    return med(at(row, left), at(up, col), at(up, left), row, col, corner)
