"""Train a VAE on 28x28 images under a wall-clock or epoch budget (torch is needed here only).

The one front end is ``bbzip train`` (training/run.py), for users and for the shipped models
(``make model``) alike; bbzip.vae.freeze turns the float weights into a model file.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

import numpy as np
import torch

from bbzip.training.mnist import binarize
from bbzip.training.model import VAE


def evaluate(model: VAE, images: np.ndarray, batch: int = 500) -> tuple[float, float]:
    """Mean (ELBO, KL) in bits per pixel; the sampled z makes this a one-sample estimate."""
    model.eval()
    total = kl_total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i : i + batch]).float().unsqueeze(1)
            loss, _, kl = model(x)
            total += loss.sum().item()
            kl_total += kl.sum().item()
    model.train()
    pixels = images.size
    return total / pixels, kl_total / pixels


def float_arrays(model: VAE, meta: dict) -> dict[str, np.ndarray]:
    arrays = {name: t.detach().cpu().numpy().astype(np.float32) for name, t in model.state_dict().items()}
    arrays["meta_json"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    return arrays


def model_from_arrays(arrays: dict[str, np.ndarray]) -> VAE:
    meta = json.loads(bytes(arrays["meta_json"]))
    model = VAE(latent=meta["latent"], likelihood=meta.get("likelihood", "logistic"))
    model.load_state_dict({k: torch.from_numpy(np.asarray(arrays[k])) for k in model.state_dict()})
    return model


StepHook = Callable[[int, float, float], None]  # (step, fraction of budget used, train bits/pixel)
EpochHook = Callable[[int, float, float], None]  # (epoch, validation bits/pixel, seconds)


def train_vae(
    train: np.ndarray,
    valid: np.ndarray,
    *,
    likelihood: str = "logistic",
    latent: int = 32,
    seconds: float = math.inf,
    epochs: int = 1000,
    seed: int = 0,
    batch: int = 128,
    lr: float = 2e-3,
    free_nats: float = 0.5,
    binarize_train: bool = False,
    on_step: StepHook | None = None,
    on_epoch: EpochHook | None = None,
) -> dict[str, np.ndarray]:
    """Float weights and meta of the epoch with the best validation ELBO.

    Images are pixel symbols (N, 28, 28) uint8: 0..255, or 0/1 for "bernoulli". With
    ``binarize_train`` the training images are 8-bit and every batch is binarised afresh
    (dynamic binarisation, a standard regulariser); ``valid`` must already be binary.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = VAE(latent=latent, likelihood=likelihood)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch = max(1, min(batch, len(train)))
    steps_per_epoch = max(1, len(train) // batch)
    budget_steps = epochs * steps_per_epoch
    start = time.monotonic()
    best, best_arrays, step = math.inf, None, 0
    for epoch in range(epochs):
        perm = rng.permutation(len(train))
        for i in range(0, steps_per_epoch * batch, batch):
            frac = max((time.monotonic() - start) / seconds, step / budget_steps)
            if frac >= 1.0:
                break
            # Linear warm-up, then cosine decay over the budget. Free bits (see VAE.forward)
            # keep the latent in use early; they are gone by 80 %, so the end optimises the
            # true ELBO.
            rate = lr * min(1.0, (step + 1) / 300) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in opt.param_groups:
                group["lr"] = rate
            images = train[perm[i : i + batch]]
            if binarize_train:
                images = binarize(images, rng)
            x = torch.from_numpy(images).float().unsqueeze(1)
            nats = free_nats * min(1.0, max(0.0, (0.8 - frac) / 0.3))
            loss, _, _ = model(x, free_nats=nats)
            opt.zero_grad()
            (loss.mean() / x[0].numel()).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            if on_step:
                on_step(step, frac, loss.mean().item() / x[0].numel())
        bpp, _ = evaluate(model, valid[:2000])
        elapsed = time.monotonic() - start
        if on_epoch:
            on_epoch(epoch, bpp, elapsed)
        if bpp < best or best_arrays is None:
            best = bpp
            meta = {"seed": seed, "epoch": epoch, "steps": step, "seconds": round(elapsed),
                    "valid_bpp": round(bpp, 4), "latent": latent, "likelihood": likelihood}
            best_arrays = float_arrays(model, meta)
        if frac >= 1.0 or elapsed >= seconds:
            break
    return best_arrays
