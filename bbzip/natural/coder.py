"""Bits-back coding of a set of same-sized images with the natural-image VAE, tile-parallel.

One rANS lane per tile (bbzip/natural/tiles.py); every tile is coded as an image of its own
(its posterior, features and pixel contexts see only the tile), all tiles in lockstep.

Bits back needs bits to take back: a posterior pop must find earlier pushes of the same
lane beneath it. So the latents are not all popped first. Per block row j of a tile
(8 pixel rows), the decoder does:

    before row 0:        pop z_0, z_1 from the prior
    block row j:         pop the pixels of rows 8j .. 8j+7 (features need z_(j-1..j+1))
                         push z_(j-1) under its posterior (its receptive field, rows
                         8j-15 .. 8j+6, is decoded by now)
                         pop z_(j+2) from the prior

and the encoder the mirror image, bottom block row first, so every posterior pop finds the
pixels of the block rows below already pushed. The last two block rows of a tile would pop
from an empty lane (their posteriors need the rows below them), so their latents are
coded without bits back: the bucket of the posterior mean at a coarse precision per latent
channel (0 or 2 bits, stored in the payload), pushed under a uniform distribution.

Lanes with nothing to code at a step (outside the image, or latents not coded) still take
part: a symbol of frequency 2**precision is an exact no-op of push and pop. The decoder's
final check requires the message back in its seeded initial state (docs/FORMAT.md).

Payload: docs/IMAGES.md.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from bbzip.ans.rans import Message
from bbzip.coders.varint import decode_varint, encode_varint
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.natural.constants import BLOCK, CODING_ORDER, HIDDEN, LATENT
from bbzip.natural.mixture import LEVELS, Mixtures
from bbzip.natural.network import CAUSAL, VALID, med, mixture_outputs, pixel_input, residual_input
from bbzip.natural.tiles import MAX_LANES, MIN_SIZE, SIDES, Tiling, choose_side
from bbzip.vae.distributions import LatentPosteriors
from bbzip.vae.fixed import ACT_BITS, EXP_BITS, scale_index

PAD_TOP, PAD_SIDE = 3, 3  # canvas margins: the causal window reaches 3 up, 3 left and right
_FINE = np.arange(1, 16, dtype=np.int64)[:, None]


class Settings(NamedTuple):
    """What the encoder chose for a block, in its header."""

    coarse_bits: tuple[int, ...]  # per latent channel: precision of the latents without bits back
    scale_offsets: tuple[int, ...]  # per colour channel (3; gray uses the first): log-scale / 16


_HEADER = 1 + LATENT + 3 + 1  # side, coarse bits, scale offsets, groups


def check_shape(shape: tuple[int, int, int, int]) -> None:
    n, h, w, c = shape
    if c not in (1, 3) or n < 1 or h < MIN_SIZE or w < MIN_SIZE:
        raise UnsupportedError("the natural-image coder takes gray or RGB images of at least 8x8")


def encode(model, images: np.ndarray, stats: dict | None = None) -> bytes:
    """The payload of a set of same-sized images (N, H, W, C). ``stats``, if given, gets
    "pixel_bits": what the subpixels cost (the rest of the payload is latents, heads and
    framing)."""
    check_shape(images.shape)
    n, h, w, c = images.shape
    side = choose_side(n, h, w)
    tiling = Tiling.of(n, h, w, side)
    if tiling.lanes > MAX_LANES:
        raise UnsupportedError("too many tiles for one block")
    x = images[..., list(CODING_ORDER)] if c == 3 else images
    net = model.network(c)
    everything = _Canvas(tiling, c)
    everything.fill(tiling.to_tiles(x))
    mu, log_sigma = net.posterior_of_tiles(everything.pixel_inputs())
    settings = Settings(_coarse_precision(mu, log_sigma, model.tables),
                        _choose_scale_offsets(model, net, everything, tiling.to_tiles(x).astype(np.int64), mu))
    parts = lane_groups(tiling.lanes, choose_groups(tiling.lanes))
    groups = GroupedMessage([model.new_message(part.stop - part.start) for part in parts])
    push_images(model, groups, tiling, x, settings, stats=stats)
    messages = [message.to_bytes() for message in groups.messages]
    lengths = b"".join(encode_varint(len(m)) for m in messages[:-1])
    offsets = bytes(o & 0xFF for o in settings.scale_offsets)
    return bytes([side // BLOCK, *settings.coarse_bits]) + offsets + bytes([len(messages)]) + lengths + b"".join(messages)


def choose_groups(lanes: int) -> int:
    """The encoder's rule: two independent lane groups (two cores' worth) from 64 lanes."""
    return 2 if lanes >= 64 else 1


def lane_groups(lanes: int, groups: int) -> list[slice]:
    """Group g holds lanes [g * lanes // groups, (g + 1) * lanes // groups)."""
    return [slice(g * lanes // groups, (g + 1) * lanes // groups) for g in range(groups)]


def decode(model, data: bytes | memoryview, shape: tuple[int, int, int, int], workers: int | None = None) -> np.ndarray:
    """``workers``: processes for the lane groups (default: the cores this process may use)."""
    try:
        check_shape(shape)
    except UnsupportedError as exc:
        raise CorruptError(f"natural-image block: {exc}") from None
    n, h, w, c = shape
    view = memoryview(data)
    if len(view) < _HEADER or view[0] * BLOCK not in SIDES:
        raise CorruptError("natural-image block names an unknown tile size")
    settings = Settings(tuple(view[1 : 1 + LATENT]),
                        tuple(b - 256 if b > 127 else b for b in view[1 + LATENT : 4 + LATENT]))
    if max(settings.coarse_bits) > model.tables.prior_precision:
        raise CorruptError("natural-image block names an impossible latent precision")
    tiling = Tiling.of(n, h, w, view[0] * BLOCK)
    groups = view[_HEADER - 1]
    if tiling.lanes > MAX_LANES or not 1 <= groups <= tiling.lanes:
        raise CorruptError("natural-image block has an impossible tile or group count")
    pos, lengths = _HEADER, []
    for _ in range(groups - 1):
        length, pos = decode_varint(view, pos, len(view))
        lengths.append(length)
    lengths.append(len(view) - pos - sum(lengths))
    if lengths[-1] < 0:
        raise CorruptError("natural-image block is truncated")
    jobs = []
    for part, length in zip(lane_groups(tiling.lanes, groups), lengths):
        jobs.append((view[pos : pos + length], part))
        pos += length
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # Forking is safe only from a process with one thread (another could hold a lock the
    # child needs), and pays only with a single-threaded BLAS (the command line sets one):
    # otherwise each child's BLAS threads fight the other's for the cores.
    if (min(workers, groups) > 1 and threading.active_count() == 1 and not multiprocessing.current_process().daemon
            and os.environ.get("OPENBLAS_NUM_THREADS") == "1"):
        tiles = _decode_in_processes(model, jobs, tiling, c, settings, min(workers, groups))
    else:  # every group in lockstep here: one pass of numpy calls serves them all
        messages = [model.read_message(payload, part.stop - part.start) for payload, part in jobs]
        tiles = [pop_images(model, GroupedMessage(messages), tiling, c, settings)]
        if not all(model.is_initial(message) for message in messages):
            raise CorruptError("natural-image block did not decode back to its initial state")
    x = tiling.from_tiles(np.concatenate(tiles)).astype(np.uint8)
    return np.ascontiguousarray(x[..., np.argsort(CODING_ORDER)] if c == 3 else x)


class GroupedMessage:
    """Independent rANS messages on consecutive lane ranges, used as one message of all their
    lanes: every push, peek and pop acts on all lanes, split among the groups."""

    def __init__(self, messages: list[Message]):
        self.messages = messages
        bounds = np.cumsum([0] + [m.lanes for m in messages])
        self.parts = [slice(int(a), int(b)) for a, b in pairwise(bounds)]
        self.lanes = int(bounds[-1])

    def push(self, starts: np.ndarray, freqs: np.ndarray, precision: int) -> None:
        for message, part in zip(self.messages, self.parts):
            message.push(starts[part], freqs[part], precision)

    def peek(self, n: int, precision: int) -> np.ndarray:
        return np.concatenate([message.peek(message.lanes, precision) for message in self.messages])

    def pop(self, starts: np.ndarray, freqs: np.ndarray, precision: int) -> None:
        for message, part in zip(self.messages, self.parts):
            message.pop(starts[part], freqs[part], precision)


def _decode_group(model, payload, tiling: Tiling, c: int, settings, part: slice) -> np.ndarray:
    message = model.read_message(payload, part.stop - part.start)
    tiles = pop_images(model, message, tiling, c, settings, part)
    if not model.is_initial(message):
        raise CorruptError("natural-image block did not decode back to its initial state")
    return tiles


_FORKED_MODEL = None  # the model, inherited by forked workers instead of pickled


def _decode_forked(payload: bytes, tiling: Tiling, c: int, settings, part: slice) -> np.ndarray:
    return _decode_group(_FORKED_MODEL, payload, tiling, c, settings, part)


def _decode_in_processes(model, jobs, tiling: Tiling, c: int, settings, workers: int) -> list[np.ndarray]:
    """The lane groups decoded in forked processes (numpy's per-call overhead holds the GIL,
    so threads would not overlap). The first group runs here while the others run there."""
    global _FORKED_MODEL
    from concurrent.futures import ProcessPoolExecutor

    _FORKED_MODEL = model
    try:
        with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_decode_forked, bytes(payload), tiling, c, settings, part)
                       for payload, part in jobs[1:]]
            first = _decode_group(model, jobs[0][0], tiling, c, settings, jobs[0][1])
            return [first] + [future.result() for future in futures]
    finally:
        _FORKED_MODEL = None


def push_images(model, message: Message, tiling: Tiling, x: np.ndarray, settings: Settings,
                part: slice = slice(None), stats: dict | None = None) -> None:
    """Bits-back encode the tiles ``part`` of images x (N, H, W, C in coding order) onto
    ``message``, one lane a tile, with the block's ``settings``."""
    c = x.shape[-1]
    net, tables = model.network(c), model.tables
    tiles = tiling.to_tiles(x)[part]
    canvas = _Canvas(tiling, c, part)
    canvas.fill(tiles)
    mu, log_sigma = net.posterior_of_tiles(canvas.pixel_inputs())
    latents = _Latents(tiling, tables, settings.coarse_bits, part)
    latents.set_coarse(mu)
    offsets = np.array(settings.scale_offsets) * _OFFSET_UNIT
    values = tiles.astype(np.int64)
    for j in reversed(range(latents.rows)):
        latents.push_prior(message, j + 2)
        if j >= 1:
            latents.pop_posterior(message, j - 1, mu, log_sigma)
        feats = latents.features(net, j)
        for row in reversed(range(BLOCK * j, min(BLOCK * (j + 1), tiling.th))):
            starts, freqs = _row_slots(model, net, canvas, feats, values, row, offsets)
            if stats is not None:  # the pixels' share of the rate, for reports
                stats["pixel_bits"] = stats.get("pixel_bits", 0.0) + float(
                    np.sum(tables.pixel_precision - np.log2(freqs)))
            for index in reversed(range(len(starts))):
                message.push(starts[index], freqs[index], tables.pixel_precision)
    latents.push_prior(message, 1)
    latents.push_prior(message, 0)


def pop_images(model, message: Message, tiling: Tiling, c: int, settings: Settings,
               part: slice = slice(None)) -> np.ndarray:
    """The inverse of ``push_images``: the tiles ``part`` (lanes, th, tw, C in coding order),
    with ``message`` as it was before the push."""
    net, tables = model.network(c), model.tables
    canvas = _Canvas(tiling, c, part)
    latents = _Latents(tiling, tables, settings.coarse_bits, part)
    offsets = np.array(settings.scale_offsets) * _OFFSET_UNIT
    tiles = np.zeros((len(canvas.inside), tiling.th, tiling.tw, c), dtype=np.int64)
    latents.pop_prior(message, 0)
    latents.pop_prior(message, 1)
    for j in range(latents.rows):
        feats = latents.features(net, j)
        for row in range(BLOCK * j, min(BLOCK * (j + 1), tiling.th)):
            _decode_row(model, net, message, canvas, feats, tiles, row, offsets)
        if j >= 1:
            mu, log_sigma = net.posterior_of_tiles(canvas.pixel_inputs())
            latents.push_posterior(message, j - 1, mu, log_sigma)
        latents.pop_prior(message, j + 2)
    return tiles


# A latent channel whose posterior standard deviation averages below this carries
# information worth a few bits: the encoder then gives that channel's latents coded
# without bits back 2 bits each, else none (the prior median).
_INFORMATIVE_SIGMA = 0.7


def _coarse_precision(mu: np.ndarray, log_sigma: np.ndarray, tables) -> tuple[int, ...]:
    """The encoder's rule for the precision of the latents coded without bits back."""
    inv_sigma = tables.inv_sigma[scale_index(log_sigma, tables.log_sigma_min, len(tables.inv_sigma))]
    mean_inv = inv_sigma.reshape(-1, LATENT).mean(axis=0)
    return tuple(2 if float(v) > (1 << EXP_BITS) / _INFORMATIVE_SIGMA else 0 for v in mean_inv)


class _Latents:
    """Each lane's latent grid (its tile's 8x8 blocks) as fixed-point values, and how each
    block row is coded: by bits back, or (the lane's last two block rows, whose posterior
    pops would find an empty lane) as the bucket of the posterior mean at ``coarse_bits``
    bits of precision per channel (0: the prior median), pushed under a uniform distribution."""

    def __init__(self, tiling: Tiling, tables, coarse_bits: tuple[int, ...], part: slice = slice(None)):
        self.tables, self.coarse_bits = tables, coarse_bits
        self.rows, self.cols = tiling.th // BLOCK, tiling.tw // BLOCK
        heights, widths = (e[part] for e in tiling.lane_extent())
        block_rows = -(-heights // BLOCK)  # the lane's rows of blocks inside the image
        inside_cols = np.arange(self.cols)[None, :] < -(-widths // BLOCK)[:, None]
        spread = lambda rows: np.repeat(inside_cols & rows[:, None], LATENT, axis=1)
        self.coded = [spread(j < block_rows - 2) for j in range(self.rows)]
        self.coarse = [spread((j >= block_rows - 2) & (j < block_rows)) for j in range(self.rows)]
        shape = (len(heights), self.rows, self.cols * LATENT)
        self.buckets = np.zeros(shape, dtype=np.int64)  # fine buckets, or coarse ones
        # Per latent slot (block-major, channel-minor): precision and coarse_centres index of
        # bucket 0.
        self.slot_bits = np.tile(np.array(coarse_bits, dtype=np.int64), self.cols)
        self.coarse_base = (1 << self.slot_bits) - 1

    def set_coarse(self, mu: np.ndarray) -> None:
        """The encoder's coarse buckets: the posterior means' buckets at coarse_bits."""
        fine = np.searchsorted(self.tables.latent_edges[1:-1], mu.reshape(self.buckets.shape), side="right")
        coarse = fine >> (self.tables.prior_precision - self.slot_bits)
        for j in range(self.rows):
            self.buckets[:, j] = np.where(self.coarse[j], coarse[:, j], self.buckets[:, j])

    def values(self, rows: slice) -> np.ndarray:
        buckets = self.buckets[:, rows]
        coarse = np.stack(self.coarse[rows], axis=1)
        return np.where(coarse, self.tables.coarse_centres[self.coarse_base + np.where(coarse, buckets, 0)],
                        self.tables.latent_centres[np.where(coarse, 0, buckets)])

    def features(self, net, j: int) -> np.ndarray:
        """Features (lanes, cols, C*HIDDEN) of block row j: from latent rows j-1 .. j+1."""
        low = max(j - 1, 0)
        z = self.values(slice(low, j + 2))
        return net.features(z.reshape(len(z), -1, self.cols, LATENT))[:, j - low]

    def _uniform(self, j: int):
        """(slot, mask, precision) of the row's latents under uniform distributions: the
        bits-back ones under the prior, then the coarse ones."""
        fine = [(k, self.coded[j][:, k], self.tables.prior_precision) for k in range(self.coded[j].shape[1])]
        coarse = [(k, self.coarse[j][:, k], int(self.slot_bits[k])) for k in range(self.coarse[j].shape[1])]
        return [(k, on, bits) for k, on, bits in fine + coarse if bits and on.any()]

    def push_prior(self, message: Message, j: int) -> None:
        if j >= self.rows:
            return
        for k, on, precision in reversed(self._uniform(j)):
            message.push(np.where(on, self.buckets[:, j, k], 0), np.where(on, 1, 1 << precision), precision)

    def pop_prior(self, message: Message, j: int) -> None:
        if j >= self.rows:
            return
        for k, on, precision in self._uniform(j):
            slots = message.peek(message.lanes, precision).astype(np.int64)
            message.pop(np.where(on, slots, 0), np.where(on, 1, 1 << precision), precision)
            self.buckets[:, j, k] = np.where(on, slots, self.buckets[:, j, k])

    def _posteriors(self, j: int, mu: np.ndarray, log_sigma: np.ndarray):
        mu, log_sigma = mu[:, j].reshape(len(mu), -1), log_sigma[:, j].reshape(len(mu), -1)
        return [LatentPosteriors(mu[:, k], log_sigma[:, k], self.tables) for k in range(mu.shape[1])]

    def pop_posterior(self, message: Message, j: int, mu: np.ndarray, log_sigma: np.ndarray) -> None:
        coded = self.coded[j]
        if not coded.any():
            return
        for k, dist in enumerate(self._posteriors(j, mu, log_sigma)):
            self.buckets[:, j, k] = np.where(coded[:, k], _pop(message, dist, coded[:, k]), self.buckets[:, j, k])

    def push_posterior(self, message: Message, j: int, mu: np.ndarray, log_sigma: np.ndarray) -> None:
        coded = self.coded[j]
        if not coded.any():
            return
        for k, dist in reversed(list(enumerate(self._posteriors(j, mu, log_sigma)))):
            _push(message, dist, self.buckets[:, j, k], coded[:, k])


class _Canvas:
    """Per-lane tiles with margins, as network inputs: C pixel channels and validity."""

    def __init__(self, tiling: Tiling, channels: int, part: slice = slice(None)):
        self.tiling, self.channels = tiling, channels
        self.depth = channels + 1
        self.width = tiling.tw + 2 * PAD_SIDE
        heights, widths = (e[part] for e in tiling.lane_extent())
        self.lanes = len(heights)
        self.data = np.zeros((self.lanes, tiling.th + PAD_TOP, self.width, self.depth), dtype=np.int16)
        rows = np.arange(tiling.th)[None, :, None] < heights[:, None, None]
        cols = np.arange(tiling.tw)[None, None, :] < widths[:, None, None]
        self.inside = rows & cols  # (lanes, th, tw)
        self.data[:, PAD_TOP:, PAD_SIDE : PAD_SIDE + tiling.tw, channels] = np.where(self.inside, VALID, 0)
        self.flat = self.data.reshape(self.lanes, -1)
        channel_major = [(dy * self.width + dx) * self.depth + ch for ch in range(self.depth) for dy, dx in CAUSAL]
        self.taps = np.array(channel_major, dtype=np.int64)

    def offset(self, row, col):
        return ((row + PAD_TOP) * self.width + col + PAD_SIDE) * self.depth

    def fill(self, tiles: np.ndarray) -> None:
        t = self.tiling
        values = np.where(self.inside[..., None], pixel_input(tiles), 0)
        self.data[:, PAD_TOP:, PAD_SIDE : PAD_SIDE + t.tw, : self.channels] = values

    def pixel_inputs(self) -> np.ndarray:
        """The tiles as network inputs (lanes, th, tw, C): outside the image reads as 128."""
        t = self.tiling
        return self.data[:, PAD_TOP:, PAD_SIDE : PAD_SIDE + t.tw, : self.channels]

    def context(self, offsets: np.ndarray) -> np.ndarray:
        """Causal taps (channel-major) at flat offsets: (lanes, positions) -> (lanes * positions, taps)."""
        return self.flat[:, offsets[:, None] + self.taps[None]].reshape(-1, len(self.taps))


def _med_inputs(tiles: np.ndarray, row: int, cols: np.ndarray, corner: int = 128) -> np.ndarray:
    """MED predictions (lanes, positions, C) for row ``row`` at columns ``cols`` of every tile."""
    def at(r, cs):
        if r < 0:
            return np.full(tiles.shape[:1] + cs.shape + tiles.shape[-1:], 128, dtype=np.int64)
        return tiles[:, r, np.maximum(cs, 0)].astype(np.int64)
    a, b, c = at(row, cols - 1), at(row - 1, cols), at(row - 1, cols - 1)
    r = np.full(cols.shape, row)[None, :, None]
    return med(a, b, c, r, cols[None, :, None], corner)


def _colour_base(pred: np.ndarray, green: np.ndarray, difference_med: np.ndarray) -> np.ndarray:
    """Each channel's mixture centre before the network's offset: MED for G; this pixel's G
    plus the MED prediction of the channel's difference from G for R and B, in 0..255."""
    if pred.shape[1] == 1:
        return pred
    return np.concatenate([pred[:, :1], np.clip(green[:, None] + difference_med, 0, 255)], axis=1)


def _row_outputs(net, canvas: _Canvas, feats: np.ndarray, values: np.ndarray, row: int):
    """The encoder's view of one pixel row of every tile, vectorised over the row: per channel
    the head outputs, and the centres, residuals and true values (rows: lane-major)."""
    t, c = canvas.tiling, canvas.channels
    cols = np.arange(t.tw)
    context = canvas.context(canvas.offset(row, cols)).astype(np.float64)
    pred = _med_inputs(values, row, cols).reshape(-1, c)
    feats = feats[:, cols // BLOCK].reshape(-1, feats.shape[-1])
    truth = values[:, row].reshape(-1, c)
    residual = truth - pred
    if c > 1:
        near = values[:, max(row - 1, 0) : row + 1]  # the rows MED reads: this one and the one above
        difference = _med_inputs(near[..., 1:] - near[..., :1], min(row, 1), cols, corner=0).reshape(-1, c - 1)
        base = _colour_base(pred, truth[:, 0], difference)
    else:
        base = pred
    spatial = net.spatial(context)
    outs = []
    for k in range(c):
        part = slice(k * HIDDEN, (k + 1) * HIDDEN)
        point = np.concatenate([pixel_input(pred), residual_input(residual[:, :k])], axis=1).astype(np.float64)
        outs.append(net.heads[k](spatial[:, part], point, feats[:, part]))
    return outs, base, residual, truth


def _row_slots(model, net, canvas: _Canvas, feats: np.ndarray, values: np.ndarray, row: int,
               offsets: np.ndarray):
    """(start, freq) of every subpixel of one pixel row of every tile, shaped (tw * C, lanes),
    columns then channels: the encoder's side of ``_decode_row``."""
    t, c = canvas.tiling, canvas.channels
    precision = model.tables.pixel_precision
    starts = np.zeros((t.tw, c, canvas.lanes), dtype=np.int64)
    freqs = np.full((t.tw, c, canvas.lanes), 1 << precision, dtype=np.int64)
    inside = canvas.inside[:, row].T  # (tw, lanes)
    outs, base, residual, truth = _row_outputs(net, canvas, feats, values, row)
    for k in range(c):
        mixtures = Mixtures(mixture_outputs(outs[k], base[:, k], residual[:, :k], int(offsets[k])), model.tables)
        low = mixtures.starts(truth[:, k]).reshape(canvas.lanes, t.tw).T
        high = mixtures.starts(truth[:, k] + 1).reshape(canvas.lanes, t.tw).T
        starts[:, k] = np.where(inside, low, 0)
        freqs[:, k] = np.where(inside, high - low, 1 << precision)
    return starts.reshape(-1, canvas.lanes), freqs.reshape(-1, canvas.lanes)


# Calibration of each channel's log-scales for the whole block, in units of 1/16 (the
# encoder's candidates; a decoder accepts any signed byte). A static model is too sharp on
# some photos and too broad on others; one number per channel recovers a few percent.
_OFFSET_CANDIDATES = (-8, -4, -2, 0, 2, 4, 6, 8, 11, 16, 24)
_OFFSET_UNIT = 1 << (ACT_BITS - 4)


def _choose_scale_offsets(model, net, canvas: _Canvas, values: np.ndarray, mu: np.ndarray) -> tuple[int, ...]:
    """The encoder's rule: the candidate that codes a sample of rows (one in eight, with the
    latents at their posterior means) smallest, per channel."""
    tables, c, t = model.tables, canvas.channels, canvas.tiling
    fine = np.searchsorted(tables.latent_edges[1:-1], mu, side="right")
    features = net.features(tables.latent_centres[fine])
    costs = np.zeros((c, len(_OFFSET_CANDIDATES)))
    for row in range(BLOCK // 2, t.th, BLOCK):
        inside = canvas.inside[:, row].reshape(-1)
        outs, base, residual, truth = _row_outputs(net, canvas, features[:, row // BLOCK], values, row)
        for k in range(c):
            for i, candidate in enumerate(_OFFSET_CANDIDATES):
                mixtures = Mixtures(mixture_outputs(outs[k], base[:, k], residual[:, :k], candidate * _OFFSET_UNIT),
                                    tables)
                freq = mixtures.starts(truth[:, k] + 1) - mixtures.starts(truth[:, k])
                costs[k, i] -= float(np.log2(freq[inside]).sum())
    chosen = [_OFFSET_CANDIDATES[int(np.argmin(row))] for row in costs]
    return tuple(chosen + [0] * (3 - c))


def _decode_row(model, net, message: Message, canvas: _Canvas, feats: np.ndarray, tiles: np.ndarray,
                row: int, offsets: np.ndarray) -> None:
    """Pop one pixel row of every tile, in raster then channel order, into tiles and canvas."""
    tables = model.tables
    precision = tables.pixel_precision
    full = 1 << precision
    lanes, c = len(tiles), canvas.channels
    point = np.empty((lanes, 2 * c))  # MED inputs, then the residuals decoded so far
    residual = np.zeros((lanes, c), dtype=np.int64)
    for col in range(canvas.tiling.tw):
        inside = canvas.inside[:, row, col]
        everywhere = bool(inside.all())
        spatial = net.spatial(canvas.context(np.array([canvas.offset(row, col)])).astype(np.float64))
        pred = _med_at(tiles, row, col)
        point[:, :c] = pixel_input(pred)
        base = pred
        block_feats = feats[:, col // BLOCK]
        for k in range(c):
            part = slice(k * HIDDEN, (k + 1) * HIDDEN)
            out = net.heads[k](spatial[:, part], point[:, : c + k], block_feats[:, part])
            mixtures = Mixtures(mixture_outputs(out, base[:, k], residual[:, :k], int(offsets[k])), tables)
            symbols, low, high = _search_near(message, mixtures)
            if everywhere:
                message.pop(low, high - low, precision)
            else:
                message.pop(np.where(inside, low, 0), np.where(inside, high - low, full), precision)
                symbols = np.where(inside, symbols, 0)
            tiles[:, row, col, k] = symbols
            residual[:, k] = symbols - pred[:, k]
            point[:, c + k] = residual_input(residual[:, k])
            if k == 0 and c > 1:
                difference = _med_at(tiles, row, col, corner=0, difference=True)
                base = _colour_base(pred, symbols, difference)
        canvas.data[:, PAD_TOP + row, PAD_SIDE + col, :c] = np.where(inside[:, None], pixel_input(tiles[:, row, col]), 0)


def _med_at(tiles: np.ndarray, row: int, col: int, corner: int = 128, difference: bool = False) -> np.ndarray:
    """MED predictions (lanes, C) at one position of every tile; with ``difference``, of the
    channels after the first minus the first (corner 0)."""
    def at(r, q):
        return tiles[:, r, q, 1:] - tiles[:, r, q, :1] if difference else tiles[:, r, q]
    if row == 0:
        return at(0, col - 1) if col else np.full(at(0, 0).shape, corner, dtype=np.int64)
    if col == 0:
        return at(row - 1, 0)
    a, b, c = at(row, col - 1), at(row - 1, col), at(row - 1, col - 1)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def _search(message: Message, starts, precision: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _search_slots(message.peek(message.lanes, precision).astype(np.int64), starts, precision)


def _search_slots(slots: np.ndarray, starts, precision: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lane's symbol (of 256) and its slot range [low, high): two rounds of 16-ary
    search; the second round's probes and the first round's bracket give both bounds."""
    n = len(slots)
    lanes = np.arange(n)
    bounds = np.empty((17, n), dtype=np.int64)
    bounds[0], bounds[16] = 0, 1 << precision
    bounds[1:16] = starts(_FINE * 16 + np.zeros_like(slots))
    coarse = (bounds[1:16] <= slots).sum(axis=0)
    low, high = bounds[coarse, lanes], bounds[coarse + 1, lanes]
    bounds[0], bounds[16] = low, high
    bounds[1:16] = starts(coarse * 16 + _FINE)
    fine = (bounds[1:16] <= slots).sum(axis=0)
    return coarse * 16 + fine, bounds[fine, lanes], bounds[fine + 1, lanes]


WINDOW = 8  # symbols probed around each mixture's centre
_WINDOW = np.arange(WINDOW, dtype=np.int64)[:, None]
_ALL = np.arange(1, 256, dtype=np.int64)[:, None]
# Up to this many lanes outside their window, one call over all 255 symbols beats two
# rounds of 16-ary search.
_FULL_SCAN_LANES = 4


def _search_near(message: Message, mixtures: Mixtures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_search`` for pixels, first among the 16 symbols around the mixture's centre: one
    call settles most lanes; the rest are searched in full."""
    n = message.lanes
    lanes = np.arange(n)
    slots = message.peek(n, mixtures.precision).astype(np.int64)
    first = np.minimum(np.maximum(mixtures.guess() - (WINDOW // 2 - 1), 1), LEVELS - WINDOW)
    window = mixtures.interior_starts(first + _WINDOW)
    count = (window <= slots).sum(axis=0)
    miss = np.flatnonzero((count == 0) | (count == WINDOW))
    inside = np.minimum(np.maximum(count, 1), WINDOW - 1)
    symbols = first + inside - 1
    low, high = window[inside - 1, lanes], window[inside, lanes]
    if len(miss) > _FULL_SCAN_LANES:
        part = mixtures.subset(miss)
        found, found_low, found_high = _search_slots(slots[miss], part.interior_starts, part.precision)
        symbols[miss], low[miss], high[miss] = found, found_low, found_high
    elif len(miss):
        # A few lanes outside their window: every symbol's start in one call.
        part = mixtures.subset(miss)
        every = np.empty((LEVELS + 1, len(miss)), dtype=np.int64)
        every[0], every[LEVELS] = 0, 1 << mixtures.precision
        every[1:LEVELS] = part.interior_starts(_ALL + np.zeros(len(miss), dtype=np.int64))
        found = (every[1:LEVELS] <= slots[miss]).sum(axis=0)
        columns = np.arange(len(miss))
        symbols[miss], low[miss], high[miss] = found, every[found, columns], every[found + 1, columns]
    return symbols, low, high


def _pop(message: Message, dist, active: np.ndarray) -> np.ndarray:
    symbols, low, high = _search(message, dist.starts, dist.precision)
    message.pop(np.where(active, low, 0), np.where(active, high - low, 1 << dist.precision), dist.precision)
    return np.where(active, symbols, 0)


def _push(message: Message, dist, symbols: np.ndarray, active: np.ndarray) -> None:
    low = dist.starts(symbols)
    high = dist.starts(symbols + 1)
    message.push(np.where(active, low, 0), np.where(active, high - low, 1 << dist.precision), dist.precision)
