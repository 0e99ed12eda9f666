"""The frozen natural-image VAE evaluated exactly (integer weights, float64 arithmetic).

Mirrors bbzip/training/natural_model.py layer for layer, with the conventions of
bbzip/fixedpoint/fixed.py: activations are integers in units of 2**-10 held in float64, every
product sum stays below 2**53, so the result is the same on every machine, BLAS, thread
count and batch size.

Fixed-point inputs: a pixel value v enters as (v - 128) * 16 (i.e. (v - 128) / 64), a
validity flag as 1024, an earlier channel's residual (v - MED) as (v - MED) * 64 (i.e.
divided by RESIDUAL_SCALE = 16).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bbzip.fixedpoint.fixed import ACT_BITS, ACT_LIMIT
from bbzip.fixedpoint.layer import Layer
from bbzip.natural.constants import CONTEXT, HIDDEN, LATENT, MIXTURES
from bbzip.natural.tiles import zeros_on_demand

OUTPUT_LIMIT = (1 << (ACT_BITS + 11)) - 1
# Mixture means are clipped to pixel values -64 .. 320 (units 2**-ACT_BITS).
MEAN_LOW, MEAN_HIGH = -64 << ACT_BITS, 320 << ACT_BITS
VALID = 1 << ACT_BITS
HALF = CONTEXT // 2
# The causal taps of the 7x7 window as (row, column) offsets, in torch's mask order.
CAUSAL = [(dy - HALF, dx - HALF) for dy in range(CONTEXT) for dx in range(CONTEXT)
          if dy < HALF or (dy == HALF and dx < HALF)]
TAPS = len(CAUSAL)


def pixel_input(values: np.ndarray) -> np.ndarray:
    return (values.astype(np.int64) - 128) << 4


def residual_input(residual: np.ndarray) -> np.ndarray:
    return residual.astype(np.int64) << 6


def med(a: np.ndarray, b: np.ndarray, c: np.ndarray, row: np.ndarray, col: np.ndarray,
        corner: int = 128) -> np.ndarray:
    """LOCO-I's median edge detector with each tile's own edges: the first row predicts from
    the left, the first column from above, the first pixel 128. Integer in, integer out."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pred = np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))
    pred = np.where(row == 0, a, np.where(col == 0, b, pred))
    return np.where((row == 0) & (col == 0), corner, pred)


_COLUMN_VALUES = 1 << 17  # im2col values a pass of conv_nhwc (1 MiB)


