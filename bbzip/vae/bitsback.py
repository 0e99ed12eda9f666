"""Bits-back coding of a sequence of 28x28 images over one rANS message (BB-ANS).

Per batch of images the encoder pops latents from the posterior (taking back bits already
in the message), pushes the pixels given the latents, then pushes the latents under the
prior; the decoder runs the same steps backwards, mirror-image, line for line.

Initial bits: the very first image has nothing to take bits back from, so it is coded
without bits-back: its latents are the buckets holding the posterior means, at whichever
coarser prior precision q (1..8 bits a dimension, itself coded in 3 bits) makes the image
cheapest, so a lone image pays a few bits per latent rather than eight. Batch sizes then grow fourfold, 1, 4, 16, ... up to the lane count: each image
leaves about five times the bits its latents take back, so every later pop finds real
bits from earlier images in the message; should the message still run dry,
the encoder borrows words and the decoder's final check requires them back. After
decoding, the message must be exactly in its initial state.

Two initial states: coder 0x03 starts every lane's head at 2**32 and borrows zero words,
so the first latent popped on every lane that opens is bucket 0 whatever the image;
coder 0x05 (``seed=SEED``) starts from seeded heads and borrows seeded words
(``Message.seeded``), so those latents are proper posterior samples too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bbzip.ans.rans import Message
from bbzip.errors import CorruptError
from bbzip.fixedpoint.coding import LatentPosteriors, pop, push
from bbzip.fixedpoint.cost import COST_BITS, code_length
from bbzip.vae.likelihood import pixel_slots_for
from bbzip.vae.network import IMAGE, PIXELS
from bbzip.vae.stepper import stepper_for

MAX_LANES = 512
FIRST_PRECISION_BITS = 3  # the first image's latent precision q - 1, uniform in 0..7
# Lanes are chosen so decoding takes about this many sequential numpy steps at most
# (each lane costs about 5 bytes of final state, 0.003 bits/pixel at 512 lanes for
# 10,000 digits; each step costs a fraction of a millisecond).
TARGET_STEPS = 20_000
SEED = 0  # the seed of coder 0x05's initial bits (docs/FORMAT.md)
# Blocks of at least this many pixel steps decode with the compiled pop when numba is
# installed: below it (a few digits) numpy finishes before numba would have been imported.
COMPILED_MIN_STEPS = 8 * 784


def choose_lanes(images: int) -> int:
    wanted = max(1, -(-images * PIXELS // TARGET_STEPS))
    return min(MAX_LANES, 1 << (wanted - 1).bit_length())


@dataclass(frozen=True)
class Batch:
    start: int
    stop: int
    bits_back: bool


def schedule(images: int, lanes: int) -> list[Batch]:
    batches = [Batch(0, 1, False)] if images else []
    start, size = 1, 1
    while start < images:
        stop = min(images, start + size)
        batches.append(Batch(start, stop, True))
        start, size = stop, min(lanes, size * 4)
    return batches


def encode(model, images: np.ndarray, seed: int | None = None) -> bytes:
    """Images (N, 28, 28) of pixel symbols (0..255, or 0/1 for a binary model) -> the final
    rANS message as bytes; with ``seed``, from seeded initial bits, else from zeros."""
    lanes = choose_lanes(len(images))
    message = Message(lanes, borrow_zeros=True) if seed is None else Message.seeded(lanes, seed)
    net, tables = model.network, model.tables
    posterior = net.encode(images)
    latent = net.latent
    for batch in schedule(len(images), lanes):
        x = images[batch.start : batch.stop]
        mu = posterior[batch.start : batch.stop, :latent]
        log_sigma = posterior[batch.start : batch.stop, latent:]
        if not batch.bits_back:
            _push_first_image(message, model, x, mu)
            continue
        buckets = np.empty(mu.shape, dtype=np.int64)
        for k in reversed(range(latent)):
            dist = LatentPosteriors(mu[:, k], log_sigma[:, k], tables)
            buckets[:, k] = pop(message, dist, dist.buckets)
        low, freq = _pixel_slots(model, x, tables.latent_centres[buckets])
        for p in reversed(range(PIXELS)):  # the decoder needs raster order for its context
            message.push(low[p], freq[p], tables.pixel_precision)
        _push_uniform(message, buckets, tables.prior_precision)
    return message.to_bytes()


def _pixel_slots(model, x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slot start and frequency of every pixel of the images x given their latents z,
    pixel-major: (784, n) each."""
    return pixel_slots_for(model)(x, model.network.features(z, pixel_major=True))


