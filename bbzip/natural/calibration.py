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

from bbzip.fixedpoint.cost import COST_ONE, code_length
from bbzip.natural import compiled
from bbzip.natural.constants import MIXTURES
from bbzip.natural.mixture import Mixtures
from bbzip.natural.network import mixture_outputs
from bbzip.natural.pixels import OFFSET_UNIT, Canvas
from bbzip.natural.sampling import Sample

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
# Subpixels per channel, at most, that the corrections' descent runs on; its first
# rounds run on one in _COARSE of them.
_ADJUST_SAMPLE = 1 << 16
_COARSE = 4
_OFFSET_SHARE = 4


class Calibration(NamedTuple):
    """What the pixel loops add to the network's outputs, per lane."""

    offsets: np.ndarray  # (lanes, C) log-scale offsets, network units
    adjust: np.ndarray | None  # (lanes, C, 3K) corrections, network units; None: none
    # (lanes, C, K, 3K) corrections per context class instead (bbzip.natural.context_classes)
    context: np.ndarray | None = None

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
    # 2**-COST_BITS bits (bbzip.fixedpoint.cost: integers, so no CPU can change a choice).
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


def block_sample(model, net, canvas: Canvas, values: np.ndarray, mu: np.ndarray) -> Sample:
    """The encoder's sample of a block (bbzip.natural.sampling), with the latents at their
    posterior means."""
    tables = model.tables
    fast = compiled.Tables(tables) if compiled.enabled(int(canvas.inside.sum()) * canvas.channels) else None
    fine = np.searchsorted(tables.latent_edges[1:-1], mu, side="right")
    return Sample(net, canvas, net.features(tables.latent_centres[fine]), values, fast)


