"""``bbzip train``'s work: train on the user's images, freeze, measure, return the model file.

Torch is imported here (through train.py) and nowhere on the compress/decompress path.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from bbzip.training import mnist
from bbzip.training.train import EpochHook, StepHook, evaluate, model_from_arrays, train_vae
from bbzip.vae import bitsback
from bbzip.vae.coder import binary_ink
from bbzip.vae.freeze import freeze_arrays
from bbzip.vae.model import model_id_of, parse_model

EVAL_IMAGES = 2000  # the frozen rate is measured on at most this many validation images


@dataclass
class TrainedModel:
    data: bytes  # the model file
    name: str
    likelihood: str
    train_images: int
    valid_images: int
    best_epoch: int  # counted from 1
    steps: int
    seconds: float
    float_elbo: float  # bits/pixel on the validation split, float model
    coded_bpp: float  # bits/pixel the frozen model really codes the validation split in
    coded_images: int

    @property
    def model_id(self) -> str:
        return model_id_of(self.data).hex()


def split(images: np.ndarray, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid): a seeded shuffle; ``validation`` is a fraction or, if >= 1, a count."""
    count = len(images)
    held = round(validation * count) if validation < 1 else int(validation)
    held = min(max(1, held), count - 1) if count > 1 else 0
    order = np.random.default_rng(seed).permutation(count)
    valid = images[order[:held]] if held else images
    return images[order[held:]], valid


def train_model(
    images: np.ndarray,
    name: str,
    *,
    likelihood: str = "auto",
    epochs: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    validation: float = 0.1,
    latent: int = 32,
    batch: int = 128,
    binarize: bool = False,
    on_step: StepHook | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainedModel:
    """``binarize``: 8-bit images, binarised afresh for every batch (dynamic binarisation) to
    train a Bernoulli model; the validation images are binarised once, with a fixed seed."""
    if binarize:
        likelihood = "bernoulli"
    elif likelihood == "auto":
        likelihood = "bernoulli" if binary_ink(images) is not None else "logistic"
    if likelihood == "bernoulli" and not binarize:
        if binary_ink(images) is None:
            raise ValueError("a Bernoulli model needs binary images (pixels 0 and 1, or 0 and 255)")
        images = (images != 0).astype(np.uint8)
    train, valid = split(images, validation, seed)
    if binarize:
        valid = mnist.binarize(valid, np.random.default_rng(1))
    start = time.monotonic()
    arrays = train_vae(
        train, valid, likelihood=likelihood, latent=latent, seed=seed, batch=batch,
        seconds=math.inf if minutes is None else minutes * 60.0,
        epochs=epochs if epochs is not None else (1000 if minutes is not None else 20),
        binarize_train=binarize, on_step=on_step, on_epoch=on_epoch,
    )
    seconds = time.monotonic() - start
    meta = _meta(arrays)
    torch.manual_seed(seed)
    float_elbo = evaluate(model_from_arrays(arrays), valid)[0]
    data, _ = freeze_arrays(arrays, name, meta)
    coded = valid[:EVAL_IMAGES]
    coded_bpp = len(bitsback.encode(parse_model(data), coded)) * 8 / coded.size
    # Freeze again with the measured rate in the config (same weights, so the same rate),
    # so that `bbzip models` can show it for a model found anywhere on the search path.
    evaluation = {"bits_per_pixel": round(coded_bpp, 4),
                  "data": f"{len(coded)} validation images", "float_elbo": round(float_elbo, 4)}
    data, _ = freeze_arrays(arrays, name, meta, evaluation=evaluation)
    return TrainedModel(data, name, likelihood, len(train), len(valid), meta["epoch"] + 1, meta["steps"],
                        seconds, float_elbo, coded_bpp, len(coded))


def _meta(arrays: dict[str, np.ndarray]) -> dict:
    import json

    return json.loads(bytes(arrays["meta_json"]))
