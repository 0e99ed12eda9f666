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
from bbzip.errors import CorruptError, UnsupportedError
from bbzip.fixedpoint.cost import COST_ONE
from bbzip.natural import compiled, context_classes, header
from bbzip.natural.calibration import (
    ADJUST_SIZE,
    block_sample,
    calibration,
    choose_calibration,
    pop_deltas,
    push_deltas,
)
from bbzip.natural.constants import BLOCK, CODING_ORDER
from bbzip.natural.encode_rows import BlockRows
from bbzip.natural.header import Settings
from bbzip.natural.latents import Latents, coarse_precision
from bbzip.natural.pixels import Canvas, decode_row, row_slots
from bbzip.natural.rowposterior import RowPosterior
from bbzip.natural.tiles import MAX_LANES, MIN_SIZE, Tiling, choose_side, zeros_on_demand

# Sets of images this large or larger may get settings per image (when that pays): a few
# big photos of one size, not hundreds of crops.
PER_IMAGE_PIXELS = 1 << 16
_MAX_GROUPS = 16  # lane groups of a set with settings per image, at most (else two)


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
    side = choose_side(n, h, w, c)
    tiling = Tiling.of(n, h, w, side)
    if tiling.lanes > MAX_LANES:
        raise UnsupportedError("too many tiles for one block")
    x = images[..., list(CODING_ORDER)] if c == 3 else images
    prepared = _prepare(model, tiling, x)
    settings = _choose_settings(model, tiling, prepared)
    parts = lane_groups(tiling.lanes, choose_groups(tiling, settings.per_image))
    groups = GroupedMessage([model.new_message(part.stop - part.start) for part in parts])
    push_images(model, groups, tiling, x, settings, stats, prepared)
    return header.pack(side, settings, [message.to_bytes() for message in groups.messages])


def choose_groups(tiling: Tiling, per_image: bool = False) -> int:
    """The encoder's rule: two independent lane groups (two cores' worth) from 64 lanes;
    with settings per image (a few images), each image's lanes as if it were alone, so that
    a set codes no larger than its images one by one."""
    lanes_per_image = tiling.lanes // tiling.n
    each = 2 if lanes_per_image >= 64 else 1
    if per_image and tiling.n * each <= _MAX_GROUPS:
        return tiling.n * each
    return 2 if tiling.lanes >= 64 else 1


