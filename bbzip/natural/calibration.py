"""The encoder's calibration of the pixel mixtures to the image at hand, and its decoding.

A static model is too sharp on some photos and too broad on others, too sharp on a photo's
noisy parts and too broad on its smooth ones, and its mixtures' shapes fit some photos'
colours better than others'. So a block carries, chosen by the encoder (docs/IMAGES.md):

* one log-scale offset per colour channel (units of 1/16), in the header;
* optionally a delta to those offsets per tile and channel, which each lane codes first;
* optionally a correction of each channel's 3K mixture outputs (logits and means in
  quarters, log-scales in sixteenths), in the header.

On the six validation photos the offsets are worth about 2 %, the tile deltas about 2 %
more and the corrections 1 to 3 % on the colour photos.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bbzip.natural import compiled
from bbzip.natural.constants import BLOCK, MIXTURES
from bbzip.natural.cost import COST_ONE, code_length
from bbzip.natural.mixture import Mixtures
from bbzip.natural.network import mixture_outputs
from bbzip.natural.pixels import OFFSET_UNIT, Canvas, row_outputs

# The encoder's candidates for the per-image offsets (a decoder accepts any signed byte).
IMAGE_CANDIDATES = (-8, -4, -2, 0, 2, 4, 6, 8, 11, 16, 24)
# A tile's delta d moves its offsets by DELTA_STEP * d, d in -8..8, coded under these
# frequencies (part of the format: a two-sided geometric distribution, total 2**12).
DELTA_STEP = 2
DELTA_FREQS = (37, 55, 80, 118, 174, 255, 375, 550, 808, 550, 375, 255, 174, 118, 80, 55, 37)
DELTA_PRECISION = 12
DELTA_LIMIT = len(DELTA_FREQS) // 2
_DELTA_FREQS = np.array(DELTA_FREQS, dtype=np.int64)
_DELTA_STARTS = np.concatenate([[0], np.cumsum(_DELTA_FREQS)[:-1]])
_DELTA_BITS = code_length(_DELTA_FREQS, DELTA_PRECISION)
# Units of a correction's signed byte per output: logits, means, log-scales (part of the format).
ADJUST_UNITS = np.repeat(np.array([1 << 8, 1 << 8, OFFSET_UNIT], dtype=np.int64), MIXTURES)
ADJUST_SIZE = 3 * MIXTURES  # bytes per channel
# The encoder's samples: every row of small images; else one row in 7 for the offsets and
# one in 5 for the deltas and corrections. Both are prime to the powers of two, so the
# sampled rows take every position of a block and both rows of an interlaced image.
_SMALL = 1 << 16  # pixels
_OFFSET_SAMPLE, _TILE_SAMPLE = 7, 5
_ADJUST_SAMPLE = 1 << 16  # at most this many subpixels per channel for the corrections


class Calibration(NamedTuple):
    """What the pixel loops add to the network's outputs, per lane."""

    offsets: np.ndarray  # (lanes, C) log-scale offsets, network units
    adjust: np.ndarray | None  # (lanes, C, 3K) corrections, network units; None: none

    def channel_adjust(self, k: int, repeat: int = 1) -> np.ndarray | None:
        """Channel k's corrections per lane, each repeated for ``repeat`` pixels in a row."""
        if self.adjust is None:
            return None
        return self.adjust[:, k] if repeat == 1 else np.repeat(self.adjust[:, k], repeat, axis=0)


class Choice(NamedTuple):
    """The encoder's calibration of a set of images, and what its sample says it costs."""

    offsets: tuple[int, ...]  # three
    deltas: np.ndarray | None  # (lanes, C)
    adjust: np.ndarray | None  # (C, 3K) in ADJUST_UNITS
    # The estimated cost of the pixels and of the deltas and corrections, in units of
    # 2**-COST_BITS bits (bbzip.natural.cost: integers, so no CPU can change a choice).
    bits: int
    # Each tile's best delta, and the cost with those deltas, kept or not (a set with
    # settings per image codes deltas for every image or for none).
    best_deltas: np.ndarray
    bits_with_deltas: int


