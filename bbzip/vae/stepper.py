"""The decoder's per-pixel loop: one raster position of every image in a batch per step.

Decoding is sequential in raster order (each pixel's context holds earlier pixels, and
each lane pops one symbol at a time), so a batch of n images takes 784 steps, each on
arrays of only n (<= 512) lanes. At that size numpy's cost is the number of calls and
their per-call overhead, not the arithmetic, so this module computes exactly what
``IntegerVAE.head`` and ``distributions`` compute, in as few and as cheap calls as it can:

* arrays are lane-minor, (rows, lanes): a pixel's context is a gather of 13 canvas rows,
  the layers are (out, in) @ (in, lanes) products, and sums over mixture components
  reduce over a leading axis (numpy reduces a trailing axis of 5 several times slower);
* each 1x1 layer's power-of-two scale and offset are folded into its weights, the offset
  against an input row that is always 1 (scaling by a power of two and adding integers
  stay exact in float64, so every floor sees the same value);
* table lookups that clip their index first read extended tables instead, whose entries
  past the ends repeat the end values, and a centred logistic table that negative
  indices wrap into: one gather instead of a subtract, a shift and two clips;
* an 8-bit pixel is settled by the mixture CDF at symbols 1 and 255 when it is black or
  white (most are), and the rest by a search over 1..254 in rounds of probes;
* the rANS pop is inlined on the message's heads.

``tests/test_vae.py`` checks it against the reference path symbol for symbol.
"""

from __future__ import annotations

import numpy as np

from bbzip.fixedpoint.fixed import (
    ACT_BITS,
    ACT_LIMIT,
    CDF_BITS,
    CDF_HALF_TABLE,
    CDF_INDEX_SHIFT,
    CDF_STEP_BITS,
    SCALE_INDEX_SHIFT,
    T_BITS,
    slot_starts,
)
from bbzip.vae.distributions import PIXEL_VALUES
from bbzip.vae.likelihood import CELLS, CONTEXT_CELLS, PIXEL_CELLS
from bbzip.vae.network import OUTPUT_LIMIT, PIXELS
from bbzip.vae.trunk import fold

_LOOKUP_SHIFT = T_BITS - CDF_STEP_BITS  # a binary pixel's logit, in units 2**-T_BITS, to table steps
_FULL = 1 << CDF_BITS


def _clip(values: np.ndarray, low: int, high: int, out: np.ndarray) -> np.ndarray:
    """np.clip in place as two public ufuncs: np.clip's Python wrapper costs more than a
    small array's work."""
    np.maximum(values, low, out=out)
    return np.minimum(out, high, out=out)


def _edges(symbols: np.ndarray) -> np.ndarray:
    """Lower edges of the symbols' bins in activation units, shaped (probes, 1) to
    broadcast against (components, 1, lanes)."""
    return ((symbols.astype(np.int64) << ACT_BITS) - (1 << (ACT_BITS - 1)))[:, None]


_EXTREMES = np.array([1, PIXEL_VALUES - 1])
_EXTREME_EDGES = _edges(_EXTREMES)


def _folded(layer) -> np.ndarray:
    """``trunk.fold`` transposed: (out, in + 1), for layers that act on (in, lanes)."""
    return np.ascontiguousarray(fold(layer.weight_t, layer.offset, layer.scale).T)


