"""The decoder's per-pixel loop: one raster position of every image in a batch per step.

Decoding is sequential in raster order (each pixel's context holds earlier pixels), so a
batch of n images takes 784 steps, each on arrays of only n (<= 512) rows. At that size
numpy's cost is the number of calls, not the arithmetic, so this module computes exactly
what ``IntegerVAE.head`` and ``distributions`` compute, with as few calls as it can:

* each 1x1 layer's power-of-two scale is folded into its weights and offset, and the
  context layer's offset into an extra input that is always 1 (scaling by a power of two
  and adding integers stay exact in float64, so every floor sees the same value);
* features come pixel-major, so each step reads one contiguous (n, hidden) slice;
* an 8-bit pixel is settled by the mixture CDF at symbols 1 and 255 when it is black or
  white (most are), and the rest by a search over 1..254 in two or three rounds;
* the rANS pop is inlined on the message's heads.

``tests/test_vae.py`` checks it against the reference path symbol for symbol.
"""

from __future__ import annotations

import numpy as np

from bbzip.vae.distributions import PIXEL_VALUES
from bbzip.vae.fixed import (
    ACT_BITS,
    ACT_LIMIT,
    CDF_BITS,
    CDF_STEP_BITS,
    EXP_BITS,
    T_BITS,
    T_RANGE,
    TABLE_STEP_BITS,
)
from bbzip.vae.network import CONTEXT, CONTEXT_MASK, IMAGE, OUTPUT_LIMIT, PIXELS