def calibration(offsets, deltas: np.ndarray | None, adjust: np.ndarray | None, lane_images: np.ndarray,
                c: int) -> Calibration:
    """Each lane's calibration from the header's offsets ((3,) or per image (N, 3)) and
    corrections ((C, 3K) or (N, C, 3K)), and the lanes' deltas; ``lane_images``: the
    image of each lane."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 3)[:, :c]
    index = lane_images if len(offsets) > 1 else np.zeros_like(lane_images)
    lane_offsets = offsets[index]
    if deltas is not None:
        lane_offsets = lane_offsets + DELTA_STEP * deltas
    if adjust is not None:
        adjust = np.asarray(adjust, dtype=np.int64).reshape(-1, c, ADJUST_SIZE)[index] * ADJUST_UNITS
    return Calibration(lane_offsets * OFFSET_UNIT, adjust)


def _bits(tables, params: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Each subpixel's code length, units 2**-COST_BITS bits (int64)."""
    mixtures = Mixtures(params, tables)
    return code_length(mixtures.starts(truth + 1) - mixtures.starts(truth), tables.pixel_precision)


class _Sample:
    """One channel's sampled subpixels: head outputs, centres, residuals, truth, lane."""

    def __init__(self):
        self.parts = []

    def add(self, out, base, residual, truth, lanes, keep):
        self.parts.append((out[keep].astype(np.int32), base[keep], residual[keep], truth[keep], lanes[keep]))

    def params(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out, base, residual, truth, lanes = (np.concatenate(x) for x in zip(*self.parts))
        return mixture_outputs(out, base, residual, offsets[lanes]), truth


def choose_calibration(model, net, canvas: Canvas, values: np.ndarray, mu: np.ndarray) -> Choice:
    """The encoder's rule, on samples of rows with the latents at their posterior means:
    per channel the image offset that codes a sample of rows smallest; per tile the delta
    that codes a denser sample plus its own code smallest; then corrections by coordinate
    descent on (a subset of) the same rows. Deltas and corrections are kept only when they
    save more than they cost."""
    tables, c, t = model.tables, canvas.channels, canvas.tiling
    fine = np.searchsorted(tables.latent_edges[1:-1], mu, side="right")
    features = net.features(tables.latent_centres[fine])

    def sampled_rows(first: int, every: int):
        for row in range(first, t.th, every):
            inside = canvas.inside[:, row]  # (lanes, tw)
            yield inside, row_outputs(net, canvas, features[:, row // BLOCK], values, row,
                                      kernels and kernels.kernels)

    small = int(canvas.inside.sum()) <= _SMALL
    kernels = compiled.Tables(tables) if compiled.enabled(int(canvas.inside.sum()) * c) else None
    image_costs = np.zeros((c, len(IMAGE_CANDIDATES)), dtype=np.int64)
    candidates = np.array(IMAGE_CANDIDATES, dtype=np.int64) * OFFSET_UNIT
    for inside, (outs, base, residual, truth) in sampled_rows(*((0, 1) if small else (3, _OFFSET_SAMPLE))):
        mask = inside.reshape(-1)
        for k in range(c):
            if kernels:
                image_costs[k] += _candidate_costs(kernels, outs[k], base, residual, truth, k, np.zeros(len(mask), np.int64),
                                                   candidates, np.where(mask, 0, -1), 1)[0]
                continue
            for i, candidate in enumerate(candidates):
                params = mixture_outputs(outs[k], base[:, k], residual[:, :k], candidate)
                image_costs[k, i] += _bits(tables, params, truth[:, k])[mask].sum()
    offsets = [IMAGE_CANDIDATES[int(np.argmin(costs))] for costs in image_costs] + [0] * (3 - c)

    deltas = np.arange(-DELTA_LIMIT, DELTA_LIMIT + 1)
    tile_costs = np.zeros((canvas.lanes, c, len(deltas)), dtype=np.int64)
    samples = [_Sample() for _ in range(c)]
    first, every = (0, 1) if small else (1, _TILE_SAMPLE)
    stride = max(1, -(-int(canvas.inside[:, first::every].sum()) // _ADJUST_SAMPLE))
    lane_of = np.repeat(np.arange(canvas.lanes), t.tw)
    for row_index, (inside, (outs, base, residual, truth)) in enumerate(sampled_rows(first, every)):
        keep = inside.reshape(-1) & (np.arange(inside.size) % stride == row_index % stride)
        for k in range(c):
            samples[k].add(outs[k], base[:, k], residual[:, :k], truth[:, k], lane_of, keep)
            if kernels:
                tile_costs[:, k] += every * _candidate_costs(
                    kernels, outs[k], base, residual, truth, k, np.full(len(keep), offsets[k] * OFFSET_UNIT),
                    DELTA_STEP * deltas * OFFSET_UNIT, np.where(inside.reshape(-1), lane_of, -1), canvas.lanes)
                continue
            for i, delta in enumerate(deltas):
                params = mixture_outputs(outs[k], base[:, k], residual[:, :k],
                                         (offsets[k] + DELTA_STEP * int(delta)) * OFFSET_UNIT)
                bits = _bits(tables, params, truth[:, k]).reshape(inside.shape)
                tile_costs[:, k, i] += every * np.where(inside, bits, 0).sum(axis=1)
    without_deltas = int(tile_costs[:, :, DELTA_LIMIT].sum())
    tile_costs += _DELTA_BITS
    chosen = deltas[np.argmin(tile_costs, axis=2)]
    with_deltas = int(tile_costs.min(axis=2).sum())
    tile_deltas = chosen if with_deltas < without_deltas else None
    bits = with_deltas if tile_deltas is not None else without_deltas

    lane_offsets = calibration(offsets, tile_deltas, None, np.zeros(canvas.lanes, dtype=np.int64), c).offsets
    adjust = np.zeros((c, ADJUST_SIZE), dtype=np.int64)
    saving = 0
    for k in range(c):
        params, truth = samples[k].params(lane_offsets[:, k])
        adjust[k], saved = _descend(tables, params, truth, kernels)
        saving += saved * every * stride
    adjust_bits = 8 * adjust.size * COST_ONE
    keep_adjust = saving > adjust_bits and adjust.any()
    if keep_adjust:
        bits -= saving - adjust_bits
        with_deltas -= saving - adjust_bits
    return Choice(tuple(offsets), tile_deltas, adjust if keep_adjust else None, bits, chosen, with_deltas)


def _candidate_costs(kernels, out, base, residual, truth, k, offsets, candidates, group, groups) -> np.ndarray:
    """The compiled loop of channel k's code lengths: (groups, candidates)."""
    base, truth = np.ascontiguousarray(base[:, k]), np.ascontiguousarray(truth[:, k])  # kernels crawl on strided arrays
    return kernels.kernels.candidate_costs(out, base, residual, k, truth, offsets, candidates, group,
                                           groups, kernels.consts, kernels.sigmoid, kernels.inv_scale,
                                           kernels.neg_exp, kernels.log2)


def _descend(tables, params: np.ndarray, truth: np.ndarray, kernels=None) -> tuple[np.ndarray, int]:
    """Coordinate descent of one channel's corrections (ADJUST_UNITS, each a signed byte)
    on the sampled subpixels' total code length, in strides of 4 units then 1. Returns
    (corrections, saving in units of 2**-COST_BITS bits)."""
    if kernels:  # the same descent, compiled whole
        adjust, saving = kernels.kernels.descend(
            np.ascontiguousarray(params, dtype=np.int64), np.ascontiguousarray(truth, dtype=np.int64), ADJUST_UNITS,
            kernels.consts, kernels.sigmoid, kernels.inv_scale, kernels.neg_exp, kernels.log2)
        return adjust, int(saving)
    cost = lambda add: int(_bits(tables, params + add, truth).sum())
    adjust = np.zeros(ADJUST_SIZE, dtype=np.int64)
    start = best = cost(adjust * ADJUST_UNITS)
    for stride in (4, 1):
        for j in range(ADJUST_SIZE):
            for sign in (stride, -stride):
                while abs(adjust[j] + sign) <= 127:
                    trial = adjust.copy()
                    trial[j] += sign
                    trial_cost = cost(trial * ADJUST_UNITS)
                    if trial_cost >= best:
                        break
                    best, adjust = trial_cost, trial
    return adjust, int(start - best)


def push_deltas(message, deltas: np.ndarray) -> None:
    """The encoder's last pushes (so the decoder's first pops): channel C-1 first."""
    for k in reversed(range(deltas.shape[1])):
        index = deltas[:, k] + DELTA_LIMIT
        message.push(_DELTA_STARTS[index], _DELTA_FREQS[index], DELTA_PRECISION)


def pop_deltas(message, lanes: int, c: int) -> np.ndarray:
    deltas = np.zeros((lanes, c), dtype=np.int64)
    for k in range(c):
        slots = message.peek(lanes, DELTA_PRECISION).astype(np.int64)
        index = np.searchsorted(_DELTA_STARTS, slots, side="right") - 1
        message.pop(_DELTA_STARTS[index], _DELTA_FREQS[index], DELTA_PRECISION)
        deltas[:, k] = index - DELTA_LIMIT
    return deltas
