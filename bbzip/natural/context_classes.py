"""Corrections per context class (payload flag bit 1, docs/SPEC-natural.md §8).

The header's corrections move a channel's 12 mixture outputs by the same amount at every
pixel. But a static model misjudges flat and busy parts of a photo differently: on smooth
photos its mixtures are too broad where nothing moves and too sharp on edges. So with bit 1
the corrections are sent per (channel, class), the class of a subpixel a bucket of its
causal neighbourhood's activity, read from decoded pixels only:

    A = sum of |V(p) - V(q)| over the pairs (a, c), (b, c), (d, b), (a, e), (b, f)
        of this channel's tile values that exist, plus 2 |x_e - MED_e| per earlier
        channel e of this pixel
    class = min(bit length of A, K - 1)

with a = left, b = up, c = up-left, d = up-right, e = two left, f = two up. Pixels only: a
state carried across block rows may not depend on the network's outputs (they depend on
latents the bits-back encoder has not chosen yet), and these classes need no state at all.

The encoder fits each class's corrections by the calibration's coordinate descent, from the
channel's global corrections, on the calibration sample, and keeps them when the sampled
saving pays for the header bytes. On the five development wallpapers this saves 4.3 % of
the coded size (scripts/context_research.py), 0.3 to 0.9 % on noisier photos.
"""

from __future__ import annotations

import numpy as np

from bbzip.natural.constants import MIXTURES
from bbzip.fixedpoint.cost import COST_ONE

# bbzip.natural.pixels imports this module, and bbzip.natural.calibration imports pixels:
# what this module needs of calibration is imported where it is used.
ADJUST_SIZE = 3 * MIXTURES  # corrections of one channel and class

CLASSES = 8  # the encoder's K
MAX_CLASSES = 16  # a decoder accepts K in 2 .. MAX_CLASSES
RESIDUAL_WEIGHT = 2
# (dy, dx) of both pixels of each difference: a - c, b - c, d - b, a - e, b - f.
PAIRS = (((0, -1), (-1, -1)), ((-1, 0), (-1, -1)), ((-1, 1), (-1, 0)), ((0, -1), (0, -2)), ((-1, 0), (-2, 0)))
_SAMPLE = 1 << 16  # subpixels per channel, at most, that the descents run on
# Keep the classes whatever they save (small golden files and tests set it).
ALWAYS = False


def classes_at(values: np.ndarray, lanes: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int,
               widths: np.ndarray, residual: np.ndarray, classes: int) -> np.ndarray:
    """The class of channel k at positions (lanes, rows, cols) of ``values`` (lanes, th, tw,
    C), whose pixels above and to the left are decoded; ``widths``: each lane's extent;
    ``residual``: (positions, >= k) this pixel's x_e - MED_e of the earlier channels."""
    th, tw = values.shape[1:3]
    width = widths[lanes]
    act = RESIDUAL_WEIGHT * np.abs(residual[:, :k].astype(np.int64)).sum(axis=1)
    for (y1, x1), (y2, x2) in PAIRS:
        r1, q1, r2, q2 = rows + y1, cols + x1, rows + y2, cols + x2
        ok = (np.minimum(r1, r2) >= 0) & (np.minimum(q1, q2) >= 0) & (np.maximum(q1, q2) < width)
        v1 = values[lanes, np.clip(r1, 0, th - 1), np.clip(q1, 0, tw - 1), k].astype(np.int64)
        v2 = values[lanes, np.clip(r2, 0, th - 1), np.clip(q2, 0, tw - 1), k].astype(np.int64)
        act += np.where(ok, np.abs(v1 - v2), 0)
    bit_length = np.frexp(act.astype(np.float64))[1].astype(np.int64)  # exact: act < 2**12
    return np.minimum(bit_length, classes - 1)


def lane_tables(context, lane_images: np.ndarray, c: int) -> np.ndarray | None:
    """Each lane's corrections per class (lanes, C, K, 3K) in the outputs' units, from the
    header's (C, K, 3K) or per image (N, C, K, 3K); None without."""
    from bbzip.natural.calibration import ADJUST_UNITS

    if context is None:
        return None
    context = np.asarray(context, dtype=np.int64)
    sets = context.reshape(-1, c, context.shape[-2], ADJUST_SIZE)
    index = lane_images if len(sets) > 1 else np.zeros_like(lane_images)
    return sets[index] * ADJUST_UNITS