def _extended(table: np.ndarray, first: int, length: int) -> np.ndarray:
    """``table[clip(j - first, 0, len - 1)]`` for j in [-length/2, length/2), laid out so
    that a negative j wraps to its entry (numpy's negative indexing)."""
    j = np.concatenate([np.arange(length // 2), np.arange(-(length // 2), 0)])
    return table[np.clip(j - first, 0, len(table) - 1)]


class PixelStepper:
    """Per-model constants of the decoding loop (built once per model, reused)."""

    def __init__(self, model):
        net, tables = model.network, model.tables
        self.binary = model.binary
        self.hidden = net.hidden
        self.w_ctx = _folded(net.ctx)  # (hidden, 13): the context's last row is the constant 1
        self.w_head1 = _folded(net.head1)  # (hidden, hidden + 1)
        self.w_head2 = _folded(net.head2)  # (outputs, hidden + 1)
        self.input_lut = net.input_lut
        self.precision = tables.pixel_precision
        self.mask = np.uint64((1 << self.precision) - 1)
        self.spare = (1 << self.precision) - (2 if self.binary else PIXEL_VALUES)
        # Centred logistic table: entry u (negative u wraps) is sigmoid[u + CDF_HALF_TABLE].
        self.sigmoid = np.roll(tables.sigmoid, -CDF_HALF_TABLE)
        self.sigmoid_table = tables.sigmoid
        if not self.binary:
            self.k = net.head2.weight_t.shape[1] // 3
            # Head outputs are clipped to +-OUTPUT_LIMIT, so after the table shift every
            # index lies in +-(OUTPUT_LIMIT >> SCALE_INDEX_SHIFT) + 1 (a log-scale) or in
            # [0, 2 * OUTPUT_LIMIT >> SCALE_INDEX_SHIFT] (a logit's gap below the largest).
            span = 2 * ((2 * OUTPUT_LIMIT >> SCALE_INDEX_SHIFT) + 2)
            # A multiple of the table's step (bbzip.fixedpoint.invariants checks it on load).
            scale_base = round(tables.log_scale_min * (1 << ACT_BITS))
            self.inv_scale = _extended(tables.inv_scale, scale_base >> SCALE_INDEX_SHIFT, span)
            self.weight_of_gap = _extended(tables.neg_exp, 0, span)

    # -- the network head: three 1x1 layers -------------------------------------------------
    def _head(self, context: np.ndarray, features_p: np.ndarray, g: np.ndarray, h: np.ndarray) -> np.ndarray:
        """Mixture parameters (or the logit) of one pixel of every lane, (outputs, lanes)
        int64. ``g``, ``h``: (hidden + 1, lanes) buffers whose last row holds 1."""
        hidden = self.hidden
        c = self.w_ctx @ context
        np.floor(c, out=c)
        _clip(c, -ACT_LIMIT, ACT_LIMIT, out=c)
        inner = g[:hidden]
        np.add(c, features_p, out=inner)
        np.maximum(inner, 0, out=inner)
        inner = h[:hidden]
        np.matmul(self.w_head1, g, out=inner)
        np.floor(inner, out=inner)
        _clip(inner, 0, ACT_LIMIT, out=inner)
        out = self.w_head2 @ h
        np.floor(out, out=out)
        _clip(out, -OUTPUT_LIMIT, OUTPUT_LIMIT, out=out)
        return out.astype(np.int64)

    def decode(self, message, features: np.ndarray, compiled: bool = False) -> np.ndarray:
        """Pop the pixels of n images on lanes [0, n) given their features, pixel-major
        (784, n, hidden): (n, 784) symbols. The message raises CorruptError if it runs out.

        ``compiled``: run 8-bit steps through ``bbzip.vae.compiled`` when numba is
        installed (the same symbols and message; worth its import on blocks of many steps)."""
        n = features.shape[1]
        canvas = np.zeros((CELLS + 1, n))
        canvas[CELLS] = 1.0
        g, h = np.ones((self.hidden + 1, n)), np.ones((self.hidden + 1, n))
        pixels = np.empty((PIXELS, n), dtype=np.int64)
        head = message.head[:n]  # a view: updated in place
        step = self._numpy_step
        if compiled and not self.binary:
            from bbzip.vae import compiled as kernels

            if kernels.available():
                step = self._compiled_step(kernels, n)
        for p in range(PIXELS):
            symbols, refill = step(canvas[CONTEXT_CELLS[p]], features[p], g, h, head)
            if refill:
                message.refill(head)
            pixels[p] = symbols
            canvas[PIXEL_CELLS[p]] = self.input_lut[symbols]
        return pixels.T

    def _numpy_step(self, context, features_p, g, h, head) -> tuple[np.ndarray, bool]:
        """One pixel of every lane: its symbols, and whether heads may need a refill."""
        params = self._head(context, features_p.T, g, h)
        slots = (head & self.mask).view(np.int64)
        symbols, low, freq = (self._binary_step if self.binary else self._mixture_step)(params, slots)
        # rANS pop (Message.pop inlined): undo the encoder's push of (low, freq).
        slots -= low
        head[:] = freq.view(np.uint64) * (head >> np.uint64(self.precision)) + slots.view(np.uint64)
        return symbols, True

    def _compiled_step(self, kernels, n: int):
        """``_numpy_step`` with the elementwise work fused into compiled calls: numpy keeps
        the three matrix products."""
        symbols = np.empty(n, dtype=np.int64)
        hidden = self.hidden
        tables = (self.inv_scale, self.weight_of_gap, self.sigmoid_table, self.spare, self.precision)
        consts = kernels.constants()

        def step(context, features_p, g, h, head):
            kernels.context_layer(self.w_ctx @ context, features_p, g, ACT_LIMIT)
            np.matmul(self.w_head1, g, out=h[:hidden])
            kernels.requantise_rows(h, hidden, ACT_LIMIT)
            under = kernels.mixture_pop(self.w_head2 @ h, OUTPUT_LIMIT, head, *tables, symbols, consts)
            return symbols, under > 0  # read before the next step overwrites it

        return step

    # -- binary pixels ---------------------------------------------------------------------
    def _binary_step(self, params, slots):
        t = (params[0] << (T_BITS - ACT_BITS)) >> _LOOKUP_SHIFT
        _clip(t, -CDF_HALF_TABLE, CDF_HALF_TABLE - 1, out=t)
        one = self.sigmoid[t]
        boundary = slot_starts(_FULL - one, self.spare, 1)  # slot start of symbol 1
        ones = slots >= boundary
        low = np.where(ones, boundary, 0)
        freq = np.where(ones, (1 << self.precision) - boundary, boundary)
        return ones.view(np.int8).astype(np.int64), low, freq

    # -- 8-bit pixels: discretised logistic mixtures ---------------------------------------
    def _mixture_step(self, params, slots):
        k = self.k
        n = params.shape[1]
        # mix: means, inverse scales, weights, each (k, lanes); aux: weight sums, slots,
        # slot starts of symbols 1 and 255, each (lanes,). Stacked so that the middle lanes
        # are picked out in two gathers.
        mix = np.empty((3, k, n), dtype=np.int64)
        aux = np.empty((4, n), dtype=np.int64)
        mix[0] = params[k : 2 * k]
        means, inv_scales, weights = mix
        np.take(self.inv_scale, params[2 * k :] >> SCALE_INDEX_SHIFT, out=inv_scales)
        logits = params[:k]
        gap = logits.max(axis=0) - logits
        gap >>= SCALE_INDEX_SHIFT
        np.take(self.weight_of_gap, gap, out=weights)
        np.add.reduce(weights, axis=0, out=aux[0])
        aux[1] = slots
        self._starts(mix, aux[0], _EXTREME_EDGES, _EXTREMES[:, None], aux[2:])
        one, top = aux[2], aux[3]
        black, white = slots < one, slots >= top
        symbols = np.where(black, 0, PIXEL_VALUES - 1)
        low = np.where(black, 0, top)
        high = np.where(black, one, 1 << self.precision)
        middle = np.flatnonzero(~(black | white))
        if len(middle):
            found, found_low, found_high = self._search(mix[:, :, middle], aux[:, middle])
            symbols[middle], low[middle], high[middle] = found, found_low, found_high
        return symbols, low, high - low

    def _starts(self, mix, weight_sum, edges, symbols, out):
        """Slot starts of ``symbols`` (probes, 1) or (probes, lanes), all within 1..255,
        whose bins' lower edges are ``edges``, shaped alike."""
        means, inv_scales, weights = mix[:, :, None]  # (k, 1, lanes): components lead
        t = edges - means
        t *= inv_scales
        t >>= CDF_INDEX_SHIFT
        _clip(t, -CDF_HALF_TABLE, CDF_HALF_TABLE - 1, out=t)
        cdf = self.sigmoid[t]
        cdf *= weights
        cdf = np.add.reduce(cdf, axis=0)
        cdf //= weight_sum
        return slot_starts(cdf, self.spare, symbols, out)

    def _search(self, mix, aux):
        """Symbols in 1..254 whose slot range holds each lane's slot, with their [low, high).

        Each round probes ``count`` symbols ``step`` apart above the lane's base (the last
        probe at or below its slot so far) and keeps the range between two of them;
        ``bounds`` holds the range's ends around the probes' starts, so the new range is two
        rows of it. Few lanes take two rounds of 15 probes (fewer calls), many take three
        of 7, 7 and 3 (fewer elements); the answer is unique, so both find the same."""
        weight_sum, slots = aux[0], aux[1]
        m = len(slots)
        lanes = np.arange(m)
        base = None  # the first round's probes are absolute symbols
        low, high = aux[2], aux[3]  # starts of symbols 1 and 255
        for step, count, edges, offsets in _WIDE_ROUNDS if m > _MANY_LANES else _NARROW_ROUNDS:
            bounds = np.empty((count + 2, m), dtype=np.int64)
            bounds[0], bounds[count + 1] = low, high
            if base is not None:
                edges = edges + (base << ACT_BITS)
                offsets = offsets + base
            self._starts(mix, weight_sum, edges, offsets, bounds[1 : count + 1])
            found = (bounds[1 : count + 1] <= slots).sum(axis=0)
            low, high = bounds[found, lanes], bounds[found + 1, lanes]
            found *= step
            base = found if base is None else base + found
        return base, low, high


def _rounds(*steps: tuple[int, int]) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(step, count, probe edges, probe offsets) per round, as (count, 1) columns; the
    first round's probes are absolute symbols, later ones offsets from each lane's base."""
    rounds = []
    for step, count in steps:
        offsets = np.arange(1, count + 1) * step
        edges = _edges(offsets)
        rounds.append((step, count, edges, offsets[:, None]))
    return rounds


# A middle lane has start(1) <= slot < start(255), so probes reach 255 at most, whose start
# is ``high``; a lane that finds no probe below it in the first round ends at symbol 1 at
# least (the probes from symbol 0 up never count symbol 0: its start is below start(1)).
_NARROW_ROUNDS = _rounds((16, 15), (1, 15))
_WIDE_ROUNDS = _rounds((32, 7), (4, 7), (1, 3))
_MANY_LANES = 64


def stepper_for(model) -> PixelStepper:
    """The model's stepper, built on first use and kept with its network."""
    stepper = getattr(model.network, "pixel_stepper", None)
    if stepper is None:
        stepper = model.network.pixel_stepper = PixelStepper(model)
    return stepper
