"""The encoder's pixel likelihoods: the slot (start, freq) of every pixel of a batch at once.

The encoder knows every pixel before it codes any, so unlike the decoder's stepper it runs
the per-pixel head over whole chunks of pixels. It computes exactly what
``IntegerVAE.head`` and ``PixelMixtures`` / ``PixelBernoulli`` compute, in fewer passes:

* the head's 1x1 layers have their power-of-two scales folded into their weights and
  their offsets into an extra weight met by an always-1 input (exact in float64, as in
  ``trunk``);
* the head runs channel-major, (channel, pixel), on a chunk of pixels at a time (its
  arrays stay in the core's cache): narrow products run faster with the pixels as columns,
  every elementwise pass is contiguous, and the mixture parameters come out
  component-major, so the sum over components adds whole rows;
* slots come out pixel-major, (pixel, image), as the pushes want them;
* a pixel needs the CDF at its symbol and the next one, but at 0 and 256 the CDF is 0 and
  1 outright: black and white pixels (most of a digit) take one evaluation, not two.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bbzip.vae.distributions import PIXEL_VALUES
from bbzip.fixedpoint.fixed import ACT_BITS, ACT_LIMIT, CDF_BITS, CDF_STEP_BITS, EXP_BITS, T_BITS, T_RANGE
from bbzip.fixedpoint.fixed import CDF_INDEX_SHIFT, TABLE_STEP_BITS, slot_starts
from bbzip.vae.network import CONTEXT, CONTEXT_MASK, CONTEXT_TAPS, IMAGE, OUTPUT_LIMIT, PIXELS
from bbzip.vae.trunk import fold

_WIDTH = IMAGE + CONTEXT - 1  # the zero-padded canvas: 2 pixels each side
CELLS = _WIDTH * _WIDTH  # and one more cell that always holds 1 (the context layer's bias input)
# Per pixel, the canvas cells of its causal context (as IntegerVAE.context orders them),
# then the constant cell; and the cell of the pixel itself. The decoder's stepper uses the
# same canvas.
_WINDOWS = sliding_window_view(np.arange(CELLS).reshape(_WIDTH, _WIDTH), (CONTEXT, CONTEXT))
CONTEXT_CELLS = np.hstack([_WINDOWS[..., CONTEXT_MASK].reshape(PIXELS, CONTEXT_TAPS),
                           np.full((PIXELS, 1), CELLS)])
PIXEL_CELLS = np.arange(CELLS).reshape(_WIDTH, _WIDTH)[2:-2, 2:-2].reshape(-1)
# Pixels of all images per chunk: (hidden, pixels) float64 arrays of 2 MiB at most.
_CHUNK_ROWS = 8192
# Within a chunk, each product covers a block of at most this many pixels of all images:
# OpenBLAS multiplies matrices of up to 10**6 multiply-adds without packing them first,
# which for these narrow layers runs about twice as fast.
_BLOCK_ROWS = 900
_DIVISORS = [d for d in range(1, PIXELS + 1) if PIXELS % d == 0]
# The table index of (edge - mean) * inv_scale is floor((v + offset) / 2**CDF_INDEX_SHIFT),
# clipped to the table (exact: integer shifts).
_INDEX_OFFSET = (T_RANGE << T_BITS) << (ACT_BITS + EXP_BITS - T_BITS)
_INDEX_MAX = (2 * (T_RANGE << T_BITS) - 1) >> (T_BITS - CDF_STEP_BITS)
_FULL = 1 << CDF_BITS


class PixelSlots:
    """Per-model constants of the encoder's likelihood step (built once per model)."""

    def __init__(self, model):
        net, tables = model.network, model.tables
        self.binary = model.binary
        self.hidden = net.hidden
        self.lut = net.input_lut
        # Transposed, (out, in + 1), for the channel-major head.
        self.ctx, self.head1, self.head2 = (
            np.ascontiguousarray(fold(layer.weight_t, layer.offset, layer.scale).T)
            for layer in (net.ctx, net.head1, net.head2))
        self.tables = tables
        self.precision = tables.pixel_precision
        self.spare = (1 << self.precision) - (2 if self.binary else PIXEL_VALUES)
        self.scale_base = round(tables.log_scale_min * (1 << ACT_BITS))
        self.gap_cap = (len(tables.neg_exp) << (ACT_BITS - TABLE_STEP_BITS)) - 1

    def __call__(self, images: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (n, 28, 28) and their pixel-major features (784, n, hidden) -> each
        pixel's slot start and frequency, (784, n) int64 each."""
        n = len(images)
        # Zero-padded images, cell-major (cell, image): a chunk of pixels gathers its
        # contexts as whole rows.
        canvas = np.zeros((CELLS + 1, n))
        canvas[:CELLS].reshape(_WIDTH, _WIDTH, n)[2:-2, 2:-2] = self.lut[images].transpose(1, 2, 0)
        canvas[CELLS] = 1.0
        symbols = images.reshape(n, PIXELS).T.astype(np.int64)
        low = np.empty((PIXELS, n), dtype=np.int64)
        freq = np.empty((PIXELS, n), dtype=np.int64)
        # Blocks of whole raster positions that tile the image, so every chunk is whole blocks.
        block = max([d for d in _DIVISORS if d * n <= _BLOCK_ROWS] or [1])
        step = block * max(1, _CHUNK_ROWS // (block * n))
        # Inputs of head1 and head2 with an always-1 last row.
        buffers = np.ones((2, step // block, self.hidden + 1, block * n))
        for p in range(0, PIXELS, step):
            part = slice(p, min(PIXELS, p + step))
            context = canvas[CONTEXT_CELLS[part].T].reshape(len(CONTEXT_CELLS[0]), -1)
            params = self._head(context, features[part], buffers)
            slots = self._binary if self.binary else self._mixtures
            start, width = slots(params, symbols[part].reshape(-1))
            low[part], freq[part] = start.reshape(-1, n), width.reshape(-1, n)
        return low, freq

    def _head(self, context: np.ndarray, features: np.ndarray, buffers) -> np.ndarray:
        """(13, rows) contexts and (P, n, hidden) features, rows = P*n -> (outputs, rows)
        int64. Arrays run (block, channel, pixel within the block)."""
        rows = context.shape[1]
        blocks = rows // buffers.shape[-1]
        c = np.matmul(self.ctx, context.reshape(len(context), blocks, -1).transpose(1, 0, 2))
        np.floor(c, out=c)
        np.clip(c, -ACT_LIMIT, ACT_LIMIT, out=c)
        c += features.reshape(blocks, -1, features.shape[-1]).transpose(0, 2, 1)
        g = buffers[0, :blocks]
        np.maximum(c, 0, out=g[:, :-1])
        h = np.matmul(self.head1, g)
        np.floor(h, out=h)
        g = buffers[1, :blocks]
        np.clip(h, 0, ACT_LIMIT, out=g[:, :-1])
        out = np.matmul(self.head2, g)
        np.floor(out, out=out)
        np.clip(out, -OUTPUT_LIMIT, OUTPUT_LIMIT, out=out)
        params = np.empty((out.shape[1], rows), dtype=np.int64)
        params.reshape(out.shape[1], blocks, -1)[...] = out.transpose(1, 0, 2)
        return params

    def _binary(self, params: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``PixelBernoulli``: symbol 1's slot start is the boundary b; 0 owns [0, b)."""
        t = np.clip(params[0] << (T_BITS - ACT_BITS), -(T_RANGE << T_BITS), (T_RANGE << T_BITS) - 1)
        one = self.tables.sigmoid[(t + (T_RANGE << T_BITS)) >> (T_BITS - CDF_STEP_BITS)]
        boundary = slot_starts(_FULL - one, self.spare, 1)
        ones = symbols == 1
        low = np.where(ones, boundary, 0)
        return low, np.where(ones, 1 << self.precision, boundary) - low

    def _mixtures(self, params: np.ndarray, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``PixelMixtures``: slot starts at the symbol and the next, from (3k, M) params."""
        tables = self.tables
        k = len(params) // 3
        logits, means = params[:k], params[k : 2 * k]
        index = params[2 * k :] - self.scale_base
        index >>= ACT_BITS - TABLE_STEP_BITS
        np.clip(index, 0, len(tables.inv_scale) - 1, out=index)
        inv_scales = tables.inv_scale[index]
        gap = logits.max(axis=0) - logits
        np.minimum(gap, self.gap_cap, out=gap)
        gap >>= ACT_BITS - TABLE_STEP_BITS
        weights = tables.neg_exp[gap]
        mix = means, inv_scales, weights, weights.sum(axis=0)
        # Black pixels need start(1) (start(0) is 0); every other pixel needs start(s), and
        # start(s + 1) unless s is white (start(256) is the total).
        low = self._starts(mix, np.maximum(symbols, 1))
        black = symbols == 0
        high = np.where(black, low, 1 << self.precision)
        low[black] = 0
        middle = np.flatnonzero((symbols > 0) & (symbols < PIXEL_VALUES - 1))
        if len(middle):
            part = tuple(a[..., middle] for a in mix)
            high[middle] = self._starts(part, symbols[middle] + 1)
        return low, high - low

    def _starts(self, mix, symbols: np.ndarray) -> np.ndarray:
        """Slot starts of ``symbols`` in 1..255, one per pixel."""
        means, inv_scales, weights, weight_sum = mix
        edge = (symbols << ACT_BITS) - (1 << (ACT_BITS - 1))
        v = (edge - means) * inv_scales
        v += _INDEX_OFFSET
        v >>= CDF_INDEX_SHIFT
        np.clip(v, 0, _INDEX_MAX, out=v)
        cdf = (self.tables.sigmoid[v] * weights).sum(axis=0) // weight_sum
        return slot_starts(cdf, self.spare, symbols)


def pixel_slots_for(model) -> PixelSlots:
    """The model's PixelSlots, built on first use and kept with its network."""
    slots = getattr(model.network, "pixel_slots", None)
    if slots is None:
        slots = model.network.pixel_slots = PixelSlots(model)
    return slots