def attach(calib, context, lane_images: np.ndarray, c: int):
    """The lanes' Calibration with the header's corrections per class, if any."""
    return calib if context is None else calib._replace(context=lane_tables(context, lane_images, c))


def row_adjust(calib, k: int, values: np.ndarray, row: int, residual: np.ndarray, widths: np.ndarray,
               tw: int) -> np.ndarray | None:
    """Channel k's corrections of every position of pixel row ``row`` of every lane (rows
    lane-major, as pixels.row_slots orders them): calib.channel_adjust's, or per class."""
    if calib.context is None:
        return calib.channel_adjust(k, tw)
    lanes = len(values)
    lane = np.repeat(np.arange(lanes), tw)
    cols = np.tile(np.arange(tw), lanes)
    classes = calib.context.shape[2]
    cls = classes_at(values, lane, np.full(len(lane), row), cols, k, widths, residual, classes)
    return calib.context[lane, k, cls]


def step_adjust(calib, k: int, tiles: np.ndarray, row: int, col: int, residual: np.ndarray,
                widths: np.ndarray) -> np.ndarray | None:
    """Channel k's corrections at one position of every lane (the numpy decoder's step)."""
    if calib.context is None:
        return calib.channel_adjust(k)
    lanes = len(tiles)
    lane = np.arange(lanes)
    classes = calib.context.shape[2]
    cls = classes_at(tiles, lane, np.full(lanes, row), np.full(lanes, col), k, widths, residual, classes)
    return calib.context[lane, k, cls]


def stepper_table(calib, c: int) -> np.ndarray | None:
    """The compiled decoder's corrections: (C * K, lanes, 3K), row k * K + class; None
    without classes."""
    if calib.context is None:
        return None
    lanes, _, classes, size = calib.context.shape
    return np.ascontiguousarray(calib.context.reshape(lanes, c * classes, size).transpose(1, 0, 2))


def refine(model, canvas, values: np.ndarray, sample, choice, settings):
    """The encoder's rule: ``settings`` with corrections per class when the sample says
    they save more than their header bytes cost (then they replace the global ones)."""
    from bbzip.natural import sampling
    from bbzip.natural.calibration import _COARSE, _descend, calibration
    from bbzip.natural.network import mixture_outputs

    tables, c = model.tables, canvas.channels
    inside = canvas.inside
    rows, cols = np.nonzero(inside & sampling._lattice(inside.shape, sample.every))[1:]
    lanes = sample.lanes
    keep = np.arange(len(lanes))[:: max(1, -(-len(lanes) // _SAMPLE))]
    lane_offsets = calibration(choice.offsets, choice.deltas, None, np.zeros(len(inside), dtype=np.int64), c).offsets
    start = choice.adjust if choice.adjust is not None else np.zeros((c, ADJUST_SIZE), dtype=np.int64)
    context = np.zeros((c, CLASSES, ADJUST_SIZE), dtype=np.int64)
    saving = 0
    for k in range(c):
        params = mixture_outputs(sample.outs[k][keep], sample.base_of[k][keep], sample.residual[keep, :k],
                                 lane_offsets[lanes[keep], k])
        truth = sample.truth_of[k][keep]
        cls = classes_at(values, lanes[keep], rows[keep], cols[keep], k, canvas.widths, sample.residual[keep], CLASSES)
        for kind in range(CLASSES):
            mine = cls == kind
            context[k, kind] = start[k]
            if not mine.any():
                continue
            p, t = params[mine], truth[mine]
            _, at_start, _ = _descend(tables, p, t, sample.fast, start[k], ())
            coarse, _, _ = _descend(tables, p[::_COARSE], t[::_COARSE], sample.fast, start[k], (4, 1))
            fitted, _, after = _descend(tables, p, t, sample.fast, coarse, (1,))
            if after < at_start:
                context[k, kind] = fitted
                saving += at_start - after
    saving = saving * int(inside.sum()) // max(len(keep), 1)
    extra = 8 * COST_ONE * (1 + c * ADJUST_SIZE * (CLASSES - (1 if choice.adjust is not None else 0)))
    if saving <= extra and not (ALWAYS and saving > 0):
        return settings
    return settings._replace(adjust=None, context=context)