_WIDTH = IMAGE + CONTEXT - 1  # the zero-padded canvas: 2 pixels each side
_ONE = _WIDTH * _WIDTH  # index of the canvas cell that always holds 1 (the bias input)
_ROWS, _COLS = np.nonzero(CONTEXT_MASK)
# For step p, the canvas cells of pixel p's causal context, then the constant cell.
CONTEXT_INDEX = np.array([np.append(_ROWS * _WIDTH + _COLS + (p // IMAGE) * _WIDTH + p % IMAGE, _ONE)
                          for p in range(PIXELS)])
CANVAS_CELL = np.array([(p // IMAGE + 2) * _WIDTH + p % IMAGE + 2 for p in range(PIXELS)])

_T_SHIFT = ACT_BITS + EXP_BITS - T_BITS
_T_OFFSET = T_RANGE << T_BITS
_T_MAX = (T_RANGE << T_BITS) - 1
_LOOKUP_SHIFT = T_BITS - CDF_STEP_BITS
_FULL = 1 << CDF_BITS
# Searches over the symbols 1..254 (0 and 255 are settled first): (step, probe offsets)
# per round. A middle lane has start(1) <= slot < start(255), so probes reach 255 at
# most, whose start is ``top``, and every lane ends at a symbol of at least 1.
_NARROW_ROUNDS = [(16, np.arange(16, 256, 16, dtype=np.int64)[:, None]),
                  (1, np.arange(1, 16, dtype=np.int64)[:, None])]
_WIDE_ROUNDS = [(64, np.arange(64, 256, 64, dtype=np.int64)[:, None]),
                (8, np.arange(8, 64, 8, dtype=np.int64)[:, None]),
                (1, np.arange(1, 8, dtype=np.int64)[:, None])]
_MANY_LANES = 64


def _folded(layer, ones_column: bool) -> np.ndarray:
    """The layer's (in, out) weights times its scale, with the scaled offset as an extra
    last input row (the input's always-1 column)."""
    weight = layer.weight_t * layer.scale
    return np.vstack([weight, layer.offset * layer.scale]) if ones_column else weight


class PixelStepper:
    """Per-model constants of the decoding loop (built once per model, reused)."""

    def __init__(self, model):
        net, tables = model.network, model.tables
        self.binary = model.binary
        self.hidden = net.hidden
        self.w_ctx = _folded(net.ctx, True)  # (13, hidden)
        # Contiguous (n, hidden) arrays run faster than views of wider ones: these two
        # layers add their offsets separately.
        self.w_head1, self.b_head1 = _folded(net.head1, False), net.head1.offset * net.head1.scale
        self.w_head2, self.b_head2 = _folded(net.head2, False), net.head2.offset * net.head2.scale
        self.input_lut = net.input_lut
        self.sigmoid = tables.sigmoid
        self.precision = tables.pixel_precision
        self.mask = np.uint64((1 << self.precision) - 1)
        self.spare = (1 << self.precision) - (2 if self.binary else PIXEL_VALUES)
        if not self.binary:
            self.inv_scale = tables.inv_scale
            self.neg_exp = tables.neg_exp
            self.scale_base = round(tables.log_scale_min * (1 << ACT_BITS))
            self.gap_cap = (len(tables.neg_exp) << (ACT_BITS - TABLE_STEP_BITS)) - 1
            self.k = net.head2.weight_t.shape[1] // 3

    # -- the network head: three 1x1 layers -------------------------------------------------
    def _head(self, context, features_p):
        """Mixture parameters (or logits) of one pixel of every image, as int64."""
        c = context @ self.w_ctx  # the context's last column is the constant 1
        np.floor(c, out=c)
        np.maximum(c, -ACT_LIMIT, out=c)
        np.minimum(c, ACT_LIMIT, out=c)
        np.add(c, features_p, out=c)
        np.maximum(c, 0, out=c)
        h = c @ self.w_head1
        h += self.b_head1
        np.floor(h, out=h)
        np.maximum(h, 0, out=h)
        np.minimum(h, ACT_LIMIT, out=h)
        out = h @ self.w_head2
        out += self.b_head2
        np.floor(out, out=out)
        np.maximum(out, -OUTPUT_LIMIT, out=out)
        np.minimum(out, OUTPUT_LIMIT, out=out)
        return out.astype(np.int64)

    def decode(self, message, features: np.ndarray) -> np.ndarray:
        """Pop the pixels of n images on lanes [0, n) given their features, pixel-major
        (784, n, hidden): (n, 784) symbols. The message raises CorruptError if it runs out."""
        n = features.shape[1]
        canvas = np.zeros((n, _ONE + 1))
        canvas[:, _ONE] = 1.0
        pixels = np.empty((PIXELS, n), dtype=np.int64)
        head = message.head[:n]  # a view: updated in place
        step = self._binary_step if self.binary else self._mixture_step
        for p in range(PIXELS):
            params = self._head(canvas[:, CONTEXT_INDEX[p]], features[p])
            slots = (head & self.mask).view(np.int64)
            symbols, low, freq = step(params, slots)
            # rANS pop (Message.pop inlined): undo the encoder's push of (low, freq).
            head[:] = freq.view(np.uint64) * (head >> np.uint64(self.precision)) + (slots - low).view(np.uint64)
            message.refill(head)
            pixels[p] = symbols
            canvas[:, CANVAS_CELL[p]] = self.input_lut[symbols]
        return pixels.T

    # -- binary pixels ---------------------------------------------------------------------
    def _binary_step(self, params, slots):
        t = params[:, 0] << (T_BITS - ACT_BITS)
        np.maximum(t, -_T_OFFSET, out=t)
        np.minimum(t, _T_MAX, out=t)
        t += _T_OFFSET
        t >>= _LOOKUP_SHIFT
        one = self.sigmoid[t]
        boundary = (((_FULL - one) * self.spare) >> CDF_BITS) + 1  # slot start of symbol 1
        ones = slots >= boundary
        low = np.where(ones, boundary, 0)
        freq = np.where(ones, (1 << self.precision) - boundary, boundary)
        return ones.view(np.int8).astype(np.int64), low, freq

    # -- 8-bit pixels: discretised logistic mixtures ---------------------------------------
    def _mixture_step(self, params, slots):
        k = self.k
        logits, means = params[:, :k], params[:, k : 2 * k]
        index = params[:, 2 * k :] - self.scale_base
        index >>= ACT_BITS - TABLE_STEP_BITS
        np.maximum(index, 0, out=index)
        np.minimum(index, len(self.inv_scale) - 1, out=index)
        inv_scales = self.inv_scale[index]
        gap = logits.max(axis=1, keepdims=True) - logits
        np.minimum(gap, self.gap_cap, out=gap)
        gap >>= ACT_BITS - TABLE_STEP_BITS
        weights = self.neg_exp[gap]
        weight_sum = weights.sum(axis=1)
        mix = (means, inv_scales, weights, weight_sum)
        one, top = self._starts(mix, _EXTREMES)
        black, white = slots < one, slots >= top
        symbols = np.where(black, 0, PIXEL_VALUES - 1)
        low = np.where(black, 0, top)
        high = np.where(black, one, 1 << self.precision)
        middle = np.flatnonzero(~(black | white))
        if len(middle):
            sub = (means[middle], inv_scales[middle], weights[middle], weight_sum[middle])
            found, found_low, found_high = self._search(sub, slots[middle], one[middle], top[middle])
            symbols[middle], low[middle], high[middle] = found, found_low, found_high
        return symbols, low, high - low

    def _starts(self, mix, symbols):
        """Slot starts of ``symbols`` (probes, lanes) or (probes, 1), all within 1..255."""
        means, inv_scales, weights, weight_sum = mix
        edge = (symbols << ACT_BITS) - (1 << (ACT_BITS - 1))
        t = (edge[..., None] - means) * inv_scales
        t >>= _T_SHIFT
        np.maximum(t, -_T_OFFSET, out=t)
        np.minimum(t, _T_MAX, out=t)
        t += _T_OFFSET
        t >>= _LOOKUP_SHIFT
        cdf = (self.sigmoid[t] * weights).sum(axis=-1) // weight_sum
        return ((cdf * self.spare) >> CDF_BITS) + symbols

    def _search(self, mix, slots, one, top):
        """Symbols in 1..254 whose slot range holds ``slots``, with their [low, high).

        Rounds of probes narrow each lane's range of symbols [base, base + width): few
        lanes take two rounds of 15 probes (fewer calls), many take three rounds of 3, 7
        and 7 probes (fewer elements). Both find the same symbols: the answer is unique."""
        m = len(slots)
        lanes = np.arange(m)
        base = np.zeros(m, dtype=np.int64)
        low, high = one, top
        for step, probes in _WIDE_ROUNDS if m > _MANY_LANES else _NARROW_ROUNDS:
            starts = self._starts(mix, base + probes)
            found = (starts <= slots).sum(axis=0)
            bounds = np.vstack([low[None], starts, high[None]])
            low, high = bounds[found, lanes], bounds[found + 1, lanes]
            base += step * found
        return base, low, high

_EXTREMES = np.array([[1], [PIXEL_VALUES - 1]], dtype=np.int64)


def stepper_for(model) -> PixelStepper:
    """The model's stepper, built on first use and kept with its network."""
    stepper = getattr(model.network, "pixel_stepper", None)
    if stepper is None:
        stepper = model.network.pixel_stepper = PixelStepper(model)
    return stepper