def conv_nhwc(x: np.ndarray, layer: Layer, kernel: int, stride: int, pad: int, relu: bool,
              rows: slice = slice(None)) -> np.ndarray:
    """Convolution by im2col on NHWC; columns in torch's (Cin, kh, kw) order. ``rows``: the
    output rows wanted (each is computed from its own window, so the values are the same)."""
    n, c = x.shape[0], x.shape[-1]
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(1, 2))[:, ::stride, ::stride][:, rows]
    h, w = windows.shape[1:3]
    # Columns (kh, kw, C), channels innermost as in memory (a copy of runs, not of single
    # values: several times faster than torch's (C, kh, kw)), and the weights' rows permuted
    # to match: sums of the same exact integers, so the same values. A few images at a
    # time, so that their columns stay in a core's cache for the product.
    weight_t = layer.weight_t.reshape(c, kernel, kernel, -1).transpose(1, 2, 0, 3).reshape(c * kernel * kernel, -1)
    permuted = Layer(weight_t, layer.offset, layer.scale)
    out = np.empty((n, h, w, weight_t.shape[1]))
    step = max(1, _COLUMN_VALUES // max(1, h * w * weight_t.shape[0]))
    for first in range(0, n, step):
        cols = windows[first : first + step].transpose(0, 1, 2, 4, 5, 3).reshape(-1, weight_t.shape[0])
        out[first : first + step] = permuted(cols, relu=relu).reshape(-1, h, w, weight_t.shape[1])
    return out


# Pixel columns (lanes x tile width) of one posterior pass: its layers' buffers, some
# kilobytes a column, stay tens of megabytes however many lanes a block claims.
_POSITIONS = 4096


def _conv_rows(x: np.ndarray, top: int, layer: Layer, wanted: tuple[int, int], relu: bool) -> np.ndarray:
    """``conv_nhwc(full, layer, 4, 2, 1, relu, rows=slice(*wanted))``, where ``full`` has
    ``x`` as its rows from ``top`` and zeros elsewhere: from a copy of only the rows the
    wanted ones read (never the whole input, whose pages a decoder has not touched yet)."""
    low, high = 2 * wanted[0] - 2, 2 * wanted[1] + 2  # one spare row each side of the windows
    part = np.zeros((x.shape[0], high - low) + x.shape[2:])
    start, stop = max(low, top), min(high, top + x.shape[1])
    part[:, start - low : stop - low] = x[:, start - top : stop - top]
    return conv_nhwc(part, layer, 4, 2, 1, relu=relu, rows=slice(1, 1 + wanted[1] - wanted[0]))


class Head:
    """One channel's likelihood: a first layer over (causal taps, MED inputs, residuals),
    two hidden layers, mixture outputs (logits, mean offsets, log-scales, couplings).

    The first layer is split in two products, taps and pointwise inputs: the taps' product
    of every head is one matrix product per position (``NaturalNet.spatial``), shared by
    the channels of a pixel. Integer sums are exact, so the split changes no result."""

    def __init__(self, arrays: dict, prefix: str, spatial_inputs: int):
        layer = lambda name: Layer.from_arrays(arrays[f"{prefix}.{name}.w"], arrays[f"{prefix}.{name}.b"],
                                               arrays[f"{prefix}.{name}.shift"])
        first = layer("first")
        self.spatial_t = first.weight_t[:spatial_inputs]
        self.point_t = first.weight_t[spatial_inputs:]
        self.offset, self.scale = first.offset, first.scale
        self.layer1, self.layer2, self.out = (layer(n) for n in ("layer1", "layer2", "out"))

    def __call__(self, spatial: np.ndarray, point: np.ndarray, features: np.ndarray) -> np.ndarray:
        """``spatial``: this head's share of the taps' product; ``point``: MED inputs and
        residuals; ``features``: the latent features of each pixel's block."""
        h = point @ self.point_t
        h += spatial
        h += self.offset
        h *= self.scale
        np.floor(h, out=h)
        np.maximum(h, -ACT_LIMIT, out=h)
        np.minimum(h, ACT_LIMIT, out=h)
        h += features
        np.maximum(h, 0, out=h)
        h = self.layer1(h, relu=True)
        h = self.layer2(h, relu=True)
        return self.out(h, relu=False, limit=OUTPUT_LIMIT)


class NaturalNet:
    """Encoder, latent-feature network and pixel heads for gray (1 channel) or RGB (3)."""

    def __init__(self, arrays: dict, prefix: str, channels: int):
        layer = lambda name: Layer.from_arrays(arrays[f"{prefix}.{name}.w"], arrays[f"{prefix}.{name}.b"],
                                               arrays[f"{prefix}.{name}.shift"])
        self.channels = channels
        self.enc = [layer(f"enc{i}") for i in (1, 2, 3)]
        self.feat1, self.feat2 = layer("feat1"), layer("feat2")
        taps = TAPS * (channels + 1)
        self.heads = [Head(arrays, f"{prefix}.head{k}", taps) for k in range(channels)]
        self.spatial_t = np.concatenate([head.spatial_t for head in self.heads], axis=1)

    def spatial(self, context: np.ndarray) -> np.ndarray:
        """(M, taps) causal neighbourhoods -> (M, C * HIDDEN): every head's taps product."""
        return context @ self.spatial_t

    def posterior_of_tiles(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tiles as network inputs (lanes, th, tw, C), each its own image (zero padding at
        its edges, as the training crops) -> posterior means and log-sigmas per block,
        (lanes, th/8, tw/8, LATENT) int64."""
        a = conv_nhwc(inputs.astype(np.float64), self.enc[0], 4, 2, 1, relu=True)
        a = conv_nhwc(a, self.enc[1], 4, 2, 1, relu=True)
        a = conv_nhwc(a, self.enc[2], 4, 2, 1, relu=False).astype(np.int64)
        return a[..., :LATENT], a[..., LATENT:]

    def posterior_of_block_row(self, inputs: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``posterior_of_tiles``'s block row ``row`` alone, from its receptive field (pixel
        rows 8 row - 7 .. 8 row + 14): the decoder's per-row need. Same values; the arrays
        have the full grid's shape, zero in the other rows."""
        n, h, w, _ = inputs.shape
        heights = (h // 2, h // 4)
        # Rows of layers 1 and 2 that the wanted row reads (4x4 windows, stride 2, pad 1).
        second = (max(2 * row - 1, 0), min(2 * row + 3, heights[1]))
        first = (max(2 * second[0] - 1, 0), min(2 * second[1] + 1, heights[0]))
        grid = zeros_on_demand((n, h // 8, w // 8, 2 * LATENT), np.int64)  # the pages of this row only
        step = max(1, _POSITIONS // w)  # lanes a pass: each lane's values are its own
        for start in range(0, n, step):
            a = _conv_rows(inputs[start : start + step], 0, self.enc[0], first, True)
            a = _conv_rows(a, first[0], self.enc[1], second, True)
            grid[start : start + step, row : row + 1] = _conv_rows(a, second[0], self.enc[2], (row, row + 1), False)
        return grid[..., :LATENT], grid[..., LATENT:]

    def features(self, z: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
        """(N, Hb, Wb, LATENT) fixed-point latents -> (N, Hb, Wb, C * HIDDEN) per-block features;
        ``rows``: only those block rows (the same values)."""
        a = conv_nhwc(z.astype(np.float64), self.feat1, 3, 1, 1, relu=True, rows=rows)
        return conv_nhwc(a, self.feat2, 1, 1, 0, relu=False)


def mixture_outputs(out: np.ndarray, med_k: np.ndarray, residuals: np.ndarray,
                    scale_offset: int | np.ndarray = 0, adjust: np.ndarray | None = None) -> np.ndarray:
    """Head outputs (M, (3 + k) * K) -> (M, 3K) logits, absolute means (pixel units * 2**10)
    and log-scales, the form bbzip.vae.distributions.PixelMixtures takes.

    The freeze folded MEAN_SCALE into the mean rows; each earlier channel c moves every
    component's mean by coupling * (x_c - MED_c). ``scale_offset`` (units 2**-10, one for all
    M or one per pixel) is the calibration of this channel's log-scales; ``adjust`` ((3K,) or
    (M, 3K), the outputs' units) the correction of every output of this channel."""
    k = MIXTURES
    result = out[:, : 3 * k].astype(np.int64)
    if adjust is not None:
        result += adjust
    scale_offset = np.asarray(scale_offset, dtype=np.int64)
    result[:, 2 * k :] += scale_offset[:, None] if scale_offset.ndim else scale_offset
    means = result[:, k : 2 * k]
    means += (med_k.astype(np.int64) << ACT_BITS)[:, None]
    for c in range(residuals.shape[1]):
        means += out[:, (3 + c) * k : (4 + c) * k].astype(np.int64) * residuals[:, c : c + 1]
    np.maximum(means, MEAN_LOW, out=means)
    np.minimum(means, MEAN_HIGH, out=means)
    return result


__all__ = [
    "ACT_LIMIT",
    "CAUSAL",
    "HIDDEN",
    "TAPS",
    "VALID",
    "NaturalNet",
    "med",
    "mixture_outputs",
    "pixel_input",
    "residual_input",
]
