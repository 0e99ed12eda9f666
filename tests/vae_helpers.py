"""A tiny random-weight VAE for fast tests: same layer shapes as the real one, no torch."""

from __future__ import annotations

import functools

import numpy as np

from bbzip.vae.freeze import freeze_arrays
from bbzip.vae.model import parse_model


def random_float_arrays(latent: int = 4, hidden: int = 8, mixtures: int = 2, seed: int = 0,
                        binary: bool = False) -> dict:
    """Float weights named as torch names them; ``binary``: one logit per pixel (Bernoulli)."""
    rng = np.random.default_rng(seed)

    def weight(*shape, fan_in):
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    def bias(n, scale=0.05):
        return (rng.standard_normal(n) * scale).astype(np.float32)

    outputs = 1 if binary else 3 * mixtures
    head2_bias = bias(outputs)
    if binary:
        head2_bias -= 1.0  # mostly background, as a real model learns
    else:
        head2_bias[2 * mixtures :] += 2.0  # broad pixel distributions, as a real model starts
    return {
        "enc_conv1.weight": weight(32, 1, 4, 4, fan_in=16), "enc_conv1.bias": bias(32),
        "enc_conv2.weight": weight(64, 32, 4, 4, fan_in=512), "enc_conv2.bias": bias(64),
        "enc_fc1.weight": weight(256, 3136, fan_in=3136), "enc_fc1.bias": bias(256),
        "enc_fc2.weight": weight(2 * latent, 256, fan_in=256), "enc_fc2.bias": bias(2 * latent),
        "dec_fc1.weight": weight(256, latent, fan_in=latent), "dec_fc1.bias": bias(256),
        "dec_fc2.weight": weight(3136, 256, fan_in=256), "dec_fc2.bias": bias(3136),
        "dec_deconv1.weight": weight(64, 32, 4, 4, fan_in=256), "dec_deconv1.bias": bias(32),
        "dec_deconv2.weight": weight(32, hidden, 4, 4, fan_in=128), "dec_deconv2.bias": bias(hidden),
        "ctx_conv.weight": weight(hidden, 1, 5, 5, fan_in=12),
        "head1.weight": weight(hidden, hidden, 1, 1, fan_in=hidden), "head1.bias": bias(hidden),
        "head2.weight": weight(outputs, hidden, 1, 1, fan_in=hidden), "head2.bias": head2_bias,
    }


@functools.cache  # freezing takes seconds; the bytes never change
def tiny_model_bytes(seed: int = 0, binary: bool = False) -> bytes:
    meta = {"seed": seed, "likelihood": "bernoulli" if binary else "logistic"}
    name = f"tiny-{'binary-' if binary else ''}{seed}"
    return freeze_arrays(random_float_arrays(seed=seed, binary=binary), name, meta)[0]


def tiny_model(seed: int = 0, binary: bool = False):
    return parse_model(tiny_model_bytes(seed, binary))


def pop_both_ways(model, lanes: int, words: int, seed: int = 3) -> list[tuple[np.ndarray, object]]:
    """Pixels popped from one random message (heads and words, not an encoder's) by the
    numpy step, then by the compiled one: [(symbols, message left), ...]."""
    from bbzip.ans.rans import Message
    from bbzip.vae.stepper import stepper_for

    rng = np.random.default_rng(seed)
    z = model.tables.latent_centres[rng.integers(0, 256, (lanes, model.network.latent))]
    features = model.network.features(z, pixel_major=True)
    tail = rng.integers(0, 2**32, words, dtype=np.uint64).astype(np.uint32)
    heads = rng.integers(2**32, 2**63, lanes, dtype=np.uint64)
    decoded = []
    for compiled in (False, True):
        message = Message(lanes, tail.copy(), heads.copy())
        decoded.append((stepper_for(model).decode(message, features, compiled=compiled), message))
    return decoded


def digits(count: int, seed: int = 0) -> np.ndarray:
    """Digit-like test images: dark background, a bright blob, some grey edges."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for i in range(count):
        cy, cx, r = rng.integers(9, 19), rng.integers(9, 19), rng.integers(4, 9)
        dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        ring = np.clip(255 - 60 * np.abs(dist - r), 0, 255)
        images[i] = ring.astype(np.uint8)
    return images
