"""Whether the natural-image coder runs its compiled kernels (bbzip/natural/kernels.py),
and the model's numbers as they take them. Importing this module imports no numba.

The compiled and numpy paths give the same bytes (tests/test_natural_compiled.py), so the
choice is speed alone: numba when it is installed (the ``fast`` extra) and a block is large
enough to repay its import (less once numba is loaded). BBZIP_KERNELS=numpy runs the numpy
path, BBZIP_KERNELS=numba the compiled one on every block, for comparisons.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

# Indices into the constants array every kernel takes.
(ACT, INDEX_SHIFT, SIGMOID_OFFSET, SIGMOID_TOP, CDF, SPARE, PRECISION, SCALE_LOW, SCALE_SHIFT, GAP_SHIFT,
 GAP_CAP, MEAN_LOW, MEAN_HIGH, HALF, COST, MANTISSA, K, OUTPUT_LIMIT, ACT_LIMIT, WORD) = range(20)


# Below this many subpixels in a block, numpy finishes before numba would be imported and
# the row kernel loaded from its cache: about 0.3 to 0.6 s of CPU the import, 0.2 to 0.5 s
# LLVM's start and the load, against the compiled path's saving of 2 to 6 s per million
# subpixels (measured on deb-Autumn's bands: break-even near 0.1 to 0.15 million). A large
# photo's bands (bbzip.images.blocks: at most 0.5 MiB of pixels each) are above it.
MIN_SUBPIXELS = 1 << 18
# Once numba is in the process (an earlier block, or a parent that loaded it before forking
# for a large photo's bands), only the kernels' load remains to repay.
LOADED_MIN_SUBPIXELS = 1 << 16


def available() -> bool:
    return os.environ.get("BBZIP_KERNELS") != "numpy" and importlib.util.find_spec("numba") is not None


def enabled(subpixels: int) -> bool:
    """Whether a block of this many subpixels runs compiled. BBZIP_KERNELS=numpy: never;
    =numba: always (comparisons, benchmarks)."""
    if not available():
        return False
    if os.environ.get("BBZIP_KERNELS") == "numba":
        return True
    return subpixels >= (LOADED_MIN_SUBPIXELS if "numba" in sys.modules else MIN_SUBPIXELS)


def load():
    """The kernels module (imports numba)."""
    from bbzip.natural import kernels

    return kernels


class Tables:
    """A model's tables and the numbers of its fixed point, as the kernels take them, and
    the kernels (``kernels``: bbzip.natural.kernels)."""

    def __init__(self, tables):
        self.kernels = load()
        from bbzip.fixedpoint import cost, fixed
        from bbzip.natural import mixture, network

        values = {
            ACT: fixed.ACT_BITS, INDEX_SHIFT: mixture.INDEX_SHIFT,
            SIGMOID_OFFSET: (len(tables.sigmoid) // 2) << mixture.INDEX_SHIFT, SIGMOID_TOP: len(tables.sigmoid) - 1,
            CDF: fixed.CDF_BITS, SPARE: (1 << tables.pixel_precision) - mixture.LEVELS, PRECISION: tables.pixel_precision,
            SCALE_LOW: round(tables.log_scale_min * (1 << fixed.ACT_BITS)), SCALE_SHIFT: fixed.SCALE_INDEX_SHIFT,
            GAP_SHIFT: mixture.GAP_SHIFT, GAP_CAP: (len(tables.neg_exp) << mixture.GAP_SHIFT) - 1,
            MEAN_LOW: network.MEAN_LOW, MEAN_HIGH: network.MEAN_HIGH, HALF: mixture.HALF,
            COST: cost.COST_BITS, MANTISSA: cost.MANTISSA_BITS, K: mixture.MIXTURES,
            OUTPUT_LIMIT: network.OUTPUT_LIMIT, ACT_LIMIT: fixed.ACT_LIMIT, WORD: 32,
        }
        self.consts = np.array([values[i] for i in range(len(values))], dtype=np.int64)
        self.sigmoid, self.inv_scale, self.neg_exp = (np.ascontiguousarray(t, dtype=np.int64) for t in
                                                      (tables.sigmoid, tables.inv_scale, tables.neg_exp))
        self.log2 = cost.LOG2_TABLE
