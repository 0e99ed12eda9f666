"""The context class of one subpixel for the compiled decoder (bbzip/natural/fused.py):
bbzip.natural.context_classes.classes_at for one lane and position, the same integers.
Imported only with numba (through fused)."""

from __future__ import annotations

import numpy as np

from bbzip.natural.kernels import _inline


@_inline
def context_class(tiles, i, row, col, k, residual, width, classes):
    """Class of channel k at (row, col) of lane i; ``tiles`` lane-minor (th, tw, C, lanes),
    decoded above and to the left; ``residual[i, :k]`` this pixel's earlier residuals."""
    act = np.int64(0)
    for e in range(k):
        act += 2 * abs(residual[i, e])
    if row >= 1:
        b = np.int64(tiles[row - 1, col, k, i])
        if col >= 1:
            a, c = np.int64(tiles[row, col - 1, k, i]), np.int64(tiles[row - 1, col - 1, k, i])
            act += abs(a - c) + abs(b - c)
        if col + 1 < width:
            act += abs(np.int64(tiles[row - 1, col + 1, k, i]) - b)
        if row >= 2:
            act += abs(b - np.int64(tiles[row - 2, col, k, i]))
    if col >= 2:
        act += abs(np.int64(tiles[row, col - 1, k, i]) - np.int64(tiles[row, col - 2, k, i]))
    level = 0
    while act > 0 and level < classes - 1:
        act >>= 1
        level += 1
    return level
