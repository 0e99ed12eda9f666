"""A stand-in natural-image model with random weights (no torch), for tests of the coder."""

from __future__ import annotations

import hashlib

import numpy as np

from bbzip.natural.constants import CONTEXT, HIDDEN, LATENT, MIXTURES
from bbzip.natural.freeze import freeze_arrays
from bbzip.natural.model import parse_natural


def float_shapes() -> dict[str, tuple[int, ...]]:
    """The float state_dict's layer shapes (bbzip/training/natural_model.py)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for kind, channels in (("gray", 1), ("rgb", 3)):
        for i, (out, inp) in enumerate([(32, channels), (32, 32), (2 * LATENT, 32)], 1):
            shapes[f"{kind}_encoder.conv{i}.weight"] = (out, inp, 4, 4)
            shapes[f"{kind}_encoder.conv{i}.bias"] = (out,)
        shapes[f"{kind}_features.conv1.weight"] = (32, LATENT, 3, 3)
        shapes[f"{kind}_features.conv1.bias"] = (32,)
        shapes[f"{kind}_features.conv2.weight"] = (channels * HIDDEN, 32, 1, 1)
        shapes[f"{kind}_features.conv2.bias"] = (channels * HIDDEN,)
        for k in range(channels):
            heads = f"{kind}_heads"
            shapes[f"{heads}.spatial.{k}.weight"] = (HIDDEN, channels + 1, CONTEXT, CONTEXT)
            shapes[f"{heads}.point.{k}.weight"] = (HIDDEN, channels + k, 1, 1)
            shapes[f"{heads}.point.{k}.bias"] = (HIDDEN,)
            for layer in ("layer1", "layer2"):
                shapes[f"{heads}.{layer}.{k}.weight"] = (HIDDEN, HIDDEN, 1, 1)
                shapes[f"{heads}.{layer}.{k}.bias"] = (HIDDEN,)
            shapes[f"{heads}.out.{k}.weight"] = ((3 + k) * MIXTURES, HIDDEN, 1, 1)
            shapes[f"{heads}.out.{k}.bias"] = ((3 + k) * MIXTURES,)
    return shapes


def random_natural_model(seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in float_shapes().items():
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        arrays[name] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        if name.endswith("bias"):
            arrays[name] *= 0.1
    data, _ = freeze_arrays(arrays, f"random-natural-{seed}", {"seed": seed})
    return parse_natural(data, hashlib.sha256(data).digest()[:8]), data


def smooth_images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Images with photo-like local correlation: random walks along rows."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 216, size=shape[:-3] + (1, 1) + shape[-1:])
    walk = np.cumsum(rng.integers(-3, 4, size=shape), axis=-2)
    return np.clip(base + walk, 0, 255).astype(np.uint8)