def choose_calibration(model, net, canvas: Canvas, values: np.ndarray, mu: np.ndarray,
                       sample: Sample | None = None, lanes: slice | None = None) -> Choice:
    """The encoder's rule, on a sample of the block's positions (``sample``, taken here when
    None; ``lanes``: the lanes of the block to calibrate, all when None): per channel the
    image offset a walk over the candidates from 0 settles on; per tile the delta a walk
    from 0 settles on, its own code counted; then corrections by coordinate descent. Deltas
    and corrections are kept only when they save more than they cost."""
    tables, c = model.tables, canvas.channels
    sample = sample or block_sample(model, net, canvas, values, mu)
    lanes = lanes or slice(0, len(sample.inside_of_lane))
    first, count = lanes.start, lanes.stop - lanes.start
    chosen = (sample.lanes >= first) & (sample.lanes < lanes.stop)
    lane_of = np.where(chosen, sample.lanes - first, -1)
    inside = sample.inside_of_lane[lanes]
    sampled = np.maximum(sample.sampled_of_lane[lanes], 1)
    # The image offsets are one number a channel: a quarter of the sample decides them.
    everything = np.where(chosen & (np.arange(len(sample)) % _OFFSET_SHARE == 0), 0, -1)

    offsets = []
    candidates = np.array(IMAGE_CANDIDATES, dtype=np.int64) * OFFSET_UNIT
    for k in range(c):
        score = lambda index, active: _group_costs(
            tables, sample, k, np.full(len(sample), candidates[index[0]]), everything, 1)
        index, _, _ = _walk(score, len(candidates), IMAGE_CANDIDATES.index(0), 1)
        offsets.append(IMAGE_CANDIDATES[int(index[0])])
    offsets += [0] * (3 - c)

    steps = DELTA_STEP * np.arange(-DELTA_LIMIT, DELTA_LIMIT + 1) * OFFSET_UNIT
    chosen_deltas = np.zeros((count, c), dtype=np.int64)
    with_deltas = without_deltas = 0
    for k in range(c):
        def score(index, active, k=k):
            spread = np.where(chosen, index[np.maximum(lane_of, 0)], 0)
            group = np.where(chosen & active[np.maximum(lane_of, 0)], lane_of, -1)
            raw = _group_costs(tables, sample, k, offsets[k] * OFFSET_UNIT + steps[spread], group, count)
            return raw * inside // sampled + _DELTA_BITS[index]
        index, best, at_zero = _walk(score, len(steps), DELTA_LIMIT, count)
        chosen_deltas[:, k] = index - DELTA_LIMIT
        with_deltas += int(best.sum())
        without_deltas += int((at_zero - _DELTA_BITS[DELTA_LIMIT]).sum())
    tile_deltas = chosen_deltas if with_deltas < without_deltas else None
    bits = with_deltas if tile_deltas is not None else without_deltas

    lane_offsets = calibration(offsets, tile_deltas, None, np.zeros(count, dtype=np.int64), c).offsets
    adjust = np.zeros((c, ADJUST_SIZE), dtype=np.int64)
    positions = np.flatnonzero(chosen)
    positions = positions[:: max(1, -(-len(positions) // _ADJUST_SAMPLE))]
    saving = 0
    for k in range(c):
        params = mixture_outputs(sample.outs[k][positions], sample.base_of[k][positions],
                                 sample.residual[positions, :k], lane_offsets[lane_of[positions], k])
        truth = sample.truth_of[k][positions]
        adjust[k], saved = _corrections(tables, params, truth, sample.fast)
        saving += saved * int(inside.sum()) // max(len(positions), 1)
    adjust_bits = 8 * adjust.size * COST_ONE
    keep_adjust = saving > adjust_bits and adjust.any()
    if keep_adjust:
        bits -= saving - adjust_bits
        with_deltas -= saving - adjust_bits
    return Choice(tuple(offsets), tile_deltas, adjust if keep_adjust else None, bits, chosen_deltas, with_deltas)


def _walk(score, count: int, start: int, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group, the candidate (index of ``count``) that a walk from ``start`` settles on:
    up while the next one scores less, else down likewise. ``score(index, active)``: each
    group's score at its candidate ``index`` (only the ``active`` groups' are read).
    Returns (index, its score, the score at start). Scores are integers, so the walk is
    the same on every machine and path."""
    index = np.full(groups, start)
    best = score(index, np.ones(groups, dtype=bool))
    at_start = best.copy()
    for step in (1, -1):
        active = index == start
        while True:
            active &= (index + step >= 0) & (index + step < count)
            if not active.any():
                break
            trial = np.where(active, index + step, index)
            costs = score(trial, active)
            active &= costs < best
            index, best = np.where(active, trial, index), np.where(active, costs, best)
    return index, best, at_start


def _group_costs(tables, sample: Sample, k: int, offsets: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
    """Channel k's code lengths of the sample (units 2**-COST_BITS bits) summed per group:
    position i coded with log-scale offset offsets[i] (network units), skipped where
    group[i] < 0."""
    if sample.fast:
        from bbzip.natural import calibrate_kernels

        fast = sample.fast
        return calibrate_kernels.group_costs(*sample.mixtures(k), sample.truth_of[k], offsets, group, groups,
                                             fast.consts, fast.sigmoid, fast.inv_scale, fast.log2)
    keep = group >= 0
    params = mixture_outputs(sample.outs[k][keep], sample.base_of[k][keep], sample.residual[keep, :k], offsets[keep])
    costs = np.zeros(groups, dtype=np.int64)
    np.add.at(costs, group[keep], _bits(tables, params, sample.truth_of[k][keep]))
    return costs


def _corrections(tables, params: np.ndarray, truth: np.ndarray, kernels) -> tuple[np.ndarray, int]:
    """One channel's corrections, and what they save on the sample: the descent in strides
    of 4 then 1 on one subpixel in _COARSE, then again in strides of 1 on all: most
    trials are the first round's, and a second round finds more (a coordinate's best step
    moves with the others')."""
    coarse = slice(None, None, _COARSE)
    adjust, _, _ = _descend(tables, params[coarse], truth[coarse], kernels)
    _, zero, _ = _descend(tables, params, truth, kernels, strides=())
    adjust, _, best = _descend(tables, params, truth, kernels, adjust, (1,))
    return adjust, zero - best


def _descend(tables, params: np.ndarray, truth: np.ndarray, kernels=None, adjust: np.ndarray | None = None,
             strides: tuple[int, ...] = (4, 1)) -> tuple[np.ndarray, int, int]:
    """Coordinate descent of one channel's corrections (ADJUST_UNITS, each a signed byte)
    on the sampled subpixels' total code length, from ``adjust`` (zeros when None) in steps
    of each of ``strides``. Returns (corrections, cost at the start, cost at the end), in
    units of 2**-COST_BITS bits."""
    adjust = np.zeros(ADJUST_SIZE, dtype=np.int64) if adjust is None else adjust.astype(np.int64)
    if kernels:  # the same descent, compiled whole
        from bbzip.natural import calibrate_kernels

        adjust, start, best = calibrate_kernels.descend(
            np.ascontiguousarray(params, dtype=np.int64), np.ascontiguousarray(truth, dtype=np.int64), ADJUST_UNITS,
            adjust, np.array(strides, dtype=np.int64), kernels.consts, kernels.sigmoid, kernels.inv_scale,
            kernels.neg_exp, kernels.log2)
        return adjust, int(start), int(best)
    from bbzip.natural import descent

    return descent.descend(tables, params, truth, adjust, ADJUST_UNITS, strides)


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