def _push_uniform(message: Message, symbols: np.ndarray, precision: int) -> None:
    """Push (n, dims) symbols under a uniform distribution, last dimension first."""
    ones = np.ones(len(symbols), dtype=np.int64)
    for k in reversed(range(symbols.shape[1])):
        message.push(symbols[:, k], ones, precision)


def _pop_uniform(message: Message, n: int, dims: int, precision: int) -> np.ndarray:
    symbols = np.empty((n, dims), dtype=np.int64)
    ones = np.ones(n, dtype=np.int64)
    for k in range(dims):
        symbols[:, k] = message.peek(n, precision).astype(np.int64)
        message.pop(symbols[:, k], ones, precision)
    return symbols


def _push_first_image(message: Message, model, x: np.ndarray, mu: np.ndarray) -> None:
    tables = model.tables
    fine = np.searchsorted(tables.latent_edges[1:-1], mu, side="right")
    best = None
    for q in range(1, tables.prior_precision + 1):
        coarse = fine >> (tables.prior_precision - q)
        low, freq = _pixel_slots(model, x, tables.coarse_centres[(1 << q) - 1 + coarse])
        # Integer code lengths: a float log2 could differ in its last bit between CPUs and flip q.
        bits = int(code_length(freq, tables.pixel_precision).sum()) + ((q * coarse.size) << COST_BITS)
        if best is None or bits < best[0]:
            best = (bits, q, coarse, low, freq)
    _, q, coarse, low, freq = best
    for p in reversed(range(PIXELS)):
        message.push(low[p], freq[p], tables.pixel_precision)
    _push_uniform(message, coarse, q)
    _push_uniform(message, np.array([[q - 1]]), FIRST_PRECISION_BITS)


def decode(model, data: bytes | memoryview, count: int, seed: int | None = None) -> np.ndarray:
    """Invert ``encode``; raises CorruptError unless the message ends in its initial state."""
    lanes = choose_lanes(count)
    message = Message.from_bytes(data, lanes, seed=seed)
    net, tables = model.network, model.tables
    latent = net.latent
    images = np.zeros((count, IMAGE, IMAGE), dtype=np.uint8)
    stepper = stepper_for(model)
    batches = schedule(count, lanes)
    compiled = len(batches) * PIXELS >= COMPILED_MIN_STEPS
    for batch in reversed(batches):
        n = batch.stop - batch.start
        if batch.bits_back:
            buckets = _pop_uniform(message, n, latent, tables.prior_precision)
            z = tables.latent_centres[buckets]
        else:
            q = int(_pop_uniform(message, 1, 1, FIRST_PRECISION_BITS)[0, 0]) + 1
            z = tables.coarse_centres[(1 << q) - 1 + _pop_uniform(message, 1, latent, q)]
        x = stepper.decode(message, net.features(z, pixel_major=True), compiled)
        x = x.reshape(n, IMAGE, IMAGE).astype(np.uint8)
        images[batch.start : batch.stop] = x
        if batch.bits_back:
            posterior = net.encode(x)
            for k in range(latent):
                dist = LatentPosteriors(posterior[:, k], posterior[:, latent + k], tables)
                push(message, dist, buckets[:, k])
    if not message.is_initial():
        raise CorruptError("VAE block did not decode back to its initial state")
    return images