def lane_groups(lanes: int, groups: int) -> list[slice]:
    """Group g holds lanes [g * lanes // groups, (g + 1) * lanes // groups)."""
    return [slice(g * lanes // groups, (g + 1) * lanes // groups) for g in range(groups)]


# The most subpixels one block's images of one shape ever held: files written before images
# were cut into bands held whole images of up to 32 MiB (bbzip.images.blocks: now bands of
# at most BAND_BYTES). A header claiming more is refused before anything is allocated.
MAX_BLOCK_SUBPIXELS = 32 << 20


def decode(model, data: bytes | memoryview, shape: tuple[int, int, int, int], workers: int = 1) -> np.ndarray:
    """``workers``: processes for the lane groups, the caller's choice (the command line's
    -T): a library call forks none unless asked."""
    try:
        check_shape(shape)
    except UnsupportedError as exc:
        raise CorruptError(f"natural-image block: {exc}") from None
    n, h, w, c = shape
    if n * h * w * c > MAX_BLOCK_SUBPIXELS:  # before anything is allocated for the claim
        raise CorruptError("natural-image block claims more pixels than any encoder puts in a block")
    side, settings, payloads = header.unpack(memoryview(data), n, c, model.tables.prior_precision)
    tiling = Tiling.of(n, h, w, side)
    if tiling.lanes > MAX_LANES or len(payloads) > tiling.lanes:
        raise CorruptError("natural-image block has an impossible tile or group count")
    jobs = list(zip(payloads, lane_groups(tiling.lanes, len(payloads))))
    workers = min(workers, len(jobs))
    # Forking is safe only from a process with one thread (another could hold a lock the
    # child needs), and pays only with a single-threaded BLAS (the command line sets one):
    # otherwise each child's BLAS threads fight the other's for the cores.
    if (workers > 1 and threading.active_count() == 1 and not multiprocessing.current_process().daemon
            and os.environ.get("OPENBLAS_NUM_THREADS") == "1"):
        tiles = _decode_in_processes(model, jobs, tiling, c, settings, workers)
    else:  # every group in lockstep here: one pass of numpy calls serves them all
        tiles = [_decode_groups(model, jobs, tiling, c, settings)]
    x = tiling.from_tiles(tiles[0] if len(tiles) == 1 else np.concatenate(tiles))
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


def _decode_groups(model, jobs, tiling: Tiling, c: int, settings) -> np.ndarray:
    """Consecutive lane groups [(payload, lanes)] decoded in lockstep: their tiles."""
    messages = [model.read_message(payload, part.stop - part.start) for payload, part in jobs]
    part = slice(jobs[0][1].start, jobs[-1][1].stop)
    tiles = pop_images(model, GroupedMessage(messages) if len(messages) > 1 else messages[0], tiling, c, settings, part)
    if not all(model.is_initial(message) for message in messages):
        raise CorruptError("natural-image block did not decode back to its initial state")
    return tiles


_FORKED_MODEL = None  # the model, inherited by forked workers instead of pickled


def _decode_forked(jobs, tiling: Tiling, c: int, settings) -> np.ndarray:
    return _decode_groups(_FORKED_MODEL, jobs, tiling, c, settings)


def _decode_in_processes(model, jobs, tiling: Tiling, c: int, settings, workers: int) -> list[np.ndarray]:
    """The lane groups decoded in forked processes (numpy's per-call overhead holds the GIL,
    so threads would not overlap), in ``workers`` runs of consecutive groups, each in
    lockstep. The first run is decoded here while the others are decoded there."""
    global _FORKED_MODEL
    from concurrent.futures import ProcessPoolExecutor

    runs = [jobs[w * len(jobs) // workers : (w + 1) * len(jobs) // workers] for w in range(workers)]
    _FORKED_MODEL = model
    try:
        with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_decode_forked, [(bytes(payload), part) for payload, part in run], tiling, c, settings)
                       for run in runs[1:]]
            first = _decode_groups(model, runs[0], tiling, c, settings)
            return [first] + [future.result() for future in futures]
    finally:
        _FORKED_MODEL = None


class _Prepared(NamedTuple):
    """The encoder's view of the tiles before any coding."""

    tiles: np.ndarray
    canvas: Canvas
    values: np.ndarray
    mu: np.ndarray
    log_sigma: np.ndarray


def _prepare(model, tiling: Tiling, x: np.ndarray) -> _Prepared:
    net = model.network(x.shape[-1])
    tiles = tiling.to_tiles(x)
    canvas = Canvas(tiling, x.shape[-1])
    canvas.fill(tiles)
    mu, log_sigma = net.posterior_of_tiles(canvas.pixel_inputs())
    return _Prepared(tiles, canvas, tiles.astype(np.int64), mu, log_sigma)


def push_images(model, message: Message, tiling: Tiling, x: np.ndarray, settings: Settings | None = None,
                stats: dict | None = None, prepared: _Prepared | None = None) -> Settings:
    """Bits-back encode images x (N, H, W, C in coding order) onto ``message``, one lane a
    tile, with the block's ``settings`` (chosen here when None). Returns the settings."""
    c = x.shape[-1]
    net, tables = model.network(c), model.tables
    prepared = prepared or _prepare(model, tiling, x)
    canvas, values, mu, log_sigma = prepared.canvas, prepared.values, prepared.mu, prepared.log_sigma
    if settings is None:
        settings = _choose_settings(model, tiling, prepared)
    latents = Latents(tiling, tables, settings.coarse_bits)
    latents.set_coarse(mu)
    calib = calibration(settings.scale_offsets, settings.tile_deltas if settings.per_tile else None,
                        settings.adjust, tiling.lane_origins()[0], c)
    calib = context_classes.attach(calib, settings.context, tiling.lane_origins()[0], c)
    fast = compiled.Tables(tables) if compiled.enabled(values.size) else None
    block_rows = BlockRows(net, canvas, values, calib, fast) if fast else None
    for j in reversed(range(latents.rows)):
        latents.push_prior(message, j + 2)
        if j >= 1:
            latents.pop_posterior(message, j - 1, mu, log_sigma)
        feats = latents.features(net, j)
        rows = range(BLOCK * j, min(BLOCK * (j + 1), tiling.th))
        # Compiled: the block row's rows at once, one under the other (pushed last row first).
        slots = [block_rows.slots(feats, rows)] if fast else (
            row_slots(model, net, canvas, feats, values, row, calib) for row in reversed(rows))
        for starts, freqs in slots:
            if stats is not None:  # the pixels' share of the rate, for reports
                stats["pixel_bits"] = stats.get("pixel_bits", 0.0) + float(
                    np.sum(tables.pixel_precision - np.log2(freqs)))
            if fast:
                _push_rows(fast, message, starts, freqs, tables.pixel_precision)
                continue
            for index in reversed(range(len(starts))):
                message.push(starts[index], freqs[index], tables.pixel_precision)
    latents.push_prior(message, 1)
    latents.push_prior(message, 0)
    if settings.per_tile:
        push_deltas(message, settings.tile_deltas)
    return settings


def _push_rows(fast, message, starts: np.ndarray, freqs: np.ndarray, precision: int) -> None:
    """``message.push(starts[i], freqs[i], precision)`` for i from the last row to the first,
    compiled, on each lane group's message."""
    messages = getattr(message, "messages", [message])
    parts = getattr(message, "parts", [slice(None)])
    for part_message, part in zip(messages, parts):
        words = part_message.tail_room(starts.shape[0] * part_message.lanes)
        # Contiguous, as a one-group block's are: the kernel the parent's warm-up loaded
        # (bbzip.parallel_natural) serves, where a strided view would load another.
        size = fast.kernels.push_rows(part_message.head, np.ascontiguousarray(starts[:, part]),
                                      np.ascontiguousarray(freqs[:, part]), precision, words, part_message.tail_words,
                                      fast.consts)
        part_message.set_tail_words(size)


def _choose_settings(model, tiling: Tiling, prepared: _Prepared) -> Settings:
    """The encoder's rule: one calibration for the set, or one per image when the images
    are large and their sampled costs say that pays for the extra header bytes."""
    _, canvas, values, mu, log_sigma = prepared
    net = model.network(canvas.channels)
    coarse_bits = coarse_precision(mu, log_sigma, model.tables)
    sample = block_sample(model, net, canvas, values, mu)
    shared = choose_calibration(model, net, canvas, values, mu, sample)
    settings = Settings(coarse_bits, shared.offsets, shared.deltas is not None, shared.deltas, shared.adjust)
    if tiling.n < 2 or tiling.height * tiling.width < PER_IMAGE_PIXELS:
        return context_classes.refine(model, canvas, values, sample, shared, settings)
    each, per = [], tiling.rows * tiling.cols
    for i in range(tiling.n):  # the same sample, each image's lanes alone
        each.append(choose_calibration(model, net, canvas, values, mu, sample, slice(i * per, (i + 1) * per)))
    with_adjust = any(choice.adjust is not None for choice in each)
    per_tile = any(choice.deltas is not None for choice in each)
    header_bits = 8 * COST_ONE * (tiling.n - 1) * (3 + (canvas.channels * ADJUST_SIZE if with_adjust else 0))
    bits = sum(choice.bits_with_deltas if per_tile else choice.bits for choice in each)
    if bits + header_bits >= shared.bits:
        return context_classes.refine(model, canvas, values, sample, shared, settings)
    zeros = np.zeros((canvas.channels, ADJUST_SIZE), dtype=np.int64)
    adjust = np.stack([zeros if choice.adjust is None else choice.adjust for choice in each])
    return Settings(coarse_bits, np.array([choice.offsets for choice in each]), per_tile,
                    np.concatenate([choice.best_deltas for choice in each]) if per_tile else None,
                    adjust if with_adjust else None)


def pop_images(model, message: Message, tiling: Tiling, c: int, settings: Settings,
               part: slice = slice(None)) -> np.ndarray:
    """The inverse of ``push_images``: the tiles ``part`` (lanes, th, tw, C in coding order),
    with ``message`` as it was before the push."""
    net, tables = model.network(c), model.tables
    canvas = Canvas(tiling, c, part, lazy=True)
    latents = Latents(tiling, tables, settings.coarse_bits, part)
    lanes = canvas.lanes
    deltas = pop_deltas(message, lanes, c) if settings.per_tile else None
    calib = calibration(settings.scale_offsets, deltas, settings.adjust, tiling.lane_origins()[0][part], c)
    calib = context_classes.attach(calib, settings.context, tiling.lane_origins()[0][part], c)
    # Bytes (pixels are 0..255), and zeros whose pages are only allocated as rows are
    # decoded: memory follows the data present, not the size a header claims.
    tiles = zeros_on_demand((lanes, tiling.th, tiling.tw, c), np.uint8)
    latents.pop_prior(message, 0)
    latents.pop_prior(message, 1)
    posterior = RowPosterior(net)
    stepper = None
    if compiled.enabled(tiles.size):
        from bbzip.natural.stepper import Stepper

        stepper = Stepper(model, net, canvas, tiles, calib, message)
    for j in range(latents.rows):
        feats = latents.features(net, j)
        for row in range(BLOCK * j, min(BLOCK * (j + 1), tiling.th)):
            canvas.open_row(row)
            if stepper:
                stepper.row(feats, row)
            else:
                decode_row(model, net, message, canvas, feats, tiles, row, calib)
        if j >= 1 and latents.coded[j - 1].any():
            mu, log_sigma = posterior(canvas.pixel_inputs(), j - 1)
            latents.push_posterior(message, j - 1, mu, log_sigma)
        latents.pop_prior(message, j + 2)
    return tiles
