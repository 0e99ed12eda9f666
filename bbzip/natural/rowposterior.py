"""The decoder's posterior of one block row (NaturalNet.posterior_of_block_row's values), at
a fraction of its cost: the same windows and products, with the windows copied out in
(kernel row, kernel column, channel) order, so that each copy is a run of four whole
pixels (4 * C contiguous values), and the weights' rows permuted to match.

conv_nhwc's (channel, kernel row, kernel column) order makes numpy's copy of the windows
an element-by-element gather, which cost the decoder more than the products themselves.
The products are sums of integers below 2**53 (bbzip/fixedpoint/invariants.py), so the
order of their terms changes no value.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from bbzip.fixedpoint.layer import Layer
from bbzip.natural.constants import LATENT
from bbzip.natural.tiles import zeros_on_demand

KERNEL, STRIDE = 4, 2  # every encoder layer: 4x4 windows, stride 2, padding 1
# Output positions (lanes x columns) of one pass: its windows, some kilobytes each, stay
# tens of megabytes however many lanes a block claims (network._POSITIONS's rule).
_POSITIONS = 4096


def _pixel_major(layer: Layer) -> Layer:
    """``layer`` with its inputs in (kernel row, kernel column, channel) order."""
    inputs, outputs = layer.weight_t.shape
    channels = inputs // (KERNEL * KERNEL)
    weight = layer.weight_t.reshape(channels, KERNEL, KERNEL, outputs).transpose(1, 2, 0, 3)
    return Layer(np.ascontiguousarray(weight.reshape(inputs, outputs)), layer.offset, layer.scale)


class RowPosterior:
    """posterior_of_block_row for one network, its layers permuted once."""

    def __init__(self, net):
        self.layers = [_pixel_major(layer) for layer in net.enc]

    def __call__(self, inputs: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Tiles as network inputs (lanes, th, tw, C) -> posterior means and log-sigmas of
        block row ``row`` (arrays of the whole grid's shape, zero in the other rows)."""
        n, h, w, _ = inputs.shape
        heights = (h // 2, h // 4)
        # Rows of layers 1 and 2 that the wanted row reads (4x4 windows, stride 2, pad 1).
        second = (max(2 * row - 1, 0), min(2 * row + 3, heights[1]))
        first = (max(2 * second[0] - 1, 0), min(2 * second[1] + 1, heights[0]))
        grid = zeros_on_demand((n, h // 8, w // 8, 2 * LATENT), np.int64)  # the pages of this row only
        step = max(1, _POSITIONS // w)
        one, two, three = self.layers
        for start in range(0, n, step):
            a = _conv_rows(inputs[start : start + step], 0, one, first, True)
            a = _conv_rows(a, first[0], two, second, True)
            grid[start : start + step, row : row + 1] = _conv_rows(a, second[0], three, (row, row + 1), False)
        return grid[..., :LATENT], grid[..., LATENT:]


def _conv_rows(x: np.ndarray, top: int, layer: Layer, wanted: tuple[int, int], relu: bool) -> np.ndarray:
    """Output rows wanted[0]..wanted[1] of the layer over an input that holds ``x`` as its
    rows from ``top`` and zeros elsewhere (padding included)."""
    n, _, w, c = x.shape
    low, high = 2 * wanted[0] - 1, 2 * wanted[1] + 1  # padded input rows the windows read
    part = np.zeros((n, high - low + 1, w + 2, c))  # one zero column each side: the padding
    start, stop = max(low, top), min(high + 1, top + x.shape[1])
    part[:, start - low : stop - low, 1 : w + 1] = x[:, start - top : stop - top]
    rows, cols = wanted[1] - wanted[0], w // STRIDE
    s = part.strides
    windows = as_strided(part, (n, rows, cols, KERNEL, KERNEL * c), (s[0], STRIDE * s[1], STRIDE * s[2], s[1], s[3]),
                         writeable=False)
    return layer(windows.reshape(n * rows * cols, -1), relu=relu).reshape(n, rows, cols, -1)
